"""Engine tier: the Microsoft Graph provider against the Graph emulator, exact final state asserted."""
import base64
import email
import threading
import time

import pytest

from emulators.graph import GraphEmulator
from emulators.tokens import RegistryTokenSource, TokenRegistry
from harness import mailgen
from maildesk_mail_client.engine.errors import AuthError, NetworkError, ThrottledError
from maildesk_mail_client.engine.graph import GraphConfig, GraphProvider, split_large_parts
from maildesk_mail_client.engine.mime import message_key_from_headers
from maildesk_mail_client.engine.provider import SyncOptions

from .memstore import FolderStore

USER = "ann@contoso.test"



def plain(subject, message_id, refs="", day=2):
    extra = f"In-Reply-To: {refs}\r\nReferences: {refs}\r\n" if refs else ""
    return (f"From: Bob <bob@example.com>\r\nTo: {USER}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
            f"{extra}Date: Mon, {day:02d} Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n").encode()


@pytest.fixture
def registry():
    return TokenRegistry()


@pytest.fixture
def graph(registry):
    with GraphEmulator(registry) as emulator:
        yield emulator


@pytest.fixture
def tokens(registry):
    return RegistryTokenSource(registry, USER)


def make_provider(graph, tokens, **kw):
    values = dict(email=USER, token_source=tokens, api_root=graph.base_url + "/v1.0", backoff_base=0.01, timeout=10)
    values.update(kw)
    return GraphProvider(GraphConfig(**values))


@pytest.fixture
def provider(graph, tokens):
    with make_provider(graph, tokens, page_size=25) as prov:
        yield prov


def folder(provider, role):
    return next(f for f in provider.list_folders() if f.role == role)


def server_state(graph, where="inbox"):
    """{message key: (is_read, flagged)} of a folder on the emulator."""
    return {message_key_from_headers(m["mime"]): (m["isRead"], m["flagStatus"] == "flagged")
            for m in graph.messages_in(USER, where)}


def local_state(store):
    return {m["key"]: (m["is_read"], m["is_starred"]) for m in store.messages.values()}


def fill(graph, n, seed=5, where="inbox"):
    ids = []
    for i, raw in enumerate(mailgen.generate(n, seed=seed)):
        ids.append(graph.add_message(USER, raw, folder=where, is_read=i % 3 == 0, flagged=i % 7 == 0))
    return ids


def test_folders_have_roles_and_children(graph, provider):
    """Well-known folders get their roles (resolved in one $batch); child folders nest."""
    projects = graph.add_folder(USER, "Projects")
    alpha = graph.add_folder(USER, "Alpha", parent=projects)
    folders = {f.path: f for f in provider.list_folders()}
    roles = {f.role for f in folders.values()}
    assert {"inbox", "sent", "drafts", "trash", "spam", "archive"} <= roles
    assert folders[projects].parent_path is None and folders[projects].role == "custom"
    assert folders[alpha].parent_path == projects and folders[alpha].name == "Alpha"
    assert graph.count("$batch") == 1
    assert provider.test_connection() == {"email": USER, "folders": len(folders)}
    assert graph.missing_immutable == []


def test_full_sync_exact_state(graph, provider):
    """A first sync stores every message once, with flags, in 25-message delta pages."""
    fill(graph, 120)
    store = FolderStore()
    inbox = folder(provider, "inbox")
    before = len(graph.requests)
    store.sync(provider, inbox, SyncOptions())
    assert local_state(store) == server_state(graph)
    assert len(store.messages) == 120
    assert store.cursor["round"] == "idle" and store.cursor["complete"] is True
    # 5 delta pages (4 x 25 + 20); a page's bodies in batches of 20: 2 + 2 + 2 + 2 + 1.
    assert graph.count("/messages/delta") == 5 and graph.count("$batch") == 1 + 9
    assert len(graph.requests) - before == 14
    assert graph.value_reads == 120 and graph.missing_immutable == []
    box = graph.mailbox(USER)
    assert all(m["raw"] == box.messages[rid]["mime"] for rid, m in store.messages.items())


def test_bootstrap_then_backfill(graph, provider):
    """The first sync takes the newest ``bootstrap``; backfill walks older mail up to the limit."""
    ids = fill(graph, 50)
    newest = sorted(ids, key=lambda i: graph.mailbox(USER).messages[i]["receivedDateTime"])[-20:]
    store = FolderStore()
    inbox = folder(provider, "inbox")
    options = SyncOptions(bootstrap=20, backfill_cap=40)
    store.sync(provider, inbox, options)
    assert sorted(store.messages) == sorted(newest)
    assert store.cursor["complete"] is False
    store.backfill(provider, inbox, options, limit=15)
    assert len(store.messages) == 35
    store.backfill(provider, inbox, options)
    assert len(store.messages) == 40  # the cap
    store.backfill(provider, inbox, SyncOptions(bootstrap=20, backfill_cap=0))
    assert local_state(store) == server_state(graph) and store.cursor["complete"] is True
    assert graph.value_reads == 50


