"""MailDesk settings (administrators): OAuth clients, redirect URIs to register, endpoints."""
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .maildesk_account_oauth import CALLBACK, ENDPOINT_PARAMS, PARAM
from .maildesk_outbox import DEFAULT_SEND_DELAY, MAX_SEND_DELAY, SEND_DELAY_PARAM


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    maildesk_google_client_id = fields.Char("Google Client ID", config_parameter=PARAM % "google_client_id")
    maildesk_google_client_secret = fields.Char("Google Client Secret",
                                                config_parameter=PARAM % "google_client_secret")
    maildesk_microsoft_client_id = fields.Char("Microsoft Application (client) ID",
                                               config_parameter=PARAM % "microsoft_client_id")
    maildesk_microsoft_client_secret = fields.Char("Microsoft Client Secret",
                                                   config_parameter=PARAM % "microsoft_client_secret")
    maildesk_microsoft_tenant = fields.Char("Microsoft Tenant", config_parameter=PARAM % "microsoft_tenant",
                                            default="common",
                                            help="'common' for any work or personal account, 'organizations', "
                                                 "or your directory (tenant) id.")
    maildesk_send_delay = fields.Integer("Undo send delay", config_parameter=SEND_DELAY_PARAM,
                                         default=DEFAULT_SEND_DELAY,
                                         help="Seconds a sent message waits before it leaves (0 = at once).")
    maildesk_google_redirect_uri = fields.Char("Google Redirect URI", compute="_compute_redirect_uris")
    maildesk_microsoft_redirect_uri = fields.Char("Microsoft Redirect URI", compute="_compute_redirect_uris")
    maildesk_endpoint_help = fields.Char(compute="_compute_redirect_uris")

    @api.depends("company_id")
    def _compute_redirect_uris(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "").rstrip("/")
        names = ", ".join(PARAM % name for name in ENDPOINT_PARAMS)
        for settings in self:
            settings.maildesk_google_redirect_uri = base + CALLBACK % "gmail"
            settings.maildesk_microsoft_redirect_uri = base + CALLBACK % "outlook"
            settings.maildesk_endpoint_help = names

    @api.constrains("maildesk_send_delay")
    def _check_maildesk_send_delay(self):
        for settings in self:
            if not 0 <= settings.maildesk_send_delay <= MAX_SEND_DELAY:
                raise ValidationError(_("The Undo send delay is between 0 and %s seconds.", MAX_SEND_DELAY))
