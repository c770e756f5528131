"""Webhook payload shapes, HMAC signature, SSRF refusals and the pinned sender (engine/webhooks.py)."""
import hashlib
import hmac
import http.server
import json
import socket
import threading

import pytest

from maildesk_mail_client_cockpit.engine import webhooks
from maildesk_mail_client_cockpit.engine.webhooks import UnsafeTarget, vet_url

NOTICE = {"title": "Overdue threads over 10", "text": "Support has 12 overdue threads.", "status": "firing",
          "url": "https://odoo.example.com/odoo/cockpit", "fields": [("Team", "Support"), ("Value", 12)],
          "dedup_key": "abc", "rule": "Overdue", "scope": "team:1", "value": 12, "at": "2026-03-02T10:00:00Z"}


def public(*addresses):
    return lambda host, port: list(addresses)


# ---------------------------------------------------------------------------------- payloads

def test_slack_payload_has_fallback_text_and_blocks():
    """Slack gets ``text`` (the notification fallback) and Block Kit blocks with the fields and link."""
    payload = webhooks.slack_payload(NOTICE)
    assert payload["text"] == "[Alert] Overdue threads over 10: Support has 12 overdue threads."
    kinds = [block["type"] for block in payload["blocks"]]
    assert kinds == ["header", "section", "section", "actions"]
    assert payload["blocks"][2]["fields"][0] == {"type": "mrkdwn", "text": "*Team*\nSupport"}
    assert payload["blocks"][3]["elements"][0]["url"] == NOTICE["url"]


def test_teams_payload_is_a_message_with_one_adaptive_card():
    """Teams Workflows want type=message, the adaptive content type, and no Action.Submit."""
    payload = webhooks.teams_payload(dict(NOTICE, status="resolved"))
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.2"
    assert card["body"][0]["text"] == "[Resolved] Overdue threads over 10"
    assert card["body"][2]["facts"] == [{"title": "Team", "value": "Support"}, {"title": "Value", "value": "12"}]
    assert [action["type"] for action in card["actions"]] == ["Action.OpenUrl"]


def test_generic_payload_and_stable_encoding():
    payload = webhooks.generic_payload(NOTICE)
    assert payload["status"] == "firing" and payload["dedup_key"] == "abc" and payload["value"] == 12
    body = webhooks.encode_body(payload)
    assert body == webhooks.encode_body(json.loads(body))
    assert json.loads(body)["fields"][1] == {"label": "Value", "value": "12"}


# --------------------------------------------------------------------------------- signature

def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    """The documented recipe: HMAC-SHA256(secret, "<ts>.<raw body>"), hex, prefixed sha256=."""
    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhooks.sign("s3cret", 1700000000, body) == "sha256=" + expected
    headers = webhooks.signature_headers("s3cret", body, now=1700000000, delivery_id="d1")
    assert headers == {"X-MailDesk-Delivery": "d1", "X-MailDesk-Timestamp": "1700000000",
                       "X-MailDesk-Signature": "sha256=" + expected}


def test_verify_accepts_ours_and_rejects_tampering_staleness_and_wrong_secret():
    body = b'{"a":1}'
    signature = webhooks.sign("k", 1000, body)
    assert webhooks.verify("k", body, "1000", signature, now=1100)
    assert not webhooks.verify("k", b'{"a":2}', "1000", signature, now=1100)
    assert not webhooks.verify("k", body, "1000", signature, now=1000 + 301)
    assert not webhooks.verify("other", body, "1000", signature, now=1100)
    assert not webhooks.verify("k", body, "1001", signature, now=1100)
    assert not webhooks.verify("k", body, "not a number", signature, now=1100)
    assert not webhooks.verify("k", body, "1000", "", now=1100)


# -------------------------------------------------------------------------------- SSRF guard

@pytest.mark.parametrize("host", [
    "127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1", "017700000001",
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "0xa9.0xfe.0xa9.0xfe", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "198.18.0.1",
    "[::1]", "[::]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::ffff:10.0.0.1]", "[::ffff:169.254.169.254]",
    "[fe80::1]", "[fc00::1]", "[fd00:ec2::254]", "[ff02::1]", "[2002:7f00:1::]", "[64:ff9b::a00:1]",
])
def test_private_loopback_and_metadata_literals_are_refused(host):
    """Every spelling of a non-public address is refused, whatever the notation."""
    with pytest.raises(UnsafeTarget):
        vet_url(f"https://{host}/hook", resolver=public("8.8.8.8"))


