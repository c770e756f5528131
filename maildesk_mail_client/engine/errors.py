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


class UnreachableError(NetworkError):
    """The server could not be reached at all: nothing was sent, a retry is safe."""


class ThrottledError(NetworkError):
    """The provider asked us to slow down; ``retry_after`` is in seconds when known."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class CursorExpired(ProviderError):
    """The stored sync cursor is no longer valid (Gmail 404, Graph 410, new UIDVALIDITY)."""


class SendError(ProviderError):
    """A message could not be sent; nothing was delivered."""


def unreachable_message(service, host, port, exc=None):
    """Plain words for a server that cannot be reached, without errno numbers.

    ``service`` is "IMAP" or "SMTP"; the text says what to check, as a person would.
    """
    import socket  # local: this module is data only for every other caller

    where = f"{host} on port {port}"
    if isinstance(exc, socket.gaierror):
        return (f"Cannot find the {service} server {host}: check the server name "
                f"(is it spelled right, does this Odoo server reach the internet?).")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return (f"The {service} server {where} did not answer in time: check the server name and port, "
                f"or whether a firewall blocks it.")
    return f"Cannot reach {where}: check the server name and port, or whether a firewall blocks it."
