"""AI adapters against the AI emulator: both API shapes, streaming, retries, readable errors."""
import socket

import pytest

from emulators.ai import AiEmulator
from emulators.server import EmulatorServer
from maildesk_mail_client_pro.engine import llm

KEY = "sk-test-SECRET-0123456789"
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]


@pytest.fixture
def emulator():
    with AiEmulator() as server:
        yield server


def config(emulator, kind="openai", **kwargs):
    base = emulator.base_url + ("/v1" if kind == "openai" else "")
    values = dict(kind=kind, base_url=base, model="test-model", api_key=KEY, timeout=10)
    values.update(kwargs)
    return llm.ProviderConfig(**values)


def adapter(emulator, kind="openai", sleeps=None, **kwargs):
    waits = sleeps if sleeps is not None else []
    return llm.make_adapter(config(emulator, kind, **kwargs), sleep=waits.append)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_chat_returns_text_and_usage(emulator, kind):
    """A plain call gives the model's text and the provider's token counts."""
    result = adapter(emulator, kind).chat(MESSAGES)
    assert result.text.startswith("Answer to: Hello there")
    assert result.tokens_in > 0 and result.tokens_out > 0


def test_openai_sends_bearer_key_and_options(emulator):
    """OpenAI shape: Bearer key, model, max_tokens and temperature from the config."""
    adapter(emulator, max_tokens=77, temperature=0.5).chat(MESSAGES)
    sent = emulator.payloads[-1]
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"
    assert sent["json"]["max_tokens"] == 77 and sent["json"]["temperature"] == 0.5
    assert sent["json"]["model"] == "test-model"


def test_anthropic_moves_system_prompt_and_sends_version(emulator):
    """Anthropic shape: the system message is the top-level 'system', key in x-api-key."""
    adapter(emulator, "anthropic").chat(MESSAGES)
    sent = emulator.payloads[-1]
    assert sent["json"]["system"] == "Be brief."
    assert [m["role"] for m in sent["json"]["messages"]] == ["user"]
    assert sent["headers"]["x-api-key"] == KEY and sent["headers"]["anthropic-version"]


def test_azure_legacy_uses_api_key_header_and_version(emulator):
    """With an api_version the key goes in 'api-key' and the URL carries ?api-version=."""
    adapter(emulator, api_version="2024-06-01").chat(MESSAGES)
    assert emulator.payloads[-1]["headers"]["api-key"] == KEY
    assert "api-version=2024-06-01" in emulator.requests[-1][1]


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_stream_yields_chunks_then_totals(emulator, kind):
    """Streaming: several chunks whose concatenation is the whole answer; usage at the end."""
    stream = adapter(emulator, kind).stream(MESSAGES)
    chunks = list(stream)
    assert len(chunks) > 1
    assert "".join(chunks) == stream.result.text
    assert stream.result.text.startswith("Answer to: Hello there")
    assert stream.result.tokens_out > 0


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_cut_stream_is_an_error_not_half_an_answer(emulator, kind):
    """A stream that ends without its final event raises BadResponse."""
    emulator.cut_next_stream()
    with pytest.raises(llm.BadResponse, match="stopped mid-way"):
        list(adapter(emulator, kind).stream(MESSAGES))


def test_sse_parser_handles_any_split():
    """Events split at every byte, CRLF endings, comments and multi-line data parse the same."""
    raw = b": comment\r\nevent: a\r\ndata: one\r\ndata: two\r\n\r\ndata: {\"x\": 1}\n\n"
    expected = [("a", "one\ntwo"), ("message", '{"x": 1}')]
    assert list(llm.iter_sse([raw])) == expected
    assert list(llm.iter_sse([raw[i:i + 1] for i in range(len(raw))])) == expected


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_wrong_key_is_readable_and_never_echoed(emulator, kind):
    """401: says the key was refused; the key itself (echoed by the provider) is scrubbed."""
    emulator.api_key = "the-right-key"
    with pytest.raises(llm.AuthFailed) as caught:
        adapter(emulator, kind).chat(MESSAGES)
    assert "refused the API key" in str(caught.value)
    assert KEY not in str(caught.value)


def test_unknown_model_is_named(emulator):
    """404 model_not_found names the model."""
    emulator.models = {"gpt-4o"}
    with pytest.raises(llm.ModelNotFound, match="test-model"):
        adapter(emulator).chat(MESSAGES)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_context_too_long_is_its_own_error(emulator, kind):
    """400 context_length_exceeded (OpenAI) / 'prompt is too long' (Anthropic) -> ContextTooLong."""
    emulator.context_limit = 5
    with pytest.raises(llm.ContextTooLong, match="too long"):
        adapter(emulator, kind).chat(MESSAGES)


