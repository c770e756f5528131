"""Engine tier: the Gmail provider against the Gmail API emulator, exact final state asserted."""
import base64

import pytest

from emulators.gmail import GmailEmulator
from emulators.tokens import RegistryTokenSource, TokenRegistry
from harness import mailgen
from maildesk_mail_client.engine.errors import AuthError, ThrottledError
from maildesk_mail_client.engine.gmail import GmailConfig, GmailProvider
from maildesk_mail_client.engine.mime import message_key_from_headers
from maildesk_mail_client.engine.provider import SyncOptions

from .memstore import FolderStore

USER = "ann@gmail.test"



def plain(subject, message_id, refs=""):
    extra = f"In-Reply-To: {refs}\r\nReferences: {refs}\r\n" if refs else ""
    return (f"From: Bob <bob@example.com>\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
            f"{extra}Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n").encode()


@pytest.fixture
def registry():
    return TokenRegistry()


@pytest.fixture
def gmail(registry):
    with GmailEmulator(registry) as emulator:
        yield emulator


@pytest.fixture
def tokens(registry):
    return RegistryTokenSource(registry, USER)


@pytest.fixture
def provider(gmail, tokens):
    config = GmailConfig(email=USER, token_source=tokens, api_root=gmail.base_url, backoff_base=0.01, timeout=10)
    with GmailProvider(config) as prov:
        yield prov


def folder(provider, path):
    return next(f for f in provider.list_folders() if f.path == path)


def server_keys(gmail, label):
    box = gmail.mailbox(USER)
    return sorted(message_key_from_headers(m["raw"]) for m in box.messages.values()
                  if label in m["labelIds"] and not ({"TRASH", "SPAM"} & m["labelIds"] and label not in ("TRASH",)))


def test_labels_are_folders_with_roles(gmail, provider):
    gmail.add_label(USER, "Projects")
    gmail.add_label(USER, "Projects/Alpha")
    folders = {f.path: f for f in provider.list_folders()}
    assert {"INBOX": "inbox", "SENT": "sent", "DRAFT": "drafts", "TRASH": "trash", "SPAM": "spam",
            "ARCHIVE": "archive"}.items() <= {p: f.role for p, f in folders.items()}.items()
    assert "UNREAD" not in folders and not any(p.startswith("CATEGORY_") for p in folders)
    alpha = next(f for f in folders.values() if f.name == "Alpha")
    assert alpha.role == "custom" and folders[alpha.parent_path].name == "Projects"


def test_full_sync_of_1000_in_few_requests(gmail, provider):
    """1,000 messages: exact state, each once, in <= 25 HTTP requests (list pages + batches of 50)."""
    for raw in mailgen.generate(1000, seed=3):
        gmail.add_message(USER, raw)
    inbox = folder(provider, "INBOX")
    before = len(gmail.requests)
    store = FolderStore()
    store.sync(provider, inbox, SyncOptions(bootstrap=1000))
    used = len(gmail.requests) - before
    print(f"\nfull sync of 1,000 Gmail messages: {used} HTTP requests")
    assert used <= 25
    assert store.keys() == server_keys(gmail, "INBOX")
    assert len(store.messages) == 1000
    assert not store.cursor["bootstrap_left"] and store.cursor["complete"]


def test_bootstrap_then_backfill(gmail, provider):
    raws = list(mailgen.generate(30, seed=5))
    for raw in raws:
        gmail.add_message(USER, raw)
    inbox, store = folder(provider, "INBOX"), FolderStore()
    store.sync(provider, inbox, SyncOptions(bootstrap=10))
    assert len(store.messages) == 10 and not store.cursor["complete"]
    newest = sorted(gmail.mailbox(USER).messages.values(), key=lambda m: int(m["internalDate"]))[-10:]
    assert set(store.messages) == {m["id"] for m in newest}
    store.backfill(provider, inbox, SyncOptions(bootstrap=10, backfill_cap=0, backfill_mode="full"), limit=15)
    assert len(store.messages) == 25
    store.backfill(provider, inbox, SyncOptions(bootstrap=10, backfill_cap=0, backfill_mode="full"))
    assert store.keys() == server_keys(gmail, "INBOX") and store.cursor["complete"]


