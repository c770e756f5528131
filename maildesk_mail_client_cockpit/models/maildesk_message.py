"""Cockpit facts on stored messages: kind, waiting gaps, response times (``engine/facts.py``).

Kept at ingest: ``_on_messages_stored`` (after the automation's conversation state, via
``super()``) recomputes the facts of the touched conversations and their SLA state.
"""
from odoo import fields, models

from ..engine import wait_due

KINDS = [("in", "Incoming"), ("out", "Outgoing"), ("auto", "Auto-generated"), ("internal", "Internal"),
         ("spam", "Spam"), ("draft", "Draft"), ("dup", "Duplicate copy")]


class MaildeskMessage(models.Model):
    _inherit = "maildesk.message"

    ck_kind = fields.Selection(KINDS, "Cockpit Kind", readonly=True, copy=False,
                               help="How the cockpit counts this message (README 'How the cockpit counts').")
    ck_wait_start = fields.Boolean("Starts a Wait", readonly=True, copy=False)
    ck_first = fields.Boolean("First Response Gap", readonly=True, copy=False)
    ck_answered_at = fields.Datetime("Answered At", readonly=True, copy=False)
    ck_reply_seconds = fields.Float("Response Time (business seconds)", readonly=True, copy=False)

    def init(self):
        super().init()  # one init() per model: the class highest in the MRO runs, it calls the rest
        cr = self.env.cr
        # Each wait's due time lives beside the messages (engine/wait_due.py); the indexes that
        # carried it as a column (before 17.0.1.1.0) go.
        cr.execute(wait_due.DDL)
        cr.execute("DROP INDEX IF EXISTS maildesk_message_ck_answered_idx, maildesk_message_ck_gap_date_idx, "
                   "maildesk_message_ck_gap_due_idx")
        # The cockpit's row sources (engine/kpi.py): counted messages and waiting gaps per mailbox.
        cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_message_ck_counted_idx ON maildesk_message
                          (account_id, date) INCLUDE (thread_id, ck_kind) WHERE ck_kind IN ('in', 'out')""")
        cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_message_ck_answered2_idx ON maildesk_message
                          (account_id, ck_answered_at) INCLUDE (thread_id, date, ck_first, ck_reply_seconds, id)
                          WHERE ck_wait_start""")  # id: the due time's join stays index-only
        cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_message_ck_gap_date2_idx ON maildesk_message
                          (account_id, date) INCLUDE (thread_id, ck_answered_at) WHERE ck_wait_start""")
        # Drill-down pages (kpi.page_sql, newest first): read in index order, stop after the page.
        cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_message_ck_page_idx ON maildesk_message
                          (date DESC NULLS LAST, thread_id, id) INCLUDE (account_id, ck_kind)
                          WHERE ck_kind IN ('in', 'out')""")
        cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_message_ck_gap_page_idx ON maildesk_message
                          (date DESC NULLS LAST, thread_id, id)
                          INCLUDE (account_id, ck_first, ck_answered_at, ck_reply_seconds) WHERE ck_wait_start""")

    def _on_messages_stored(self):
        result = super()._on_messages_stored()
        threads = self.thread_id
        if threads:
            # sudo: derived cockpit columns of the conversations these stored messages belong to.
            threads.sudo()._cockpit_refresh_facts()
            threads.sudo()._cockpit_refresh_sla()
        return result
