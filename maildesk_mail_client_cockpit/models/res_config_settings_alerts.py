"""Alert settings (administrators): webhook transport policy and the sender of alert emails."""
from odoo import fields, models

from .maildesk_cockpit_alert_channel import PARAM_ALLOW_HTTP, PARAM_ALLOW_LOOPBACK, PARAM_EMAIL_FROM


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    maildesk_alert_webhook_allow_http = fields.Boolean(
        "Allow plain http webhooks", config_parameter=PARAM_ALLOW_HTTP,
        help="Off: alert webhooks must use https. Turn on only for receivers on a trusted network.")
    maildesk_alert_webhook_allow_loopback = fields.Boolean(
        "Allow loopback webhooks (tests)", config_parameter=PARAM_ALLOW_LOOPBACK,
        help="Lets alert webhooks reach 127.0.0.1 / ::1, for a receiver on this server in tests. Private, "
             "link-local and metadata addresses stay refused.")
    maildesk_alert_email_from = fields.Char(
        "Alert sender address", config_parameter=PARAM_EMAIL_FROM,
        help="The From of alert emails. Empty: the company email.")
