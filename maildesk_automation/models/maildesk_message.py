"""Messages: the auto-generated flag at ingest and the hook that keeps conversation state.

``is_auto_generated`` is set from the stored headers (``engine.autogen``) in the base hook
``_complete_vals``, which ``create`` and the sync's bulk INSERT both run, so every path that
stores mail (sync, sent, tests) classifies it the same way.
``_on_messages_stored`` (base hook, once per batch) refreshes the conversation state of the
touched threads in one statement, gives new threads their mailbox's team, then runs the
rules (``maildesk.rule._run_on_stored``).
"""
import contextvars
import logging

from odoo import api, fields, models
from odoo.addons.maildesk_mail_client.models.maildesk_guard import is_trusted_ingest

from ..engine import autogen

_logger = logging.getLogger(__name__)

# Set by ``_create_ingested`` around the bulk INSERT: a list that receives the rules' plan.
AT_INSERT = contextvars.ContextVar("maildesk_rules_at_insert", default=None)
PLANNED_KEY = "maildesk_rules_planned"  # cursor cache: the plan of the last bulk INSERT, until its hook runs
# Set by ``_ingest``: {id(vals): (vals, files)} from ``_prepare_from_remote``, files as (name, type).
INGEST_FILES = contextvars.ContextVar("maildesk_rules_ingest_files", default=None)


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
        holder = AT_INSERT.get()
        if holder is not None and not holder and is_trusted_ingest():
            # The bulk INSERT (once: its fallback to ``create`` completes the same values again).
            holder.append(self.env["maildesk.rule"]._plan_at_insert(vals_list))

    def _ingest(self, folder, remotes):
        token = INGEST_FILES.set({})
        try:
            return super()._ingest(folder, remotes)
        finally:
            INGEST_FILES.reset(token)

    def _prepare_from_remote(self, account, folder, remote):
        """Also keep the names and types of the files, for the rules planned before the INSERT."""
        vals, attachments, keys = super()._prepare_from_remote(account, folder, remote)
        files = INGEST_FILES.get()
        if files is not None:
            files[id(vals)] = (vals, tuple((a[0], a[2]) for a in attachments))
        return vals, attachments, keys

    @api.model
    def _create_ingested(self, vals_list):
        """The sync's bulk INSERT with the rules planned on its values (``maildesk_rule_insert``)."""
        holder = []
        token = AT_INSERT.set(holder)
        try:
            records = super()._create_ingested(vals_list)
        finally:
            AT_INSERT.reset(token)
        planned = holder[0] if holder else None
        if planned is not None:
            planned.bind(records.ids)
            self.env.cr.cache[PLANNED_KEY] = planned  # taken by this batch's ``_on_messages_stored``
        else:
            self.env.cr.cache.pop(PLANNED_KEY, None)
        return records

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
