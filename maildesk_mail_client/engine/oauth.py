"""OAuth 2.0 for Gmail (google-auth-oauthlib) and Microsoft 365 (msal), without Odoo.

Both sides follow the authorization code flow with PKCE and offline access:

1. ``start(redirect_uri, state)`` -> ``(url, secret)``: send the browser to ``url``; keep
   ``secret`` server-side (Google: the PKCE verifier; Microsoft: msal's whole flow dict,
   which holds the verifier and the nonce) until the callback.
2. ``finish(...)`` exchanges the code and returns a ``TokenSet``.
3. ``refresh(refresh_token)`` returns a new ``TokenSet``. Microsoft rotates the refresh
   token on every use: always store the one returned.

``RefreshingTokenSource`` is what the Gmail / Graph providers hold: it hands out a valid
access token, refreshes it ``SKEW`` seconds before expiry (or when the API answered 401)
and reports new tokens through ``on_refresh`` so the caller persists them at once.

Every failure is an ``errors`` class with a sentence a user can act on: a refused or
revoked grant is ``AuthError`` (the account needs re-authorisation), an unreachable
identity provider is ``NetworkError`` (retry later).
"""
import dataclasses
import threading
import time
import warnings
from typing import Callable, Optional

import requests

from .errors import AuthError, NetworkError

SKEW = 300  # refresh this many seconds before the access token expires
TIMEOUT = 20


@dataclasses.dataclass
class TokenSet:
    access_token: str
    refresh_token: Optional[str]
    expires_at: float  # epoch seconds
    email: Optional[str] = None  # when the identity provider said who consented

    def expires_within(self, seconds):
        return self.expires_at - time.time() < seconds


def _expiry(expires_in):
    return time.time() + int(expires_in or 3600)


