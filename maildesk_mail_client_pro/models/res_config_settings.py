"""Settings ▸ MailDesk ▸ AI (administrators): feature switches and daily limits per user."""
from odoo import api, fields, models

from .maildesk_ai_service import DEFAULT_LIMITS, PARAM


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    maildesk_ai_summarize = fields.Boolean("Summarize", default=True)
    maildesk_ai_ask = fields.Boolean("Ask AI", default=True)
    maildesk_ai_draft = fields.Boolean("Draft reply", default=True)
    maildesk_ai_scan = fields.Boolean("AI explanation of security scans", default=True)
    maildesk_ai_briefing = fields.Boolean("Cockpit briefings", default=True)
    maildesk_ai_limit_summarize = fields.Integer("Summaries per user and day", default=DEFAULT_LIMITS["summarize"],
                                                 config_parameter=PARAM % "limit_summarize")
    maildesk_ai_limit_ask = fields.Integer("Questions per user and day", default=DEFAULT_LIMITS["ask"],
                                           config_parameter=PARAM % "limit_ask")
    maildesk_ai_limit_draft = fields.Integer("Drafts per user and day", default=DEFAULT_LIMITS["draft"],
                                             config_parameter=PARAM % "limit_draft")
    maildesk_ai_limit_scan = fields.Integer("AI scan explanations per user and day", default=DEFAULT_LIMITS["scan"],
                                            config_parameter=PARAM % "limit_scan")
    maildesk_ai_limit_briefing = fields.Integer("Briefings per user and day", default=DEFAULT_LIMITS["briefing"],
                                                config_parameter=PARAM % "limit_briefing")
    maildesk_ai_provider_id = fields.Many2one("maildesk.ai.provider", "Active AI Provider",
                                              compute="_compute_maildesk_ai_provider")

    _FEATURES = ("summarize", "ask", "draft", "scan", "briefing")

    @api.depends("company_id")
    def _compute_maildesk_ai_provider(self):
        for settings in self:
            settings.maildesk_ai_provider_id = self.env["maildesk.ai.provider"].search(
                [("is_active", "=", True), ("company_id", "=", settings.company_id.id)], limit=1)

    @api.model
    def get_values(self):
        values = super().get_values()
        params = self.env["ir.config_parameter"].sudo()
        for feature in self._FEATURES:
            # Stored as "1"/"0" so an unset parameter means "on" (Boolean config_parameter fields cannot).
            values[f"maildesk_ai_{feature}"] = params.get_param(PARAM % f"feature_{feature}", "1") not in (
                "0", "False", "false", "")
        return values

    def set_values(self):
        super().set_values()
        params = self.env["ir.config_parameter"].sudo()
        for feature in self._FEATURES:
            params.set_param(PARAM % f"feature_{feature}", "1" if self[f"maildesk_ai_{feature}"] else "0")
