"""Tokens shared by the OAuth emulators (which issue them) and the API emulators (which check them)."""
import secrets
import threading
import time


class TokenRegistry:
    """Access and refresh tokens of an emulated identity provider, thread-safe.

    ``issue(user)`` returns a fresh access token; API emulators call ``user_for(token)``
    and answer 401 when it returns None (unknown, expired or revoked). Fault knobs:
    ``expire_all()`` (every access token expires now), ``revoke(user)`` (grant revoked:
    refresh tokens refused too), ``rotate_refresh`` (each refresh returns a new refresh
    token and invalidates the old one, as Microsoft does).
    """

    def __init__(self, lifetime=3600, rotate_refresh=False):
        self.lifetime = lifetime
        self.rotate_refresh = rotate_refresh
        self._lock = threading.Lock()
        self._access = {}  # token -> (user, expires_at)
        self._refresh = {}  # token -> user
        self.revoked_users = set()
        self.refresh_count = 0

    def issue(self, user, lifetime=None):
        token = "at-" + secrets.token_urlsafe(16)
        with self._lock:
            self._access[token] = (user, time.time() + (self.lifetime if lifetime is None else lifetime))
        return token

    def issue_refresh(self, user):
        token = "rt-" + secrets.token_urlsafe(16)
        with self._lock:
            self._refresh[token] = user
            self.revoked_users.discard(user)
        return token

    def user_for(self, token):
        with self._lock:
            user, expires_at = self._access.get(token or "", (None, 0))
            if user is None or expires_at <= time.time() or user in self.revoked_users:
                return None
            return user

    def refresh(self, refresh_token):
        """(user, access_token, new_refresh_token_or_None); (None, None, None) when refused."""
        with self._lock:
            user = self._refresh.get(refresh_token or "")
            if user is None or user in self.revoked_users:
                return None, None, None
            self.refresh_count += 1
            rotated = None
            if self.rotate_refresh:
                del self._refresh[refresh_token]
                rotated = "rt-" + secrets.token_urlsafe(16)
                self._refresh[rotated] = user
        return user, self.issue(user), rotated

    def revoke_token(self, token):
        """Revoke one token (either kind); revoking a refresh token revokes the grant."""
        with self._lock:
            user = self._refresh.pop(token, None)
            if user is None and token in self._access:
                user = self._access.pop(token)[0]
            if user is not None:
                self.revoked_users.add(user)
            return user is not None

    def revoke(self, user):
        with self._lock:
            self.revoked_users.add(user)

    def expire_all(self):
        with self._lock:
            self._access = {t: (u, 0) for t, (u, _exp) in self._access.items()}


class RegistryTokenSource:
    """What the engine's providers get from the Odoo layer, for engine tests without OAuth.

    Hands out a registry token for ``user`` and a new one on ``force_refresh`` (counted in
    ``refreshes``); a revoked grant raises the engine's AuthError, as a refused refresh does.
    """

    def __init__(self, registry, user):
        self.registry = registry
        self.user = user
        self.token = registry.issue(user)
        self.refreshes = 0

    def get_token(self, force_refresh=False):
        if force_refresh:
            from maildesk_mail_client.engine.errors import AuthError

            if self.user in self.registry.revoked_users:
                raise AuthError("The provider no longer accepts this mailbox's authorization. Reconnect it.")
            self.refreshes += 1
            self.token = self.registry.issue(self.user)
        return self.token
