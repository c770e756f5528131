"""Engine tier: parsing in worker processes gives exactly the in-process result, or falls back."""
import dataclasses
import os

import pytest

from harness import mailgen
from maildesk_mail_client.engine import mime, parsepool
from maildesk_mail_client.engine.imap import ImapConfig, ImapProvider
from maildesk_mail_client.engine.provider import LocalView, SyncOptions


@pytest.fixture(autouse=True)
def fresh_pool():
    parsepool.shutdown()
    yield
    parsepool.shutdown()


def corpus():
    raws = list(mailgen.generate(80, seed=7)) + [raw for _name, raw in mailgen.hostile_corpus()]
    return [(raw, False) for raw in raws] + [(raws[0], True), (b"", False), (None, False)]


def seeded_inbox(account, n, seed):
    """The IMAP settings of ``account`` once its INBOX holds ``n`` generated messages."""
    account.server.seed_maildir(account.login, "INBOX", list(mailgen.generate(n, seed=seed)))
    return ImapConfig(host=account.host, port=account.port, security="none", login=account.login,
                      password=account.password)


def as_values(parsed_list):
    return [dataclasses.asdict(parsed) for parsed in parsed_list]


def test_worker_processes_give_the_in_process_result():
    """Every field of every message, hostile ones and headers-only included, is the same."""
    items = corpus()
    expected = as_values(mime.parse_message(raw or b"", headers_only=partial) for raw, partial in items)
    assert as_values(parsepool.parse_many(items, workers=2)) == expected
    assert parsepool._pool is not None and parsepool._pool[0] == os.getpid()


def test_small_batches_and_zero_workers_stay_in_process():
    """A batch that fits one chunk, or workers=0, never starts a pool."""
    items = corpus()
    parsepool.parse_many(items[:parsepool.CHUNK], workers=2)
    parsepool.parse_many(items, workers=0)
    assert parsepool._pool is None


def test_a_dead_worker_falls_back_to_parsing_in_process():
    """A killed worker breaks the pool: the batch is still parsed, and the next call has a new pool."""
    items = corpus()
    expected = as_values(parsepool.parse_many(items, workers=1))
    executor = parsepool._pool[2]
    for process in list(executor._processes.values()):
        process.kill()
        process.join()
    assert as_values(parsepool.parse_many(items, workers=1)) == expected
    assert as_values(parsepool.parse_many(items, workers=1)) == expected
    assert parsepool._pool[2] is not executor


def test_a_started_parse_gives_the_same_result_or_falls_back_when_the_pool_dies():
    """``parse_many_async`` works while the caller does other things; a worker killed meanwhile changes nothing."""
    items = corpus()
    expected = as_values(mime.parse_message(raw or b"", headers_only=partial) for raw, partial in items)
    assert as_values(parsepool.parse_many_async(items, workers=1)()) == expected
    started = parsepool.parse_many_async(items, workers=1)
    executor = parsepool._pool[2]
    for process in list(executor._processes.values()):
        process.kill()
        process.join()
    assert as_values(started()) == expected
    assert as_values(parsepool.parse_many_async(items, workers=1)()) == expected


def test_large_sync_is_parsed_ahead_by_the_workers(imap_account):
    """A first sync of several batches hands every message over parsed, as the in-process parse does."""
    config = seeded_inbox(imap_account, 120, seed=11)
    options = SyncOptions(bootstrap=500, batch_size=40, parse_workers=2)
    seen = []
    with ImapProvider(config) as provider:
        inbox = next(f for f in provider.list_folders() if f.role == "inbox")
        for batch in provider.sync_folder(inbox, {}, LocalView(), options):
            for message in batch.messages:
                assert message.parsed is not None
                assert dataclasses.asdict(message.parsed) == dataclasses.asdict(mime.parse_message(message.raw))
                seen.append(message.remote_id)
    assert len(seen) == len(set(seen)) == 120
    assert parsepool._pool is not None


def test_a_forked_process_makes_its_own_pool():
    """A process forked after the pool was made (an Odoo prefork worker) never uses its parent's."""
    items = corpus()
    expected = as_values(parsepool.parse_many(items, workers=1))
    parent_pool = parsepool._pool
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only when it parsed the same with a pool of its own
        ok = as_values(parsepool.parse_many(items, workers=1)) == expected and parsepool._pool is not parent_pool \
            and parsepool._pool[0] == os.getpid()
        parsepool.shutdown()
        os._exit(0 if ok else 1)
    _pid, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert parsepool._pool is parent_pool


def test_each_parsed_batch_is_announced_before_the_caller_gets_it(imap_account):
    """``on_parsed`` sees every prefetched batch, parsed, before the sync hands it over."""
    config = seeded_inbox(imap_account, 120, seed=12)
    announced = []

    def on_parsed(messages):
        assert all(m.parsed is not None for m in messages)
        announced.extend(m.remote_id for m in messages)

    options = SyncOptions(bootstrap=500, batch_size=40, parse_workers=1, on_parsed=on_parsed)
    handed = []
    with ImapProvider(config) as provider:
        inbox = next(f for f in provider.list_folders() if f.role == "inbox")
        for batch in provider.sync_folder(inbox, {}, LocalView(), options):
            ids = [m.remote_id for m in batch.messages]
            assert set(ids) <= set(announced)  # announced first (the prefetch thread is ahead)
            handed.extend(ids)
    assert sorted(announced) == sorted(handed) and len(handed) == 120


def test_a_failing_on_parsed_hook_never_stops_the_sync(imap_account):
    """The hook is the caller's optional head start: when it raises, every message still arrives."""
    config = seeded_inbox(imap_account, 90, seed=13)

    def on_parsed(messages):
        raise RuntimeError("hook bug")

    options = SyncOptions(bootstrap=500, batch_size=30, parse_workers=0, on_parsed=on_parsed)
    with ImapProvider(config) as provider:
        inbox = next(f for f in provider.list_folders() if f.role == "inbox")
        handed = [m.remote_id for batch in provider.sync_folder(inbox, {}, LocalView(), options)
                  for m in batch.messages]
    assert len(set(handed)) == 90
