"""Where alert notices go: in-app message, activity, email or an outbound webhook.

Kinds
    ``inapp``     a toast on the Odoo bus to each recipient, and the alert event itself, which
                  the recipient finds under MailDesk > Cockpit > Alerts (record rule: notified).
    ``activity``  a to-do activity on the rule for its responsible user. Needs Odoo's ``mail`` app
                  (a soft dependency: the suite does not depend on it); without it the channel
                  cannot be saved and a delivery is refused with that reason.
    ``email``     a plain-text email through Odoo's outgoing mail servers (``ir.mail_server``,
                  the optional server set on the channel, else the default one; the sender is the
                  setting "Alert sender address", else the company email), the path Odoo
                  uses for its own system mail; the mailboxes' SMTP accounts are for people.
    ``webhook``   Slack incoming webhook, Microsoft Teams Workflows (Adaptive Card) or a generic
                  JSON document signed with HMAC-SHA256 (``engine/webhooks.py``).

Webhook safety
    The URL and the signing secret are write-only fields stored encrypted (the base addon's
    key, ``maildesk_mail_client/engine/secrets.py``) in columns only the Settings group may read;
    only Cockpit Administrators may create or change channels. The URL must be https unless an
    administrator allows http in the settings; it is checked when saved and again at every
    send, on the address it resolves to then (loopback, private, link-local and metadata
    addresses are refused; loopback only with the explicit test setting), redirects are not
    followed, timeouts are short and failures are retried with backoff by the engine.
"""
from urllib.parse import urlsplit

from odoo import _, api, fields, models
from odoo.addons.maildesk_mail_client.engine import secrets
from odoo.exceptions import AccessError, UserError, ValidationError

from ..engine import webhooks

KINDS = [("inapp", "In-app message"), ("activity", "Activity"), ("email", "Email"), ("webhook", "Webhook")]
WEBHOOK_FORMATS = [("slack", "Slack (incoming webhook)"), ("teams", "Microsoft Teams (Workflows, Adaptive Card)"),
                   ("generic", "Generic JSON (HMAC-SHA256 signed)")]
PARAM_ALLOW_HTTP = "maildesk_mail_client_cockpit.alert_webhook_allow_http"
PARAM_ALLOW_LOOPBACK = "maildesk_mail_client_cockpit.alert_webhook_allow_loopback"
PARAM_EMAIL_FROM = "maildesk_mail_client_cockpit.alert_email_from"
ADMIN_GROUP = "maildesk_mail_client_cockpit.group_cockpit_admin"


def _flag(env, param):
    # sudo: reading two admin switches (ir.config_parameter is admin-only).
    return env["ir.config_parameter"].sudo().get_param(param, "") in ("1", "True", "true")


