"""Streaming AI answers for the mailbox client: ``POST /maildesk/ai/stream``.

The request body is JSON: ``{"feature": "summarize"|"ask"|"draft", "thread_id", "message_id"
(draft), "question", "history", "include_attachments", "tone", "language", "instructions"}``.
The answer is newline-delimited JSON events, written as the model writes:

    {"type": "meta", "note": "..."}            what budgeting left out ("" if nothing)
    {"type": "delta", "text": "..."}           a piece of the answer (text features)
    {"type": "done", "result": {...}}          summarize: summary/open_questions/action_items;
                                               ask: answer; draft: draft_id and text
    {"type": "error", "message": "..."}        refused or failed, in plain words

Every check runs inside the request through ``maildesk.ai.service._prepare`` (the same
chokepoint as the RPC methods). Odoo commits and closes the request's cursor as soon as
this handler returns the response, and only then does the body generator run: the model
thinks with no transaction open, and the outcome is logged in a short transaction of its
own. Closing the connection in the browser (the Stop button aborts the fetch) stops the
generator, which closes the provider's stream and logs the call as cancelled.

CSRF: the route takes only ``application/json`` bodies, which a cross-site form cannot
send without a CORS preflight (the same reasoning as Odoo's own ``type="json"`` routes).
"""
import json
import logging

from odoo import api, http
from odoo.exceptions import AccessError, UserError
from odoo.http import request

from ..engine import llm

_logger = logging.getLogger(__name__)

STREAM_FEATURES = ("summarize", "ask", "draft")


def _line(event):
    return (json.dumps(event, ensure_ascii=False) + "\n").encode()


class MaildeskAiController(http.Controller):
    @http.route("/maildesk/ai/stream", type="http", auth="user", methods=["POST"], csrf=False)
    def stream(self, **_kwargs):
        if request.httprequest.mimetype != "application/json":
            return request.make_response(_line({"type": "error", "message": "JSON body expected."}),
                                         [("Content-Type", "application/x-ndjson")], status=415)
        try:
            params = json.loads(request.httprequest.get_data(as_text=True) or "{}")
            feature = params.get("feature")
            if feature not in STREAM_FEATURES:
                raise UserError("Unknown AI feature.")
            job, meta, draft_message_id = self._prepare(feature, params)
        except (UserError, AccessError, ValueError) as exc:
            request.env.cr.rollback()
            message = exc.args[0] if exc.args else str(exc)
            return request.make_response(_line({"type": "error", "message": message}),
                                         [("Content-Type", "application/x-ndjson")])
        registry = request.env.registry
        body = self._events(registry, job, meta, feature, draft_message_id)
        response = request.make_response(body, [("Content-Type", "application/x-ndjson"),
                                                ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")])
        response.direct_passthrough = True
        return response

    def _prepare(self, feature, params):
        env = request.env
        client = env["maildesk.client"]
        service = env["maildesk.ai.service"]
        options = {"include_attachments": bool(params.get("include_attachments")),
                   "language": str(params.get("language") or "auto")}
        draft_message_id = None
        if feature == "draft":
            message = client._ai_message(params.get("message_id"))
            thread = message.thread_id
            draft_message_id = message.id
            options.update(message_id=message.id, tone=str(params.get("tone") or "neutral"),
                           instructions=str(params.get("instructions") or "")[:2000])
        else:
            thread = client._ai_thread(params.get("thread_id"))
        if feature == "ask":
            options.update(question=client._ai_question(params.get("question")),
                           history=client._ai_history(params.get("history")))
        job, meta = service._prepare(feature, thread=thread, **options)
        return job, meta, draft_message_id

    def _events(self, registry, job, meta, feature, draft_message_id):
        """The response body; runs after the request's cursor is closed (see module docstring)."""

        def finish(**kwargs):
            with registry.cursor() as cr:
                env = api.Environment(cr, meta["uid"], {})
                env["maildesk.ai.service"]._finish(meta, here=True, **kwargs)

        yield _line({"type": "meta", "note": meta["note"]})
        stream = job.stream()
        outcome = None
        try:
            while True:
                try:
                    chunk = next(stream)
                except StopIteration as stop:
                    outcome = stop.value
                    break
                if feature != "summarize":  # the summary is JSON: shown once parsed, not as raw text
                    yield _line({"type": "delta", "text": chunk})
        except GeneratorExit:
            stream.close()
            finish(cancelled=True)
            raise
        except llm.AiError as exc:
            finish(error=exc)
            yield _line({"type": "error", "message": str(exc)})
            return
        except Exception as exc:  # noqa: BLE001 - the log row must not stay 'running'; the user gets a message
            _logger.exception("MailDesk AI stream failed")
            finish(error=exc)
            yield _line({"type": "error", "message": "The AI answer failed unexpectedly."})
            return
        finish(outcome=outcome)
        if feature == "summarize":
            result = dict(outcome.data)
        elif feature == "ask":
            result = {"answer": outcome.text}
        else:
            with registry.cursor() as cr:
                env = api.Environment(cr, meta["uid"], {})
                result = dict(env["maildesk.client"].ai_draft_from_text(draft_message_id, outcome.text),
                              text=outcome.text)
        yield _line({"type": "done", "result": result})
