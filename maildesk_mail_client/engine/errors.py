"""Provider errors as data.

The Odoo layer maps each class to account state: ``AuthError`` -> ``needs_reauth``,
``NetworkError`` / ``ThrottledError`` -> ``error`` with back-off, anything else ->
``error``. Messages are written for the user who reads ``sync_error``: say what failed
and what to do, never include secrets.
"""


class ProviderError(Exception):
    """A provider operation failed; ``str(exc)`` is readable by an end user."""


class AuthError(ProviderError):
    """Credentials were refused or a grant was revoked: the user must re-authorise."""


class NetworkError(ProviderError):
    """The server could not be reached or the connection broke: retry later."""


class ThrottledError(NetworkError):
    """The provider asked us to slow down; ``retry_after`` is in seconds when known."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class CursorExpired(ProviderError):
    """The stored sync cursor is no longer valid (Gmail 404, Graph 410, new UIDVALIDITY)."""


class SendError(ProviderError):
    """A message could not be sent; nothing was delivered."""
