"""Outbound alert webhooks: payloads, HMAC signatures, the SSRF guard and a pinned sender.

Payloads
    ``slack_payload(notice)``, ``teams_payload(notice)``, ``generic_payload(notice)`` turn one
    alert notice (a dict: ``title``, ``text``, ``status`` firing/resolved, optional ``url``,
    ``fields`` [(label, value)], ``dedup_key``, ``rule``, ``scope``, ``value``, ``at``) into the
    JSON each receiver expects: Slack incoming webhook (``text`` fallback + Block Kit
    ``blocks``), Microsoft Teams Workflows (``type: message`` with one Adaptive Card 1.2
    attachment, only ``Action.OpenUrl``), and a generic document of our own.

Signature (generic channel)
    The body is sent as the exact bytes that were signed. Headers::

        X-MailDesk-Delivery:  <id, stable across retries so receivers can de-duplicate>
        X-MailDesk-Timestamp: <unix seconds>
        X-MailDesk-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>

    A receiver recomputes the HMAC over ``timestamp.encode() + b"." + raw_body``, compares in
    constant time and rejects timestamps more than 5 minutes from its clock: ``verify()``.
    A receiver needs nothing of ours; in Python::

        import hashlib, hmac, time

        def verify(secret: bytes, raw_body: bytes, headers) -> bool:
            timestamp = headers["X-MailDesk-Timestamp"]
            if abs(time.time() - int(timestamp)) > 300:
                return False
            digest = hmac.new(secret, timestamp.encode() + b"." + raw_body, hashlib.sha256).hexdigest()
            return hmac.compare_digest("sha256=" + digest, headers["X-MailDesk-Signature"])

SSRF guard
    ``vet_url(url)`` parses the URL, refuses anything but https (``allow_http`` for an
    administrator's explicit choice), credentials in the URL, and any host whose address - a
    literal in any spelling inet_aton accepts (``2130706433``, ``0177.1``, ``0x7f.0.0.1``),
    IPv6, IPv4-mapped IPv6, or every address a DNS name resolves to - is not a public unicast
    address (loopback, RFC 1918, CGNAT, link-local including 169.254.169.254, multicast,
    reserved, unspecified, 6to4/Teredo wrapping a private one). ``allow_loopback`` lets tests
    reach a receiver on 127.0.0.1 / ::1 and nothing else. It returns a ``Target`` carrying the
    vetted IP.

Sender
    ``send(url, body, ...)`` vets the URL at send time, then connects to the vetted IP itself
    (no second DNS lookup, so DNS rebinding cannot swap the address): for http the URL's host
    is replaced by the IP and the Host header keeps the name; for https a transport adapter
    sets SNI and certificate host checking to the name. Redirects are never followed (a 3xx is
    a failed delivery), timeouts are short, 429 / 5xx / connection errors are retried with
    exponential backoff honouring ``Retry-After``. It returns a ``Delivery`` record.
"""
import hashlib
import hmac
import ipaddress
import json
import socket
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

HEADER_ID = "X-MailDesk-Delivery"
HEADER_TIMESTAMP = "X-MailDesk-Timestamp"
HEADER_SIGNATURE = "X-MailDesk-Signature"
SIGNATURE_PREFIX = "sha256="
SIGNATURE_TOLERANCE = 300  # seconds a receiver accepts between its clock and the timestamp

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 10
MAX_ATTEMPTS = 3
BACKOFF_BASE = 1.0  # seconds; attempt n waits BACKOFF_BASE * 2 ** (n - 1)
MAX_RETRY_AFTER = 30  # never sleep longer than this inside a cron on a server's request
USER_AGENT = "MailDesk-Cockpit-Webhook/1"
STATUS_COLORS = {"firing": "attention", "resolved": "good"}


class UnsafeTarget(ValueError):
    """The webhook URL may not be called: the message says why in plain words."""


# --------------------------------------------------------------------------------- payloads

def _fields(notice):
    return [(str(label), str(value)) for label, value in notice.get("fields") or ()]


def _headline(notice):
    status = notice.get("status", "firing")
    prefix = "Resolved" if status == "resolved" else "Alert"
    return f"[{prefix}] {notice.get('title', '')}".strip()


