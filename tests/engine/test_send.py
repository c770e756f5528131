"""Engine tier: sending over SMTP and filing the copy in Sent."""
import pytest

from maildesk_mail_client.engine import compose
from maildesk_mail_client.engine.errors import NetworkError, SendError
from maildesk_mail_client.engine.imap import ImapConfig, ImapProvider
from maildesk_mail_client.engine.provider import SyncOptions
from maildesk_mail_client.engine.smtp import SmtpConfig, send_raw

from .memstore import FolderStore


def smtp_config(sink, **kw):
    vals = dict(host=sink.host, port=sink.port, security="none", timeout=10)
    vals.update(kw)
    return SmtpConfig(**vals)


def test_send_then_copy_in_sent(imap_account, smtp_sink):
    """The message is delivered and appended to Sent with a known remote id."""
    raw, message_id = compose.build_message(from_addr=imap_account.login, to=["bob@example.com"],
                                            subject="Hi", body_html="<p>Hi Bob</p>")
    config = ImapConfig(host=imap_account.host, port=imap_account.port, security="none",
                        login=imap_account.login, password=imap_account.password)
    with ImapProvider(config, smtp_config(smtp_sink)) as provider:
        sent = next(f for f in provider.list_folders() if f.role == "sent")
        result = provider.send(raw, imap_account.login, ["bob@example.com"], sent)
        store = FolderStore()
        store.sync(provider, sent, SyncOptions())
    assert len(smtp_sink.messages) == 1
    assert result.sent_remote_id in store.messages
    assert store.keys() == [message_id]


def test_partial_refusal_raises(smtp_sink):
    """No recipient means no send, with a clear error."""
    with pytest.raises(SendError):
        send_raw(smtp_config(smtp_sink), b"Subject: x\r\n\r\nx", "a@example.com", [])


def test_one_refused_recipient_is_a_partial_send_with_its_sent_copy(imap_account, smtp_sink):
    """The server refuses one recipient and takes the other: sent, copy filed, refusal named."""
    smtp_sink.refuse_recipients = {"nobody@example.com"}
    raw, message_id = compose.build_message(from_addr=imap_account.login,
                                            to=["bob@example.com", "nobody@example.com"],
                                            subject="Partial", body_html="<p>Hi</p>")
    config = ImapConfig(host=imap_account.host, port=imap_account.port, security="none",
                        login=imap_account.login, password=imap_account.password)
    with ImapProvider(config, smtp_config(smtp_sink)) as provider:
        sent = next(f for f in provider.list_folders() if f.role == "sent")
        result = provider.send(raw, imap_account.login, ["bob@example.com", "nobody@example.com"], sent)
        store = FolderStore()
        store.sync(provider, sent, SyncOptions())
    assert [m[1] for m in smtp_sink.messages] == [["bob@example.com"]]
    assert list(result.refused) == ["nobody@example.com"]
    assert result.refused["nobody@example.com"].startswith("550")
    assert result.sent_remote_id in store.messages
    assert store.keys() == [message_id]


def test_every_recipient_refused_is_not_sent(smtp_sink):
    """Nobody got it: SendError naming the refused addresses."""
    smtp_sink.refuse_recipients = {"nobody@example.com"}
    with pytest.raises(SendError, match="nobody@example.com"):
        send_raw(smtp_config(smtp_sink), b"Subject: x\r\n\r\nx", "a@example.com", ["nobody@example.com"])
    assert smtp_sink.messages == []


def test_unreachable_smtp_is_network_error():
    """A closed SMTP port raises NetworkError."""
    with pytest.raises(NetworkError):
        send_raw(SmtpConfig(host="127.0.0.1", port=1, security="none", timeout=5), b"x", "a@x", ["b@x"])


def test_quote_escapes_every_header_value():
    """A display name or subject with markup stays text in the reply / forward quote."""
    name = '"<img src=https://evil.test/p.png>" <a@evil.test>'
    html = compose.quote_html(f"On Monday, {name} wrote:", "<p>body</p>",
                      [("From", name), ("Subject", "<b>bold</b> & co")])
    assert "<img" not in html and "<b>bold" not in html
    assert "&lt;img src=https://evil.test/p.png&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html
    assert html.endswith("<blockquote><p>body</p></blockquote>")