def test_incremental_adds_removes_and_flags(graph, provider):
    """New mail, flag changes, deletes and moves out arrive through the deltaLink alone."""
    ids = [graph.add_message(USER, plain(f"m{i}", f"<m{i}@x>", day=i + 1)) for i in range(6)]
    store = FolderStore()
    inbox = folder(provider, "inbox")
    store.sync(provider, inbox, SyncOptions())
    graph.set_flags(USER, ids[0], is_read=True)
    graph.set_flags(USER, ids[1], flagged=True)
    graph.delete(USER, ids[2])
    graph.move(USER, ids[3], "archive")
    graph.add_message(USER, plain("new", "<new@x>", day=20))
    reads = graph.value_reads
    store.sync(provider, inbox, SyncOptions())
    assert local_state(store) == server_state(graph)
    assert set(store.keys()) == {"<m0@x>", "<m1@x>", "<m4@x>", "<m5@x>", "<new@x>"}
    assert graph.value_reads == reads + 1  # only the new message's body
    before = len(graph.requests)
    store.sync(provider, inbox, SyncOptions())  # nothing changed: one delta request
    assert len(graph.requests) - before == 1


def test_interrupted_initial_round_resumes(graph, provider):
    """Killed after two pages: the next run continues from the stored nextLink, no duplicates."""
    fill(graph, 60)
    store = FolderStore()
    inbox = folder(provider, "inbox")
    batches = provider.sync_folder(inbox, store.cursor, store.view(), SyncOptions())
    for _ in range(2):
        store.apply(next(batches))
    batches.close()
    assert len(store.messages) == 50 and store.cursor["round"] == "initial"
    store.sync(provider, inbox, SyncOptions())
    assert local_state(store) == server_state(graph) and graph.value_reads == 60


def test_interrupted_initial_round_with_expired_link(graph, provider):
    """The stored nextLink expired: the round restarts, owed bootstrap fetched, no duplicates."""
    fill(graph, 60)
    store = FolderStore()
    inbox = folder(provider, "inbox")
    batches = provider.sync_folder(inbox, store.cursor, store.view(), SyncOptions(bootstrap=40))
    store.apply(next(batches))
    batches.close()
    graph.expire_delta("inbox")
    store.sync(provider, inbox, SyncOptions(bootstrap=40))
    assert len(store.messages) == 40 and graph.value_reads == 40
    assert store.cursor["round"] == "idle" and store.cursor["complete"] is False
    store.backfill(provider, inbox, SyncOptions(bootstrap=40, backfill_cap=0))
    assert local_state(store) == server_state(graph) and graph.value_reads == 60


def test_lost_cursor_with_stored_mail_rebinds(graph, provider):
    """An empty cursor while mail is stored: re-listed like a resync, nothing downloaded twice."""
    fill(graph, 10)
    store = FolderStore()
    inbox = folder(provider, "inbox")
    store.sync(provider, inbox, SyncOptions())
    store.cursor = {}
    store.sync(provider, inbox, SyncOptions())
    assert local_state(store) == server_state(graph) and graph.value_reads == 10
    assert store.cursor["round"] == "idle"


def test_moved_message_keeps_immutable_id(graph, provider):
    """A message moved into a synced folder arrives there under the same id."""
    mid = graph.add_message(USER, plain("a", "<a@x>"))
    inbox, archive = folder(provider, "inbox"), folder(provider, "archive")
    stores = {"inbox": FolderStore(), "archive": FolderStore()}
    stores["inbox"].sync(provider, inbox, SyncOptions())
    stores["archive"].sync(provider, archive, SyncOptions())
    graph.move(USER, mid, "archive")
    stores["inbox"].sync(provider, inbox, SyncOptions())
    stores["archive"].sync(provider, archive, SyncOptions())
    assert list(stores["inbox"].messages) == [] and list(stores["archive"].messages) == [mid]