class GoogleOAuth:
    """Google's web-server flow through google-auth-oauthlib ``Flow``; endpoints overridable."""

    AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
    TOKEN_URI = "https://oauth2.googleapis.com/token"
    REVOKE_URI = "https://oauth2.googleapis.com/revoke"
    # Full mailbox access: permanent delete and send need it (gmail.modify cannot delete).
    SCOPES = ("https://mail.google.com/",)

    def __init__(self, client_id, client_secret, auth_uri=None, token_uri=None, revoke_uri=None, scopes=None,
                 timeout=TIMEOUT):
        if not (client_id and client_secret):
            raise AuthError("Google sign-in is not configured: an administrator must enter the Google client id "
                            "and secret in MailDesk settings.")
        self.client_id = client_id
        self.client_secret = client_secret
        self.auth_uri = auth_uri or self.AUTH_URI
        self.token_uri = token_uri or self.TOKEN_URI
        self.revoke_uri = revoke_uri or self.REVOKE_URI
        self.scopes = list(scopes or self.SCOPES)
        self.timeout = timeout

    def _flow(self, redirect_uri, state, code_verifier=None):
        from google_auth_oauthlib.flow import Flow

        config = {"web": {"client_id": self.client_id, "client_secret": self.client_secret,
                          "auth_uri": self.auth_uri, "token_uri": self.token_uri,
                          "redirect_uris": [redirect_uri]}}
        return Flow.from_client_config(config, scopes=self.scopes, redirect_uri=redirect_uri, state=state,
                                       code_verifier=code_verifier, autogenerate_code_verifier=code_verifier is None)

    def start(self, redirect_uri, state):
        """The consent URL (offline access, consent forced so a refresh token always comes back)."""
        flow = self._flow(redirect_uri, state)
        url, _state = flow.authorization_url(access_type="offline", prompt="consent",
                                             include_granted_scopes="true")
        return url, flow.code_verifier

    def finish(self, redirect_uri, state, code, code_verifier):
        from oauthlib.oauth2.rfc6749.errors import OAuth2Error

        flow = self._flow(redirect_uri, state, code_verifier=code_verifier)
        try:
            token = flow.fetch_token(code=code, timeout=self.timeout)
        except OAuth2Error as exc:
            raise AuthError(f"Google refused the authorization ({exc.error}: "
                            f"{exc.description or 'no details'}).") from exc
        except requests.RequestException as exc:
            raise NetworkError(f"Could not reach Google's sign-in service: {exc}") from exc
        if not token.get("refresh_token"):
            raise AuthError("Google granted no offline access (no refresh token). Remove MailDesk from the Google "
                            "account's third-party access and connect again.")
        return TokenSet(token["access_token"], token["refresh_token"], _expiry(token.get("expires_in")))

    def refresh(self, refresh_token):
        try:
            response = requests.post(self.token_uri, timeout=self.timeout, data={
                "grant_type": "refresh_token", "refresh_token": refresh_token,
                "client_id": self.client_id, "client_secret": self.client_secret})
        except requests.RequestException as exc:
            raise NetworkError(f"Could not reach Google's sign-in service: {exc}") from exc
        body = _json(response)
        if response.status_code >= 500:
            raise NetworkError(f"Google's sign-in service failed ({response.status_code}); retrying later.")
        if response.status_code != 200 or "access_token" not in body:
            raise AuthError(f"Google no longer accepts this mailbox's authorization "
                            f"({body.get('error', response.status_code)}: {body.get('error_description', '')}). "
                            "Reconnect the mailbox.")
        # Google keeps the refresh token; it only sends one back when it changed.
        return TokenSet(body["access_token"], body.get("refresh_token") or refresh_token,
                        _expiry(body.get("expires_in")))

    def revoke(self, token):
        """Revoke the grant at Google (refresh or access token); True when Google confirmed."""
        try:
            response = requests.post(self.revoke_uri, data={"token": token}, timeout=self.timeout,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        except requests.RequestException as exc:
            raise NetworkError(f"Could not reach Google to revoke access: {exc}") from exc
        return response.status_code == 200


class MicrosoftOAuth:
    """Microsoft identity platform v2.0 through msal ``ConfidentialClientApplication``."""

    AUTHORITY_HOST = "https://login.microsoftonline.com"
    # msal adds openid, profile and offline_access itself (and refuses them here).
    SCOPES = ("https://graph.microsoft.com/Mail.ReadWrite", "https://graph.microsoft.com/Mail.Send",
              "https://graph.microsoft.com/User.Read")

    def __init__(self, client_id, client_secret, tenant="common", authority_host=None, scopes=None,
                 timeout=TIMEOUT):
        if not (client_id and client_secret):
            raise AuthError("Microsoft sign-in is not configured: an administrator must enter the Microsoft client "
                            "id and secret in MailDesk settings.")
        self.client_id = client_id
        self.client_secret = client_secret
        self.authority_host = (authority_host or self.AUTHORITY_HOST).rstrip("/")
        self.authority = f"{self.authority_host}/{tenant or 'common'}"
        self.scopes = list(scopes or self.SCOPES)
        self.timeout = timeout
        self._app = None

    @property
    def app(self):
        if self._app is None:
            import msal

            try:
                # Instance discovery only knows Microsoft's own clouds; a configured
                # authority (sovereign cloud, test emulator) is taken as given.
                self._app = msal.ConfidentialClientApplication(
                    self.client_id, client_credential=self.client_secret, authority=self.authority,
                    instance_discovery=self.authority_host == self.AUTHORITY_HOST, timeout=self.timeout)
            except ValueError as exc:
                raise AuthError(f"The Microsoft sign-in address {self.authority} is not valid: {exc}") from exc
            except requests.RequestException as exc:
                raise NetworkError(f"Could not reach Microsoft's sign-in service: {exc}") from exc
        return self._app

    def start(self, redirect_uri, state):
        """The consent URL and msal's flow dict (PKCE verifier, nonce, state) to keep until the callback."""
        # response_mode "query", not msal's recommended "form_post": Odoo's session cookie is
        # SameSite=Lax, so a cross-site POST back would arrive without the user's session.
        # The code is single-use and PKCE-bound, and the state signed, which is what form_post
        # protects against leaking through the URL.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended")
            flow = self.app.initiate_auth_code_flow(self.scopes, redirect_uri=redirect_uri, state=state,
                                                    prompt="select_account", response_mode="query")
        if "auth_uri" not in flow:
            raise AuthError(f"Microsoft sign-in could not start: {flow.get('error_description') or flow}")
        return flow["auth_uri"], flow

    def finish(self, flow, params):
        """``params``: the callback's query parameters (code, state, or error)."""
        try:
            result = self.app.acquire_token_by_auth_code_flow(flow, params, scopes=self.scopes)
        except ValueError as exc:  # msal: state mismatch, or a flow used twice
            raise AuthError("The sign-in answer does not belong to this request (state mismatch). "
                            "Start the connection again.") from exc
        except requests.RequestException as exc:
            raise NetworkError(f"Could not reach Microsoft's sign-in service: {exc}") from exc
        return self._token_set(result)

    def refresh(self, refresh_token):
        try:
            result = self.app.acquire_token_by_refresh_token(refresh_token, scopes=self.scopes)
        except requests.RequestException as exc:
            raise NetworkError(f"Could not reach Microsoft's sign-in service: {exc}") from exc
        return self._token_set(result, previous_refresh=refresh_token)

    def _token_set(self, result, previous_refresh=None):
        if "access_token" not in result:
            error = result.get("error", "unknown_error")
            description = (result.get("error_description") or "").split("\r\n")[0]
            if error in ("temporarily_unavailable", "server_error") or str(result.get("status", "")).startswith("5"):
                raise NetworkError(f"Microsoft's sign-in service failed ({error}); retrying later.")
            raise AuthError(f"Microsoft refused the authorization ({error}: {description}). "
                            "Reconnect the mailbox.")
        claims = result.get("id_token_claims") or {}
        return TokenSet(result["access_token"], result.get("refresh_token") or previous_refresh,
                        _expiry(result.get("expires_in")),
                        email=claims.get("preferred_username") or claims.get("email"))


class RefreshingTokenSource:
    """A valid access token on demand; refreshed before expiry, persisted through ``on_refresh``."""

    def __init__(self, oauth, tokens: TokenSet, on_refresh: Callable[[TokenSet], None] = None, skew=SKEW):
        self.oauth = oauth
        self.tokens = tokens
        self.on_refresh = on_refresh
        self.skew = skew
        self._lock = threading.Lock()

    def get_token(self, force_refresh=False):
        with self._lock:
            if force_refresh or not self.tokens.access_token or self.tokens.expires_within(self.skew):
                if not self.tokens.refresh_token:
                    raise AuthError("This mailbox has no stored authorization. Reconnect it.")
                self.tokens = self.oauth.refresh(self.tokens.refresh_token)
                if self.on_refresh:
                    self.on_refresh(self.tokens)
            return self.tokens.access_token


def _json(response):
    try:
        return response.json()
    except ValueError:
        return {}