def test_incremental_adds_removes_and_flags(gmail, provider):
    ids = [gmail.add_message(USER, plain(f"m{i}", f"<m{i}@x>")) for i in range(5)]
    inbox, store = folder(provider, "INBOX"), FolderStore()
    store.sync(provider, inbox, SyncOptions())
    gmail.add_message(USER, plain("new", "<new@x>"))
    gmail.set_labels(USER, ids[0], remove=["UNREAD"], add=["STARRED"])
    gmail.set_labels(USER, ids[1], remove=["INBOX"])  # archived elsewhere
    gmail.remove(USER, ids[2])
    gmail.set_labels(USER, ids[3], add=["TRASH"])  # trashed: leaves the inbox view
    store.sync(provider, inbox, SyncOptions())
    assert store.keys() == server_keys(gmail, "INBOX")
    assert set(store.messages) == {ids[0], ids[4]} | {m["id"] for m in gmail.by_subject(USER, "new")}
    assert store.messages[ids[0]]["is_read"] and store.messages[ids[0]]["is_starred"]
    # Nothing changed: one history call, nothing fetched.
    before = len(gmail.requests)
    store.sync(provider, inbox, SyncOptions())
    assert len(gmail.requests) - before == 1


def test_archive_folder_is_mail_without_role_labels(gmail, provider):
    kept = gmail.add_message(USER, plain("kept", "<k@x>"), labels=())
    gmail.add_message(USER, plain("inbox", "<i@x>"))
    archive, store = folder(provider, "ARCHIVE"), FolderStore()
    store.sync(provider, archive, SyncOptions())
    assert set(store.messages) == {kept}
    later = gmail.add_message(USER, plain("later", "<l@x>"))
    gmail.set_labels(USER, later, remove=["INBOX"])
    store.sync(provider, archive, SyncOptions())
    assert set(store.messages) == {kept, later}


def archive_ids(gmail):
    roles = {"INBOX", "SENT", "DRAFT", "TRASH", "SPAM", "CHAT"}
    return {i for i, m in gmail.mailbox(USER).messages.items() if not (m["labelIds"] & roles)}


def test_one_get_profile_per_sync_whatever_the_number_of_folders(gmail, provider):
    """A first sync of every label reads the profile once; so does the next sync's resync of all."""
    for name in ("Projects", "Clients", "Travel"):
        gmail.add_label(USER, name)
    for i in range(6):
        gmail.add_message(USER, plain(f"m{i}", f"<m{i}@x>"))
    folders = provider.list_folders()
    assert len(folders) >= 9
    stores = {f.path: FolderStore() for f in folders}
    for f in folders:
        stores[f.path].sync(provider, f, SyncOptions())
    assert gmail.count("/profile") == 1
    assert stores["INBOX"].keys() == server_keys(gmail, "INBOX")
    # History expired everywhere: each folder re-lists; still one profile read per sync (connection).
    gmail.expire_history()
    config = GmailConfig(email=USER, token_source=provider.config.token_source, api_root=gmail.base_url,
                         backoff_base=0.01, timeout=10)
    with GmailProvider(config) as second:
        for f in folders:
            stores[f.path].sync(second, f, SyncOptions())
    assert gmail.count("/profile") == 2
    assert stores["INBOX"].keys() == server_keys(gmail, "INBOX")


def test_archive_incremental_reads_only_archive_mail(gmail, provider):
    """Busy inbox, few archive changes: Archive's sync reads the new archived mail only."""
    inbox_ids = [gmail.add_message(USER, plain(f"in{i}", f"<in{i}@x>")) for i in range(150)]
    archived = [gmail.add_message(USER, plain(f"ar{i}", f"<ar{i}@x>"), labels=()) for i in range(4)]
    archive, store = folder(provider, "ARCHIVE"), FolderStore()
    store.sync(provider, archive, SyncOptions())
    assert set(store.messages) == set(archived)
    # The rest of the mailbox is busy: 120 new inbox mails, 60 inbox flag changes ...
    for i in range(120):
        gmail.add_message(USER, plain(f"new{i}", f"<new{i}@x>"))
    for message_id in inbox_ids[:60]:
        gmail.set_labels(USER, message_id, remove=["UNREAD"])
    # ... and Archive changes a little: two archived from the inbox, one starred, one
    # deleted, one trashed, one moved back to the inbox.
    gmail.set_labels(USER, inbox_ids[100], remove=["INBOX"])
    gmail.set_labels(USER, inbox_ids[101], remove=["INBOX"], add=["STARRED"])
    gmail.set_labels(USER, archived[0], add=["STARRED"])
    gmail.remove(USER, archived[1])
    gmail.set_labels(USER, archived[2], add=["TRASH"])
    gmail.set_labels(USER, archived[3], add=["INBOX"])
    parts, minimal = gmail.count_parts(), gmail.count_parts("format=minimal")
    store.sync(provider, archive, SyncOptions())
    assert set(store.messages) == archive_ids(gmail) == {archived[0], inbox_ids[100], inbox_ids[101]}
    assert store.messages[archived[0]]["is_starred"] and store.messages[inbox_ids[101]]["is_starred"]
    assert gmail.count_parts("format=minimal") == minimal
    assert gmail.count_parts() - parts == 2  # the two newly archived messages, nothing else


