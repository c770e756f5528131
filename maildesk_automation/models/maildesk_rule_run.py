"""Run log: one line per rule that acted on a message or conversation (or failed on it).

A match whose actions all had nothing to do (the tag was already there...) writes no line.
Lines are written by the system in one INSERT per batch (``maildesk.rule._insert_logs``);
users read the lines of the mailboxes they see. ``trigger_key`` makes time triggers fire
once per situation (the no-reply rule once per unanswered incoming message, the idle rule
once per quiet period).
"""
from datetime import timedelta

from odoo import api, fields, models

RUN_LOG_RETENTION_DAYS = 90


class MaildeskRuleRun(models.Model):
    _name = "maildesk.rule.run"
    _description = "Mail Automation Run"
    _order = "id desc"

    rule_id = fields.Many2one("maildesk.rule", ondelete="cascade", index=True, readonly=True)
    trigger = fields.Char(readonly=True)
    account_id = fields.Many2one("maildesk.account", ondelete="cascade", index=True, readonly=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True)
    thread_id = fields.Many2one("maildesk.thread", ondelete="set null", index=True, readonly=True)
    # Indexed: each message the sync deletes sets its lines' message to NULL (a scan without it).
    message_id = fields.Many2one("maildesk.message", ondelete="set null", index=True, readonly=True)
    subject = fields.Char(readonly=True)
    matched = fields.Text("Conditions Matched", readonly=True)
    actions_done = fields.Text("Actions", readonly=True)
    duration_ms = fields.Float("Duration (ms)", readonly=True, digits=(16, 3))
    dry_run = fields.Boolean("Dry Run", readonly=True)
    # Partial indexes (rows with a value only): most lines have neither, and every index is
    # paid on each of the many lines a batch writes.
    dry_run_id = fields.Integer("Dry Run Wizard", readonly=True, index="btree_not_null",
                                help="The dry-run wizard row that wrote this line.")
    state = fields.Selection([("done", "Done"), ("error", "Error")], default="done", readonly=True)
    error = fields.Text(readonly=True)
    trigger_key = fields.Char(index="btree_not_null", readonly=True)

    @api.model
    def _cron_cleanup(self):
        limit = fields.Datetime.now() - timedelta(days=RUN_LOG_RETENTION_DAYS)
        self.sudo().search([("create_date", "<", limit), ("trigger_key", "=", False)]).unlink()
        # Dry-run lines only serve the wizard that showed them.
        self.sudo().search([("dry_run", "=", True),
                            ("create_date", "<", fields.Datetime.now() - timedelta(days=1))]).unlink()


class MaildeskRuleReply(models.Model):
    """When an auto-reply action last answered a sender (RFC 3834: once per N days)."""
    _name = "maildesk.rule.reply"
    _description = "Mail Automation Auto-Reply Memory"

    action_id = fields.Many2one("maildesk.rule.action", required=True, ondelete="cascade", index=True)
    address = fields.Char(required=True, index=True)
    sent_at = fields.Datetime(required=True)

    _sql_constraints = [("action_address_uniq", "unique(action_id, address)", "One line per sender and action.")]


class MaildeskThreadRecord(models.Model):
    """A record a rule created for a conversation: one per conversation and model."""
    _name = "maildesk.thread.record"
    _description = "Record created from a conversation"

    thread_id = fields.Many2one("maildesk.thread", required=True, ondelete="cascade", index=True)
    account_id = fields.Many2one(related="thread_id.account_id", store=True)
    res_model = fields.Char(required=True)
    res_id = fields.Many2oneReference(model_field="res_model", required=True)
    rule_id = fields.Many2one("maildesk.rule", ondelete="set null")
    name = fields.Char(compute="_compute_name")

    _sql_constraints = [("thread_model_uniq", "unique(thread_id, res_model)",
                         "A conversation gets one record per model.")]

    def _compute_name(self):
        for link in self:
            record = self.env[link.res_model].browse(link.res_id) if link.res_model in self.env else None
            link.name = record.sudo().display_name if record and record.exists() else f"{link.res_model},{link.res_id}"

    def action_open(self):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "res_model": self.res_model, "res_id": self.res_id,
                "view_mode": "form"}
