"""Engine tier: the headers of sent mail, as the SMTP sink receives them.

A forward references the original (In-Reply-To / References), no empty ``Cc:`` header is
ever written, and From is never ``"addr" <addr>``.
"""
import email
from email.policy import default

import pytest

from maildesk_mail_client.engine import compose
from maildesk_mail_client.engine.smtp import SmtpConfig, send_raw


def deliver(sink, **values):
    """Build with ``values``, send through the sink, return the received message."""
    values.setdefault("from_addr", "ann@example.org")
    values.setdefault("to", ["bob@example.com"])
    values.setdefault("subject", "Hello")
    values.setdefault("body_html", "<p>Hello</p>")
    raw, message_id = compose.build_message(**values)
    rcpt = compose.recipients(values["to"], values.get("cc", ()), values.get("bcc", ()))
    send_raw(SmtpConfig(host=sink.host, port=sink.port, security="none", timeout=10), raw, "ann@example.org", rcpt)
    received = sink.wait_for(1)[-1][2]
    return email.message_from_bytes(received, policy=default), message_id


def test_forward_references_the_original(smtp_sink):
    """A forward carries In-Reply-To = the original and References ending with it."""
    in_reply_to, references = compose.reply_headers("<orig@example.com>", "<root@example.com>")
    msg, _mid = deliver(smtp_sink, subject=compose.forward_subject("Offer"), in_reply_to=in_reply_to,
                        references=references)
    assert msg["Subject"] == "Fwd: Offer"
    assert msg["In-Reply-To"] == "<orig@example.com>"
    assert msg["References"].split() == ["<root@example.com>", "<orig@example.com>"]


@pytest.mark.parametrize("cc", ["", " ", ", ", [" "], ["", " "], '""'])
def test_no_empty_cc_header(smtp_sink, cc):
    """An empty or blank Cc never becomes an empty "Cc:" header."""
    msg, _mid = deliver(smtp_sink, cc=cc)
    assert "Cc" not in msg


def test_cc_kept_when_given(smtp_sink):
    """A real Cc is written, blank entries beside it dropped."""
    msg, _mid = deliver(smtp_sink, cc=["", "Carl <carl@example.com>"])
    assert msg["Cc"] == "Carl <carl@example.com>"


@pytest.mark.parametrize("name, expected", [
    ("", "ann@example.org"),
    ("ann@example.org", "ann@example.org"),
    ("ANN@example.org", "ann@example.org"),
    ("Ann Lee", "Ann Lee <ann@example.org>"),
    ("Zoë, Sales", '"Zoë, Sales" <ann@example.org>'),
])
def test_format_sender(name, expected):
    """The name is used when it adds something; never "addr" <addr>."""
    assert compose.format_sender(name, "ann@example.org") == expected


def test_sender_name_on_the_wire(smtp_sink):
    """A mailbox named after its address sends From: addr, not "addr" <addr>."""
    msg, _mid = deliver(smtp_sink, from_addr=compose.format_sender("ann@example.org", "ann@example.org"))
    assert msg["From"] == "ann@example.org"
    smtp_sink.clear()
    msg, _mid = deliver(smtp_sink, from_addr=compose.format_sender("Ann Lee", "ann@example.org"))
    assert str(msg["From"]) == "Ann Lee <ann@example.org>"
    smtp_sink.clear()
    msg, _mid = deliver(smtp_sink, from_addr=compose.format_sender("Zoë, Sales", "ann@example.org"))
    assert msg["From"].addresses[0].display_name == "Zoë, Sales"
