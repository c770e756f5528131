"""Real-time wake-ups for IMAP mailboxes: IDLE listeners (RFC 2177) and a coalescer.

What it is
----------
``IdleListener`` keeps one IMAP connection per *watched folder* (INBOX by default, more
when the mailbox asks for them). Each connection sits in IDLE; when the server reports
``EXISTS``, ``EXPUNGE``, ``FETCH`` (flags) or ``VANISHED`` the listener calls
``on_change(watch)``. It never syncs anything itself: the caller marks the mailbox for
sync and the normal, crash-safe sync path does the work (a push is only a wake-up).

How it works
------------
- ``reconcile(watches)`` is given the complete *desired* set, keyed by ``Watch.key``.
  Workers whose key left the set, or whose ``fingerprint`` (server, login, password)
  changed, are stopped and their connection closed; new keys get a worker. Calling it
  in a loop (the ``maildesk-listener`` command does, every few seconds) is what makes
  mailboxes that are added, removed, archived or given a new password converge without
  leaking a connection or a thread.
- A worker re-issues IDLE every ``reidle_seconds`` (25 min, under the 29 min of RFC
  2177). A server without IDLE gets ``NOOP`` every ``poll_seconds`` instead.
- A lost connection (server restart, network) is retried with exponential back-off and
  jitter, capped at ``backoff_max``; a refused login waits the cap. After every
  *re*-connect the worker reports a change once: mail may have arrived while it was
  away.
- At most ``max_per_server`` connections are open to one ``host:port``; workers over
  the cap wait for a slot and report ``waiting`` (the cron's polling covers them).
- ``stop()`` / reconcile shut the socket down, so a worker blocked in IDLE leaves at
  once instead of at its next check.

``Coalescer`` turns a burst of wake-ups into one call: keys added within ``delay``
seconds of each other (at most ``max_delay`` after the first) are flushed together, each
key once. 100 notifications for one mailbox -> one ``flush({key})``.

Nothing here imports Odoo; the Odoo side lives in ``models/maildesk_realtime.py`` and
``cli/maildesk_listener.py``.
"""
import dataclasses
import logging
import random
import threading
import time

from .errors import AuthError, ProviderError
from .imap import ImapConfig, ImapProvider

_logger = logging.getLogger(__name__)

REIDLE_SECONDS = 25 * 60  # RFC 2177: servers may log an idle client out after 30 min
POLL_SECONDS = 30  # NOOP interval for servers without IDLE
CHECK_SECONDS = 60  # longest single wait inside IDLE (the stop path wakes it earlier)
BACKOFF_BASE = 1.0
BACKOFF_MAX = 300.0
MAX_PER_SERVER = 50  # IDLE connections to one host:port (Gmail allows 15 per account, EXO 20)
CHANGE_WORDS = {b"EXISTS", b"EXPUNGE", b"FETCH", b"RECENT"}

# Worker states, as reported by ``IdleListener.states()``.
IDLE, POLLING, CONNECTING, WAITING, ERROR = "idle", "polling", "connecting", "waiting", "error"


@dataclasses.dataclass(frozen=True)
class Watch:
    """One folder to watch. ``key`` identifies it, ``fingerprint`` its connection settings."""

    key: tuple
    config: ImapConfig = dataclasses.field(compare=False, hash=False)
    folder: str = "INBOX"
    fingerprint: str = ""

    @property
    def server(self):
        return (self.config.host, self.config.port)


def is_change(response):
    """True for an untagged response that means the folder changed."""
    if not isinstance(response, tuple) or len(response) < 2:
        return False
    if response[0] == b"VANISHED":
        return True
    return isinstance(response[0], int) and response[1] in CHANGE_WORDS


