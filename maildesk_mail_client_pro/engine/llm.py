"""AI provider adapters: one HTTP client on ``requests`` per API shape.

What it is
----------
``make_adapter(ProviderConfig)`` gives an adapter for one of two API shapes:

- ``openai``: OpenAI-compatible chat completions (``POST {base_url}/chat/completions``).
  Covers OpenAI (``https://api.openai.com/v1``), Azure OpenAI v1
  (``https://{resource}.openai.azure.com/openai/v1``), Mistral, DeepSeek, Grok, Gemini's
  OpenAI endpoint, and local Ollama (``http://localhost:11434/v1``), LM Studio and vLLM.
  Azure's legacy deployment URLs work too: set ``api_version`` and the key goes in the
  ``api-key`` header with ``?api-version=`` added.
- ``anthropic``: Anthropic Messages (``POST {base_url}/v1/messages``, ``x-api-key``,
  ``anthropic-version``).

Both offer ``chat(messages, json_mode=False) -> ChatResult`` and ``stream(messages) ->
ChatStream`` (iterate it for text chunks as the model writes them; ``.result`` holds the
totals once it is exhausted). ``messages`` are ``{"role": "system"|"user"|"assistant",
"content": str}`` dicts, the system message first if any.

How it behaves
--------------
- Retries: 429 and 5xx (and connection failures) are retried up to ``MAX_ATTEMPTS`` times
  with exponential backoff and jitter, honouring ``Retry-After`` (seconds or HTTP date).
  A stream is only retried before its first byte. Every wait is bounded by what is left
  of the call's ``timeout`` budget: a slow or dead provider costs at most ``timeout``
  seconds in total, never more.
- Errors are ``AiError`` subclasses with a plain-words message for the user
  (``AuthFailed``, ``ModelNotFound``, ``RateLimited``, ``ServerError``, ``Unreachable``,
  ``TlsFailed``, ``TimedOut``, ``ContextTooLong``, ``BadResponse``). The API key is
  scrubbed from every message (a provider echoing the key back does not leak it).
- Streaming uses server-sent events (``iter_sse``); a stream that ends without its final
  event (cut connection) is a ``BadResponse``, so half an answer is never taken for a
  whole one. Token usage comes from the provider's ``usage`` (OpenAI
  ``stream_options.include_usage``; Anthropic ``message_start`` / ``message_delta``),
  else it is estimated at ~4 characters per token.
"""
import email.utils
import json
import random
import time
from dataclasses import dataclass

import requests

MAX_ATTEMPTS = 3
BACKOFF_BASE = 0.5  # seconds, doubled per attempt
BACKOFF_CAP = 20.0
CONNECT_TIMEOUT = 10.0
ANTHROPIC_VERSION = "2023-06-01"
CHARS_PER_TOKEN = 4
RETRY_STATUSES = {429, 500, 502, 503, 504, 529}
CONTEXT_MARKERS = ("context_length", "context length", "maximum context", "prompt is too long", "too many tokens",
                   "reduce the length", "max_tokens_exceeded", "context window")