def test_expired_delta_resyncs_without_duplicates(graph, provider):
    """410 syncStateNotFound: the folder is re-listed, nothing downloaded twice, gone mail dropped."""
    ids = fill(graph, 40)
    store = FolderStore()
    inbox = folder(provider, "inbox")
    store.sync(provider, inbox, SyncOptions())
    graph.set_flags(USER, ids[0], is_read=False, flagged=True)
    graph.delete(USER, ids[1])
    graph.add_message(USER, plain("late", "<late@x>", day=28))
    graph.expire_delta("inbox")
    reads = graph.value_reads
    store.sync(provider, inbox, SyncOptions())
    assert local_state(store) == server_state(graph)
    assert len(store.messages) == 40
    assert graph.value_reads == reads + 1
    assert store.cursor["round"] == "idle"
    graph.add_message(USER, plain("after", "<after@x>", day=29))
    store.sync(provider, inbox, SyncOptions())  # the fresh deltaLink works
    assert local_state(store) == server_state(graph)


def test_send_small_lands_in_sent_at_once(graph, provider):
    """sendMail with base64 MIME; the Sent Items copy is found by internetMessageId."""
    parent = graph.add_message(USER, plain("question", "<q@x>"))
    raw = plain("Re: question", "<reply-1@contoso.test>", refs="<q@x>").replace(
        b"From: Bob <bob@example.com>\r\nTo: " + USER.encode(), f"From: {USER}\r\nTo: bob@example.com".encode())
    result = provider.send(raw, USER, ["bob@example.com"], folder(provider, "sent"))
    sent = graph.messages_in(USER, "sentitems")
    assert len(sent) == 1 and sent[0]["mime"] == raw
    assert result.message_id == "<reply-1@contoso.test>"
    assert result.sent_remote_id == sent[0]["id"]
    assert result.sent_folder_path == graph.folder_id(USER, "sentitems")
    assert result.provider_thread_id == graph.mailbox(USER).messages[parent]["conversationId"]
    assert graph.count("/sendMail") == 1 and graph.count("createUploadSession") == 0


def test_send_big_uses_draft_and_upload_session(graph, provider):
    """Over 3 MB: draft from the slim MIME, attachment through an upload session, then /send."""
    raw = mailgen.huge_message(size_mb=4)
    original = email.message_from_bytes(raw)
    payload = next(p for p in original.walk() if p.get_filename()).get_payload(decode=True)
    result = provider.send(raw, USER, ["bob@example.com"], folder(provider, "sent"))
    assert graph.count("/sendMail") == 0 and graph.count("createUploadSession") == 1
    assert graph.count("/upload/") == 2  # 4 MB in chunks of 3.125 MiB
    assert graph.count("/send") == 1
    sent = graph.messages_in(USER, "sentitems")
    assert [m["id"] for m in sent] == [result.sent_remote_id]
    parsed = email.message_from_bytes(sent[0]["mime"])
    attachment = next(p for p in parsed.walk() if p.get_filename())
    assert attachment.get_filename() == "archive.pdf" and attachment.get_payload(decode=True) == payload
    assert result.message_id == "<huge-4mb-0@example.org>"
    assert message_key_from_headers(sent[0]["mime"]) == result.message_id
    assert graph.messages_in(USER, "drafts") == []


def test_split_large_parts_keeps_small_mail():
    raw = plain("a", "<a@x>")
    assert split_large_parts(raw, 1024) == (raw, [])


def test_two_way_changes_reach_the_server(graph, provider):
    """Read/flag via PATCH, move via /move, delete to Deleted Items, then for good."""
    ids = [graph.add_message(USER, plain(f"t{i}", f"<t{i}@x>")) for i in range(4)]
    inbox, archive, trash = folder(provider, "inbox"), folder(provider, "archive"), folder(provider, "trash")
    provider.set_flags(inbox, ids[:2], is_read=True, is_starred=True)
    box = graph.mailbox(USER)
    assert [(box.messages[i]["isRead"], box.messages[i]["flagStatus"]) for i in ids[:2]] == [(True, "flagged")] * 2
    provider.set_flags(inbox, ids[:1], is_starred=False)
    assert box.messages[ids[0]]["flagStatus"] == "notFlagged" and box.messages[ids[0]]["isRead"] is True
    assert provider.move(inbox, [ids[2]], archive) == {ids[2]: ids[2]}
    assert box.messages[ids[2]]["folder"] == archive.path
    provider.delete(inbox, [ids[3]])
    assert box.messages[ids[3]]["folder"] == trash.path
    provider.delete(trash, [ids[3]])
    assert ids[3] not in box.messages


