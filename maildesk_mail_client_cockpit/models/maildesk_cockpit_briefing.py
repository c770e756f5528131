"""The AI panel's cache: the AI text of the day per scope, so a team pays for a briefing once.

Written and read only by ``maildesk.cockpit.ai`` (sudo, after its tier and scope checks); the
key is a hash of the resolved scope (the exact mailbox ids the caller reads, companies,
filters, whether customer names were allowed), so a cached text only ever reaches someone
whose scope holds the same figures.
"""
from odoo import fields, models

from ..engine.briefing import KINDS


class MaildeskCockpitBriefing(models.Model):
    _name = "maildesk.cockpit.briefing"
    _description = "Cockpit AI Briefing (cache)"
    _order = "id desc"

    kind = fields.Selection([(k, k.capitalize()) for k in KINDS], required=True, readonly=True)
    scope_key = fields.Char(required=True, index=True, readonly=True)
    scope_label = fields.Char(readonly=True)
    day = fields.Date(required=True, index=True, readonly=True)
    text = fields.Text(readonly=True)
    facts_json = fields.Text("Facts (JSON)", readonly=True)
    user_id = fields.Many2one("res.users", "Requested By", readonly=True, ondelete="set null")
    company_id = fields.Many2one("res.company", readonly=True, ondelete="cascade")
    usage_id = fields.Many2one("maildesk.ai.usage", readonly=True, ondelete="set null")

    _sql_constraints = [("scope_day_uniq", "unique(kind, scope_key, day)", "One cached text per scope and day.")]
