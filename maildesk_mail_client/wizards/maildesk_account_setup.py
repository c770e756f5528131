"""Connect a mailbox in one screen: pick a provider preset, type the password, test, connect.

For the non-technical user: the preset (or the address's domain) fills the servers, Test
Connection says in plain words what is wrong and stays on the form, Connect creates the
mailbox and starts its first sync in the background.
"""
import logging

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import secrets
from ..engine.errors import AuthError, ProviderError
from ..models.maildesk_account import SECURITY, cannot_connect_message

_logger = logging.getLogger(__name__)

# preset -> (label, imap host, port, security, smtp host, port, security, hint, address domains)
PRESETS = {
    "gmail": ("Gmail (app password)", "imap.gmail.com", 993, "ssl", "smtp.gmail.com", 587, "starttls",
              "Use an app password (Google Account ▸ Security ▸ App passwords), not your Google password.",
              ("gmail.com", "googlemail.com")),
    "outlook": ("Outlook.com / Microsoft 365", "outlook.office365.com", 993, "ssl", "smtp.office365.com", 587,
                "starttls", "Your administrator must allow IMAP and SMTP AUTH for the mailbox.",
                ("outlook.com", "hotmail.com", "live.com", "msn.com")),
    "yahoo": ("Yahoo Mail", "imap.mail.yahoo.com", 993, "ssl", "smtp.mail.yahoo.com", 465, "ssl",
              "Yahoo requires an app password (Account security ▸ Generate app password).",
              ("yahoo.com", "ymail.com")),
    "icloud": ("iCloud Mail", "imap.mail.me.com", 993, "ssl", "smtp.mail.me.com", 587, "starttls",
               "iCloud requires an app-specific password (appleid.apple.com) and your full address as login.",
               ("icloud.com", "me.com", "mac.com")),
    "fastmail": ("Fastmail", "imap.fastmail.com", 993, "ssl", "smtp.fastmail.com", 465, "ssl",
                 "Use an app password (Settings ▸ Privacy & Security ▸ App passwords).", ("fastmail.com",)),
    "zoho": ("Zoho Mail", "imap.zoho.com", 993, "ssl", "smtp.zoho.com", 465, "ssl",
             "Enable IMAP access in Zoho Mail settings first.", ("zoho.com", "zohomail.com")),
    "gmx": ("GMX", "imap.gmx.com", 993, "ssl", "mail.gmx.com", 587, "starttls",
            "Enable POP3/IMAP access in the GMX settings first.", ("gmx.com", "gmx.net", "gmx.de")),
}


