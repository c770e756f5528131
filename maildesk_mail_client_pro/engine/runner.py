"""One AI call, prepared by the Odoo layer and run with no database in reach.

``Job(config, messages, schema=None)`` holds everything a call needs as plain values (the
provider settings with the decrypted key, the chat messages); the Odoo chokepoint builds it
inside its transaction, then the call runs outside any transaction (``execute()`` or
``stream()``) and the outcome is logged afterwards.

Structured features (``schema`` set, see ``prompt.FEATURE_SCHEMAS``) are parsed strictly;
an answer in the wrong shape is asked for again once, with the error, then reported as a
``BadResponse``. Token counts of both attempts are added up (retries cost quota too).
"""
import time
from dataclasses import dataclass

from . import prompt
from .llm import BadResponse, make_adapter

RETRY_FORMAT = ("Your answer could not be used: {error}. Answer again with the JSON object only, exactly in the "
                "shape asked for, nothing else.")


@dataclass
class Outcome:
    text: str
    data: dict = None
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    model: str = ""


class Job:
    def __init__(self, config, messages, schema=None, adapter_factory=make_adapter):
        self.config = config
        self.messages = messages
        self.schema = schema
        self._factory = adapter_factory
        self._stream = None

    def _adapter(self):
        return self._factory(self.config)

    def execute(self):
        """Run the call to the end; returns an Outcome (``data`` parsed when a schema is set)."""
        started = time.monotonic()
        adapter = self._adapter()
        result = adapter.chat(self.messages, json_mode=bool(self.schema))
        outcome = Outcome(prompt.clean_output(result.text), None, result.tokens_in, result.tokens_out,
                          model=result.model)
        if self.schema:
            self._parse(adapter, result.text, outcome)
        outcome.latency_ms = int((time.monotonic() - started) * 1000)
        return outcome

    def stream(self):
        """Yield text chunks as they come; the generator's return value is the Outcome."""
        started = time.monotonic()
        adapter = self._adapter()
        self._stream = adapter.stream(self.messages)
        try:
            for chunk in self._stream:
                yield chunk
        finally:
            self._stream.close()
        result = self._stream.result
        outcome = Outcome(prompt.clean_output(result.text), None, result.tokens_in, result.tokens_out,
                          model=result.model)
        if self.schema:
            self._parse(adapter, result.text, outcome)
        outcome.latency_ms = int((time.monotonic() - started) * 1000)
        return outcome

    def _parse(self, adapter, text, outcome):
        try:
            outcome.data = prompt.parse_json(text, self.schema)
            return
        except prompt.OutputError as error:
            retry = self.messages + [{"role": "assistant", "content": text[:4000]},
                                     {"role": "user", "content": RETRY_FORMAT.format(error=error)}]
        second = adapter.chat(retry, json_mode=True)
        outcome.tokens_in += second.tokens_in
        outcome.tokens_out += second.tokens_out
        try:
            outcome.data = prompt.parse_json(second.text, self.schema)
        except prompt.OutputError as error:
            raise BadResponse(f"The AI answer was not in the expected format ({error}); try again.") from None
        outcome.text = prompt.clean_output(second.text)
