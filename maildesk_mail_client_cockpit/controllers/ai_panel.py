"""Streaming the AI panel's texts: ``POST /maildesk/cockpit/ai/stream``.

Body (JSON): ``{"kind": "briefing"|"rebalance", "filters": {...}, "refresh": bool}``. The
answer is newline-delimited JSON, like Pro's ``/maildesk/ai/stream``:

    {"type": "meta", "source": "ai"|"cache"|"template"}
    {"type": "delta", "text": "..."}      a line of the AI text, released only once every
                                          number in it is a computed fact (engine/briefing.py)
    {"type": "done", "result": {"text", "source", "note"}}
    {"type": "error", "message": "..."}   refused (tier, scope, bad input), in plain words

A cached text of the day comes at once ("cache"). When the AI cannot run (no provider, a
switch, the daily limit) or its text fails the grounding check, ``done`` carries the plain
template of the same facts (``source`` "template") and the reason in ``note``; the panel
replaces what it showed with it. Every check runs inside the request (the cockpit's tier and
scope checks, then Pro's chokepoint ``_prepare``); the model is streamed after Odoo closed
the request's cursor, the outcome and the cache are written in short transactions of their
own (Pro's controller does the same). CSRF: JSON bodies only, as in Pro's route.
"""
import json
import logging

from odoo import api, http
from odoo.exceptions import AccessError, UserError
from odoo.http import request

from ..engine import briefing

_logger = logging.getLogger(__name__)


def _line(event):
    return (json.dumps(event, ensure_ascii=False) + "\n").encode()


def _ndjson(events):
    return request.make_response(b"".join(_line(e) for e in events), [("Content-Type", "application/x-ndjson")])


class MaildeskCockpitAiController(http.Controller):
    @http.route("/maildesk/cockpit/ai/stream", type="http", auth="user", methods=["POST"], csrf=False)
    def stream(self, **_kwargs):
        if request.httprequest.mimetype != "application/json":
            return request.make_response(_line({"type": "error", "message": "JSON body expected."}),
                                         [("Content-Type", "application/x-ndjson")], status=415)
        env = request.env
        panel = env["maildesk.cockpit.ai"]
        try:
            params = json.loads(request.httprequest.get_data(as_text=True) or "{}")
            if not isinstance(params, dict):
                raise UserError("JSON object expected.")
            plan = panel._check_stream(params.get("kind"), params.get("filters"), bool(params.get("refresh")))
        except (UserError, AccessError, ValueError) as exc:
            env.cr.rollback()
            return _ndjson([{"type": "error", "message": exc.args[0] if exc.args else str(exc)}])
        if plan["cached"]:
            result = {"text": plan["cached"].text, "source": "cache", "note": ""}
            return _ndjson([{"type": "meta", "source": "cache"}, {"type": "done", "result": result}])
        if plan["blocked"]:
            return _ndjson(self._fallback(panel, plan, plan["blocked"]))
        try:
            job, meta = env["maildesk.ai.service"]._prepare(plan["kind"], messages=plan["messages"])
        except (UserError, AccessError) as exc:  # the limit, a switch: the figures stay
            env.cr.rollback()
            return _ndjson(self._fallback(panel, plan, exc.args[0] if exc.args else str(exc)))
        # Plain values only cross into the generator (the request's env is gone by then).
        store = {"kind": plan["kind"], "key": plan["key"], "data": {
            "today": plan["data"]["today"], "facts": plan["data"]["facts"], "scope": plan["data"]["scope"]}}
        fallback = briefing.template(plan["kind"], plan["data"]["facts"], note="{note}")
        body = self._events(env.registry, job, meta, store, fallback)
        response = request.make_response(body, [("Content-Type", "application/x-ndjson"),
                                                ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")])
        response.direct_passthrough = True
        return response

    def _fallback(self, panel, plan, note):
        result = panel._fallback(plan, note)
        return [{"type": "meta", "source": "template"},
                {"type": "done", "result": {"text": result["text"], "source": "template", "note": note}}]

    def _events(self, registry, job, meta, store, fallback):
        """The response body; runs after the request's cursor is closed."""

        def in_env(callback):
            with registry.cursor() as cr:
                callback(api.Environment(cr, meta["uid"], {}))

        yield _line({"type": "meta", "source": "ai"})
        gate = briefing.LineGate(store["data"]["facts"])
        stream = job.stream()
        try:
            while True:
                try:
                    chunk = next(stream)
                except StopIteration as stop:
                    outcome = stop.value
                    break
                for line in gate.feed(chunk):
                    yield _line({"type": "delta", "text": line})
            for line in gate.close():
                yield _line({"type": "delta", "text": line})
        except GeneratorExit:
            stream.close()
            in_env(lambda env: env["maildesk.ai.service"]._finish(meta, cancelled=True, here=True))
            raise
        except Exception as exc:  # noqa: BLE001 - the usage row must not stay 'running'; the user gets the figures
            _logger.info("MailDesk cockpit AI stream failed: %s", exc)
            error = exc
            in_env(lambda env: env["maildesk.ai.service"]._finish(meta, error=error, here=True))
            note = str(error) or "The AI answer failed."
            yield _line({"type": "done", "result": {"text": fallback.replace("{note}", note), "source": "template",
                                                    "note": note}})
            return
        in_env(lambda env: env["maildesk.ai.service"]._finish(meta, outcome=outcome, here=True))
        ok, bad = gate.verdict()
        if not ok:
            holder = {}
            in_env(lambda env: holder.update(note=env["maildesk.cockpit.ai"]._grounding_note(bad)))
            yield _line({"type": "done", "result": {"text": fallback.replace("{note}", holder["note"]),
                                                    "source": "template", "note": holder["note"]}})
            return
        in_env(lambda env: env["maildesk.cockpit.ai"]._store(store, outcome.text, meta["usage_id"]))
        yield _line({"type": "done", "result": {"text": outcome.text, "source": "ai", "note": ""}})
