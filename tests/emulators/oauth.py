"""Google and Microsoft identity endpoints: authorization code + PKCE, refresh, revoke.

Both serve HTTPS (``EmulatorServer(tls=True)``; msal accepts nothing else) and issue
tokens from a ``TokenRegistry`` shared with the Gmail / Graph emulators, so a token the
OAuth flow obtained is the one the API accepts. The "user" who consents is ``login_as``.

Errors are the providers' own shapes: Google ``{"error": "invalid_grant",
"error_description": ...}``; Microsoft adds ``AADSTS`` codes and ``error_codes``.
Fault knobs: ``deny`` (the user refuses consent), ``redirect_uris`` (what the app
registered: anything else is refused on the authorize page, as the providers do), the
registry's ``revoke``/``expire_all``/``rotate_refresh``.
"""
import base64
import hashlib
import html
import json
import secrets
import time
from urllib.parse import urlencode

from .server import EmulatorServer, Response


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _pkce_ok(challenge, method, verifier):
    if not challenge:
        return True
    if not verifier:
        return False
    if method == "S256":
        return _b64url(hashlib.sha256(verifier.encode()).digest()) == challenge
    return verifier == challenge


class _OAuthEmulator(EmulatorServer):
    """Authorization codes (single use, PKCE-bound) and the token grants shared by both."""

    def __init__(self, tokens, client_id="maildesk-client", client_secret="s3cret", login_as="user@example.com"):
        super().__init__(tls=True)
        self.tokens = tokens
        self.client_id = client_id
        self.client_secret = client_secret
        self.login_as = login_as
        self.deny = False
        self.redirect_uris = None  # None: any; else the registered list
        self._codes = {}
        self.revoked = []

    # -- authorize -----------------------------------------------------------------------------
    def _authorize(self, request, extra=None):
        query = request.query
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id:
            return self._error_page("invalid_client", "The OAuth client was not found.")
        if self.redirect_uris is not None and redirect_uri not in self.redirect_uris:
            return self._error_page("redirect_uri_mismatch",
                                    f"The redirect URI in the request, {redirect_uri}, does not match the ones "
                                    "authorized for the OAuth client.")
        state = query.get("state", "")
        if self.deny:
            return self._redirect(redirect_uri, {"error": "access_denied", "state": state,
                                                 **self._denied_details()})
        code = "code-" + secrets.token_urlsafe(12)
        self._codes[code] = {"redirect_uri": redirect_uri, "challenge": query.get("code_challenge"),
                             "method": query.get("code_challenge_method", "plain"), "user": self.login_as,
                             "nonce": query.get("nonce"), "scope": query.get("scope", "")}
        return self._redirect(redirect_uri, {"code": code, "state": state, **(extra or {})})

    def _denied_details(self):
        return {}

    @staticmethod
    def _redirect(uri, params):
        separator = "&" if "?" in uri else "?"
        return Response(302, b"", {"Location": f"{uri}{separator}{urlencode(params)}"})

    @staticmethod
    def _error_page(code, message):
        body = f"<html><body><h1>Error 400: {html.escape(code)}</h1><p>{html.escape(message)}</p></body></html>"
        return Response(400, body, {"Content-Type": "text/html; charset=utf-8"})

    # -- token --------------------------------------------------------------------------------
    def _client_ok(self, form, request):
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            client_id, _sep, secret = base64.b64decode(auth[6:]).decode().partition(":")
        return client_id == self.client_id and secret == self.client_secret

    def _token(self, request):
        form = request.form()
        if not self._client_ok(form, request):
            return self._token_error(401, "invalid_client", "The client secret is invalid.", 7000215)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            entry = self._codes.pop(form.get("code", ""), None)  # single use: a replay finds nothing
            if entry is None:
                return self._token_error(400, "invalid_grant", "The authorization code is invalid or was "
                                         "already redeemed.", 54005)
            if entry["redirect_uri"] != form.get("redirect_uri"):
                return self._token_error(400, "redirect_uri_mismatch" if self.google else "invalid_grant",
                                         "The redirect URI does not match the authorization request.", 50011)
            if not _pkce_ok(entry["challenge"], entry["method"], form.get("code_verifier")):
                return self._token_error(400, "invalid_grant", "Invalid code verifier.", 501481)
            user = entry["user"]
            body = {"access_token": self.tokens.issue(user), "refresh_token": self.tokens.issue_refresh(user),
                    "expires_in": self.tokens.lifetime, "token_type": "Bearer", "scope": entry["scope"]}
            body.update(self._extra_token_fields(user, entry))
            return Response(200, body)
        if grant == "refresh_token":
            user, access, rotated = self.tokens.refresh(form.get("refresh_token"))
            if user is None:
                return self._token_error(400, "invalid_grant", "Token has been expired or revoked.", 700082)
            body = {"access_token": access, "expires_in": self.tokens.lifetime, "token_type": "Bearer",
                    "scope": form.get("scope", "")}
            if rotated:
                body["refresh_token"] = rotated
            body.update(self._extra_token_fields(user, {"nonce": None}))
            return Response(200, body)
        return self._token_error(400, "unsupported_grant_type", f"Unsupported grant {grant!r}.", 70003)

    google = True

    def _token_error(self, status, error, description, aadsts):
        return Response(status, {"error": error, "error_description": description})

    def _extra_token_fields(self, user, entry):
        return {}


