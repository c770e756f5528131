"""EmulatorServer: a threaded HTTP server on loopback with a request log and fault knobs.

Subclasses add routes with ``route(method, pattern)``; a handler receives a ``Request`` and
returns ``Response`` (or a ``(status, json_body)`` tuple). Knobs common to every emulator:

- ``fail_next(status, body=None, headers=None, count=1, match=None)``: the next ``count``
  requests (whose path contains ``match``, if given) answer ``status`` instead.
- ``delay``: seconds every response waits (slow server).
- ``requests``: the log of (method, path_with_query) seen, for request-count assertions.
- ``max_concurrent``: the highest number of requests served at the same time.

``EmulatorServer(tls=True)`` serves HTTPS with a throw-away self-signed certificate for
127.0.0.1 (``cert_path``): msal only accepts an ``https://`` authority, so the identity
emulators run that way and the tests trust the certificate with ``REQUESTS_CA_BUNDLE``.
"""
import datetime
import ipaddress
import json
import re
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str  # without query
    query: dict  # name -> first value
    headers: dict  # lower-case names
    body: bytes
    match: "re.Match" = None
    query_string: str = ""

    @classmethod
    def parse(cls, method, target, headers, body=b""):
        """From a request line's target (path?query), as the server and batch emulators receive it."""
        parts = urlsplit(target)
        return cls(method, parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}, headers, body,
                   query_string=parts.query)

    def values(self, name):
        """Every value of a repeated query parameter (``labelIds=A&labelIds=B``)."""
        return parse_qs(self.query_string).get(name, [])

    def json(self):
        return json.loads(self.body or b"{}")

    def form(self):
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def bearer(self):
        value = self.headers.get("authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else None


@dataclass
class Response:
    status: int = 200
    body: object = None  # dict/list -> JSON, bytes/str -> as is
    headers: dict = field(default_factory=dict)

    def encode(self):
        headers = dict(self.headers)
        if isinstance(self.body, (dict, list)):
            data = json.dumps(self.body).encode()
            headers.setdefault("Content-Type", "application/json; charset=UTF-8")
        elif isinstance(self.body, str):
            data = self.body.encode()
            headers.setdefault("Content-Type", "text/plain; charset=UTF-8")
        else:
            data = self.body or b""
        return data, headers


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A client that gave up (timeout tests) is expected; anything else is printed."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class EmulatorServer:
    def __init__(self, host="127.0.0.1", port=0, tls=False):
        self._routes = []
        self._faults = []
        self._lock = threading.Lock()
        self.delay = 0.0
        self.requests = []
        self._active = 0
        self.max_concurrent = 0
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request.parse(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                        body)
                response = emulator.dispatch(request, self.path)
                data, headers = response.encode()
                self.send_response(response.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        self.httpd = _QuietServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self._thread = None
        self.tls = tls
        self.cert_path = None
        if tls:
            self.cert_path = _self_signed_cert(host)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert_path)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)

    # -- lifecycle --------------------------------------------------------------------------
    @property
    def base_url(self):
        host, port = self.httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def start(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- routing ------------------------------------------------------------------------------
    def route(self, method, pattern, handler):
        self._routes.append((method, re.compile(pattern + r"\Z"), handler))

    def fail_next(self, status, body=None, headers=None, count=1, match=None):
        with self._lock:
            self._faults.append([count, match, Response(status, body if body is not None else {}, headers or {})])

    def _take_fault(self, full_path):
        with self._lock:
            for fault in self._faults:
                count, match, response = fault
                if match is None or match in full_path:
                    fault[0] -= 1
                    if fault[0] <= 0:
                        self._faults.remove(fault)
                    return response
        return None

    def dispatch(self, request, full_path):
        with self._lock:
            self.requests.append((request.method, full_path))
            self._active += 1
            self.max_concurrent = max(self.max_concurrent, self._active)
        try:
            if self.delay:
                time.sleep(self.delay)
            fault = self._take_fault(full_path)
            if fault is not None:
                return fault
            return self.handle(request)
        finally:
            with self._lock:
                self._active -= 1

    def handle(self, request):
        """Route one request (also the parts of a batch: those are not logged as HTTP requests)."""
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match and method == request.method:
                request.match = match
                result = handler(request)
                return result if isinstance(result, Response) else Response(*result)
        return Response(404, {"error": {"code": 404, "message": f"No route {request.method} {request.path}"}})

    def count(self, contains=""):
        return sum(1 for _m, path in self.requests if contains in path)


def _self_signed_cert(host):
    """A PEM file holding a fresh key and a self-signed certificate for ``host`` (an IP)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    # A unique subject per certificate: several emulators' certificates in one CA bundle
    # must not shadow each other in OpenSSL's lookup by subject name.
    label = f"MailDesk emulator {x509.random_serial_number() % 10**12}"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, label)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    handle = tempfile.NamedTemporaryFile("wb", prefix="maildesk-emulator-", suffix=".pem", delete=False)
    with handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    return handle.name
