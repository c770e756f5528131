"""Engine tier: the IMAP provider against a real Dovecot, final state asserted exactly."""
import time

import imapclient
import pytest

from harness import mailgen
from maildesk_mail_client.engine.errors import AuthError, NetworkError, ProviderError
from maildesk_mail_client.engine.imap import ImapConfig, ImapProvider, parse_uid_set, uid_set
from maildesk_mail_client.engine.mime import message_key_from_headers
from maildesk_mail_client.engine.provider import SyncOptions

from .memstore import FolderStore


def plain(subject, message_id, body="hello"):
    return (f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
            f"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\n{body}\r\n").encode()


def config(acct, **kw):
    vals = dict(host=acct.host, port=acct.port, security="none", login=acct.login, password=acct.password,
                timeout=10)
    vals.update(kw)
    return ImapConfig(**vals)


def raw_client(acct, folder="INBOX"):
    client = imapclient.IMAPClient(acct.host, port=acct.port, ssl=False, timeout=10)
    client.login(acct.login, acct.password)
    client.select_folder(folder)
    return client


def folder_of(provider, role):
    return next(f for f in provider.list_folders() if f.role == role)


@pytest.fixture
def provider(imap_account):
    with ImapProvider(config(imap_account)) as prov:
        yield prov


def test_uid_set_roundtrip():
    """UID sets compress to ranges and parse back in order."""
    assert uid_set([5, 1, 2, 3, 9]) == "1:3,5,9"
    assert parse_uid_set("1:3,5,9") == [1, 2, 3, 5, 9]


def test_folders_have_special_use_roles(provider):
    """SPECIAL-USE folders get their roles; INBOX is the inbox."""
    roles = {f.role for f in provider.list_folders()}
    assert {"inbox", "sent", "drafts", "trash", "spam", "archive"} <= roles


def test_initial_sync_lists_every_message_once(imap_account, provider):
    """A first sync stores exactly the server's messages, each once, with their flags."""
    raws = list(mailgen.generate(120, seed=11))
    imap_account.server.append(imap_account.login, imap_account.password, "INBOX", raws)
    store = FolderStore()
    store.sync(provider, folder_of(provider, "inbox"), SyncOptions(batch_size=25))
    assert len(store.messages) == 120
    assert store.keys() == sorted(message_key_from_headers(r) for r in raws)
    assert store.cursor["complete"] is True


def test_no_change_resync_yields_nothing(imap_account, provider):
    """An unchanged folder costs a STATUS and yields no batch."""
    imap_account.server.append(imap_account.login, imap_account.password, "INBOX", [plain("a", "<a@x>")])
    store = FolderStore()
    inbox = folder_of(provider, "inbox")
    store.sync(provider, inbox, SyncOptions())
    before = store.batches
    store.sync(provider, inbox, SyncOptions())
    assert store.batches == before


def test_incremental_new_flags_and_expunge(imap_account, provider):
    """New mail, flag changes and expunges from another client all arrive."""
    server = imap_account.server
    server.append(imap_account.login, imap_account.password, "INBOX",
                  [plain(f"m{i}", f"<m{i}@x>") for i in range(6)])
    store = FolderStore()
    inbox = folder_of(provider, "inbox")
    store.sync(provider, inbox, SyncOptions())
    other = raw_client(imap_account)
    uids = sorted(other.search("ALL"))
    other.add_flags(uids[:2], [b"\\Seen"])
    other.add_flags(uids[2:3], [b"\\Flagged"])
    other.delete_messages(uids[5:])
    other.expunge()
    other.logout()
    server.append(imap_account.login, imap_account.password, "INBOX", [plain("new", "<new@x>")])
    store.sync(provider, inbox, SyncOptions())
    assert len(store.messages) == 6
    assert "<m5@x>" not in store.keys() and "<new@x>" in store.keys()
    read = sorted(m["key"] for m in store.messages.values() if m["is_read"])
    assert read == ["<m0@x>", "<m1@x>"]
    assert [m["key"] for m in store.messages.values() if m["is_starred"]] == ["<m2@x>"]


