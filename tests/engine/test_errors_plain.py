"""Engine tier: connection failures read as plain, actionable words (no errno numbers)."""
import socket

import pytest

from maildesk_mail_client.engine import errors, smtp
from maildesk_mail_client.engine.imap import ImapConfig, ImapProvider
from maildesk_mail_client.engine.smtp import SmtpConfig, send_raw


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_imap_refused_reads_plainly():
    """A closed IMAP port: "Cannot reach host on port N — check ...", an UnreachableError."""
    port = closed_port()
    with pytest.raises(errors.UnreachableError) as caught:
        with ImapProvider(ImapConfig(host="127.0.0.1", port=port, security="none", timeout=5)):
            pass
    text = str(caught.value)
    assert text.startswith(f"Cannot reach 127.0.0.1 on port {port}")
    assert "firewall" in text and "Errno" not in text and "111" not in text


def test_smtp_refused_reads_plainly_and_is_retryable():
    """A closed SMTP port at send time: nothing left, so UnreachableError (an outbox may retry)."""
    port = closed_port()
    config = SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=5)
    with pytest.raises(errors.UnreachableError) as caught:
        send_raw(config, b"Subject: x\r\n\r\nx", "a@example.org", ["b@example.org"])
    assert "Errno" not in str(caught.value)
    with pytest.raises(errors.NetworkError):
        smtp.test_connection(config)


def test_hanging_server_times_out_with_words():
    """A server that accepts but never greets: a timeout in words, within the configured time."""
    with socket.socket() as hang:
        hang.bind(("127.0.0.1", 0))
        hang.listen(1)
        port = hang.getsockname()[1]
        with pytest.raises(errors.NetworkError) as caught:
            with ImapProvider(ImapConfig(host="127.0.0.1", port=port, security="none", timeout=1)):
                pass
    assert "did not answer in time" in str(caught.value)


@pytest.mark.parametrize("exc, expected", [
    (socket.gaierror(-2, "Name or service not known"), "Cannot find the IMAP server imap.example.com"),
    (TimeoutError(), "did not answer in time"),
    (ConnectionRefusedError(111, "Connection refused"), "Cannot reach imap.example.com on port 993"),
])
def test_unreachable_message(exc, expected):
    """Each kind of failure gets its own plain sentence."""
    text = errors.unreachable_message("IMAP", "imap.example.com", 993, exc)
    assert expected in text and "Errno" not in text and "111" not in text
