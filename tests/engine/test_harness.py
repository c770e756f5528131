"""The test harness itself: Dovecot, the SMTP sink and the mail generator do what tests assume."""
import email
import email.policy
import smtplib
import ssl
import time

import imapclient
import pytest
from imapclient.exceptions import LoginError

from harness import mailgen

REQUIRED_CAPABILITIES = {b"CONDSTORE", b"QRESYNC", b"MOVE", b"UIDPLUS", b"SPECIAL-USE", b"IDLE", b"MULTIAPPEND"}


def no_verify():
    """TLS context for the harness's self-signed certificates."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def plain(subject, message_id):
    return (f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
            "Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n").encode()


def message_ids(client):
    fetched = client.fetch(client.search("ALL"), ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]", "FLAGS"])
    return sorted((data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].strip(), data[b"FLAGS"]) for data in fetched.values())


# -- Dovecot ---------------------------------------------------------------------------

def test_plain_login(imap_account):
    """A new user logs in on the plain port without a server restart."""
    client = imapclient.IMAPClient(imap_account.host, port=imap_account.port, ssl=False, timeout=10)
    client.login(imap_account.login, imap_account.password)
    assert client.select_folder("INBOX")[b"EXISTS"] == 0
    client.logout()


def test_starttls_login(imap_account):
    """The plain port offers STARTTLS and logs in over it."""
    client = imapclient.IMAPClient(imap_account.host, port=imap_account.port, ssl=False, timeout=10)
    assert b"STARTTLS" in client.capabilities()
    client.starttls(no_verify())
    client.login(imap_account.login, imap_account.password)
    client.logout()


def test_imaps_login(imap_account):
    """The IMAPS port speaks TLS from the first byte; the certificate is self-signed."""
    client = imapclient.IMAPClient(imap_account.host, port=imap_account.ssl_port, ssl=True,
                                   ssl_context=no_verify(), timeout=10)
    client.login(imap_account.login, imap_account.password)
    client.logout()
    with pytest.raises(ssl.SSLCertVerificationError):
        imapclient.IMAPClient(imap_account.host, port=imap_account.ssl_port, ssl=True, timeout=10)


def test_capabilities_after_login(imap_account):
    """The extensions the sync engine relies on are all offered."""
    with imap_account.server.connect(imap_account.login) as client:
        assert set(client.capabilities()) >= REQUIRED_CAPABILITIES


def test_special_use_folders(imap_account):
    """Every user has INBOX and the five SPECIAL-USE folders, subscribed."""
    with imap_account.server.connect(imap_account.login) as client:
        uses = {flag for flags, _sep, _name in client.list_folders() for flag in flags}
        subscribed = {name for _flags, _sep, name in client.list_sub_folders()}
    assert {b"\\Sent", b"\\Drafts", b"\\Trash", b"\\Junk", b"\\Archive"} <= uses
    assert {"Sent", "Drafts", "Trash", "Junk", "Archive"} <= subscribed


def test_wrong_password_fails_fast(imap_account):
    """A wrong password is refused in well under a second (auth_failure_delay = 0)."""
    client = imapclient.IMAPClient(imap_account.host, port=imap_account.port, ssl=False, timeout=10)
    started = time.monotonic()
    with pytest.raises(LoginError):
        client.login(imap_account.login, "wrong")
    assert time.monotonic() - started < 1
    client.shutdown()


def test_users_added_while_running(dovecot):
    """Users added back to back can all log in at once: the passwd-file is re-read."""
    users = [dovecot.new_user() for _ in range(5)]
    for login, password in users:
        with dovecot.connect(login, password):
            pass


def test_append_counts_and_flags(imap_account):
    """MULTIAPPEND stores every message with the given flags and its Date as internal date."""
    raws = list(mailgen.generate(25, seed=3))
    imap_account.server.append(imap_account.login, imap_account.password, "Archive", raws, flags=[b"\\Seen"])
    assert imap_account.server.status(imap_account.login, "Archive")["MESSAGES"] == 25
    with imap_account.server.connect(imap_account.login, folder="Archive") as client:
        data = client.fetch(client.search("ALL"), ["FLAGS", "INTERNALDATE"])
    assert all(b"\\Seen" in item[b"FLAGS"] for item in data.values())
    first = email.message_from_bytes(raws[0], policy=email.policy.default)["Date"].datetime
    assert data[min(data)][b"INTERNALDATE"].date() == first.astimezone().date()


def test_seed_maildir_is_indexed(imap_account):
    """Messages written into the Maildir are visible at once, byte for byte, flags kept."""
    server = imap_account.server
    raws = list(mailgen.generate(300, seed=4))
    assert server.seed_maildir(imap_account.login, "INBOX", iter(raws)) == 300
    server.seed_maildir(imap_account.login, "INBOX", [plain("seen", "<seen@x>")], flags=["\\Seen", "\\Flagged"])
    with server.connect(imap_account.login, folder="INBOX") as client:
        uids = client.search("ALL")
        assert len(uids) == 301
        body = client.fetch([uids[0]], ["BODY.PEEK[]"])[uids[0]][b"BODY[]"]
        flags = client.fetch([uids[-1]], ["FLAGS"])[uids[-1]][b"FLAGS"]
    assert body in raws
    assert {b"\\Seen", b"\\Flagged"} <= set(flags)


def test_change_uidvalidity_keeps_messages(imap_account):
    """A new UIDVALIDITY, the same messages and flags, reported by STATUS and SELECT."""
    server = imap_account.server
    server.append(imap_account.login, imap_account.password, "INBOX", [plain(f"u{i}", f"<u{i}@x>") for i in range(5)])
    with server.connect(imap_account.login, folder="INBOX") as client:
        client.add_flags(client.search("ALL")[:2], [b"\\Seen"])
        before_ids = message_ids(client)
        old = client.folder_status("INBOX", ["UIDVALIDITY"])[b"UIDVALIDITY"]
    new = server.change_uidvalidity(imap_account.login, "INBOX")
    with server.connect(imap_account.login) as client:
        assert client.folder_status("INBOX", ["UIDVALIDITY", "MESSAGES"]) == {b"UIDVALIDITY": new, b"MESSAGES": 5}
        selected = client.select_folder("INBOX")
        assert message_ids(client) == before_ids
    assert new != old
    assert selected[b"UIDVALIDITY"] == new and selected[b"EXISTS"] == 5


def test_hostile_corpus_round_trips(imap_account):
    """Every hostile message is accepted by Dovecot and comes back byte for byte."""
    corpus = mailgen.hostile_corpus()
    imap_account.server.append(imap_account.login, imap_account.password, "INBOX", [raw for _n, raw in corpus])
    with imap_account.server.connect(imap_account.login, folder="INBOX") as client:
        fetched = client.fetch(client.search("ALL"), ["BODY.PEEK[]"])
    assert [fetched[uid][b"BODY[]"] for uid in sorted(fetched)] == [raw for _n, raw in corpus]


# -- SMTP sink -------------------------------------------------------------------------

def test_smtp_sink_receives_message(smtp_sink):
    """A message sent to the sink is recorded with its envelope and exact bytes."""
    raw = plain("sink", "<sink@x>")
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10) as client:
        client.ehlo()
        assert not client.has_extn("auth")  # without a login the sink is an open LAN relay
        client.sendmail("a@example.com", ["b@example.com", "c@example.com"], raw)
    assert smtp_sink.messages == [("a@example.com", ["b@example.com", "c@example.com"], raw)]


def test_smtp_auth_refuses_wrong_password(make_smtp_sink):
    """AUTH with a wrong password gets 535 and nothing can be sent; the right one works."""
    sink = make_smtp_sink(auth_required=True, login="alice", password="s3cret")
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            client.login("alice", "wrong")
        with pytest.raises(smtplib.SMTPSenderRefused):
            client.sendmail("alice@example.com", ["b@example.com"], b"Subject: x\r\n\r\nx\r\n")
    assert refused.value.smtp_code == 535
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
        client.login("alice", "s3cret")
        client.sendmail("alice@example.com", ["b@example.com"], b"Subject: x\r\n\r\nx\r\n")
    assert len(sink.messages) == 1


def test_smtp_starttls_is_required(make_smtp_sink):
    """A STARTTLS sink refuses mail before STARTTLS and takes it after."""
    sink = make_smtp_sink(auth_required=True, login="alice", password="pw", starttls=True)
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as client, pytest.raises(smtplib.SMTPSenderRefused):
        client.sendmail("alice@example.com", ["b@example.com"], b"x")
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
        client.starttls(context=no_verify())
        client.login("alice", "pw")
        client.sendmail("alice@example.com", ["b@example.com"], b"x")
    assert len(sink.wait_for(1)) == 1


def test_smtps_with_xoauth2(make_smtp_sink):
    """The implicit-TLS sink accepts XOAUTH2 with the configured token only."""
    sink = make_smtp_sink(auth_required=True, login="alice", oauth_token="tok", implicit_tls=True)

    def xoauth2(token):
        return lambda challenge=None: f"user=alice\x01auth=Bearer {token}\x01\x01"

    with smtplib.SMTP_SSL(sink.host, sink.port, timeout=10, context=no_verify()) as client:
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.auth("XOAUTH2", xoauth2("bad"), initial_response_ok=True)
        client.auth("XOAUTH2", xoauth2("tok"), initial_response_ok=True)
        client.sendmail("alice@example.com", ["b@example.com"], b"x")
    assert sink.auth_log == [("XOAUTH2", "alice", False), ("XOAUTH2", "alice", True)]


# -- mail generator ----------------------------------------------------------------------

def test_generate_is_deterministic():
    """The same seed gives the same bytes; another seed gives other mail."""
    assert list(mailgen.generate(40, seed=7)) == list(mailgen.generate(40, seed=7))
    assert list(mailgen.generate(40, seed=7)) != list(mailgen.generate(40, seed=8))


def test_generate_looks_like_a_mailbox():
    """Threads, attachments, encoded words, HTML and sizes are in the promised ranges."""
    raws = list(mailgen.generate(600, seed=5))
    seen, replies, with_files, encoded, html, plain_sizes = set(), 0, 0, 0, 0, []
    for raw in raws:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = list(msg.walk())
        if msg["In-Reply-To"]:
            replies += 1
            assert msg["In-Reply-To"] in seen and msg["Subject"].startswith("Re: ")
            assert msg["References"].split()[-1] == msg["In-Reply-To"]
        seen.add(msg["Message-ID"])
        files = any(p.get_content_disposition() == "attachment" or p["Content-ID"] for p in parts)
        with_files += files
        if not files:
            plain_sizes.append(len(raw))
        encoded += b"=?" in raw.split(b"\r\n\r\n", 1)[0]
        assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")  # CRLF only
        html += any(p.get_content_type() == "text/html" for p in parts)
    assert len(seen) == 600
    assert 0.24 < replies / 600 < 0.36
    assert 0.06 < with_files / 600 < 0.14
    assert encoded > 150 and html > 250
    assert 10_000 <= sum(plain_sizes) / len(plain_sizes) <= 20_000


def test_hostile_corpus_and_huge_message():
    """The corpus names every promised case; the huge message carries its full size."""
    names = set(mailgen.HOSTILE_NAMES)
    assert {"missing_message_id", "malformed_message_id", "bogus_charset", "deeply_nested_multipart",
            "binary_garbage", "html_script", "message_rfc822_attachment", "headers_only"} <= names
    assert len(names) == len(mailgen.HOSTILE_NAMES)
    huge = mailgen.huge_message(2)
    assert 2 * 1024 * 1024 * 4 / 3 < len(huge) < 3.2 * 1024 * 1024