def test_429_honours_retry_after_then_succeeds(emulator):
    """429 with Retry-After: 2 waits exactly 2 s (through the injected sleep) and retries."""
    emulator.fail_next(429, {"error": {"message": "slow down"}}, {"Retry-After": "2"})
    waits = []
    result = adapter(emulator, sleeps=waits).chat(MESSAGES)
    assert waits == [2.0]
    assert result.text.startswith("Answer to:")
    assert emulator.count("/chat/completions") == 2


def test_500_is_retried_with_backoff_then_reported(emulator):
    """5xx is retried MAX_ATTEMPTS times with growing waits, then a readable ServerError."""
    emulator.fail_next(500, {"error": {"message": "boom"}}, count=5)
    waits = []
    with pytest.raises(llm.ServerError, match="500"):
        adapter(emulator, sleeps=waits).chat(MESSAGES)
    assert emulator.count("/chat/completions") == llm.MAX_ATTEMPTS
    assert len(waits) == llm.MAX_ATTEMPTS - 1 and waits[0] < waits[1]


def test_retry_after_beyond_the_budget_is_not_waited(emulator):
    """A Retry-After longer than the time left raises at once instead of blocking the worker."""
    emulator.fail_next(429, {}, {"Retry-After": "120"})
    waits = []
    with pytest.raises(llm.RateLimited):
        adapter(emulator, sleeps=waits, timeout=5).chat(MESSAGES)
    assert waits == []


def test_401_is_not_retried(emulator):
    """Client errors are final: one request only."""
    emulator.api_key = "other"
    with pytest.raises(llm.AuthFailed):
        adapter(emulator).chat(MESSAGES)
    assert emulator.count("/chat/completions") == 1


def test_slow_provider_times_out_within_budget(emulator):
    """A provider slower than the timeout is a TimedOut after about the timeout, not later."""
    emulator.delay = 3
    with pytest.raises(llm.TimedOut, match="1 seconds"):
        adapter(emulator, timeout=1).chat(MESSAGES)


def test_unreachable_host_is_readable():
    """Nothing listening: 'Could not reach' with the host, no traceback text."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = llm.ProviderConfig("openai", f"http://127.0.0.1:{port}/v1", "m", KEY, timeout=3)
    with pytest.raises(llm.Unreachable, match="127.0.0.1"):
        llm.make_adapter(cfg, sleep=lambda s: None).chat(MESSAGES)


def test_untrusted_certificate_is_a_tls_error():
    """A self-signed HTTPS endpoint without its CA: TlsFailed, not a generic failure."""
    with EmulatorServer(tls=True) as server:
        cfg = llm.ProviderConfig("openai", server.base_url + "/v1", "m", KEY, timeout=5)
        with pytest.raises(llm.TlsFailed, match="TLS"):
            llm.make_adapter(cfg).chat(MESSAGES)


def test_retry_after_http_date():
    """Retry-After as an HTTP date becomes seconds from now."""
    assert llm.retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480) == pytest.approx(10)
    assert llm.retry_after_seconds("soon") is None


def _summary_messages():
    from maildesk_mail_client_pro.engine import prompt
    thread = [prompt.ThreadMessage("a@x.example", "2026-01-01", "Hello")]
    return prompt.build("summarize", thread, 4000)[0]


def test_job_parses_structured_answer(emulator):
    """A structured feature's answer comes back parsed (strict JSON)."""
    from maildesk_mail_client_pro.engine import prompt, runner
    outcome = runner.Job(config(emulator), _summary_messages(), prompt.FEATURE_SCHEMAS["summarize"]).execute()
    assert outcome.data["summary"] == "Summary of 1 messages."
    assert outcome.latency_ms >= 0 and outcome.tokens_out > 0


def test_job_retries_a_malformed_answer_once_then_gives_up(emulator):
    """Malformed once: asked again with the error. Malformed twice: a readable BadResponse."""
    from maildesk_mail_client_pro.engine import prompt, runner
    emulator.malformed_next()
    job = runner.Job(config(emulator), _summary_messages(), prompt.FEATURE_SCHEMAS["summarize"])
    assert job.execute().data["summary"]
    assert "could not be used: not valid JSON" in emulator.payloads[-1]["json"]["messages"][-1]["content"]
    emulator.malformed_next(2)
    with pytest.raises(llm.BadResponse, match="expected format"):
        job.execute()


def test_job_stream_returns_outcome(emulator):
    """Streaming a job yields the chunks and returns the outcome at the end."""
    from maildesk_mail_client_pro.engine import runner
    job = runner.Job(config(emulator, "anthropic"), [{"role": "user", "content": "Hi"}])
    generator = job.stream()
    chunks = []
    while True:
        try:
            chunks.append(next(generator))
        except StopIteration as stop:
            outcome = stop.value
            break
    assert "".join(chunks) == outcome.text