class GoogleOAuthEmulator(_OAuthEmulator):
    """accounts.google.com/o/oauth2/v2/auth, oauth2.googleapis.com/token and /revoke."""

    def __init__(self, tokens, **kwargs):
        super().__init__(tokens, **kwargs)
        self.route("GET", "/o/oauth2/v2/auth", self._authorize)
        self.route("POST", "/token", self._token)
        self.route("POST", "/revoke", self._revoke)

    @property
    def auth_uri(self):
        return f"{self.base_url}/o/oauth2/v2/auth"

    @property
    def token_uri(self):
        return f"{self.base_url}/token"

    @property
    def revoke_uri(self):
        return f"{self.base_url}/revoke"

    def _revoke(self, request):
        token = request.query.get("token") or request.form().get("token")
        if not self.tokens.revoke_token(token):
            return Response(400, {"error": "invalid_token", "error_description": "Token expired or revoked"})
        self.revoked.append(token)
        return Response(200, {})


class MicrosoftOAuthEmulator(_OAuthEmulator):
    """login.microsoftonline.com/{tenant}: OpenID discovery, authorize, token (v2.0)."""

    google = False

    def __init__(self, tokens, tenant="common", **kwargs):
        super().__init__(tokens, **kwargs)
        self.tenant = tenant
        self.tenant_id = "9188040d-6c67-4c5b-b112-36a304b66dad"
        self.route("GET", r"/[^/]+/v2\.0/\.well-known/openid-configuration", self._discovery)
        self.route("GET", r"/[^/]+/oauth2/v2\.0/authorize", self._authorize)
        self.route("POST", r"/[^/]+/oauth2/v2\.0/token", self._token)

    @property
    def authority(self):
        return f"{self.base_url}/{self.tenant}"

    def _discovery(self, request):
        tenant = request.path.split("/")[1]
        root = f"{self.base_url}/{tenant}"
        return Response(200, {
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize", "token_endpoint": f"{root}/oauth2/v2.0/token",
            "issuer": f"{self.base_url}/{self.tenant_id}/v2.0", "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"]})

    def _denied_details(self):
        return {"error_description": "AADSTS65004: User declined to consent to access the app."}

    def _token_error(self, status, error, description, aadsts):
        return Response(status, {"error": error, "error_description": f"AADSTS{aadsts}: {description}",
                                 "error_codes": [aadsts], "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ")})

    def _extra_token_fields(self, user, entry):
        oid = hashlib.sha1(user.encode()).hexdigest()[:32]
        now = int(time.time())
        claims = {"aud": self.client_id, "iss": f"{self.base_url}/{self.tenant_id}/v2.0", "iat": now, "nbf": now,
                  "exp": now + 3600, "oid": oid, "sub": oid, "tid": self.tenant_id, "preferred_username": user,
                  "name": user.split("@")[0].title(), "ver": "2.0"}
        if entry.get("nonce"):
            claims["nonce"] = entry["nonce"]
        id_token = ".".join([_b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()),
                             _b64url(json.dumps(claims).encode()), ""])
        client_info = _b64url(json.dumps({"uid": oid, "utid": self.tenant_id}).encode())
        return {"id_token": id_token, "client_info": client_info, "ext_expires_in": self.tokens.lifetime}
