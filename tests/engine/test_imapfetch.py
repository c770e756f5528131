"""Engine tier: the fast FETCH reader gives imapclient's result, or hands the response to imapclient."""
import logging

import pytest
from imapclient.response_parser import parse_fetch_response

from harness import mailgen
from maildesk_mail_client.engine import imapfetch
from maildesk_mail_client.engine.imap import ImapConfig, ImapProvider

LITERAL = b"Subject: hi\r\n\r\nbody\r\n"

# Shapes the fast path takes: what the sync's own FETCHes bring back.
FAST = [
    [b'1 (UID 7 RFC822.SIZE 1234)', b'2 (UID 9 RFC822.SIZE 0)'],
    [(b'1 (UID 7 FLAGS (\\Seen $Forwarded) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 21 BODY[] {21}',
      LITERAL), b")"],
    [(b'3 (UID 12 FLAGS () INTERNALDATE " 1-Feb-2024 10:00:00 +0000" RFC822.SIZE 21 BODY[HEADER] {21}', LITERAL),
     b")", (b'4 (UID 13 FLAGS (\\Flagged) INTERNALDATE "01-Feb-2024 10:00:00 +0100" RFC822.SIZE 21 BODY[] {21}',
             LITERAL), b")"],
    [b'5 (UID 14 FLAGS (\\Seen))', b'6 (UID 15 FLAGS ())'],
    [b'5 (FLAGS (\\Seen) UID 14)'],
    [(b'1 (UID 7 INTERNALDATE "not a date" BODY[] {21}', LITERAL), b")"],
    [(b'1 (BODY[] {21}', LITERAL), b" UID 7)"],  # UID after the literal: imapclient's
]
# Shapes it leaves to imapclient: anything it does not read exactly.
SLOW = [
    [b'1 (UID 7 MODSEQ (5) FLAGS (\\Seen))'],  # another item
    [b'1 (FLAGS (\\Seen))'],  # unsolicited flag update, no UID
    [b'1 (UID 7 FLAGS (1234))'],  # a number among the flags becomes an int there
    [b'1 (UID 7 FLAGS (NIL))'],
    [b'1 (UID 7 FLAGS (\\Seen  \\Flagged))'],
    [b'1 (uid 7 flags (\\Seen))'],
    [b'1 (UID 007 RFC822.SIZE 5)'],
    [(b'1 (UID 7 INTERNALDATE "17-Jul-1996 02:44:25 -0700" BODY[] {22}', LITERAL), b")"],  # wrong length
    [(b'1 (UID 7 BODY[HEADER.FIELDS (SUBJECT)] {21}', LITERAL), b")"],
    [(b'1 (UID 7 BODY[] {21}', LITERAL), b" FLAGS (\\Seen))"],
]


def outcome(parse, data):
    try:
        return dict(parse(data))
    except Exception as exc:  # noqa: BLE001 - a malformed response fails the same way
        return type(exc)


@pytest.mark.parametrize("data", FAST + SLOW)
def test_the_result_is_imapclients(data):
    assert outcome(imapfetch.parse_fetch, data) == outcome(lambda d: parse_fetch_response(d, False, True), data)


@pytest.mark.parametrize("data", FAST[:-1])
def test_the_sync_shapes_take_the_fast_path(data):
    assert imapfetch._fast(data) is not None


@pytest.mark.parametrize("data", SLOW)
def test_other_shapes_go_to_imapclient(data):
    assert imapfetch._fast(data) is None


def test_empty_responses():
    assert imapfetch.parse_fetch([None]) == {} and imapfetch.parse_fetch([]) == {}


def test_real_server_responses_read_the_same(imap_account):
    """Dovecot's answers to the sync's FETCHes: same values both ways, and all on the fast path."""
    account = imap_account
    account.server.seed_maildir(account.login, "INBOX", list(mailgen.generate(60, seed=3)))
    config = ImapConfig(host=account.host, port=account.port, security="none", login=account.login,
                        password=account.password)
    seen = []
    original = imapfetch._fast

    def checked(data):
        fast = original(data)
        seen.append(fast is not None)
        assert fast == dict(parse_fetch_response(data, False, True))
        return fast

    with ImapProvider(config) as provider:
        provider._select_rw(next(f for f in provider.list_folders() if f.role == "inbox"))
        imapfetch._fast = checked
        try:
            sizes, _ = provider._uid_fetch("1:*", ["UID", "RFC822.SIZE"])
            provider.client.add_flags(list(sizes)[:5], [b"\\Seen", b"$Label1"])
            messages = provider._fetch_full(sorted(sizes))
            headers = provider._fetch_full(sorted(sizes)[:3], partial=True)
        finally:
            imapfetch._fast = original
    assert len(sizes) == len(messages) == 60 and len(headers) == 3
    assert sum(m.is_read for m in messages) == 5
    assert seen and all(seen)


def test_imaplib_formats_debug_messages_only_for_a_listening_logger(imap_account):
    """imapclient turns imaplib's debug output on (a repr of every body); off unless its logger shows DEBUG."""
    account = imap_account
    config = ImapConfig(host=account.host, port=account.port, security="none", login=account.login,
                        password=account.password)
    with ImapProvider(config) as provider:
        assert provider.client._imap.debug == 0
    logger = logging.getLogger("imapclient.imaplib")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with ImapProvider(config) as provider:
            assert provider.client._imap.debug == 5
    finally:
        logger.setLevel(level)
