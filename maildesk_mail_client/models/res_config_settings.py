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

    # Live updates (push): see models/maildesk_realtime.py and controllers/push.py.
    maildesk_push_base_url = fields.Char(
        "Public URL for push", config_parameter=PARAM % "push_base_url",
        help="The https address Google and Microsoft reach this Odoo at. Empty: the web.base.url.")
    maildesk_gmail_pubsub_topic = fields.Char(
        "Gmail Pub/Sub topic", config_parameter=PARAM % "gmail_pubsub_topic",
        help="projects/<project>/topics/<topic>. Empty: Gmail mailboxes poll every minute.")
    maildesk_gmail_push_auth = fields.Selection(
        [("oidc", "Signed token (OIDC, recommended)"), ("token", "Secret in the URL")],
        string="Push authentication", config_parameter=PARAM % "gmail_push_auth", default="oidc")
    maildesk_gmail_push_service_account = fields.Char(
        "Push service account", config_parameter=PARAM % "gmail_push_service_account",
        help="The service account the push subscription signs its tokens as.")
    maildesk_gmail_push_audience = fields.Char(
        "Push audience", config_parameter=PARAM % "gmail_push_audience",
        help="The audience set on the push subscription. Empty: the push endpoint URL.")
    maildesk_gmail_push_certs_url = fields.Char(
        "Google certificates URL", config_parameter=PARAM % "gmail_push_certs_url",
        help="Where the token signing keys are published. Empty: Google's.")
    maildesk_gmail_push_token = fields.Char("Push URL secret", config_parameter=PARAM % "gmail_push_token",
                                            groups="base.group_system")
    maildesk_gmail_push_endpoint = fields.Char("Push endpoint", compute="_compute_push_help")
    maildesk_gmail_push_setup = fields.Text("What to create in Google Cloud", compute="_compute_push_help")
    maildesk_graph_push = fields.Boolean(
        "Microsoft 365 live updates", config_parameter=PARAM % "graph_push",
        help="Graph change notifications; Microsoft must reach the public URL over https.")
    maildesk_graph_push_endpoint = fields.Char("Notification URL", compute="_compute_push_help")

    @api.depends("company_id")
    def _compute_redirect_uris(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "").rstrip("/")
        names = ", ".join(PARAM % name for name in ENDPOINT_PARAMS)
        for settings in self:
            settings.maildesk_google_redirect_uri = base + CALLBACK % "gmail"
            settings.maildesk_microsoft_redirect_uri = base + CALLBACK % "outlook"
            settings.maildesk_endpoint_help = names

    @api.depends("maildesk_push_base_url", "maildesk_gmail_pubsub_topic", "maildesk_gmail_push_auth",
                 "maildesk_gmail_push_token", "maildesk_gmail_push_service_account")
    def _compute_push_help(self):
        web_base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "").rstrip("/")
        for settings in self:
            base = (settings.maildesk_push_base_url or web_base).rstrip("/")
            endpoint = base + "/maildesk/push/gmail"
            if settings.maildesk_gmail_push_auth == "token":
                endpoint += "/" + (settings.maildesk_gmail_push_token or "<secret>")
            topic = settings.maildesk_gmail_pubsub_topic or "projects/PROJECT/topics/maildesk-gmail"
            project, _sep, name = topic.removeprefix("projects/").partition("/topics/")
            account = settings.maildesk_gmail_push_service_account or f"maildesk-push@{project}.iam.gserviceaccount.com"
            auth = (f" --push-auth-service-account={account} --push-auth-token-audience={base}/maildesk/push/gmail"
                    if settings.maildesk_gmail_push_auth != "token" else "")
            settings.maildesk_gmail_push_endpoint = endpoint
            settings.maildesk_graph_push_endpoint = base + "/maildesk/push/graph"
            settings.maildesk_gmail_push_setup = (
                f"gcloud pubsub topics create {name or 'maildesk-gmail'} --project={project}\n"
                f"gcloud pubsub topics add-iam-policy-binding {name or 'maildesk-gmail'} --project={project} "
                f"--member=serviceAccount:gmail-api-push@system.gserviceaccount.com --role=roles/pubsub.publisher\n"
                f"gcloud pubsub subscriptions create maildesk-gmail-push --project={project} "
                f"--topic={name or 'maildesk-gmail'} --push-endpoint={endpoint}{auth}")

    def set_values(self):
        super().set_values()
        params = self.env["ir.config_parameter"].sudo()
        if self.maildesk_gmail_push_auth == "token" and not params.get_param(PARAM % "gmail_push_token"):
            import secrets

            params.set_param(PARAM % "gmail_push_token", secrets.token_urlsafe(32))
        if self.maildesk_gmail_pubsub_topic or self.maildesk_graph_push:
            self.env.ref("maildesk_mail_client.ir_cron_maildesk_push_renew").sudo()._trigger()

    @api.constrains("maildesk_send_delay")
    def _check_maildesk_send_delay(self):
        for settings in self:
            if not 0 <= settings.maildesk_send_delay <= MAX_SEND_DELAY:
                raise ValidationError(_("The Undo send delay is between 0 and %s seconds.", MAX_SEND_DELAY))