class MaildeskCockpitAlertChannel(models.Model):
    _name = "maildesk.cockpit.alert.channel"
    _description = "Cockpit Alert Channel"
    _order = "name, id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    kind = fields.Selection(KINDS, required=True, default="inapp")
    user_ids = fields.Many2many("res.users", string="Recipients", domain=[("share", "=", False)],
                                help="In-app and email: who is told. Empty: the rule's responsible user.")
    email_to = fields.Char("Other addresses", help="Email: more recipients, comma-separated.")
    mail_server_id = fields.Many2one("ir.mail_server", "Outgoing mail server",
                                     help="Email: empty uses Odoo's default outgoing mail server.")
    webhook_format = fields.Selection(WEBHOOK_FORMATS, "Format", default="generic")
    webhook_url = fields.Char("Webhook URL", compute="_compute_webhook", inverse="_inverse_webhook_url",
                              help="Write-only: stored encrypted, never shown again.")
    webhook_secret = fields.Char("Signing secret", compute="_compute_webhook", inverse="_inverse_webhook_secret",
                                 help="Write-only: the HMAC key of the generic format, stored encrypted.")
    webhook_url_encrypted = fields.Char(groups="base.group_system", copy=False)
    webhook_secret_encrypted = fields.Char(groups="base.group_system", copy=False)
    webhook_target = fields.Char("Webhook target", readonly=True, copy=False,
                                 help="The scheme and host of the stored URL (the path may hold a token).")
    has_webhook_secret = fields.Boolean("Secret set", compute="_compute_webhook")
    delivery_ids = fields.One2many("maildesk.cockpit.alert.delivery", "channel_id", "Deliveries", readonly=True)

    def _compute_webhook(self):
        for channel in self:
            channel.webhook_url = False
            channel.webhook_secret = False
            # sudo: we only tell whether a secret is stored, never its value.
            channel.has_webhook_secret = bool(channel.sudo().webhook_secret_encrypted)

    def _inverse_webhook_url(self):
        for channel in self:
            url = (channel.webhook_url or "").strip()
            if not url:
                continue
            self._vet(url)
            parts = urlsplit(url)
            channel.webhook_target = f"{parts.scheme}://{parts.hostname}{':%s' % parts.port if parts.port else ''}/…"
        self._store_secret("webhook_url_encrypted", "webhook_url")

    def _inverse_webhook_secret(self):
        self._store_secret("webhook_secret_encrypted", "webhook_secret")

    def _store_secret(self, column, field):
        key = self.env["maildesk.account"]._get_encryption_key()
        for channel in self:
            value = (channel[field] or "").strip()
            if value:
                # sudo: a Cockpit Administrator sets a secret they may never read back.
                channel.sudo()[column] = secrets.encrypt(key, value)
        self.invalidate_recordset([field])  # a read in the same request must not echo it back

    @api.constrains("kind")
    def _check_kind_available(self):
        if "mail.activity" not in self.env and any(c.kind == "activity" for c in self):
            raise ValidationError(_("Activities need Odoo's Discuss app (module 'mail'), which is not installed. "
                                    "Install it, or use an in-app message or email channel."))

    # -- CRUD: only Cockpit Administrators change channels (ACL); checked again for clarity --------
    @api.model_create_multi
    def create(self, vals_list):
        self._check_admin()
        return super().create(vals_list)

    def write(self, vals):
        self._check_admin()
        if "webhook_target" in vals and not self.env.su:
            raise AccessError(_("The webhook target follows the stored URL."))
        return super().write(vals)

    def _check_admin(self):
        if not self.env.su and not self.env.user.has_group(ADMIN_GROUP):
            raise AccessError(_("Only Cockpit Administrators set up alert channels."))

    # -- safety ------------------------------------------------------------------------------------
    @api.model
    def _webhook_options(self):
        """``allow_http`` / ``allow_loopback`` from the settings; override to add policy."""
        return {"allow_http": _flag(self.env, PARAM_ALLOW_HTTP),
                "allow_loopback": _flag(self.env, PARAM_ALLOW_LOOPBACK)}

    @api.model
    def _vet(self, url):
        try:
            return webhooks.vet_url(url, **self._webhook_options())
        except webhooks.UnsafeTarget as exc:
            raise UserError(str(exc)) from exc

    def _get_secret(self, column):
        # sudo: secrets are read here only, to hand them to the engine; never returned.
        value = self.sudo()[column]
        if not value:
            return ""
        try:
            return secrets.decrypt(self.env["maildesk.account"]._get_encryption_key(), value)
        except secrets.SecretError as exc:
            raise UserError(str(exc)) from exc

    # -- delivery ----------------------------------------------------------------------------------
    def _deliver(self, event, delivery_uid):
        """Send ``event`` on this channel now; returns the delivery log values (never raises)."""
        self.ensure_one()
        try:
            return getattr(self, f"_deliver_{self.kind}")(event, delivery_uid)
        except (UserError, AccessError, ValidationError) as exc:
            return {"status": "refused", "error": str(exc.args[0] if exc.args else exc)[:1000]}

    def _recipients(self, event):
        return (self.user_ids or event.rule_id.user_id).filtered("active")

    def _deliver_inapp(self, event, delivery_uid):
        from .maildesk_cockpit import notify_users

        users = self._recipients(event)
        if not users:
            return {"status": "refused", "error": _("Nobody to tell: set recipients or a responsible user.")}
        kind = "success" if event.kind == "resolved" else "warning"
        notify_users(self.env, users, event.title, event.text, kind=kind)
        # sudo: the event is a log row; recipients read it through its record rule.
        event.sudo().write({"notified_user_ids": [(4, u.id) for u in users]})
        return {"status": "delivered", "target": ", ".join(users.mapped("name"))[:200]}

    def _deliver_activity(self, event, delivery_uid):
        if "mail.activity" not in self.env:
            return {"status": "refused", "error": _("Activities need Odoo's Discuss app (module 'mail'), which is "
                                                    "not installed.")}
        rule = event.rule_id
        user = rule.user_id
        if not user.active:
            return {"status": "refused", "error": _("The responsible user of the rule is archived.")}
        # sudo: the activity is assigned by the alert system on behalf of the rule owner;
        # mail_activity_quick_update: no "assigned to you" e-mail (a rule is no mail.thread).
        activity = self.env["mail.activity"].sudo().with_context(mail_activity_quick_update=True).create({
            "res_model_id": self.env["ir.model"]._get_id(rule._name), "res_id": rule.id, "user_id": user.id,
            "activity_type_id": self.env.ref("mail.mail_activity_data_todo").id,
            "summary": event.title[:250], "note": event.text,
            "date_deadline": fields.Date.context_today(user.with_user(user))})
        return {"status": "delivered", "target": f"{user.name} (mail.activity {activity.id})"}

    def _deliver_email(self, event, delivery_uid):
        users = self._recipients(event)
        addresses = [u.email for u in users if u.email]
        addresses += [a.strip() for a in (self.email_to or "").split(",") if a.strip()]
        if not addresses:
            return {"status": "refused", "error": _("No email address to send to.")}
        MailServer = self.env["ir.mail_server"].sudo()  # sudo: outgoing servers are admin records
        sender = self._email_from(event)
        if not sender:
            return {"status": "refused", "error": _("Set the alert sender address in the MailDesk settings (or an "
                                                    "email on the company) to send alert emails.")}
        lines = [event.text or "", ""] + [f"{label}: {value}" for label, value in event._fields_list()]
        if event._url():
            lines += ["", _("Open the cockpit: %s", event._url())]
        message = MailServer.build_email(sender, addresses, event.title, "\n".join(lines), subtype="plain",
                                         headers={"X-MailDesk-Alert": event.dedup_key or "test",
                                                  "X-MailDesk-Delivery": delivery_uid})
        try:
            MailServer.send_email(message, mail_server_id=self.mail_server_id.id or None)
        except Exception as exc:  # noqa: BLE001 - any SMTP / socket failure is a failed delivery, logged
            return {"status": "failed", "error": f"{exc.__class__.__name__}: {exc}"[:1000],
                    "target": ", ".join(addresses)[:200]}
        return {"status": "delivered", "target": ", ".join(addresses)[:200]}

    def _email_from(self, event):
        """The From of alert emails: the setting, else the rule's company email, else Odoo's default."""
        # sudo: the sender address is an admin setting.
        return (self.env["ir.config_parameter"].sudo().get_param(PARAM_EMAIL_FROM)
                or event.rule_id.company_id.email
                or self.env["ir.mail_server"].sudo()._get_default_from_address())

    def _deliver_webhook(self, event, delivery_uid):
        url = self._get_secret("webhook_url_encrypted")
        if not url:
            return {"status": "refused", "error": _("The channel has no webhook URL.")}
        fmt = self.webhook_format or "generic"
        body = webhooks.encode_body(webhooks.PAYLOAD_BUILDERS[fmt](event._notice()))
        headers = {}
        if fmt == "generic":
            secret = self._get_secret("webhook_secret_encrypted")
            if not secret:
                return {"status": "refused", "error": _("The generic format is signed: set a signing secret.")}
            headers = webhooks.signature_headers(secret, body, delivery_id=delivery_uid)
        result = webhooks.send(url, body, headers, delivery_id=delivery_uid, max_attempts=webhooks.MAX_ATTEMPTS,
                               backoff=webhooks.BACKOFF_BASE, **self._webhook_options())
        return {"status": result.status, "attempts": result.attempts, "http_status": result.http_status or 0,
                "error": result.error, "response_excerpt": result.response_excerpt,
                "target": self.webhook_target or "", "ip": result.ip}
