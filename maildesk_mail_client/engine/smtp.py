"""SMTP sending (smtplib): the one choke-point for outgoing mail of IMAP accounts.

``send_raw(config, raw, sender, recipients)`` delivers bytes that ``compose`` built and
maps every smtplib / socket failure to a ``errors`` class with a message a user can act
on. Nothing is retried here: a failed send raises and the caller keeps the draft.

A partial delivery (the server accepted the message for some recipients and refused
others) is a send: it returns the refused recipients so the caller files the Sent copy
and tells the user who did not get it. Raising there would report "not sent" for mail
that went out, and a re-send would duplicate it for everyone who already had it.
"""
import dataclasses
import smtplib
import socket
import ssl

from .errors import AuthError, NetworkError, SendError, UnreachableError, unreachable_message

SMTP_TIMEOUT = 60
SECURITIES = ("ssl", "starttls", "none")


@dataclasses.dataclass
class SmtpConfig:
    host: str
    port: int = 587
    security: str = "starttls"  # ssl | starttls | none
    login: str = ""
    password: str = ""
    timeout: int = SMTP_TIMEOUT
    ssl_verify: bool = True
    # XOAUTH2 bearer token (Gmail / Microsoft SMTP); used instead of ``password`` when set.
    oauth_token: str = ""


def ssl_context(verify=True):
    """TLS context for mail connections; ``verify=False`` only for self-signed test servers."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _connect(config):
    if config.security == "ssl":
        client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout,
                                  context=ssl_context(config.ssl_verify))
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        if config.security == "starttls":
            client.starttls(context=ssl_context(config.ssl_verify))
    if config.oauth_token:
        auth = f"user={config.login}\x01auth=Bearer {config.oauth_token}\x01\x01"
        client.ehlo_or_helo_if_needed()
        client.auth("XOAUTH2", lambda challenge=None: auth, initial_response_ok=True)
    elif config.login:
        client.ehlo_or_helo_if_needed()
        # A relay that offers no AUTH (LAN smarthost) is used as is; one that does gets the login.
        if client.has_extn("auth"):
            client.login(config.login, config.password)
    return client


def test_connection(config):
    """Connect and authenticate; returns the server's greeting features."""
    with _guard(config):
        client = _connect(config)
        try:
            client.ehlo_or_helo_if_needed()
            return {"features": sorted(client.esmtp_features)}
        finally:
            _quit(client)


def send_raw(config, raw, sender, recipients):
    """Deliver ``raw`` to ``recipients``; returns ``{address: reason}`` of the refused ones.

    An empty dict: everyone got it. Raises ``SendError`` when nobody did (every recipient
    refused, or the message itself refused).
    """
    if not recipients:
        raise SendError("The message has no recipient.")
    # Failing to connect means nothing left: UnreachableError, which an outbox may retry.
    # Past that point a broken connection may or may not have delivered: NetworkError.
    with _guard(config, connecting=True):
        client = _connect(config)
    with _guard(config):
        try:
            refused = client.sendmail(sender, list(recipients), raw)
        finally:
            _quit(client)
    # sendmail raises only when *all* recipients fail; the others were accepted.
    return {addr: f"{code} {_text(msg)}" for addr, (code, msg) in (refused or {}).items()}


def _text(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _quit(client):
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


class _guard:
    """Translate smtplib/socket exceptions into engine errors with readable text."""

    def __init__(self, config, connecting=False):
        self.config = config
        self.connecting = connecting

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or not isinstance(exc, (smtplib.SMTPException, OSError)):
            return False
        where = f"{self.config.host}:{self.config.port}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            raise AuthError(f"The SMTP server {where} refused the login or password ({exc.smtp_code}).") from exc
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            raise SendError(f"The SMTP server {where} does not support this: {exc}") from exc
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            detail = ", ".join(exc.recipients)
            raise SendError(f"The SMTP server refused every recipient: {detail}") from exc
        if isinstance(exc, smtplib.SMTPSenderRefused):
            raise SendError(f"The SMTP server refused the sender address {exc.sender}: {exc.smtp_error!r}") from exc
        if isinstance(exc, smtplib.SMTPResponseException):
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise SendError(f"The SMTP server {where} answered {exc.smtp_code}: {text}") from exc
        if isinstance(exc, ssl.SSLError):
            raise NetworkError(f"TLS with the SMTP server {where} failed: {exc.reason or exc}. "
                               "Check the security setting and port.") from exc
        if self.connecting and isinstance(exc, (OSError, smtplib.SMTPServerDisconnected)):
            raise UnreachableError(unreachable_message("SMTP", self.config.host, self.config.port, exc)) from exc
        if isinstance(exc, socket.timeout):
            raise NetworkError(f"The SMTP server {where} did not answer in time.") from exc
        if isinstance(exc, OSError):
            raise NetworkError(unreachable_message("SMTP", self.config.host, self.config.port, exc)) from exc
        raise SendError(f"Sending through {where} failed: {exc}") from exc
