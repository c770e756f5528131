"""AI provider emulator: OpenAI chat completions and Anthropic Messages, streamed and not.

Routes (``base_url`` from ``EmulatorServer``):

- ``POST /v1/chat/completions``: OpenAI shape (``choices[0].message.content``, ``usage``);
  ``"stream": true`` answers server-sent events (``data: {chunk}`` ... ``data: [DONE]``, the
  usage chunk when ``stream_options.include_usage``). Use ``{base_url}/v1`` as the base URL.
- ``POST /v1/messages``: Anthropic shape (``content[].text``, ``usage.input_tokens``);
  streamed as ``message_start``, ``content_block_delta``\\*, ``message_delta``,
  ``message_stop`` events. Use ``base_url`` as the base URL.

Answers are deterministic and derived from the prompt, so tests can assert on them:

- a system prompt asking for the ``summary`` JSON -> ``{"summary": "Summary of N messages ...",
  "open_questions": [...], "action_items": [...]}`` where N counts the ``--- message`` headers
  of the envelope;
- the scan JSON -> ``{"level": scan_level, ...}`` (knob ``scan_level``, default ``"low"``, to
  prove the AI cannot lower a level set by code);
- the cockpit's briefing / rebalance explanation (system prompt starting with
  ``MAILDESK_COCKPIT_``) -> a paragraph quoting the first facts of the JSON data by their
  display values, then ``- `` lines for the next ones (grounded by construction);
- a draft -> ``"Hello,\\n\\nThank you for your message about <subject> ..."`` signed with the
  name the prompt gives;
- anything else -> ``"Answer to: <last user message, first 80 chars>"``.

Every request's JSON body and headers (``authorization`` / ``x-api-key`` included, so a
test can check the key sent) are appended to ``payloads``.

Fault knobs, on top of ``fail_next`` / ``delay`` from ``EmulatorServer``:

- ``api_key``: when set, any other key answers 401 (OpenAI and Anthropic error shapes);
- ``models``: when set, any other model answers 404 ``model_not_found``;
- ``context_limit``: a prompt estimated above this many tokens answers 400
  ``context_length_exceeded``;
- ``fail_next(429, headers={"Retry-After": "1"})``, ``fail_next(500)``: inherited;
- ``cut_next_stream()``: the next stream stops half-way, without its final event;
- ``malformed_next()``: the next answer's text is not valid JSON (for structured features);
- ``hallucinate_next()``: the next cockpit answer also claims a figure no fact holds
  (``HALLUCINATION``), for the grounding check;
- ``delay``: seconds before every answer (slow provider).
"""
import json
import re
import threading

from .server import EmulatorServer, Response

_MESSAGE_HEAD = re.compile(r"^--- message \d+ of \d+", re.M)
_SUBJECT = re.compile(r"\| subject: ([^|\n]*?) ---", re.M)
_SIGN = re.compile(r"Sign with the user's name: ([^.]*)\.")
HALLUCINATION = "Overdue conversations rose to 4321 since yesterday."


