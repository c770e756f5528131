"""Gmail and Microsoft 365 mailboxes: OAuth tokens, connect / reconnect / disconnect, providers.

Tokens are stored like the IMAP password: encrypted with the mailbox key, in columns only
administrators may read, never sent to the browser. The access token is refreshed
``oauth.SKEW`` seconds before it expires; every new token (Microsoft rotates the refresh
token on each use) is written at once, in its own committed transaction outside tests,
so a sync that fails later cannot roll back the only valid refresh token.

Endpoints default to Google's and Microsoft's; each can be overridden by a system
parameter (``ENDPOINT_PARAMS``) for sovereign clouds or the test emulators.
"""
import logging
import threading
import time

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import secrets
from ..engine.errors import AuthError, ProviderError
from ..engine.oauth import GoogleOAuth, MicrosoftOAuth, RefreshingTokenSource, TokenSet

_logger = logging.getLogger(__name__)

PARAM = "maildesk_mail_client.%s"
ENDPOINT_PARAMS = {
    "google_auth_uri": GoogleOAuth.AUTH_URI,
    "google_token_uri": GoogleOAuth.TOKEN_URI,
    "google_revoke_uri": GoogleOAuth.REVOKE_URI,
    "gmail_api_root": "https://gmail.googleapis.com",
    "microsoft_authority_host": MicrosoftOAuth.AUTHORITY_HOST,
    "graph_api_root": "https://graph.microsoft.com/v1.0",
}
CALLBACK = "/maildesk/oauth/%s/callback"
MICROSOFT_REVOKE_HELP = "https://myaccount.microsoft.com/ (Apps and devices > Manage apps)"


