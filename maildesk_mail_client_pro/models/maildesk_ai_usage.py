"""The AI usage log: one row per AI call, written only by the AI service (the chokepoint).

A row is reserved (``pending``) before the call and finished after it with the outcome,
tokens and latency, so calls in flight count against the daily limit too. Users read
their own rows, Mailbox Admins all; nobody writes them through the UI or RPC.
"""
from odoo import api, fields, models

FEATURES = [("summarize", "Summarize"), ("ask", "Ask AI"), ("draft", "Draft reply"),
            ("scan", "Security scan (AI explanation)"), ("briefing", "Cockpit briefing")]
OUTCOMES = [("pending", "Running"), ("ok", "OK"), ("error", "Error"), ("cancelled", "Cancelled")]


class MaildeskAiUsage(models.Model):
    _name = "maildesk.ai.usage"
    _description = "AI Usage"
    _order = "id desc"
    _rec_name = "feature"

    user_id = fields.Many2one("res.users", required=True, index=True, ondelete="cascade", readonly=True)
    company_id = fields.Many2one("res.company", index=True, readonly=True)
    day = fields.Date(required=True, index=True, readonly=True, help="The day in the user's time zone.")
    feature = fields.Selection(FEATURES, required=True, index=True, readonly=True)
    account_id = fields.Many2one("maildesk.account", "Mailbox", ondelete="set null", index=True, readonly=True)
    provider_id = fields.Many2one("maildesk.ai.provider", ondelete="set null", readonly=True)
    model = fields.Char(readonly=True)
    tokens_in = fields.Integer("Tokens In", readonly=True)
    tokens_out = fields.Integer("Tokens Out", readonly=True)
    tokens_total = fields.Integer("Tokens", compute="_compute_tokens_total", store=True)
    latency_ms = fields.Integer("Latency (ms)", readonly=True, group_operator="avg")
    outcome = fields.Selection(OUTCOMES, required=True, default="pending", index=True, readonly=True)
    error = fields.Char(readonly=True)

    @api.depends("tokens_in", "tokens_out")
    def _compute_tokens_total(self):
        for row in self:
            row.tokens_total = row.tokens_in + row.tokens_out

    @api.autovacuum
    def _gc_old_rows(self):
        """Rows older than a year go (the autovacuum cron); the admin view reads recent use."""
        limit = fields.Date.subtract(fields.Date.today(), days=366)
        self.sudo().search([("day", "<", limit)]).unlink()