class AiEmulator(EmulatorServer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.api_key = None
        self.models = None
        self.context_limit = None
        self.scan_level = "low"
        self.payloads = []
        self._cut = 0
        self._malformed = 0
        self._hallucinate = 0
        self._knob_lock = threading.Lock()
        self.route("POST", r"/v1/chat/completions", self._openai)
        self.route("POST", r"/v1/messages", self._anthropic)

    # -- knobs ----------------------------------------------------------------------------
    def reset(self, api_key=None):
        """Back to a healthy provider with empty logs (between tests sharing one emulator)."""
        with self._knob_lock:
            self.api_key = api_key
            self.models = None
            self.context_limit = None
            self.scan_level = "low"
            self.delay = 0.0
            self._cut = self._malformed = self._hallucinate = 0
            self.payloads.clear()
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def cut_next_stream(self, count=1):
        with self._knob_lock:
            self._cut += count

    def malformed_next(self, count=1):
        with self._knob_lock:
            self._malformed += count

    def hallucinate_next(self, count=1):
        with self._knob_lock:
            self._hallucinate += count

    def _take(self, name):
        with self._knob_lock:
            value = getattr(self, name)
            if value:
                setattr(self, name, value - 1)
                return True
        return False

    def texts_sent(self):
        """Every message content of every payload, joined (for 'was X sent?' assertions)."""
        parts = []
        for entry in self.payloads:
            body = entry["json"]
            parts.append(str(body.get("system") or ""))
            parts += [str(m.get("content")) for m in body.get("messages") or []]
        return "\n".join(parts)

    # -- answers --------------------------------------------------------------------------
    def answer_for(self, messages):
        system = "\n".join(m["content"] for m in messages if m["role"] == "system")
        users = [m["content"] for m in messages if m["role"] == "user"]
        everything = "\n".join(m["content"] for m in messages)
        count = len(_MESSAGE_HEAD.findall(everything))
        if self._take("_malformed"):
            return '{"summary": "unterminated'
        if system.startswith("MAILDESK_COCKPIT_"):
            return self._cockpit_answer(users[-1] if users else "")
        if '"open_questions"' in system:
            return json.dumps({"summary": f"Summary of {count} messages.",
                               "open_questions": ["When is the delivery?"],
                               "action_items": ["Reply to the customer."]})
        if '"suggested_action"' in system:
            return json.dumps({"level": self.scan_level, "explanation": f"Explained {count} message(s).",
                               "suggested_action": "Check with the sender by phone."})
        if "write the body of the user's reply" in system:
            subjects = _SUBJECT.findall(everything)
            subject = subjects[-1].strip() if subjects else "your message"
            name = (_SIGN.search(system).group(1).strip() if _SIGN.search(system) else "Me")
            return f"Hello,\n\nThank you for your message about {subject}. I will get back to you shortly.\n\n" \
                   f"Best regards,\n{name}"
        last = users[-1] if users else ""
        return f"Answer to: {last[:80]} (seen {count} messages)"

    def _cockpit_answer(self, user):
        data = json.loads(user.split("\n", 1)[1]) if "\n" in user else {"facts": []}
        facts = [f for f in data.get("facts") or [] if f.get("id") != "day"]
        said = [f"{f['label']}: {f['display']}" for f in facts[:4]]
        text = f"Briefing for {data.get('scope', 'the team')}. " + "; ".join(said) + "."
        if self._take("_hallucinate"):
            text += " " + HALLUCINATION
        lines = [text] + [f"- Note {f['label']}: {f['display']}." for f in facts[4:7]]
        return "\n".join(lines)

    def _check(self, request, body, shape):
        if shape == "openai":
            key = request.bearer or request.headers.get("api-key")
        else:
            key = request.headers.get("x-api-key")
        if self.api_key is not None and key != self.api_key:
            if shape == "openai":
                return Response(401, {"error": {"message": f"Incorrect API key provided: {key}.",
                                                "type": "invalid_request_error", "code": "invalid_api_key"}})
            return Response(401, {"type": "error", "error": {"type": "authentication_error",
                                                             "message": "invalid x-api-key"}})
        if self.models is not None and body.get("model") not in self.models:
            message = f"The model `{body.get('model')}` does not exist or you do not have access to it."
            if shape == "openai":
                return Response(404, {"error": {"message": message, "type": "invalid_request_error",
                                                "code": "model_not_found"}})
            return Response(404, {"type": "error", "error": {"type": "not_found_error", "message": message}})
        if self.context_limit is not None:
            tokens = len(json.dumps(body.get("messages")) + str(body.get("system") or "")) // 4
            if tokens > self.context_limit:
                message = (f"This model's maximum context length is {self.context_limit} tokens. However, your "
                           f"messages resulted in {tokens} tokens.")
                if shape == "openai":
                    return Response(400, {"error": {"message": message, "type": "invalid_request_error",
                                                    "code": "context_length_exceeded"}})
                return Response(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                 "message": "prompt is too long: " + message}})
        return None

    def _log(self, request, body):
        with self._knob_lock:
            self.payloads.append({"path": request.path, "json": body, "headers": dict(request.headers)})

    def _openai(self, request):
        body = request.json()
        self._log(request, body)
        refused = self._check(request, body, "openai")
        if refused:
            return refused
        messages = body.get("messages") or []
        text = self.answer_for(messages)
        tokens_in = len(json.dumps(messages)) // 4
        tokens_out = max(1, len(text) // 4)
        if not body.get("stream"):
            return Response(200, {"id": "chatcmpl-emu", "object": "chat.completion", "model": body.get("model"),
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": text}}],
                                  "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                                            "total_tokens": tokens_in + tokens_out}})
        events = []
        for piece in _pieces(text):
            events.append({"id": "chatcmpl-emu", "object": "chat.completion.chunk",
                           "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        events.append({"id": "chatcmpl-emu", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({"id": "chatcmpl-emu", "choices": [],
                           "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out}})
        lines = [f"data: {json.dumps(event)}\n\n" for event in events] + ["data: [DONE]\n\n"]
        if self._take("_cut"):
            lines = lines[:max(1, len(lines) // 2)]
        return Response(200, "".join(lines).encode(), {"Content-Type": "text/event-stream"})

    def _anthropic(self, request):
        body = request.json()
        self._log(request, body)
        refused = self._check(request, body, "anthropic")
        if refused:
            return refused
        messages = list(body.get("messages") or [])
        if body.get("system"):
            messages.insert(0, {"role": "system", "content": body["system"]})
        text = self.answer_for(messages)
        tokens_in = len(json.dumps(messages)) // 4
        tokens_out = max(1, len(text) // 4)
        if not body.get("stream"):
            return Response(200, {"id": "msg_emu", "type": "message", "role": "assistant", "model": body.get("model"),
                                  "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                                  "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out}})
        events = [("message_start", {"type": "message_start", "message": {
            "id": "msg_emu", "type": "message", "role": "assistant", "content": [], "model": body.get("model"),
            "usage": {"input_tokens": tokens_in, "output_tokens": 1}}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("ping", {"type": "ping"})]
        for piece in _pieces(text):
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                   "delta": {"type": "text_delta", "text": piece}}))
        events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                   ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                      "usage": {"output_tokens": tokens_out}}),
                   ("message_stop", {"type": "message_stop"})]
        lines = [f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events]
        if self._take("_cut"):
            lines = lines[:max(1, len(lines) // 2)]
        return Response(200, "".join(lines).encode(), {"Content-Type": "text/event-stream"})


def _pieces(text, size=12):
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]
