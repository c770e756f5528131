"""Messages: the auto-generated flag at ingest and the hook that keeps conversation state.

``is_auto_generated`` is set from the stored headers (``engine.autogen``) in the base hook
``_complete_vals``, which ``create`` and the sync's bulk INSERT both run, so every path that
stores mail (sync, sent, tests) classifies it the same way.
``_on_messages_stored`` (base hook, once per batch) refreshes the conversation state of the
touched threads in one statement, gives new threads their mailbox's team, then runs the
rules (``maildesk.rule._run_on_stored``).
"""
import logging

from odoo import api, fields, models

from ..engine import autogen

_logger = logging.getLogger(__name__)


class MaildeskMessage(models.Model):
    _inherit = "maildesk.message"

    is_auto_generated = fields.Boolean(
        "Auto-generated", readonly=True, default=False,
        help="Auto-Submitted, bulk/list/junk Precedence, List-Id or a no-reply/mailer-daemon sender: "
             "never counts as a human message.")

    def init(self):
        super().init()
        # Read with its conversation, never alone: a boolean index only cost every stored row an entry.
        self.env.cr.execute("DROP INDEX IF EXISTS maildesk_message__is_auto_generated_index")

    @api.model
    def _complete_vals(self, vals_list):
        super()._complete_vals(vals_list)
        for vals in vals_list:
            if "is_auto_generated" not in vals:
                vals["is_auto_generated"] = autogen.is_auto_generated(
                    auto_submitted=vals.get("auto_submitted") or "", precedence=vals.get("precedence") or "",
                    list_id=vals.get("list_id") or "", from_address=vals.get("from_address") or "")

    def _on_messages_stored(self):
        result = super()._on_messages_stored()
        threads = self.thread_id
        if threads:
            # sudo: derived state of the threads these stored messages belong to.
            threads = threads.sudo()
            threads._refresh_conversation_state()
            threads._set_default_teams()
        self.env["maildesk.rule"]._run_on_stored(self)
        return result

    def action_archive_mail(self):
        """Archiving a conversation's mail closes the conversation."""
        threads = self.thread_id
        result = super().action_archive_mail()
        threads.exists().action_close()
        return result
