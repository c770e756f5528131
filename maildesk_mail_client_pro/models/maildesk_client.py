"""AI actions of the mailbox web client (the server API the AI panel calls).

Every method runs as the calling user and reaches the thread through the base client's
own access checks; every AI call goes through ``maildesk.ai.service`` (switches, limits,
data boundary, usage log). The streaming variants live in ``controllers/main.py``.

API (JSON-RPC on ``maildesk.client``):
  ai_status(thread_id) -> {provider, features: {name: bool}, attachments, scan}
  ai_summarize(thread_id, include_attachments=False, language="auto")
      -> {summary, open_questions, action_items, note}
  ai_ask(thread_id, question, history=[[q, a], ...], include_attachments=False) -> {answer, note}
  ai_draft(message_id, tone="neutral", language="auto", instructions="")
      -> {draft_id, text, note}: a saved draft for the compose dialog (nothing is sent)
  ai_draft_from_text(message_id, text) -> {draft_id}: the same from a streamed answer
  ai_scan(message_id, explain=False) -> {level, code_level, reasons, action, explanation,
      suggested_action, ai}
``get_thread`` adds ``risk`` (code scan) to incoming messages and ``ai`` (what is offered).
"""
from markupsafe import Markup, escape
from odoo import _, api, models
from odoo.exceptions import UserError

from ..engine import scan

QUESTION_MAX = 2000
HISTORY_MAX = 10
TONES = ("neutral", "friendly", "formal", "short", "firm")


class MaildeskClient(models.AbstractModel):
    _inherit = "maildesk.client"

    # -- reading ------------------------------------------------------------------------------
    @api.model
    def get_thread(self, thread_id):
        result = super().get_thread(thread_id)
        service = self.env["maildesk.ai.service"]
        messages = self.env["maildesk.message"].browse([row["id"] for row in result["messages"]])
        risks = service.scan_messages(messages)
        # The scan ran: keep its level on the messages (rules and reports read it there).
        messages._store_security_levels({mid: found.level for mid, found in risks.items()})
        trusted = self.env["maildesk.trusted.sender"]._addresses()
        for row in result["messages"]:
            found = risks.get(row["id"])
            row["risk"] = {"level": found.level, "reasons": found.reasons, "action": found.action,
                           "trusted": (row["from_address"] or "") in trusted} if found else False
        thread = self.env["maildesk.thread"].browse(result["thread"]["id"])
        result["ai"] = self.ai_status(thread.id, thread=thread)
        return result

    @api.model
    def ai_status(self, thread_id=False, thread=None):
        """What the AI panel may offer on this thread (buttons only; the server checks again)."""
        thread = thread or self._ai_thread(thread_id)
        service = self.env["maildesk.ai.service"]
        mailbox = thread.account_id.sudo()  # sudo: reading the admin-set switches of a mailbox the user reads
        provider = bool(service._get_provider())
        usable = provider and mailbox.ai_enabled
        return {"provider": provider, "mailbox_enabled": bool(mailbox.ai_enabled),
                "features": {f: bool(usable and service._feature_enabled(f)) for f in ("summarize", "ask", "draft",
                                                                                        "scan")},
                "attachments": bool(usable and mailbox.ai_attachments)}

    def _ai_thread(self, thread_id):
        thread = self.env["maildesk.thread"].browse(int(thread_id or 0)).exists()
        if not thread:
            raise UserError(_("This conversation no longer exists."))
        thread.check_access_rights("read")
        thread.check_access_rule("read")
        return thread

    def _ai_message(self, message_id):
        message = self._messages_of(message_ids=[int(message_id or 0)])
        return message[:1]

    # -- the four actions ---------------------------------------------------------------------
    @api.model
    def ai_summarize(self, thread_id, include_attachments=False, language="auto"):
        thread = self._ai_thread(thread_id)
        result = self.env["maildesk.ai.service"].run("summarize", thread=thread,
                                                     include_attachments=bool(include_attachments),
                                                     language=str(language or "auto"))
        return dict(result["data"], note=result["note"])

    @api.model
    def ai_ask(self, thread_id, question, history=None, include_attachments=False):
        thread = self._ai_thread(thread_id)
        question = self._ai_question(question)
        result = self.env["maildesk.ai.service"].run("ask", thread=thread, question=question,
                                                     history=self._ai_history(history),
                                                     include_attachments=bool(include_attachments))
        return {"answer": result["text"], "note": result["note"]}

    @api.model
    def ai_draft(self, message_id, tone="neutral", language="auto", instructions=""):
        message = self._ai_message(message_id)
        result = self.env["maildesk.ai.service"].run(
            "draft", thread=message.thread_id, message_id=message.id, tone=tone if tone in TONES else "neutral",
            language=str(language or "auto"), instructions=str(instructions or "")[:QUESTION_MAX])
        draft = self.ai_draft_from_text(message.id, result["text"])
        return dict(draft, text=result["text"], note=result["note"])

    @api.model
    def ai_draft_from_text(self, message_id, text):
        """A reply draft to ``message_id`` whose body starts with ``text`` (plain text, escaped)."""
        message = self._ai_message(message_id)
        values = self.compose_defaults(mode="reply", message_id=message.id)
        paragraphs = [p for p in str(text or "").strip().split("\n\n") if p.strip()]
        body = Markup("").join(Markup("<p>%s</p>") % Markup("<br/>").join(escape(line) for line in p.split("\n"))
                               for p in paragraphs)
        values["body_html"] = str(body) + values["body_html"].replace("<p><br/></p>", "", 1)
        values["attachment_ids"] = []
        return {"draft_id": self.save_draft(values)["draft_id"]}

    @api.model
    def ai_scan(self, message_id, explain=False):
        """Code signals always (no AI needed); with ``explain`` the AI words them, never lowering the level."""
        message = self._ai_message(message_id)
        service = self.env["maildesk.ai.service"]
        found = service.scan_messages(message).get(message.id)
        if not found:
            return {"level": "low", "code_level": "low", "reasons": [_("You sent this message.")],
                    "action": scan.ACTIONS["low"], "explanation": "", "suggested_action": "", "ai": False}
        result = {"level": found.level, "code_level": found.level, "reasons": found.reasons, "action": found.action,
                  "explanation": "", "suggested_action": "", "ai": False}
        if explain:
            answer = service.run("scan", thread=message.thread_id, message_id=message.id, signals=found.as_dict())
            data = answer["data"]
            result.update(level=scan.combine(found.level, data["level"].lower()), explanation=data["explanation"],
                          suggested_action=data["suggested_action"], ai=True)
        return result

    # -- input checks ---------------------------------------------------------------------------
    @api.model
    def _ai_question(self, question):
        question = str(question or "").strip()
        if not question:
            raise UserError(_("Type a question first."))
        if len(question) > QUESTION_MAX:
            raise UserError(_("The question is too long (at most %s characters).", QUESTION_MAX))
        return question

    @api.model
    def _ai_history(self, history):
        pairs = []
        for item in (history or [])[-HISTORY_MAX:]:
            if isinstance(item, (list, tuple)) and len(item) == 2:
                pairs.append((str(item[0])[:QUESTION_MAX], str(item[1])[:8000]))
        return pairs