class _Worker(threading.Thread):
    def __init__(self, listener, watch):
        super().__init__(name=f"maildesk-idle-{watch.key}", daemon=True)
        self.listener, self.watch = listener, watch
        self.stopping = threading.Event()
        self.state = CONNECTING
        self.error = ""
        self._provider = None
        self._lock = threading.Lock()
        self.sessions = 0  # connections that reached the selected folder

    # -- control ------------------------------------------------------------------
    def stop(self):
        self.stopping.set()
        with self._lock:
            provider = self._provider
        if provider is not None and provider.client is not None:
            try:
                # Wakes a thread blocked in IDLE's poll(): its next read sees EOF.
                provider.client.socket().shutdown(2)
            except OSError:
                pass

    def run(self):
        failures = 0
        while not self.stopping.is_set():
            slot = self.listener._slot(self.watch.server)
            self.state = WAITING
            while not slot.acquire(timeout=1):
                if self.stopping.is_set():
                    return
            sessions = self.sessions
            try:
                self.state = CONNECTING
                self._session()
            except AuthError as exc:
                self._failed(exc)
                failures = max(failures, 16)  # a refused login waits the cap; a new password restarts us
            except Exception as exc:  # noqa: BLE001 - any failure: back off and reconnect
                if not self.stopping.is_set():
                    self._failed(exc)
            finally:
                self._close()
                slot.release()
            if self.stopping.is_set():
                break
            if self.sessions > sessions:
                failures = 0  # it was working: reconnect quickly
            failures += 1
            delay = min(self.listener.backoff_max, self.listener.backoff_base * 2 ** min(failures - 1, 16))
            self.stopping.wait(delay * (0.5 + random.random() / 2))

    def _failed(self, exc):
        self.state = ERROR
        self.error = str(exc)
        _logger.info("MailDesk IDLE %s: %s", self.watch.key, exc)

    def _close(self):
        with self._lock:
            provider, self._provider = self._provider, None
        if provider is not None:
            try:
                provider.close()
            except Exception:  # noqa: BLE001 - the socket may be gone already
                pass

    # -- one connection -------------------------------------------------------------
    def _session(self):
        """Connect, select, wait for changes until stopped or the connection drops."""
        listener = self.listener
        provider = ImapProvider(self.watch.config)
        with self._lock:
            if self.stopping.is_set():
                return False
            self._provider = provider
        provider.connect()
        client = provider.client
        with provider._guard(f"open folder {self.watch.folder}"):
            client.select_folder(self.watch.folder, readonly=True)
        self.error = ""
        self.sessions += 1
        if self.sessions > 1:
            listener._changed(self.watch)  # mail may have arrived while we were away
        if b"IDLE" in provider.capabilities:
            self._idle(provider)
        else:
            self._poll(provider)
        return True

    def _idle(self, provider):
        client = provider.client
        listener = self.listener
        while not self.stopping.is_set():
            with provider._guard("start IDLE"):
                client.idle()
            self.state = IDLE
            renew_at = time.monotonic() + listener.reidle_seconds
            changed = False
            while not self.stopping.is_set():
                left = renew_at - time.monotonic()
                if left <= 0:
                    break
                with provider._guard("wait in IDLE"):
                    responses = client.idle_check(timeout=min(left, listener.check_seconds))
                if self.stopping.is_set():
                    return
                if any(is_change(r) for r in responses):
                    changed = True
                    listener._changed(self.watch)
                if not responses and not _alive(client):
                    raise ConnectionError("the server closed the connection")
            with provider._guard("end IDLE"):
                _text, responses = client.idle_done()
            if not changed and any(is_change(r) for r in responses):
                listener._changed(self.watch)

    def _poll(self, provider):
        client = provider.client
        self.state = POLLING
        while not self.stopping.wait(self.listener.poll_seconds):
            with provider._guard("poll (NOOP)"):
                _text, responses = client.noop()
            if any(is_change(r) for r in responses):
                self.listener._changed(self.watch)


def _alive(client):
    """After an empty IDLE wait: False when the socket reached EOF (server went away)."""
    sock = client.socket()
    try:
        sock.setblocking(False)
        try:
            data = sock.recv(1, 2)  # MSG_PEEK
        except BlockingIOError:
            return True
        except OSError:
            return False
        return bool(data)
    finally:
        sock.setblocking(True)
        client._set_read_timeout()