def test_move_returns_new_id_when_ids_change(registry, tokens):
    """Where ids change on move (archive mailbox), the id from the answer is returned."""
    with GraphEmulator(registry, ids_change_on_move=True) as graph, make_provider(graph, tokens) as prov:
        mid = graph.add_message(USER, plain("a", "<a@x>"))
        mapping = prov.move(folder(prov, "inbox"), [mid], folder(prov, "archive"))
        new_id = mapping[mid]
        assert new_id and new_id != mid and graph.mailbox(USER).messages[new_id]["folder"] == graph.folder_id(
            USER, "archive")


def test_throttling_is_retried_after_retry_after(graph, provider):
    """429 on whole requests and on $batch parts: waits Retry-After, retries, exact state."""
    fill(graph, 30)
    inbox = folder(provider, "inbox")
    graph.throttle_next(1, retry_after=1)
    graph.throttle_batch_parts(5, retry_after=0)
    store = FolderStore()
    started = time.monotonic()
    store.sync(provider, inbox, SyncOptions())
    assert time.monotonic() - started >= 1.0
    assert local_state(store) == server_state(graph) and len(store.messages) == 30
    assert graph.value_reads == 30


def test_throttling_gives_up_with_throttled_error(graph, tokens):
    with make_provider(graph, tokens, max_retries=2) as prov:
        graph.throttle_next(5, retry_after=0)
        with pytest.raises(ThrottledError) as info:
            prov.list_folders()
        assert info.value.retry_after == 0


def sync_in_threads(provider, paths):
    """Sync each folder of ``paths`` in its own thread through one provider; {path: FolderStore}."""
    folders = [f for f in provider.list_folders() if f.path in paths]
    stores = {f.path: FolderStore() for f in folders}
    threads = [threading.Thread(target=stores[f.path].sync, args=(provider, f, SyncOptions())) for f in folders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stores


def test_never_more_than_four_requests_in_flight(graph, tokens):
    """Six folders synced by six threads through one provider: at most 4 requests at a time."""
    paths = [graph.add_folder(USER, f"F{i}") for i in range(6)]
    for path in paths:
        for i in range(8):
            graph.add_message(USER, plain(f"{path}-{i}", f"<{path}-{i}@x>"), folder=path)
    graph.delay = 0.03
    with make_provider(graph, tokens, page_size=3, batch_size=2) as prov:
        stores = sync_in_threads(prov, paths)
    assert 2 <= graph.max_concurrent <= 4 and graph.throttled == []
    for path, store in stores.items():
        assert local_state(store) == server_state(graph, path) and len(store.messages) == 8


def test_mailbox_concurrency_429_is_survived(graph, tokens):
    """With a careless concurrency setting the emulator throttles; retries still end exact."""
    paths = [graph.add_folder(USER, f"G{i}") for i in range(6)]
    for path in paths:
        graph.add_message(USER, plain(path, f"<{path}@x>"), folder=path)
    graph.delay = 0.05
    with make_provider(graph, tokens, max_concurrency=8) as prov:
        stores = sync_in_threads(prov, paths)
    assert graph.throttled  # ApplicationThrottled happened and was retried
    assert all(len(store.messages) == 1 for store in stores.values())


def test_expired_token_is_refreshed_once(graph, registry, tokens, provider):
    registry.expire_all()
    assert folder(provider, "inbox").role == "inbox"
    assert tokens.refreshes == 1


def test_revoked_grant_raises_auth_error(graph, registry, provider):
    registry.revoke(USER)
    with pytest.raises(AuthError):
        provider.list_folders()


def test_unreachable_server_is_network_error(tokens):
    with GraphProvider(GraphConfig(email=USER, token_source=tokens, api_root="http://127.0.0.1:9/v1.0",
                                   timeout=2)) as prov:
        with pytest.raises(NetworkError):
            prov.test_connection()


def test_batch_bodies_decode_both_ways():
    from maildesk_mail_client.engine.graph import _body_bytes
    raw = plain("a", "<a@x>")
    assert _body_bytes(base64.b64encode(raw).decode()) == raw
    assert _body_bytes(raw.decode()) == raw


def test_huge_message_is_kept_as_headers_only(graph, provider):
    """Graph lists no sizes: a message over max_body_bytes is cut to its headers after the read."""
    big = plain("Huge", "<huge@x>") + b"x" * 5000
    graph.add_message(USER, big)
    graph.add_message(USER, plain("Small", "<small@x>"))
    store = FolderStore()
    store.sync(provider, folder(provider, "inbox"), SyncOptions(max_body_bytes=2000))
    partial = sorted((m["partial"], len(m["raw"]) < 2000) for m in store.messages.values())
    assert partial == [(False, True), (True, True)]  # both stored small; only the huge one partial