def test_dns_name_resolving_to_private_address_is_refused():
    with pytest.raises(UnsafeTarget, match="private"):
        vet_url("https://internal.example.com/hook", resolver=public("10.1.2.3"))


def test_dns_name_with_one_private_address_among_public_ones_is_refused():
    """Refuse when any resolved address is unsafe: the connection could land on it."""
    with pytest.raises(UnsafeTarget, match="link-local"):
        vet_url("https://mixed.example.com/hook", resolver=public("52.1.2.3", "169.254.169.254"))


def test_dns_name_resolving_to_mapped_loopback_is_refused():
    with pytest.raises(UnsafeTarget, match="loopback"):
        vet_url("https://sneaky.example.com/hook", resolver=public("::ffff:127.0.0.1"))


def test_public_https_target_is_accepted_and_pinned_to_the_vetted_ip():
    target = vet_url("https://hooks.slack.com/services/T/B/X", resolver=public("52.1.2.3", "2600:1f18::1"))
    assert (target.scheme, target.host, target.port, target.ip) == ("https", "hooks.slack.com", 443, "52.1.2.3")
    assert webhooks.pinned_request_url(target) == "https://52.1.2.3:443/services/T/B/X"


@pytest.mark.parametrize("url, reason", [
    ("http://hooks.example.com/x", "https"),
    ("ftp://hooks.example.com/x", "https"),
    ("file:///etc/passwd", "https"),
    ("https://user:pw@hooks.example.com/x", "user name"),
    ("https:///x", "no host"),
    ("https://hooks.example.com:99999/x", "not a valid URL"),
])
def test_bad_urls_are_refused_with_a_plain_reason(url, reason):
    with pytest.raises(UnsafeTarget, match=reason):
        vet_url(url, resolver=public("52.1.2.3"))


def test_unresolvable_host_is_refused():
    def fail(host, port):
        raise socket.gaierror("Name or service not known")
    with pytest.raises(UnsafeTarget, match="could not be resolved"):
        vet_url("https://nowhere.invalid/x", resolver=fail)


def test_allow_loopback_opens_loopback_only():
    """The test switch admits 127.0.0.0/8 and ::1, never the private ranges or metadata."""
    assert vet_url("http://127.0.0.1:8080/x", allow_http=True, allow_loopback=True).ip == "127.0.0.1"
    assert vet_url("http://[::1]:8080/x", allow_http=True, allow_loopback=True).ip == "::1"
    for host in ("10.0.0.1", "169.254.169.254", "[fe80::1]", "192.168.0.1"):
        with pytest.raises(UnsafeTarget):
            vet_url(f"http://{host}/x", allow_http=True, allow_loopback=True)


def test_pinned_adapter_sets_sni_and_certificate_host():
    adapter = webhooks.PinnedHostAdapter("hooks.slack.com")
    assert adapter.poolmanager.connection_pool_kw["server_hostname"] == "hooks.slack.com"
    assert adapter.poolmanager.connection_pool_kw["assert_hostname"] == "hooks.slack.com"


# ---------------------------------------------------------------------- sender on loopback

class Receiver:
    """A loopback HTTP receiver answering from a script of (status, headers) responses."""

    def __init__(self, script=None):
        self.script = list(script or [])
        self.requests = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def send(url, body, **kwargs):
    kwargs.setdefault("allow_http", True)
    kwargs.setdefault("allow_loopback", True)
    kwargs.setdefault("sleep", lambda seconds: None)
    return webhooks.send(url, body, **kwargs)


def test_signed_delivery_reaches_the_receiver_which_verifies_it():
    body = webhooks.encode_body(webhooks.generic_payload(NOTICE))
    headers = webhooks.signature_headers("k", body, delivery_id="d-1")
    with Receiver() as receiver:
        delivery = send(f"http://127.0.0.1:{receiver.port}/hook?x=1", body, headers=headers, delivery_id="d-1")
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("delivered", 1, 200)
    (got,) = receiver.requests
    assert got["path"] == "/hook?x=1" and got["body"] == body
    assert got["headers"]["X-MailDesk-Delivery"] == "d-1"
    assert webhooks.verify("k", got["body"], got["headers"]["X-MailDesk-Timestamp"],
                           got["headers"]["X-MailDesk-Signature"])