class IdleListener:
    """Keeps IDLE connections for a desired set of ``Watch`` es (see the module docstring)."""

    def __init__(self, on_change, max_per_server=MAX_PER_SERVER, reidle_seconds=REIDLE_SECONDS,
                 poll_seconds=POLL_SECONDS, check_seconds=CHECK_SECONDS, backoff_base=BACKOFF_BASE,
                 backoff_max=BACKOFF_MAX):
        self.on_change = on_change
        self.max_per_server = max_per_server
        self.reidle_seconds, self.poll_seconds, self.check_seconds = reidle_seconds, poll_seconds, check_seconds
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self._workers = {}
        self._slots = {}
        self._lock = threading.Lock()

    def _slot(self, server):
        with self._lock:
            if server not in self._slots:
                self._slots[server] = threading.BoundedSemaphore(self.max_per_server)
            return self._slots[server]

    def _changed(self, watch):
        try:
            self.on_change(watch)
        except Exception:  # noqa: BLE001 - a failing callback must not kill the connection
            _logger.exception("MailDesk IDLE: change callback failed for %s", watch.key)

    def reconcile(self, watches):
        """Make the running workers match ``watches`` (iterable of ``Watch``)."""
        desired = {w.key: w for w in watches}
        stopped = []
        with self._lock:
            for key, worker in list(self._workers.items()):
                want = desired.get(key)
                if want is None or want.fingerprint != worker.watch.fingerprint or not worker.is_alive():
                    worker.stop()
                    stopped.append(worker)
                    del self._workers[key]
            for key, watch in desired.items():
                if key not in self._workers:
                    worker = _Worker(self, watch)
                    self._workers[key] = worker
                    worker.start()
        for worker in stopped:
            worker.join(timeout=10)
        return {"started": len(desired) - (len(self._workers) - len(desired)), "stopped": len(stopped)}

    def states(self):
        """``{key: (state, error)}`` of every running worker."""
        with self._lock:
            return {key: (w.state, w.error) for key, w in self._workers.items()}

    def threads(self):
        with self._lock:
            return [w for w in self._workers.values() if w.is_alive()]

    def stop(self):
        self.reconcile([])


class Coalescer:
    """Collects keys and flushes each distinct key once per burst, from one thread."""

    def __init__(self, flush, delay=0.2, max_delay=1.0, retry_delay=5.0):
        self.flush, self.delay, self.max_delay, self.retry_delay = flush, delay, max_delay, retry_delay
        self._pending = set()
        self._first = None
        self._cond = threading.Condition()
        self._stopping = False
        self.flushes = 0
        self._thread = threading.Thread(target=self._run, name="maildesk-coalescer", daemon=True)
        self._thread.start()

    def add(self, key):
        with self._cond:
            if not self._pending:
                self._first = time.monotonic()
            self._pending.add(key)
            self._last = time.monotonic()
            self._cond.notify()

    def _run(self):
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping and not self._pending:
                    return
                # Wait for a quiet moment, but never longer than max_delay after the first key.
                while not self._stopping:
                    now = time.monotonic()
                    quiet_at = self._last + self.delay
                    latest = self._first + self.max_delay
                    if now >= min(quiet_at, latest):
                        break
                    self._cond.wait(min(quiet_at, latest) - now)
                keys, self._pending = self._pending, set()
            try:
                self.flush(keys)
                self.flushes += 1
            except Exception:  # noqa: BLE001 - keep the keys and retry: a wake-up must not be lost
                _logger.exception("MailDesk: flushing %s wake-ups failed; retrying", len(keys))
                time.sleep(self.retry_delay)
                with self._cond:
                    if not self._pending:
                        self._first = time.monotonic()
                    self._pending |= keys
                    self._last = time.monotonic()

    def close(self, timeout=5):
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)


__all__ = ["Coalescer", "IdleListener", "Watch", "ProviderError", "is_change"]
