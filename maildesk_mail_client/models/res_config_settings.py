"""MailDesk settings (administrators): OAuth clients, redirect URIs to register, endpoints."""
from odoo import api, fields, models

from .maildesk_account_oauth import CALLBACK, ENDPOINT_PARAMS, PARAM
from .maildesk_outbox import UNDO_DEFAULT, UNDO_MAX, UNDO_PARAM


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
    maildesk_undo_send_seconds = fields.Integer("Undo send (seconds)", config_parameter=UNDO_PARAM,
                                                default=UNDO_DEFAULT,
                                                help=f"0 to {UNDO_MAX}: how long a sent message can still be undone.")
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