def test_history_expired_resyncs_without_duplicates(gmail, provider):
    ids = [gmail.add_message(USER, plain(f"m{i}", f"<m{i}@x>")) for i in range(6)]
    inbox, store = folder(provider, "INBOX"), FolderStore()
    store.sync(provider, inbox, SyncOptions())
    gmail.remove(USER, ids[0])
    gmail.set_labels(USER, ids[1], remove=["UNREAD"])
    gmail.add_message(USER, plain("fresh", "<f@x>"))
    gmail.expire_history()
    fetched_before = gmail.count("format=raw")
    store.sync(provider, inbox, SyncOptions())
    assert store.keys() == server_keys(gmail, "INBOX")
    assert len(store.messages) == 6 and ids[0] not in store.messages
    assert store.messages[ids[1]]["is_read"]
    # Only the new message was downloaded again (batches carry it in their body, not URL):
    assert gmail.count("format=raw") == fetched_before


def test_send_reply_joins_thread_and_is_in_sent(gmail, provider):
    parent = gmail.add_message(USER, plain("Question", "<q@x>"))
    reply = plain("Re: Question", "<r@x>", refs="<q@x>").replace(b"From: Bob <bob@example.com>",
                                                                  f"From: {USER}".encode())
    result = provider.send(reply, USER, ["bob@example.com"], folder(provider, "SENT"))
    box = gmail.mailbox(USER)
    sent = box.messages[result.sent_remote_id]
    assert "SENT" in sent["labelIds"]
    assert sent["threadId"] == box.messages[parent]["threadId"] == result.provider_thread_id
    assert result.message_id == "<r@x>"
    assert base64.urlsafe_b64decode(base64.urlsafe_b64encode(sent["raw"])) == reply


def test_two_way_flags_move_trash_delete(gmail, provider):
    ids = [gmail.add_message(USER, plain(f"m{i}", f"<m{i}@x>")) for i in range(4)]
    label = gmail.add_label(USER, "Projects")
    inbox = folder(provider, "INBOX")
    box = gmail.mailbox(USER)
    provider.set_flags(inbox, ids[:2], is_read=True, is_starred=True)
    assert {"UNREAD"} & box.messages[ids[0]]["labelIds"] == set() and "STARRED" in box.messages[ids[1]]["labelIds"]
    assert provider.move(inbox, [ids[2]], folder(provider, label)) == {ids[2]: ids[2]}
    assert box.messages[ids[2]]["labelIds"] >= {label} and "INBOX" not in box.messages[ids[2]]["labelIds"]
    provider.move(inbox, [ids[3]], folder(provider, "ARCHIVE"))
    assert "INBOX" not in box.messages[ids[3]]["labelIds"]
    trash = folder(provider, "TRASH")
    provider.move(inbox, [ids[0]], trash)
    assert "TRASH" in box.messages[ids[0]]["labelIds"]
    provider.delete(trash, [ids[0]])
    assert ids[0] not in box.messages


def test_rate_limits_are_retried_and_state_is_exact(gmail, provider):
    for raw in mailgen.generate(120, seed=9):
        gmail.add_message(USER, raw)
    gmail.rate_limit_next(2, retry_after=0, match="/messages?")  # whole list requests
    gmail.rate_limit_parts(30)  # parts inside the batches
    gmail.fail_next(503, {"error": {"code": 503, "message": "Backend Error"}}, match="/batch")
    inbox, store = folder(provider, "INBOX"), FolderStore()
    store.sync(provider, inbox, SyncOptions(bootstrap=200))
    assert store.keys() == server_keys(gmail, "INBOX") and len(store.messages) == 120


def test_persistent_throttling_becomes_throttled_error(gmail, provider):
    gmail.add_message(USER, plain("x", "<x@x>"))
    gmail.rate_limit_next(50, retry_after=0)
    with pytest.raises(ThrottledError):
        provider.list_folders()


