"""Cockpit settings (Settings ▸ MailDesk ▸ block "Cockpit"), kept as ``ir.config_parameter``.

What used to be hard-coded: the SLA cron's batch size and time budget, how long a missed
escalation level still fires, the at-risk share new SLA policies start with, the period the
cockpit opens on and the working hours of SLA policies when neither the policy nor the
conversation's team names a calendar. ``setting(env, name)`` reads one, falling back to the
default when the parameter is missing or not a valid value (a hand-edited parameter never
breaks the cron).
"""
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

PARAM = "maildesk_mail_client_cockpit.%s"
PERIODS = [("today", "Today"), ("7d", "Last 7 days"), ("30d", "Last 30 days")]
# name: (default, type, lowest, highest)
SETTINGS = {
    "sla_batch": (5000, int, 100, 50000),
    "sla_time_budget": (50, int, 5, 3000),
    "escalation_grace_hours": (24, int, 1, 24 * 30),
    "at_risk_percent": (80.0, float, 1.0, 100.0),
    "default_period": ("7d", str, None, None),
    "sla_calendar_id": (0, int, 0, None),
}


def setting(env, name):
    """The value of the cockpit setting ``name`` (see ``SETTINGS``), or its default."""
    default, kind, low, high = SETTINGS[name]
    raw = env["ir.config_parameter"].sudo().get_param(PARAM % name)  # sudo: settings, not secrets
    if raw in (None, False, ""):
        return default
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        return default
    if name == "default_period":
        return value if value in dict(PERIODS) else default
    if (low is not None and value < low) or (high is not None and value > high):
        return default
    return value


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    maildesk_cockpit_sla_batch = fields.Integer(
        "SLA cron batch", config_parameter=PARAM % "sla_batch", default=SETTINGS["sla_batch"][0],
        help="Conversations evaluated per committed batch of the SLA cron (100 to 50,000).")
    maildesk_cockpit_sla_time_budget = fields.Integer(
        "SLA cron time budget (s)", config_parameter=PARAM % "sla_time_budget",
        default=SETTINGS["sla_time_budget"][0],
        help="Seconds the SLA cron works before it hands the rest to its next run (5 to 3,000).")
    maildesk_cockpit_escalation_grace_hours = fields.Integer(
        "Late escalations fire for (h)", config_parameter=PARAM % "escalation_grace_hours",
        default=SETTINGS["escalation_grace_hours"][0],
        help="An escalation level whose moment passed longer ago than this when the cron first sees it "
             "(a new policy, a cron outage) is history and does not notify anyone (1 to 720 hours).")
    maildesk_cockpit_at_risk_percent = fields.Float(
        "At risk from (%)", config_parameter=PARAM % "at_risk_percent", default=SETTINGS["at_risk_percent"][0],
        help="Share of the allowed business time after which a conversation is 'at risk': the value new SLA "
             "policies start with (each policy keeps its own).")
    maildesk_cockpit_default_period = fields.Selection(
        PERIODS, "Cockpit opens on", config_parameter=PARAM % "default_period",
        default=SETTINGS["default_period"][0], help="The period the cockpit shows when it opens.")
    maildesk_cockpit_sla_calendar_id = fields.Many2one(
        "resource.calendar", "Default SLA working hours", config_parameter=PARAM % "sla_calendar_id",
        help="Business hours and holidays of SLA policies without working hours, for conversations whose team "
             "has none either. Empty: such due times run round the clock.")

    @api.constrains("maildesk_cockpit_sla_batch", "maildesk_cockpit_sla_time_budget",
                    "maildesk_cockpit_escalation_grace_hours", "maildesk_cockpit_at_risk_percent")
    def _check_maildesk_cockpit(self):
        for record in self:
            for field_name, name, label in (
                    ("maildesk_cockpit_sla_batch", "sla_batch", _("The SLA cron batch")),
                    ("maildesk_cockpit_sla_time_budget", "sla_time_budget", _("The SLA cron time budget")),
                    ("maildesk_cockpit_escalation_grace_hours", "escalation_grace_hours",
                     _("How long late escalations fire")),
                    ("maildesk_cockpit_at_risk_percent", "at_risk_percent", _("'At risk from'"))):
                _default, _kind, low, high = SETTINGS[name]
                value = record[field_name]
                if not low <= value <= high:
                    raise ValidationError(_("%(what)s must be between %(low)s and %(high)s.", what=label,
                                            low=low, high=high))

    def set_values(self):
        calendar_before = setting(self.env, "sla_calendar_id")
        super().set_values()
        if setting(self.env, "sla_calendar_id") != calendar_before:
            # Other working hours: every open conversation's due time is computed again.
            self.env["maildesk.sla.policy"]._trigger_recompute()
