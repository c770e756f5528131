"""Pending OAuth authorizations: the server half of a "Connect Gmail / Microsoft 365" click.

The browser only carries ``state``; everything secret stays here: the PKCE verifier (or
msal's flow dict), encrypted with the mailbox key. ``state`` is ``<id>.<nonce>.<hmac>``,
signed with the database secret, so a forged or edited state is refused before any
lookup; the row binds it to the user who clicked and the account to connect, expires
after ``LIFETIME`` and is consumed on first use (a replayed callback finds it used).
"""
import hashlib
import hmac
import json
import secrets as pysecrets
from datetime import timedelta

from odoo import _, api, fields, models

from ..engine import secrets

LIFETIME = timedelta(minutes=15)


class OAuthStateError(Exception):
    """The callback's state is forged, expired, used or someone else's (message is readable)."""


class MaildeskOAuthRequest(models.Model):
    _name = "maildesk.oauth.request"
    _description = "Pending mailbox authorization"
    _log_access = True

    account_id = fields.Many2one("maildesk.account", required=True, ondelete="cascade")
    user_id = fields.Many2one("res.users", required=True, ondelete="cascade")
    provider = fields.Selection([("gmail", "Gmail"), ("outlook", "Microsoft 365")], required=True)
    nonce = fields.Char(required=True)
    secret_encrypted = fields.Text(required=True)
    used = fields.Boolean()

    # -- state ------------------------------------------------------------------------------
    @api.model
    def _sign(self, payload):
        key = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        return hmac.new(key.encode(), f"maildesk-oauth:{payload}".encode(), hashlib.sha256).hexdigest()

    @api.model
    def _open(self, account, provider, secret):
        """Record a new authorization; returns its signed ``state``."""
        key = self.env["maildesk.account"]._get_encryption_key()
        request = self.sudo().create({
            "account_id": account.id, "user_id": self.env.uid, "provider": provider,
            "nonce": pysecrets.token_urlsafe(24),
            "secret_encrypted": secrets.encrypt(key, json.dumps(secret))})
        payload = f"{request.id}.{request.nonce}"
        return request, f"{payload}.{self._sign(payload)}"

    def _set_secret(self, secret):
        key = self.env["maildesk.account"]._get_encryption_key()
        self.sudo().secret_encrypted = secrets.encrypt(key, json.dumps(secret))

    @api.model
    def _consume(self, state, provider):
        """The pending request ``state`` names, checked and marked used; raises OAuthStateError."""
        request_id, nonce, signature = (state or "").rsplit(".", 2) if (state or "").count(".") >= 2 else ("", "", "")
        payload = f"{request_id}.{nonce}"
        if not signature or not hmac.compare_digest(signature, self._sign(payload)) or not request_id.isdigit():
            raise OAuthStateError(_("The sign-in answer could not be verified (invalid state). "
                                    "Start the connection again from the mailbox."))
        # Row lock: two callbacks racing with the same state cannot both pass.
        self.env.cr.execute("SELECT id FROM maildesk_oauth_request WHERE id = %s FOR UPDATE", (int(request_id),))
        request = self.sudo().browse(int(request_id)).exists()
        if not request or not hmac.compare_digest(request.nonce, nonce) or request.provider != provider:
            raise OAuthStateError(_("This sign-in request is unknown. Start the connection again."))
        if request.used:
            raise OAuthStateError(_("This sign-in answer was already used. Start the connection again."))
        if request.user_id != self.env.user:
            # Who started it is not said: the page must not name another user to whoever holds the link.
            raise OAuthStateError(_("This sign-in was started by another Odoo user. Sign in to Odoo as the "
                                    "user who clicked Connect, or start the connection again."))
        if request.create_date < fields.Datetime.now() - LIFETIME:
            raise OAuthStateError(_("This sign-in request expired. Start the connection again."))
        request.used = True
        key = self.env["maildesk.account"]._get_encryption_key()
        return request, json.loads(secrets.decrypt(key, request.secret_encrypted))

    @api.autovacuum
    def _gc_requests(self):
        self.sudo().search([("create_date", "<", fields.Datetime.now() - timedelta(days=1))]).unlink()