class MaildeskAccountSetup(models.TransientModel):
    """Private to its creator (record rule on create_uid). The typed password is kept
    encrypted in a column no user can read or write: the wizard never decrypts a value a
    client supplied (a ciphertext lifted from a database dump stays useless)."""

    _name = "maildesk.account.setup"
    _inherit = ["maildesk.guard.mixin"]
    _description = "Connect a mailbox"

    preset = fields.Selection([(key, value[0]) for key, value in PRESETS.items()] + [("custom", "Other (IMAP)")],
                              string="Provider", default="custom", required=True)
    email = fields.Char(required=True)
    name = fields.Char("Mailbox name", help="How the mailbox is called in the client; defaults to the address.")
    password = fields.Char(compute="_compute_password", inverse="_inverse_password",
                           help="Kept encrypted while you set up; stored encrypted in the mailbox.")
    password_encrypted = fields.Char(groups="base.group_system", copy=False)
    is_shared = fields.Boolean("Shared mailbox")
    imap_host = fields.Char("IMAP server")
    imap_port = fields.Integer("IMAP port", default=993)
    imap_security = fields.Selection(SECURITY, string="IMAP security", default="ssl", required=True)
    imap_login = fields.Char("IMAP login", help="Usually your address; leave empty to use it.")
    smtp_host = fields.Char("SMTP server")
    smtp_port = fields.Integer("SMTP port", default=587)
    smtp_security = fields.Selection(SECURITY, string="SMTP security", default="starttls", required=True)
    hint = fields.Char(compute="_compute_hint")
    oauth_provider = fields.Selection([("gmail", "Google"), ("outlook", "Microsoft")], compute="_compute_oauth",
                                      help="Set when the administrator configured sign-in with this provider.")
    test_state = fields.Selection([("untested", "Not tested"), ("ok", "Connected"), ("failed", "Failed")],
                                  default="untested", readonly=True)
    test_message = fields.Text(readonly=True)
    # What the wizard filled in itself (from the address or a preset): a different value is
    # the user's own and is never overwritten when the address is corrected.
    auto_preset = fields.Char()
    auto_imap_host = fields.Char()
    auto_smtp_host = fields.Char()

    _md_system_fields = ("password_encrypted", "test_state", "test_message")

    # -- password: never stored in clear, even in this short-lived table -----------------
    def _compute_password(self):
        self.password = False

    def _inverse_password(self):
        key = self.env["maildesk.account"]._get_encryption_key()
        for wizard in self:
            if wizard.password:
                # sudo: the user sets a password they may never read back (admin-only column).
                wizard.sudo().password_encrypted = secrets.encrypt(key, wizard.password)
        self.invalidate_recordset(["password"])

    def _password_encrypted(self):
        # sudo: read only to hand the secret to the engine; only this wizard's code wrote it.
        return self.sudo().password_encrypted

    def _password(self):
        encrypted = self._password_encrypted()
        if not encrypted:
            return ""
        return secrets.decrypt(self.env["maildesk.account"]._get_encryption_key(), encrypted)

    # -- presets ---------------------------------------------------------------------------
    @api.depends("preset")
    def _compute_hint(self):
        for wizard in self:
            wizard.hint = PRESETS[wizard.preset][7] if wizard.preset in PRESETS else False

    @api.depends("preset")
    def _compute_oauth(self):
        Account = self.env["maildesk.account"]
        configured = {"gmail": Account._param("google_client_id") and Account._param("google_client_secret"),
                      "outlook": Account._param("microsoft_client_id") and Account._param("microsoft_client_secret")}
        for wizard in self:
            wizard.oauth_provider = wizard.preset if configured.get(wizard.preset) else False

    @api.onchange("email")
    def _onchange_email(self):
        """Follow the address, also when it is corrected, without overriding the user's choices.

        The preset follows the domain unless the user picked another one themselves; the
        servers follow unless the user typed their own (``auto_*`` hold what we filled).
        """
        domain = (self.email or "").rpartition("@")[2].strip().lower()
        if not domain or "." not in domain:
            return
        matching = next((key for key, preset in PRESETS.items() if domain in preset[8]), None)
        if self.preset in ("custom", self.auto_preset) and (matching or self.preset in PRESETS):
            preset = matching or "custom"
            if preset != self.preset:
                self.preset = preset
                self._apply_preset()
            self.auto_preset = preset
        if self.preset == "custom":
            if self._servers_untouched():
                self.imap_host = self.auto_imap_host = f"imap.{domain}"
                self.smtp_host = self.auto_smtp_host = f"smtp.{domain}"
        self.test_state = "untested"

    def _servers_untouched(self):
        """True while the server names are empty or still the ones this wizard filled in."""
        return (self.imap_host or False) in (False, self.auto_imap_host or False) and \
            (self.smtp_host or False) in (False, self.auto_smtp_host or False)

    @api.onchange("preset")
    def _apply_preset(self):
        """A preset fills its servers; "Other (IMAP)" clears a preset's servers."""
        preset = PRESETS.get(self.preset)
        if preset:
            (_label, self.imap_host, self.imap_port, self.imap_security,
             self.smtp_host, self.smtp_port, self.smtp_security) = preset[:7]
            self.auto_imap_host, self.auto_smtp_host = preset[1], preset[4]
        elif self.imap_host in {p[1] for p in PRESETS.values()}:
            self.imap_host = self.smtp_host = self.auto_imap_host = self.auto_smtp_host = False
            self.imap_port, self.imap_security, self.smtp_port, self.smtp_security = 993, "ssl", 587, "starttls"
        self.test_state = "untested"

    # -- actions -------------------------------------------------------------------------------
    def _reopen(self):
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": self.id,
                "views": [(False, "form")], "target": "new", "name": _("Connect a mailbox")}

    def _check_filled(self):
        missing = [label for label, value in ((_("address"), self.email), (_("password"), self._password_encrypted()),
                                              (_("IMAP server"), self.imap_host)) if not value]
        if missing:
            raise UserError(_("Fill in the %s first.", ", ".join(missing)))
        account = self.env["maildesk.account"].new(self._account_vals(with_password=False))
        twin = account._find_twin()
        if twin:
            raise UserError(account._twin_message(twin))

    def _provider(self):
        """The provider the mailbox will get, from the account's own config code on unsaved values."""
        vals = dict(self._account_vals(with_password=False), imap_password_encrypted=self._password_encrypted())
        return self.env["maildesk.account"].new(vals)._get_interactive_provider()

    def _explain(self, exc):
        """What failed and what to try next, in plain words.

        A refused login (the server answered) reads as it is, with the provider's hint; every
        other failure reads the same, so the form cannot tell which ports are open.
        """
        if isinstance(exc, AuthError):
            advice = self.hint or _("Check the address, the login and the password.")
            return f"{exc}\n{advice}".strip()
        _logger.info("MailDesk: connection test of the setup wizard %s failed: %s", self.id, exc)
        return cannot_connect_message()

    def action_test(self):
        """Log in to IMAP (and SMTP when set) with these settings; the result shows on the form."""
        self.ensure_one()
        self.check_access_rule("write")  # the creator's own wizard only (also the record rule)
        self._check_filled()
        self.env["maildesk.account"]._check_test_rate()
        try:
            with self._provider() as provider:
                info = provider.test_connection()
        except ProviderError as exc:
            result = {"test_state": "failed", "test_message": self._explain(exc)}
        else:
            parts = [_("Connected. %s folders found.", info.get("folders", 0))]
            if self.smtp_host:
                parts.append(_("Sending works."))
            result = {"test_state": "ok", "test_message": " ".join(parts)}
        # sudo: the test's outcome is the wizard's own state, not a value users may set.
        self.sudo().write(result)
        return self._reopen()

    def action_connect(self):
        """Create the mailbox (after a successful test) and start its first sync in the background."""
        self.ensure_one()
        self.check_access_rule("write")
        if self.test_state != "ok":
            self.action_test()
            if self.test_state != "ok":
                return self._reopen()
        account = self.env["maildesk.account"].create(self._account_vals())
        self.env.ref("maildesk_mail_client.ir_cron_maildesk_sync").sudo()._trigger()
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "title": _("Mailbox connected"), "type": "success", "sticky": False,
            "message": _("%s is syncing; new mail appears in the client in a moment.", account.name),
            "next": {"type": "ir.actions.act_window_close"}}}

    def action_oauth(self):
        """Sign in with Google / Microsoft instead of a password: create the mailbox, open the consent."""
        self.ensure_one()
        if not self.oauth_provider:
            raise UserError(_("Sign-in with this provider is not configured; use a password (app password)."))
        email = (self.email or "").strip()
        account = self.env["maildesk.account"].create({
            "name": (self.name or email or dict(self._fields["preset"].selection)[self.preset]).strip(),
            "email": email or False, "provider": self.oauth_provider, "is_shared": self.is_shared})
        return account.action_oauth_connect()

    def _account_vals(self, with_password=True):
        email = self.email.strip()
        return {"name": (self.name or email).strip(), "email": email, "provider": "imap",
                "is_shared": self.is_shared, "imap_host": self.imap_host.strip(), "imap_port": self.imap_port,
                "imap_security": self.imap_security, "imap_login": (self.imap_login or email).strip(),
                "smtp_host": (self.smtp_host or "").strip() or False,
                "smtp_port": self.smtp_port, "smtp_security": self.smtp_security,
                **({"imap_password": self._password()} if with_password else {})}