def test_expired_token_is_refreshed_transparently(gmail, provider, tokens, registry):
    gmail.add_message(USER, plain("x", "<x@x>"))
    inbox = folder(provider, "INBOX")
    registry.expire_all()
    store = FolderStore()
    store.sync(provider, inbox, SyncOptions())
    assert len(store.messages) == 1 and tokens.refreshes == 1


def test_revoked_grant_is_auth_error(gmail, provider, registry):
    registry.revoke(USER)
    with pytest.raises(AuthError):
        provider.list_folders()


def test_test_connection_gives_the_address(provider):
    info = provider.test_connection()
    assert info["email"] == USER and info["folders"] >= 6


def test_slow_server_still_syncs_and_too_slow_is_network_error(gmail, tokens):
    from maildesk_mail_client.engine.errors import NetworkError

    gmail.add_message(USER, plain("slow", "<s@x>"))
    gmail.delay = 0.2
    config = GmailConfig(email=USER, token_source=tokens, api_root=gmail.base_url, backoff_base=0.01, timeout=5)
    with GmailProvider(config) as provider:
        store = FolderStore()
        store.sync(provider, folder(provider, "INBOX"), SyncOptions())
        assert len(store.messages) == 1
    gmail.delay = 1.5
    config = GmailConfig(email=USER, token_source=tokens, api_root=gmail.base_url, backoff_base=0.01, timeout=0.5,
                         max_retries=0)
    with GmailProvider(config) as provider, pytest.raises(NetworkError):
        provider.list_folders()


class Sleeps:
    """Stands in for the engine's ``time`` module: records sleeps instead of taking them."""

    def __init__(self):
        import time

        self.calls, self.monotonic = [], time.monotonic

    def sleep(self, seconds):
        self.calls.append(seconds)


@pytest.fixture
def sleeps(monkeypatch):
    from maildesk_mail_client.engine import gmail as gmail_engine

    recorder = Sleeps()
    monkeypatch.setattr(gmail_engine, "time", recorder)
    return recorder


def formats_seen(gmail):
    """Wrap the emulator's router to note the ``format`` of every messages.get, batch parts included."""
    seen, handle = [], gmail.handle

    def spy(request):
        if request.method == "GET" and "/messages/" in request.path:
            seen.append(request.query.get("format"))
        return handle(request)

    gmail.handle = spy
    return seen


def test_big_messages_keep_only_their_headers(gmail, provider):
    big = plain("Big", "<big@x>").replace(b"hello", b"x" * 5000)
    gmail.add_message(USER, big)
    gmail.add_message(USER, plain("small", "<small@x>"))
    inbox, store = folder(provider, "INBOX"), FolderStore()
    options = SyncOptions(max_body_bytes=2000)
    store.sync(provider, inbox, options)
    by_key = {m["key"]: m for m in store.messages.values()}
    assert by_key["<big@x>"]["partial"] and by_key["<big@x>"]["raw"].endswith(b"\r\n\r\n")
    assert b"xxxx" not in by_key["<big@x>"]["raw"] and not by_key["<small@x>"]["partial"]
    # Incremental: the minimal read knows the size, so only the headers travel.
    seen = formats_seen(gmail)
    gmail.add_message(USER, plain("Big 2", "<big2@x>").replace(b"hello", b"y" * 5000))
    store.sync(provider, inbox, options)
    big2 = next(m for m in store.messages.values() if m["key"] == "<big2@x>")
    assert big2["partial"] and b"Subject: Big 2" in big2["raw"] and b"yyyy" not in big2["raw"]
    assert seen == ["minimal", "metadata"]
    # On demand, the whole message.
    full = provider.fetch_messages(inbox, [next(i for i, m in store.messages.items() if m["key"] == "<big2@x>")])
    assert b"y" * 5000 in full[0].raw and not full[0].partial


def test_user_rate_limit_honours_retry_after(gmail, provider, sleeps):
    for raw in mailgen.generate(60, seed=11):
        gmail.add_message(USER, raw)
    gmail.rate_limit_next(1, reason="userRateLimitExceeded", retry_after=7, match="/labels")
    inbox = folder(provider, "INBOX")
    assert 7 in sleeps.calls
    gmail.rate_limit_parts(5, reason="userRateLimitExceeded", retry_after=4)
    store = FolderStore()
    store.sync(provider, inbox, SyncOptions())
    assert 4 in sleeps.calls
    assert store.keys() == server_keys(gmail, "INBOX") and len(store.messages) == 60