class MaildeskAccount(models.Model):
    _inherit = "maildesk.account"

    oauth_refresh_token_encrypted = fields.Char(groups="base.group_system", copy=False)
    oauth_access_token_encrypted = fields.Char(groups="base.group_system", copy=False)
    oauth_expires_at = fields.Float(groups="base.group_system", copy=False, help="Epoch seconds.")
    oauth_connected = fields.Boolean(compute="_compute_oauth_connected", string="Signed in")

    def _compute_oauth_connected(self):
        for account, sudo_account in zip(self, self.sudo()):
            account.oauth_connected = bool(sudo_account.oauth_refresh_token_encrypted)

    # -- configuration ---------------------------------------------------------------------
    @api.model
    def _param(self, name, default=False):
        return self.env["ir.config_parameter"].sudo().get_param(PARAM % name) or default

    @api.model
    def _endpoint(self, name):
        return self._param(name, ENDPOINT_PARAMS[name]).rstrip("/")

    @api.model
    def _oauth_redirect_uri(self, provider):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "").rstrip("/")
        return base + CALLBACK % provider

    def _oauth_client(self):
        """The engine's OAuth client for this account's provider; AuthError when not configured."""
        self.ensure_one()
        if self.provider == "gmail":
            return GoogleOAuth(self._param("google_client_id"), self._param("google_client_secret"),
                               auth_uri=self._endpoint("google_auth_uri"), token_uri=self._endpoint("google_token_uri"),
                               revoke_uri=self._endpoint("google_revoke_uri"))
        if self.provider == "outlook":
            return MicrosoftOAuth(self._param("microsoft_client_id"), self._param("microsoft_client_secret"),
                                  tenant=self._param("microsoft_tenant", "common"),
                                  authority_host=self._endpoint("microsoft_authority_host"))
        raise UserError(_("%s is an IMAP mailbox: it signs in with a password.", self.name))

    # -- connect / disconnect ------------------------------------------------------------------
    def action_oauth_connect(self):
        """Start the provider's consent screen (also the one-click re-connect)."""
        self.ensure_one()
        self.check_access_rule("write")  # the owner (or an admin) links a mailbox, not a member
        try:
            client = self._oauth_client()
            redirect_uri = self._oauth_redirect_uri(self.provider)
            # The state is needed to build the URL and the URL's secret must be stored with it.
            request, state = self.env["maildesk.oauth.request"]._open(self, self.provider, {})
            url, secret = client.start(redirect_uri, state)
        except ProviderError as exc:
            raise UserError(str(exc)) from exc
        request._set_secret(secret)
        return {"type": "ir.actions.act_url", "url": url, "target": "self"}

    def _oauth_finish(self, request_secret, params):
        """Exchange the callback's code, store tokens, fill the address, start the first sync."""
        self.ensure_one()
        client = self._oauth_client()
        if self.provider == "gmail":
            tokens = client.finish(self._oauth_redirect_uri("gmail"), params.get("state"), params.get("code"),
                                   request_secret)
        else:
            tokens = client.finish(request_secret, params)
        self._oauth_store(tokens)
        with self._get_provider() as provider:
            info = provider.test_connection()
        email = info.get("email") or tokens.email
        vals = {"state": "new", "sync_error": False, "error_count": 0, "next_sync_at": False}
        if email:
            vals["email"] = email
        self.sudo().write(vals)
        self._log("auth", "info", _("Signed in as %s.", email or _("(unknown address)")))
        self.env.ref("maildesk_mail_client.ir_cron_maildesk_sync").sudo()._trigger()
        return email

    def action_oauth_disconnect(self):
        """Revoke at the provider when it offers it, and delete the tokens here in any case."""
        self.ensure_one()
        self.check_access_rule("write")
        message = _("Disconnected.")
        sudo_self = self.sudo()
        refresh = self._get_secret("oauth_refresh_token_encrypted")
        if self.provider == "gmail" and refresh:
            try:
                revoked = self._oauth_client().revoke(refresh)
            except ProviderError as exc:
                revoked = False
                _logger.warning("MailDesk: revoking Google access of account %s failed: %s", self.id, exc)
            message = _("Disconnected; Google confirmed the access is revoked.") if revoked else _(
                "Disconnected here. Google could not confirm the revocation: remove MailDesk under "
                "https://myaccount.google.com/permissions.")
        elif self.provider == "outlook":
            message = _("Disconnected here. Microsoft offers no revocation for this app: remove MailDesk under %s.",
                        MICROSOFT_REVOKE_HELP)
        sudo_self.write({"oauth_refresh_token_encrypted": False, "oauth_access_token_encrypted": False,
                         "oauth_expires_at": 0, "state": "needs_reauth", "sync_error": message})
        self._log("auth", "info", message)
        return {"type": "ir.actions.client", "tag": "display_notification",
                "params": {"title": _("Mailbox disconnected"), "message": message, "type": "info",
                           "sticky": True, "next": {"type": "ir.actions.act_window_close"}}}

    # -- tokens -----------------------------------------------------------------------------------
    def _oauth_store(self, tokens):
        """Persist ``tokens`` (encrypted) now; outside tests also in a committed transaction."""
        self.ensure_one()
        key = self._get_encryption_key()
        vals = {"oauth_access_token_encrypted": secrets.encrypt(key, tokens.access_token),
                "oauth_expires_at": tokens.expires_at}
        if tokens.refresh_token:
            vals["oauth_refresh_token_encrypted"] = secrets.encrypt(key, tokens.refresh_token)
        if not getattr(threading.current_thread(), "testing", False):
            try:
                with self.env.registry.cursor() as cr:
                    # If this transaction already holds the row, do not wait for ourselves:
                    # the write below then carries the tokens with this transaction.
                    cr.execute("SET LOCAL lock_timeout = '2s'")
                    self.with_env(self.env(cr=cr)).sudo().write(vals)
            except Exception:  # noqa: BLE001 - the in-transaction write below still happens
                _logger.warning("MailDesk: could not store the new tokens of account %s at once", self.id,
                                exc_info=True)
        self.sudo().write(vals)

    def _get_token_source(self):
        self.ensure_one()
        refresh = self._get_secret("oauth_refresh_token_encrypted")
        if not refresh:
            raise AuthError(_("%s is not signed in. Connect it again.", self.name))
        tokens = TokenSet(self._get_secret("oauth_access_token_encrypted"), refresh,
                          self.sudo().oauth_expires_at or time.time())
        return RefreshingTokenSource(self._oauth_client(), tokens, on_refresh=self._oauth_store)

    # -- provider --------------------------------------------------------------------------------
    def _get_provider(self):
        self.ensure_one()
        if self.provider == "gmail":
            from ..engine.gmail import GmailConfig, GmailProvider

            return GmailProvider(GmailConfig(email=self.email, token_source=self._get_token_source(),
                                             api_root=self._endpoint("gmail_api_root")))
        if self.provider == "outlook":
            from ..engine.graph import GraphConfig, GraphProvider

            return GraphProvider(GraphConfig(email=self.email, token_source=self._get_token_source(),
                                             api_root=self._endpoint("graph_api_root")))
        return super()._get_provider()
