"""An SMTP server on loopback that keeps what it receives, for sending tests.

``SmtpSink`` runs aiosmtpd in a background thread on 127.0.0.1 and a free port and
appends every delivered message to ``.messages`` as ``(mail_from, rcpt_tos, raw)``.
Nothing is relayed anywhere.

Modes (combine as needed)::

    SmtpSink()                                   plain SMTP, no AUTH
    SmtpSink(auth_required=True, login=.., password=..)
                                                 AUTH PLAIN / LOGIN, wrong password -> 535
    SmtpSink(starttls=True, ...)                 STARTTLS offered *and required* (MAIL and
                                                 AUTH are refused before it), like port 587
    SmtpSink(implicit_tls=True, ...)             SMTPS: TLS from the first byte, like port 465
    SmtpSink(auth_required=True, login=.., oauth_token=..)
                                                 XOAUTH2 with that bearer token as well
    sink.refuse_recipients = {"nobody@example.com"}
                                                 RCPT TO those answers 550 (user unknown),
                                                 the others are accepted: a partial delivery

TLS uses a self-signed certificate made at start: clients turn verification off.
``auth_require_tls`` is off unless ``starttls`` is set: aiosmtpd would otherwise refuse
AUTH on a plain connection, and it does not count implicit TLS as TLS for this check.
"""
import atexit
import base64
import ssl
import tempfile
import threading
import time
import warnings
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from . import LOOPBACK, free_port, self_signed_cert

START_ATTEMPTS = 3  # a free port can be taken between probing and binding
READY_TIMEOUT = 5.0  # seconds for the server thread to accept connections
DATA_SIZE_LIMIT = 64 * 1024 * 1024  # room for the 20 MB-attachment tests after base64
SERVER_HOSTNAME = "sink.maildesk.test"  # fixed, so aiosmtpd does not resolve the FQDN

# Plain-text AUTH on loopback is exactly what these tests want; the warning is noise.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS", category=UserWarning)


class _Handler:
    """aiosmtpd hooks: record messages, check credentials."""

    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        self.sink._record(envelope.mail_from, list(envelope.rcpt_tos), bytes(raw))
        return "250 2.0.0 OK: queued in the test sink"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.sink.refuse_recipients:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        """A sink without a login advertises no AUTH at all, like a LAN relay."""
        session.host_name = hostname
        if self.sink.login:
            return responses
        return [line for line in responses if not line.startswith("250-AUTH")]

    async def auth_XOAUTH2(self, server, args):
        """``user=<login>^Aauth=Bearer <token>^A^A`` (Gmail / Microsoft SMTP)."""
        if len(args) == 2:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except ValueError:
                return AuthResult(success=False, handled=False)
        else:
            blob = await server.challenge_auth("")  # returns the decoded response
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=False)
        try:
            fields = dict(part.split("=", 1) for part in blob.decode().split("\x01") if part)
        except (ValueError, UnicodeDecodeError):
            return AuthResult(success=False, handled=False)
        login, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        ok = login == self.sink.login and token == self.sink.oauth_token
        self.sink._log_auth("XOAUTH2", login, ok)
        # handled=False: aiosmtpd answers a refusal with 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=LoginPassword(login.encode(), b""))

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = login == self.sink.login and password == self.sink.password
        self.sink._log_auth(mechanism, login, ok)
        # handled=False lets aiosmtpd answer "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


class SmtpSink:
    """A recording SMTP server on loopback; see the module docstring."""

    host = LOOPBACK

    def __init__(self, auth_required=False, login=None, password=None, starttls=False, implicit_tls=False,
                 oauth_token=None):
        if starttls and implicit_tls:
            raise ValueError("choose STARTTLS or implicit TLS, not both")
        if auth_required and not login:
            raise ValueError("auth_required needs a login")
        self.auth_required = auth_required
        self.login, self.password, self.oauth_token = login, password, oauth_token
        self.starttls, self.implicit_tls = starttls, implicit_tls
        self.port = None
        self.messages = []  # [(mail_from, rcpt_tos, raw bytes)], in arrival order
        self.auth_log = []  # [(mechanism, login, accepted)]
        self.refuse_recipients = set()  # lower-case addresses RCPT TO refuses with 550
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._controller = None
        self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Listen on a free loopback port (``.port``); returns the sink."""
        if self._controller:
            return self
        tls_context = None
        if self.starttls or self.implicit_tls:
            self._tmp = tempfile.TemporaryDirectory(prefix="maildesk-smtp-")
            cert, key = self_signed_cert(Path(self._tmp.name))
            tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls_context.load_cert_chain(cert, key)
        handler = _Handler(self)
        kwargs = dict(
            server_hostname=SERVER_HOSTNAME, ready_timeout=READY_TIMEOUT, data_size_limit=DATA_SIZE_LIMIT,
            auth_required=self.auth_required, auth_require_tls=self.starttls,
            authenticator=handler.authenticator, timeout=60,
            auth_exclude_mechanism=() if self.oauth_token else ("XOAUTH2",),
        )
        if self.starttls:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        if self.implicit_tls:
            kwargs.update(ssl_context=tls_context)
        atexit.register(self.stop)
        last_error = None
        for _attempt in range(START_ATTEMPTS):
            port = free_port()
            controller = Controller(handler, hostname=LOOPBACK, port=port, **kwargs)
            try:
                controller.start()
            except Exception as exc:  # noqa: BLE001 - bind race: aiosmtpd re-raises the thread's error
                last_error = exc
                continue
            self._controller, self.port = controller, port
            return self
        self.stop()
        raise RuntimeError(f"SMTP sink could not start: {last_error}")

    def stop(self):
        """Stop listening and drop the certificate; safe to call twice."""
        controller, self._controller = self._controller, None
        if controller:
            controller.stop()
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None
        atexit.unregister(self.stop)

    def clear(self):
        """Forget received messages and AUTH attempts (between tests)."""
        with self._lock:
            self.messages.clear()
            self.auth_log.clear()
            self.refuse_recipients = set()

    def wait_for(self, count, timeout=5.0):
        """Block until ``count`` messages arrived; returns the messages, raises on timeout."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.messages)} of {count} messages arrived in {timeout} s")
                self._arrived.wait(left)
            return list(self.messages)

    def _record(self, mail_from, rcpt_tos, raw):
        with self._arrived:
            self.messages.append((mail_from, rcpt_tos, raw))
            self._arrived.notify_all()

    def _log_auth(self, mechanism, login, ok):
        with self._lock:
            self.auth_log.append((mechanism, login, ok))