def test_plain_server_without_condstore(imap_account):
    """Without CONDSTORE/QRESYNC the UID diff and flag scan give the same result."""
    with ImapProvider(config(imap_account)) as prov:
        prov.capabilities = prov.capabilities - {b"CONDSTORE", b"QRESYNC"}
        imap_account.server.append(imap_account.login, imap_account.password, "INBOX",
                                   [plain(f"p{i}", f"<p{i}@x>") for i in range(4)])
        store = FolderStore()
        inbox = folder_of(prov, "inbox")
        store.sync(prov, inbox, SyncOptions())
        other = raw_client(imap_account)
        uids = sorted(other.search("ALL"))
        other.add_flags(uids[:1], [b"\\Seen"])
        other.delete_messages(uids[3:])
        other.expunge()
        other.logout()
        store.sync(prov, inbox, SyncOptions())
    assert len(store.messages) == 3
    assert [m["key"] for m in store.messages.values() if m["is_read"]] == ["<p0@x>"]


def test_uidvalidity_change_rebinds_without_duplicates(imap_account, provider):
    """After a UIDVALIDITY change the same mail is re-bound, not downloaded twice."""
    server = imap_account.server
    server.append(imap_account.login, imap_account.password, "INBOX",
                  [plain(f"u{i}", f"<u{i}@x>") for i in range(5)])
    store = FolderStore()
    inbox = folder_of(provider, "inbox")
    store.sync(provider, inbox, SyncOptions())
    old_validity = store.cursor["uidvalidity"]
    provider.close()
    server.change_uidvalidity(imap_account.login, "INBOX")
    with ImapProvider(config(imap_account)) as prov:
        store.sync(prov, inbox, SyncOptions())
    assert store.cursor["uidvalidity"] != old_validity
    assert len(store.messages) == 5
    assert all(rid.startswith(f"{store.cursor['uidvalidity']}:") for rid in store.messages)
    assert all(m["raw"] for m in store.messages.values())  # re-bound, bodies kept


def test_bootstrap_newest_first_then_backfill_modes(imap_account, provider):
    """Bootstrap takes the newest N; progressive stops at the cap; full reaches the bottom."""
    imap_account.server.append(imap_account.login, imap_account.password, "INBOX",
                               [plain(f"b{i:02d}", f"<b{i:02d}@x>") for i in range(30)])
    inbox = folder_of(provider, "inbox")
    store = FolderStore()
    store.sync(provider, inbox, SyncOptions(bootstrap=10, batch_size=4))
    assert store.keys() == [f"<b{i:02d}@x>" for i in range(20, 30)]
    store.backfill(provider, inbox, SyncOptions(bootstrap=10, backfill_cap=18))
    assert len(store.messages) == 18
    store.backfill(provider, inbox, SyncOptions(bootstrap=10, backfill_mode="full"))
    assert len(store.messages) == 30 and store.cursor["complete"]


def test_from_now_never_backfills(imap_account, provider):
    """Mode from_now keeps only the bootstrap."""
    imap_account.server.append(imap_account.login, imap_account.password, "INBOX",
                               [plain(f"f{i}", f"<f{i}@x>") for i in range(8)])
    inbox = folder_of(provider, "inbox")
    store = FolderStore()
    options = SyncOptions(bootstrap=3, backfill_mode="from_now")
    store.sync(provider, inbox, options)
    store.backfill(provider, inbox, options)
    assert len(store.messages) == 3


def test_interrupted_bootstrap_resumes(imap_account, provider):
    """Stopping after any batch and starting again ends with the same exact state."""
    imap_account.server.append(imap_account.login, imap_account.password, "INBOX",
                               [plain(f"i{i:02d}", f"<i{i:02d}@x>") for i in range(23)])
    inbox = folder_of(provider, "inbox")
    for stop_after in range(1, 7):
        store = FolderStore()
        stream = provider.sync_folder(inbox, {}, store.view(), SyncOptions(batch_size=5))
        for n, batch in enumerate(stream, 1):
            store.apply(batch)
            if n == stop_after:
                stream.close()
                break
        store.sync(provider, inbox, SyncOptions(batch_size=5))
        assert len(store.messages) == 23, stop_after