def test_persistent_server_errors_are_network_errors(gmail, provider):
    from maildesk_mail_client.engine.errors import NetworkError

    gmail.fail_next(503, {"error": {"code": 503, "message": "Backend Error"}}, count=50, match="/labels")
    with pytest.raises(NetworkError) as caught:
        provider.list_folders()
    assert not isinstance(caught.value, ThrottledError) and "503" in str(caught.value)


def test_quota_pacing_waits_when_the_budget_is_spent(gmail, tokens, sleeps):
    for raw in mailgen.generate(40, seed=13):
        gmail.add_message(USER, raw)
    config = GmailConfig(email=USER, token_source=tokens, api_root=gmail.base_url, backoff_base=0.01,
                         quota_units_per_second=1000, quota_burst=20)
    with GmailProvider(config) as provider:
        store = FolderStore()
        store.sync(provider, folder(provider, "INBOX"), SyncOptions())
    assert len(store.messages) == 40
    # 40 gets (200 units) + list + profile + labels against a burst of 20 at 1000 units/s.
    assert sum(sleeps.calls) >= 0.15


def test_large_reply_goes_as_upload_into_the_thread(gmail, provider):
    parent = gmail.add_message(USER, plain("Plans", "<p@x>"))
    reply = plain("Re: Plans", "<big-r@x>", refs="<p@x>").replace(b"hello", b"z" * (5 * 1024 * 1024))
    result = provider.send(reply, USER, ["bob@example.com"], None)
    box = gmail.mailbox(USER)
    assert gmail.count("/upload/gmail/v1/users/me/messages/send") == 1
    assert box.messages[result.sent_remote_id]["raw"] == reply
    assert result.provider_thread_id == box.messages[parent]["threadId"]
    assert result.sent_folder_path == "SENT" and "SENT" in box.messages[result.sent_remote_id]["labelIds"]


def test_explicit_thread_id_and_subject_rule(gmail, provider):
    parent = gmail.add_message(USER, plain("Budget", "<b@x>"))
    thread = gmail.mailbox(USER).messages[parent]["threadId"]
    joined = provider.send(plain("Re: Budget", "<b2@x>", refs="<b@x>"), USER, [], None, thread_id=thread)
    assert joined.provider_thread_id == thread
    # Gmail starts a new thread when the subject differs, whatever threadId says.
    other = provider.send(plain("Something else", "<b3@x>", refs="<b@x>"), USER, [], None, thread_id=thread)
    assert other.provider_thread_id != thread


def test_untrash_move_and_delete_outside_trash(gmail, provider):
    ids = [gmail.add_message(USER, plain(f"t{i}", f"<t{i}@x>"), labels=("TRASH",)) for i in range(2)]
    trash, inbox = folder(provider, "TRASH"), folder(provider, "INBOX")
    box = gmail.mailbox(USER)
    assert provider.move(trash, [ids[0]], inbox) == {ids[0]: ids[0]}
    assert box.messages[ids[0]]["labelIds"] == {"INBOX"}
    provider.delete(inbox, [ids[0]])  # outside the trash, delete means trash (recoverable)
    assert "TRASH" in box.messages[ids[0]]["labelIds"]
    store = FolderStore()
    store.sync(provider, trash, SyncOptions())
    assert set(store.messages) == set(ids)


def test_watch_covers_mail_filed_away_from_the_inbox(gmail, provider):
    """MailDesk's watch has no labelIds: mail a Gmail filter labels away from the Inbox is pushed too.

    The emulator follows users.watch as documented: an INBOX-only watch (``include``) stays
    silent for that mail.
    """
    gmail.configure_push("http://127.0.0.1:9/push", auth="none", sync=True)  # answers are not the point
    receipts = gmail.add_label(USER, "Receipts")
    provider.watch("projects/p/topics/t", label_ids=("INBOX",))
    gmail.add_message(USER, plain("Filed", "<filed-1@x>"), labels=(receipts, "UNREAD"))
    assert len(gmail.pushes) == 0
    gmail.add_message(USER, plain("Inbox", "<inbox-1@x>"))
    assert len(gmail.pushes) == 1
    provider.watch("projects/p/topics/t")
    assert gmail.watches[USER]["labels"] == []
    gmail.add_message(USER, plain("Filed again", "<filed-2@x>"), labels=(receipts, "UNREAD"))
    assert len(gmail.pushes) == 2