def slack_payload(notice):
    """Slack incoming-webhook body: ``text`` is the notification fallback, ``blocks`` the message."""
    headline = _headline(notice)
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": headline[:150]}}]
    if notice.get("text"):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": notice["text"]}})
    fields = _fields(notice)
    if fields:
        blocks.append({"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in fields[:10]]})
    if notice.get("url"):
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Open the cockpit"}, "url": notice["url"]}]})
    text = headline + (f": {notice['text']}" if notice.get("text") else "")
    return {"text": text, "blocks": blocks}


def teams_payload(notice):
    """Teams Workflows body: a ``message`` with one Adaptive Card 1.2 (Action.OpenUrl only)."""
    body = [{"type": "TextBlock", "text": _headline(notice), "weight": "Bolder", "size": "Medium", "wrap": True,
             "color": STATUS_COLORS.get(notice.get("status", "firing"), "default")}]
    if notice.get("text"):
        body.append({"type": "TextBlock", "text": notice["text"], "wrap": True})
    fields = _fields(notice)
    if fields:
        body.append({"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in fields]})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.2", "body": body}
    if notice.get("url"):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the cockpit", "url": notice["url"]}]
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


def generic_payload(notice):
    """Our own JSON document for any receiver (signed by ``signature_headers``)."""
    return {
        "version": "1",
        "status": notice.get("status", "firing"),
        "dedup_key": notice.get("dedup_key"),
        "rule": notice.get("rule"),
        "scope": notice.get("scope"),
        "title": notice.get("title"),
        "text": notice.get("text"),
        "value": notice.get("value"),
        "at": notice.get("at"),
        "url": notice.get("url"),
        "fields": [{"label": label, "value": value} for label, value in _fields(notice)],
    }


PAYLOAD_BUILDERS = {"slack": slack_payload, "teams": teams_payload, "generic": generic_payload}


def encode_body(payload):
    """The exact bytes that are signed and sent (compact, UTF-8, stable key order)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str).encode()


# -------------------------------------------------------------------------------- signature

def _key(secret):
    return secret.encode() if isinstance(secret, str) else bytes(secret)


def sign(secret, timestamp, body):
    """``sha256=<hex>`` of HMAC-SHA256(secret, ``timestamp + "." + body``) over the raw body bytes."""
    if isinstance(body, str):
        body = body.encode()
    message = str(int(timestamp)).encode() + b"." + body
    return SIGNATURE_PREFIX + hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def signature_headers(secret, body, now=None, delivery_id=None):
    """The three headers of a signed delivery; reuse ``delivery_id`` across retries."""
    timestamp = int(now if now is not None else time.time())
    return {
        HEADER_ID: delivery_id or uuid.uuid4().hex,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, timestamp, body),
    }


def verify(secret, body, timestamp, signature, now=None, tolerance=SIGNATURE_TOLERANCE):
    """True when ``signature`` is ours for this raw body and the timestamp is fresh."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = now if now is not None else time.time()
    if abs(current - ts) > tolerance or not signature:
        return False
    return hmac.compare_digest(sign(secret, ts, body), str(signature))


# -------------------------------------------------------------------------------- SSRF guard

@dataclass(frozen=True)
class Target:
    """A vetted webhook URL and the one address it will be reached at."""

    url: str
    scheme: str
    host: str
    port: int
    ip: str


def _parse_ipv4_spelling(host):
    """The IPv4 address behind any inet_aton spelling (decimal, octal, hex, 1-4 parts), else None."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(parts):
        return None
    numbers = []
    for part in parts:
        text = part.lower()
        try:
            if text.startswith("0x"):
                numbers.append(int(text[2:], 16) if text[2:] else 0)
            elif len(text) > 1 and text.startswith("0"):
                numbers.append(int(text, 8))
            elif text.isdigit():
                numbers.append(int(text, 10))
            else:
                return None
        except ValueError:
            return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    value = value * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(value)


def ip_literal(host):
    """The address a host names literally (any IPv4 spelling, IPv6 with or without brackets)."""
    host = host.strip("[]")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            return None
    return _parse_ipv4_spelling(host)


def refusal(address, allow_loopback=False):
    """Why ``address`` may not be called (a plain sentence), or None when it is a public unicast one."""
    ip = ipaddress.ip_address(address) if not isinstance(address, ipaddress._BaseAddress) else address
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return refusal(ip.ipv4_mapped, allow_loopback)  # ::ffff:a.b.c.d reaches a.b.c.d
    if ip.version == 6:
        wrapped = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        why = refusal(wrapped) if wrapped is not None else None
        if why:
            return why
    if ip.is_loopback:
        return None if allow_loopback else f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address (this includes the cloud metadata service)"
    if ip.is_multicast:
        return f"{ip} is a multicast address"
    if ip.is_unspecified:
        return f"{ip} is the unspecified address"
    if ip.is_private or not ip.is_global:
        return f"{ip} is a private or reserved address"
    if ip.is_reserved:
        return f"{ip} is a reserved address"
    return None


def default_resolver(host, port):
    """Every address ``host`` resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def vet_url(url, allow_http=False, allow_loopback=False, resolver=None):
    """Check a webhook URL now, with fresh DNS; return its ``Target`` or raise ``UnsafeTarget``."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"The webhook address is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise UnsafeTarget("The webhook address must start with https://.")
    if scheme == "http" and not allow_http:
        raise UnsafeTarget("The webhook address must use https:// (plain http is not allowed here).")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("The webhook address may not contain a user name or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeTarget("The webhook address has no host name.")
    port = port or (443 if scheme == "https" else 80)
    literal = ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in (resolver or default_resolver)(host, port)]
        except (OSError, UnicodeError) as exc:
            raise UnsafeTarget(f"The webhook host {host} could not be resolved: {exc}") from None
        if not addresses:
            raise UnsafeTarget(f"The webhook host {host} has no address.")
    for address in addresses:
        why = refusal(address, allow_loopback)
        if why:
            raise UnsafeTarget(f"The webhook host {host} is refused: {why}.")
    return Target(url=urlunsplit(parts), scheme=scheme, host=host, port=port, ip=str(addresses[0]))


# ----------------------------------------------------------------------------------- sender

class PinnedHostAdapter(HTTPAdapter):
    """HTTPS to an IP address while TLS (SNI and certificate check) uses the original host name."""

    def __init__(self, hostname, **kwargs):
        self.hostname = hostname
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self.hostname
        kwargs["assert_hostname"] = self.hostname
        super().init_poolmanager(*args, **kwargs)


@dataclass
class Delivery:
    """What happened to one webhook delivery (one row of the delivery log)."""

    status: str = "pending"  # delivered | failed | refused
    attempts: int = 0
    http_status: int | None = None
    error: str = ""
    delivery_id: str = ""
    ip: str = ""
    response_excerpt: str = ""
    waits: list = field(default_factory=list)


def pinned_request_url(target):
    """The URL with its host swapped for the vetted IP (the Host header / SNI keep the name)."""
    parts = urlsplit(target.url)
    ip = f"[{target.ip}]" if ":" in target.ip else target.ip
    return urlunsplit((parts.scheme, f"{ip}:{target.port}", parts.path or "/", parts.query, ""))


def _retry_after(response):
    value = (response.headers.get("Retry-After") or "").strip()
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None


def _retryable(response):
    if response.status_code == 429 or response.status_code >= 500:
        return True
    # Teams connectors report throttling inside a 2xx/4xx body.
    return "HTTP error 429" in (response.text or "")[:2000]


def send(url, body, headers=None, *, allow_http=False, allow_loopback=False, resolver=None,
         max_attempts=MAX_ATTEMPTS, backoff=BACKOFF_BASE, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
         sleep=time.sleep, delivery_id=None, session_factory=requests.Session, verify=True):
    """POST ``body`` (bytes) to ``url`` safely, with retries; never raises, returns a ``Delivery``.

    ``verify``: TLS verification as requests takes it (True: the system bundle; tests pass the
    path of their own CA). Certificates are always checked against the URL's host name.
    """
    delivery = Delivery(delivery_id=delivery_id or uuid.uuid4().hex)
    try:
        target = vet_url(url, allow_http=allow_http, allow_loopback=allow_loopback, resolver=resolver)
    except UnsafeTarget as exc:
        delivery.status, delivery.error = "refused", str(exc)
        return delivery
    delivery.ip = target.ip
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    if ":" in target.host:
        host_header = f"[{target.host}]" if target.port == default_port else f"[{target.host}]:{target.port}"
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, HEADER_ID: delivery.delivery_id}
    all_headers.update(headers or {})
    all_headers["Host"] = host_header
    request_url = pinned_request_url(target)
    with session_factory() as session:
        session.trust_env = False  # no proxy from the environment: we connect to the vetted IP only
        if target.scheme == "https":
            session.mount("https://", PinnedHostAdapter(target.host))
        while delivery.attempts < max_attempts:
            delivery.attempts += 1
            wait = backoff * 2 ** (delivery.attempts - 1)
            try:
                response = session.post(request_url, data=body, headers=all_headers, timeout=timeout,
                                        allow_redirects=False, verify=verify)
            except requests.RequestException as exc:
                delivery.status, delivery.http_status = "failed", None
                delivery.error = f"Connection failed: {exc.__class__.__name__}: {exc}"[:500]
            else:
                delivery.http_status = response.status_code
                delivery.response_excerpt = (response.text or "")[:500]
                if 200 <= response.status_code < 300 and not _retryable(response):
                    delivery.status, delivery.error = "delivered", ""
                    return delivery
                delivery.status = "failed"
                if 300 <= response.status_code < 400:
                    delivery.error = (f"The receiver answered {response.status_code} (a redirect); "
                                      "redirects are not followed.")
                    return delivery
                delivery.error = f"The receiver answered HTTP {response.status_code}."
                if not _retryable(response):
                    return delivery
                wait = _retry_after(response) if _retry_after(response) is not None else wait
            if delivery.attempts < max_attempts:
                delivery.waits.append(wait)
                sleep(wait)
    return delivery