def test_oversized_message_is_listed_with_headers_only(imap_account, provider):
    """A message above max_body_bytes arrives partial; fetch_messages gets the body."""
    big = plain("big", "<big@x>", body="x" * 300_000)
    imap_account.server.append(imap_account.login, imap_account.password, "INBOX", [big])
    inbox = folder_of(provider, "inbox")
    store = FolderStore()
    store.sync(provider, inbox, SyncOptions(max_body_bytes=100_000))
    (rid, message), = store.messages.items()
    assert message["partial"] and b"xxxx" not in message["raw"]
    full = provider.fetch_messages(inbox, [rid])
    assert full[0].raw.count(b"x") >= 300_000


def test_hostile_corpus_syncs_completely(imap_account, provider):
    """Malformed and hostile mail never blocks the sync."""
    corpus = [raw for _name, raw in mailgen.hostile_corpus()]
    imap_account.server.append(imap_account.login, imap_account.password, "INBOX", corpus)
    store = FolderStore()
    store.sync(provider, folder_of(provider, "inbox"), SyncOptions())
    assert len(store.messages) == len(corpus)


def test_set_flags_move_delete_on_server(imap_account, provider):
    """Two-way operations change the server; move returns the new remote ids."""
    imap_account.server.append(imap_account.login, imap_account.password, "INBOX",
                               [plain("t1", "<t1@x>"), plain("t2", "<t2@x>")])
    inbox, archive = folder_of(provider, "inbox"), folder_of(provider, "archive")
    store = FolderStore()
    store.sync(provider, inbox, SyncOptions())
    ids = sorted(store.messages)
    provider.set_flags(inbox, ids[:1], is_read=True, is_starred=True)
    mapping = provider.move(inbox, ids[1:], archive)
    assert mapping[ids[1]] and mapping[ids[1]] != ids[1]
    arch = FolderStore()
    arch.sync(provider, archive, SyncOptions())
    assert list(arch.messages) == [mapping[ids[1]]]
    store.sync(provider, inbox, SyncOptions())
    assert list(store.messages) == ids[:1]
    assert store.messages[ids[0]]["is_read"] and store.messages[ids[0]]["is_starred"]
    provider.delete(archive, [mapping[ids[1]]])
    arch.sync(provider, archive, SyncOptions())
    assert not arch.messages


def test_wrong_password_is_auth_error(imap_account):
    """Refused credentials raise AuthError quickly, with a readable message."""
    started = time.monotonic()
    with pytest.raises(AuthError, match="refused"):
        ImapProvider(config(imap_account, password="wrong")).connect()
    assert time.monotonic() - started < 5


def test_unreachable_server_is_network_error(imap_account):
    """A closed port raises NetworkError."""
    with pytest.raises(NetworkError):
        ImapProvider(config(imap_account, port=1)).connect()


def test_ssl_and_starttls(imap_account):
    """Implicit TLS and STARTTLS both connect (self-signed test certificate)."""
    for security, port in (("ssl", imap_account.ssl_port), ("starttls", imap_account.port)):
        with ImapProvider(config(imap_account, security=security, port=port, ssl_verify=False)) as prov:
            assert prov.list_folders()


def test_tls_verification_failure_is_readable(imap_account):
    """An untrusted certificate is refused with a network error naming TLS."""
    with pytest.raises(NetworkError, match="TLS"):
        ImapProvider(config(imap_account, security="ssl", port=imap_account.ssl_port)).connect()


def test_stale_remote_id_is_refused(imap_account, provider):
    """Acting on ids from an old UIDVALIDITY raises instead of touching the wrong mail."""
    imap_account.server.append(imap_account.login, imap_account.password, "INBOX", [plain("s", "<s@x>")])
    inbox = folder_of(provider, "inbox")
    with pytest.raises(ProviderError, match="changed"):
        provider.set_flags(inbox, ["1:1"], is_read=True)
