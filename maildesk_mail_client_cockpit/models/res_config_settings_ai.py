"""Settings ▸ MailDesk ▸ Cockpit AI (administrators): limits per tier, customer names, capacity."""
from odoo import api, fields, models

from ..engine.rebalance import DEFAULT_LIMIT
from .maildesk_cockpit_ai import CAPACITY_PARAM, DEFAULT_TIER_LIMITS, NAMES_PARAM, TIER_LIMIT_PARAM

LIMIT_HELP = "AI calls per user and day for this tier (0: none, -1: unlimited)."
PRO_SWITCH = "maildesk_mail_client_pro.feature_rebalance"


def _limit(feature, tier, label):
    return fields.Integer(label, default=DEFAULT_TIER_LIMITS[tier], help=LIMIT_HELP,
                          config_parameter=TIER_LIMIT_PARAM % (feature, tier))


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    maildesk_ck_ai_briefing_viewer = _limit("briefing", "viewer", "Briefings: Viewer")
    maildesk_ck_ai_briefing_operator = _limit("briefing", "operator", "Briefings: Operator")
    maildesk_ck_ai_briefing_manager = _limit("briefing", "manager", "Briefings: Manager")
    maildesk_ck_ai_briefing_admin = _limit("briefing", "admin", "Briefings: Administrator")
    maildesk_ck_ai_rebalance_viewer = _limit("rebalance", "viewer", "Rebalance explanations: Viewer")
    maildesk_ck_ai_rebalance_operator = _limit("rebalance", "operator", "Rebalance explanations: Operator")
    maildesk_ck_ai_rebalance_manager = _limit("rebalance", "manager", "Rebalance explanations: Manager")
    maildesk_ck_ai_rebalance_admin = _limit("rebalance", "admin", "Rebalance explanations: Administrator")
    maildesk_ck_ai_customer_names = fields.Boolean(
        "Send customer names to the AI", config_parameter=NAMES_PARAM,
        help="Off: the AI sees conversations as R1, R2 only. Email bodies and subjects are never sent.")
    maildesk_ck_ai_capacity = fields.Integer(
        "Open conversations per person", default=DEFAULT_LIMIT, config_parameter=CAPACITY_PARAM,
        help="Capacity used by the rebalance proposal when the team sets no 'open conversations per member'.")
    maildesk_ck_ai_rebalance = fields.Boolean("AI explanation of rebalance proposals", default=True)

    @api.model
    def get_values(self):
        values = super().get_values()
        # Pro's convention: "1"/"0", unset means on. sudo: settings are saved by administrators only.
        values["maildesk_ck_ai_rebalance"] = self.env["ir.config_parameter"].sudo().get_param(PRO_SWITCH, "1") not in (
            "0", "False", "false", "")
        return values

    def set_values(self):
        super().set_values()
        # sudo: as in get_values (the settings form is for administrators).
        self.env["ir.config_parameter"].sudo().set_param(PRO_SWITCH, "1" if self.maildesk_ck_ai_rebalance else "0")
