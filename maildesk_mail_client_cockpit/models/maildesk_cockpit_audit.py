"""Audit trail of cockpit triage: who assigned, marked noise, overrode an SLA, when and why."""
from odoo import fields, models

ACTIONS = [("assign", "Assigned"), ("noise", "Marked as noise"), ("unnoise", "Noise undone"),
           ("sla_override", "SLA overridden")]


class MaildeskCockpitAudit(models.Model):
    _name = "maildesk.cockpit.audit"
    _description = "MailDesk Cockpit Audit Trail"
    _order = "create_date desc, id desc"

    thread_id = fields.Many2one("maildesk.thread", required=True, ondelete="cascade", index=True, readonly=True)
    account_id = fields.Many2one(related="thread_id.account_id", store=True)
    company_id = fields.Many2one(related="thread_id.company_id", store=True)
    user_id = fields.Many2one("res.users", required=True, readonly=True, default=lambda self: self.env.user)
    action = fields.Selection(ACTIONS, required=True, readonly=True)
    old_value = fields.Char(readonly=True)
    new_value = fields.Char(readonly=True)
    reason = fields.Text(readonly=True)