def test_sender_connects_to_the_vetted_ip_and_keeps_the_host_name():
    """The name resolves once (to loopback here); the request goes to that IP with Host = the name."""
    lookups = []

    def resolver(host, port):
        lookups.append(host)
        return ["127.0.0.1"]
    with Receiver() as receiver:
        delivery = send(f"http://hooks.maildesk.test:{receiver.port}/h", b"{}", resolver=resolver)
    assert delivery.status == "delivered" and delivery.ip == "127.0.0.1"
    assert lookups == ["hooks.maildesk.test"]
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.maildesk.test:{receiver.port}"


def test_loopback_is_refused_without_the_switch_and_nothing_is_sent():
    with Receiver() as receiver:
        delivery = send(f"http://127.0.0.1:{receiver.port}/h", b"{}", allow_loopback=False)
    assert delivery.status == "refused" and delivery.attempts == 0 and "loopback" in delivery.error
    assert receiver.requests == []


def test_redirects_are_not_followed():
    with Receiver([(302, {"Location": "http://169.254.169.254/latest/meta-data/"})]) as receiver:
        delivery = send(f"http://127.0.0.1:{receiver.port}/h", b"{}")
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("failed", 1, 302)
    assert "redirect" in delivery.error and len(receiver.requests) == 1


def test_server_errors_are_retried_with_exponential_backoff():
    waits = []
    with Receiver([(503, {}), (500, {})]) as receiver:
        delivery = send(f"http://127.0.0.1:{receiver.port}/h", b"{}", sleep=waits.append, backoff=0.5)
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert waits == [0.5, 1.0] and len(receiver.requests) == 3
    assert len({r["headers"]["X-MailDesk-Delivery"] for r in receiver.requests}) == 1


def test_retry_after_is_honoured_on_429():
    waits = []
    with Receiver([(429, {"Retry-After": "7"})]) as receiver:
        delivery = send(f"http://127.0.0.1:{receiver.port}/h", b"{}", sleep=waits.append)
    assert delivery.status == "delivered" and waits == [7.0]


def test_client_errors_are_not_retried():
    with Receiver([(400, {})]) as receiver:
        delivery = send(f"http://127.0.0.1:{receiver.port}/h", b"{}")
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("failed", 1, 400)
    assert "400" in delivery.error


def test_connection_failures_give_up_after_max_attempts():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    delivery = send(f"http://127.0.0.1:{port}/h", b"{}", max_attempts=2)
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("failed", 2, None)
    assert "Connection failed" in delivery.error


# ------------------------------------------------------------------ https pinned to the IP

def make_certificate(tmp_path, name):
    """A self-signed certificate for ``name`` (its own CA), written as PEM files."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_receiver(tmp_path):
    import ssl
    cert, key = make_certificate(tmp_path, "hooks.maildesk.test")
    receiver = Receiver()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    with receiver:
        yield receiver, cert


def test_https_goes_to_the_vetted_ip_with_sni_and_certificate_checked_for_the_name(tls_receiver):
    """The TLS handshake names the host (SNI) and the certificate must match it, though we dial the IP."""
    receiver, cert = tls_receiver
    delivery = webhooks.send(f"https://hooks.maildesk.test:{receiver.port}/h", b"{}", allow_loopback=True,
                             resolver=public("127.0.0.1"), verify=cert, sleep=lambda s: None)
    assert (delivery.status, delivery.http_status, delivery.ip) == ("delivered", 200, "127.0.0.1")
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.maildesk.test:{receiver.port}"


def test_https_certificate_for_another_name_is_refused(tls_receiver):
    receiver, cert = tls_receiver
    delivery = webhooks.send(f"https://other.maildesk.test:{receiver.port}/h", b"{}", allow_loopback=True,
                             resolver=public("127.0.0.1"), verify=cert, sleep=lambda s: None, max_attempts=1)
    assert delivery.status == "failed" and "Connection failed" in delivery.error
    assert "other.maildesk.test" in delivery.error  # the name the certificate was checked against
    assert receiver.requests == []
