"""MIME parsing of large syncs in worker processes.

What it is
----------
``parse_many(items, workers)`` returns ``[mime.parse_message(raw, headers_only) for raw,
headers_only in items]``, computed by a pool of worker processes when ``workers`` > 0, so
that the parse and the HTML sanitizing of a first sync (about 1 ms of pure Python per
message, the largest cost of the ingest after the database) use another core instead of
competing for the GIL of the process that stores the mail. The IMAP provider calls it from
its prefetch thread for syncs of more than one batch, through ``parse_many_async``: the
workers parse batch N while that thread fetches batch N+1 from the server. A small
incremental sync parses in process (no pool, no hand-over latency).

How it works
------------
One ``concurrent.futures.ProcessPoolExecutor`` per process, created on first use with the
``fork`` start method: the children inherit the loaded engine (the addon cannot be imported
by name in a fresh interpreter, whose ``odoo.addons`` path is not set up) and only ever run
``mime.parse_message`` on the bytes they are sent; they never touch the parent's database
connections and leave with ``os._exit``. ``gc.freeze()`` at their start keeps their garbage
collector off the inherited heap, so it stays shared with the parent (copy-on-write).
A process that was forked after the pool was made (an Odoo prefork worker) makes its own.
The workers drop what they inherit of the parent's process settings that would hurt a
long-lived helper: Odoo's signal handlers and a prefork worker's per-request CPU limit.

Messages travel in chunks (``CHUNK`` per task) to keep the hand-over cost small. The result
is the same list the in-process parse gives; ``parse_message`` never raises, and when the
pool itself fails (a worker killed, the OS refusing to fork) the batch is parsed in process
and the pool is made again on the next call: a sync never fails because of the pool.

Settings
--------
``SyncOptions.parse_workers`` (default ``default_workers()``: one per core beyond the
first, at most ``MAX_WORKERS``; 0 on a single core, where a pool would only add the copy).
"""
import gc
import logging
import multiprocessing
import os
import resource
import signal
import threading
from concurrent.futures import ProcessPoolExecutor

from .mime import parse_message

_logger = logging.getLogger(__name__)

CHUNK = 25  # messages per task: ~0.5 MB of raw mail, a few ms of work
MAX_WORKERS = 4

_lock = threading.Lock()
_pool = None  # (pid, workers, executor)


def default_workers():
    """Worker processes for a large sync: one per core beyond the first, up to ``MAX_WORKERS``."""
    return max(0, min(MAX_WORKERS, (os.cpu_count() or 1) - 1))


def _init_worker():
    # Everything inherited from the parent stays out of this process's collections, so the
    # pages holding it are not copied (gc would touch every object's header).
    gc.freeze()
    # The parent's signal handlers (Odoo's) and CPU limit (Odoo prefork workers set
    # RLIMIT_CPU per request) are not this long-lived helper's: default handlers, no limit.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


def _parse_chunk(items):
    return [parse_message(raw, headers_only=headers_only) for raw, headers_only in items]


def _executor(workers):
    global _pool
    with _lock:
        if _pool is not None and (_pool[0] != os.getpid() or _pool[1] != workers):
            if _pool[0] == os.getpid():
                _pool[2].shutdown(wait=False, cancel_futures=True)
            _pool = None  # inherited from the process we were forked from: not ours
        if _pool is None:
            context = multiprocessing.get_context("fork")
            _pool = (os.getpid(), workers, ProcessPoolExecutor(workers, mp_context=context,
                                                               initializer=_init_worker))
        return _pool[2]


def _discard(executor):
    global _pool
    with _lock:
        if _pool is not None and _pool[2] is executor:
            _pool = None
    executor.shutdown(wait=False, cancel_futures=True)


def parse_many(items, workers):
    """``[parse_message(raw, headers_only=h) for raw, h in items]``, in worker processes if ``workers``."""
    return parse_many_async(items, workers)()


def parse_many_async(items, workers):
    """Start ``parse_many(items, workers)``; returns a function that waits for its result.

    The workers start on the batch at once, so the caller can fetch the next one meanwhile.
    Without a pool (``workers`` 0, a batch of one chunk, no fork possible) the parse runs
    in process when the function is called.
    """
    items = [(raw or b"", bool(headers_only)) for raw, headers_only in items]
    if workers <= 0 or len(items) <= CHUNK:
        return lambda: _parse_chunk(items)
    try:
        executor = _executor(workers)
    except (OSError, ValueError) as exc:
        _logger.warning("MailDesk: no parse worker processes (%s); parsing in process", exc)
        return lambda: _parse_chunk(items)
    try:
        futures = [executor.submit(_parse_chunk, items[i:i + CHUNK]) for i in range(0, len(items), CHUNK)]
    except Exception as exc:  # noqa: BLE001 - a pool broken before this call: parse here, new pool next time
        _logger.warning("MailDesk: parse worker processes failed (%s); parsing in process", exc)
        _discard(executor)
        return lambda: _parse_chunk(items)

    def result():
        try:
            results = []
            for future in futures:
                results.extend(future.result())
            return results
        except Exception as exc:  # noqa: BLE001 - BrokenProcessPool, pickling, fork failure: parse here
            _logger.warning("MailDesk: parse worker processes failed (%s); parsing in process", exc)
            _discard(executor)
            return _parse_chunk(items)
    return result


def shutdown():
    """Stop this process's workers (tests; the pool otherwise lives as long as the process)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None and pool[0] == os.getpid():
        pool[2].shutdown(wait=True, cancel_futures=True)