class AiError(Exception):
    """A provider call failed; ``str()`` is a readable message without secrets."""

    code = "error"
    retryable = False

    def __init__(self, message, status=None, retry_after=None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class AuthFailed(AiError):
    code = "auth"


class ModelNotFound(AiError):
    code = "model"


class RateLimited(AiError):
    code = "rate_limit"
    retryable = True


class ServerError(AiError):
    code = "server"
    retryable = True


class Unreachable(AiError):
    code = "unreachable"
    retryable = True


class TlsFailed(AiError):
    code = "tls"


class TimedOut(AiError):
    code = "timeout"


class ContextTooLong(AiError):
    code = "context"


class BadResponse(AiError):
    code = "bad_response"


@dataclass
class ProviderConfig:
    kind: str  # "openai" | "anthropic"
    base_url: str
    model: str
    api_key: str = ""
    timeout: float = 60.0  # total budget of one call, retries included
    max_tokens: int = 1024
    temperature: float = 0.2
    verify: object = True  # requests' verify: True, False or a CA bundle path
    api_version: str = ""  # Azure OpenAI legacy deployments only
    json_mode: bool = False  # send response_format json_object (OpenAI-compatible servers that accept it)


@dataclass
class ChatResult:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reason: str = ""
    model: str = ""


def estimate_tokens(text):
    return (len(text or "") + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _messages_tokens(messages):
    return sum(estimate_tokens(m.get("content", "")) + 4 for m in messages)


def retry_after_seconds(value, now=None):
    """``Retry-After`` as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def iter_sse(chunks):
    """Server-sent events from an iterable of byte chunks split anywhere: yields ``(event, data)``.

    Follows the SSE rules: ``data:`` lines of one event are joined with newlines, a blank
    line dispatches, ``:`` lines are comments, CR, LF and CRLF all end a line.
    """
    buffer = b""
    event, data = "", []
    for chunk in chunks:
        if not chunk:
            continue
        buffer += chunk
        while True:
            cut = min((i for i in (buffer.find(b"\n"), buffer.find(b"\r")) if i >= 0), default=-1)
            if cut < 0:
                break
            line = buffer[:cut]
            skip = 2 if buffer[cut:cut + 2] == b"\r\n" else 1
            if buffer[cut:cut + 1] == b"\r" and cut + 1 == len(buffer):
                break  # a CR at the chunk's end may be half of a CRLF
            buffer = buffer[cut + skip:]
            text = line.decode("utf-8", "replace")
            if not text:
                if data or event:
                    yield event or "message", "\n".join(data)
                event, data = "", []
                continue
            if text.startswith(":"):
                continue
            name, _sep, value = text.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
    if data:
        yield event or "message", "\n".join(data)


class ChatStream:
    """Text chunks as the model writes them; ``result`` is set once the stream is exhausted."""

    def __init__(self, generator):
        self._generator = generator
        self.result = None

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._generator)
        except StopIteration as stop:
            self.result = stop.value
            raise

    def close(self):
        """Stop reading (the user cancelled): closes the HTTP connection."""
        self._generator.close()


class Adapter:
    """Shared HTTP behaviour: retries, timeouts, error mapping, key scrubbing."""

    kind = None

    def __init__(self, config, session=None, sleep=time.sleep, clock=time.monotonic):
        self.config = config
        self.session = session or requests.Session()
        self._sleep = sleep
        self._clock = clock

    # -- public ---------------------------------------------------------------------------
    def chat(self, messages, json_mode=False):
        raise NotImplementedError

    def stream(self, messages):
        raise NotImplementedError

    def test_connection(self):
        """A one-token call: proves the URL, the key and the model; returns the ChatResult."""
        return self.chat([{"role": "user", "content": "Reply with the word OK."}], max_tokens=5)

    # -- plumbing -------------------------------------------------------------------------
    def _scrub(self, text):
        text = str(text or "")
        key = self.config.api_key
        if key and len(key) >= 4:
            text = text.replace(key, "***")
        return text[:500]

    def _post(self, url, payload, headers, stream=False):
        """POST with retries inside the timeout budget; returns a 2xx response."""
        deadline = self._clock() + max(1.0, float(self.config.timeout or 60))
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise TimedOut(f"The AI provider did not answer within {self.config.timeout:g} seconds.")
            try:
                response = self.session.post(url, json=payload, headers=headers, stream=stream,
                                             timeout=(min(CONNECT_TIMEOUT, remaining), remaining),
                                             verify=self.config.verify)
            except requests.exceptions.SSLError as exc:
                raise TlsFailed(f"TLS handshake with the AI provider failed (certificate not trusted or wrong "
                                f"protocol): {self._scrub(exc)}") from None
            except requests.exceptions.ConnectTimeout:
                error = Unreachable(f"Could not connect to the AI provider at {self._host()} (timed out).")
            except requests.exceptions.Timeout:
                raise TimedOut(f"The AI provider did not answer within {self.config.timeout:g} seconds.") from None
            except requests.exceptions.ConnectionError:
                error = Unreachable(f"Could not reach the AI provider at {self._host()}: connection refused or "
                                    f"the host is unknown.")
            else:
                if response.status_code < 400:
                    return response
                error = self._error_for(response)
                response.close()
            if not error.retryable or attempt >= MAX_ATTEMPTS:
                raise error
            wait = error.retry_after if error.retry_after is not None else min(
                BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            if self._clock() + wait >= deadline:
                raise error
            self._sleep(wait)

    def _host(self):
        return self.config.base_url.split("://", 1)[-1].split("/", 1)[0]

    def _error_for(self, response):
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        detail = ""
        if isinstance(body, dict):
            err = body.get("error")
            if isinstance(err, dict):
                detail = err.get("message") or err.get("type") or err.get("code") or ""
            elif isinstance(err, str):
                detail = err
            detail = detail or body.get("message") or body.get("detail") or ""
        if not detail:
            detail = (response.text or "")[:200] if not isinstance(body, dict) or not body else ""
        detail = self._scrub(detail)
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        lowered = f"{detail} {json.dumps(body)[:1000] if isinstance(body, (dict, list)) else ''}".lower()
        if status in (401, 403):
            return AuthFailed(f"The AI provider refused the API key ({status}). Check the key in the AI provider "
                              f"settings.{' Provider says: ' + detail if detail else ''}", status)
        if status == 404:
            return ModelNotFound(f"The AI provider does not know the model '{self.config.model}', or the base URL "
                                 f"is wrong (404).{' Provider says: ' + detail if detail else ''}", status)
        if status == 413 or (status == 400 and any(marker in lowered for marker in CONTEXT_MARKERS)):
            return ContextTooLong("The conversation is too long for this model's context window. "
                                  f"{detail}".strip(), status)
        if status == 429:
            return RateLimited("The AI provider is rate limiting us (429); try again in a moment."
                               f"{' Provider says: ' + detail if detail else ''}", status, retry_after)
        if status >= 500:
            return ServerError(f"The AI provider had an error ({status}); try again later."
                               f"{' Provider says: ' + detail if detail else ''}", status, retry_after)
        return AiError(f"The AI provider rejected the request ({status}).{' ' + detail if detail else ''}", status)

    def _lines(self, response):
        """The raw stream, with transport failures mapped to readable errors."""
        deadline = self._clock() + max(1.0, float(self.config.timeout or 60))
        try:
            for chunk in response.iter_content(chunk_size=None):
                if self._clock() > deadline:
                    raise TimedOut(f"The AI provider did not finish within {self.config.timeout:g} seconds.")
                yield chunk
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as exc:
            raise BadResponse("The AI provider's answer stopped mid-way (connection cut).") from exc
        except requests.exceptions.Timeout as exc:
            raise TimedOut(f"The AI provider stopped answering for {self.config.timeout:g} seconds.") from exc

    def _json(self, response):
        try:
            return response.json()
        except ValueError:
            raise BadResponse("The AI provider sent an answer that is not JSON.") from None


class OpenAIAdapter(Adapter):
    """OpenAI-compatible chat completions (see the module docstring for the servers it covers)."""

    kind = "openai"

    def _url(self):
        url = self.config.base_url.rstrip("/") + "/chat/completions"
        if self.config.api_version:
            url += f"?api-version={self.config.api_version}"
        return url

    def _headers(self):
        headers = {"Content-Type": "application/json"}
        if self.config.api_key:
            if self.config.api_version:
                headers["api-key"] = self.config.api_key
            else:
                headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    def _payload(self, messages, stream=False, json_mode=False, max_tokens=None):
        payload = {"model": self.config.model, "messages": messages,
                   "max_tokens": max_tokens or self.config.max_tokens, "temperature": self.config.temperature,
                   "stream": stream}
        if stream:
            payload["stream_options"] = {"include_usage": True}
        if json_mode and self.config.json_mode:
            payload["response_format"] = {"type": "json_object"}
        return payload

    def chat(self, messages, json_mode=False, max_tokens=None):
        response = self._post(self._url(), self._payload(messages, json_mode=json_mode, max_tokens=max_tokens),
                              self._headers())
        body = self._json(response)
        try:
            choice = body["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise BadResponse("The AI provider's answer has no message in it.") from None
        usage = body.get("usage") or {}
        return ChatResult(text, usage.get("prompt_tokens") or _messages_tokens(messages),
                          usage.get("completion_tokens") or estimate_tokens(text),
                          choice.get("finish_reason") or "", body.get("model") or self.config.model)

    def stream(self, messages):
        return ChatStream(self._stream(messages))

    def _stream(self, messages):
        response = self._post(self._url(), self._payload(messages, stream=True), self._headers(), stream=True)
        parts, usage, finish, done = [], {}, "", False
        try:
            for _event, data in iter_sse(self._lines(response)):
                if data.strip() == "[DONE]":
                    done = True
                    break
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise BadResponse("The AI provider sent a malformed stream event.") from None
                if chunk.get("error"):
                    error = chunk["error"]
                    message = error.get("message") if isinstance(error, dict) else str(error)
                    raise ServerError(f"The AI provider failed while answering: {self._scrub(message)}")
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        parts.append(text)
                        yield text
                    finish = choice.get("finish_reason") or finish
        finally:
            response.close()
        if not done:
            raise BadResponse("The AI provider's answer stopped mid-way (connection cut).")
        text = "".join(parts)
        return ChatResult(text, usage.get("prompt_tokens") or _messages_tokens(messages),
                          usage.get("completion_tokens") or estimate_tokens(text), finish, self.config.model)


class AnthropicAdapter(Adapter):
    """Anthropic Messages API."""

    kind = "anthropic"

    def _url(self):
        base = self.config.base_url.rstrip("/")
        return base + ("/messages" if base.endswith("/v1") else "/v1/messages")

    def _headers(self):
        return {"Content-Type": "application/json", "x-api-key": self.config.api_key or "",
                "anthropic-version": ANTHROPIC_VERSION}

    def _payload(self, messages, stream=False, max_tokens=None):
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        turns = [{"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"]
        payload = {"model": self.config.model, "messages": turns, "max_tokens": max_tokens or self.config.max_tokens,
                   "temperature": self.config.temperature, "stream": stream}
        if system:
            payload["system"] = system
        return payload

    def chat(self, messages, json_mode=False, max_tokens=None):
        response = self._post(self._url(), self._payload(messages, max_tokens=max_tokens), self._headers())
        body = self._json(response)
        try:
            text = "".join(block.get("text", "") for block in body["content"] if block.get("type") == "text")
        except (KeyError, TypeError, AttributeError):
            raise BadResponse("The AI provider's answer has no message in it.") from None
        usage = body.get("usage") or {}
        return ChatResult(text, usage.get("input_tokens") or _messages_tokens(messages),
                          usage.get("output_tokens") or estimate_tokens(text), body.get("stop_reason") or "",
                          body.get("model") or self.config.model)

    def stream(self, messages):
        return ChatStream(self._stream(messages))

    def _stream(self, messages):
        response = self._post(self._url(), self._payload(messages, stream=True), self._headers(), stream=True)
        parts, tokens_in, tokens_out, finish, done = [], 0, 0, "", False
        try:
            for event, data in iter_sse(self._lines(response)):
                try:
                    body = json.loads(data)
                except ValueError:
                    raise BadResponse("The AI provider sent a malformed stream event.") from None
                kind = body.get("type") or event
                if kind == "message_start":
                    tokens_in = ((body.get("message") or {}).get("usage") or {}).get("input_tokens") or 0
                elif kind == "content_block_delta":
                    text = (body.get("delta") or {}).get("text")
                    if text:
                        parts.append(text)
                        yield text
                elif kind == "message_delta":
                    tokens_out = (body.get("usage") or {}).get("output_tokens") or tokens_out
                    finish = (body.get("delta") or {}).get("stop_reason") or finish
                elif kind == "message_stop":
                    done = True
                    break
                elif kind == "error":
                    error = body.get("error") or {}
                    raise ServerError(f"The AI provider failed while answering: "
                                      f"{self._scrub(error.get('message') or error.get('type'))}")
        finally:
            response.close()
        if not done:
            raise BadResponse("The AI provider's answer stopped mid-way (connection cut).")
        text = "".join(parts)
        return ChatResult(text, tokens_in or _messages_tokens(messages), tokens_out or estimate_tokens(text), finish,
                          self.config.model)


ADAPTERS = {"openai": OpenAIAdapter, "anthropic": AnthropicAdapter}


def make_adapter(config, **kwargs):
    try:
        return ADAPTERS[config.kind](config, **kwargs)
    except KeyError:
        raise AiError(f"Unknown AI provider kind '{config.kind}'.") from None
