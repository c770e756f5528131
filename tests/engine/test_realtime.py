"""Engine tier: the IMAP IDLE listener against a real Dovecot, push checks, coalescing."""
import base64
import json
import signal
import threading
import time

import pytest

from emulators.push import OidcIssuer
from emulators.server import EmulatorServer
from harness.dovecot import DovecotServer
from maildesk_mail_client.engine import push, realtime
from maildesk_mail_client.engine.imap import ImapConfig, ImapProvider
from maildesk_mail_client.engine.realtime import Coalescer, IdleListener, Watch

WAIT = 10  # seconds a wake-up may take at most in these tests (Dovecot sends within ~0.5 s)


def plain(subject, n=0):
    return (f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}.{n}.{time.monotonic_ns()}@t>\r\n"
            "Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n").encode()


def watch_for(host, port, login, password, folder="INBOX", key=None):
    config = ImapConfig(host=host, port=port, security="none", login=login, password=password, timeout=10)
    return Watch(key=key or (login, folder), config=config, folder=folder, fingerprint=f"{login}:{password}")


class Recorder:
    """The listener's callback: records wake-ups, lets a test wait for one."""

    def __init__(self):
        self.keys = []
        self.cond = threading.Condition()

    def __call__(self, watch):
        with self.cond:
            self.keys.append(watch.key)
            self.cond.notify_all()

    def wait(self, predicate, timeout=WAIT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def clear(self):
        with self.cond:
            self.keys.clear()


def wait_state(listener, key, state, timeout=WAIT):
    """Poll until the watch is in ``state`` (or one of a tuple of states)."""
    wanted = state if isinstance(state, tuple) else (state,)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listener.states().get(key, (None,))[0] in wanted:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def listener():
    recorder = Recorder()
    idle = IdleListener(recorder, backoff_base=0.1, backoff_max=1.0, check_seconds=5)
    idle.recorder = recorder
    yield idle
    idle.stop()
    assert not idle.threads(), "the listener left threads behind"


def test_idle_wakes_on_new_message(listener, imap_account):
    """An APPEND from another client wakes the watcher of that folder within seconds."""
    acct = imap_account
    watch = watch_for(acct.host, acct.port, acct.login, acct.password)
    listener.reconcile([watch])
    assert wait_state(listener, watch.key, realtime.IDLE)
    started = time.monotonic()
    acct.server.append(acct.login, acct.password, "INBOX", [plain("new")])
    assert listener.recorder.wait(lambda keys: watch.key in keys)
    assert time.monotonic() - started < 3


def test_idle_wakes_on_expunge_and_flag_change(listener, imap_account):
    """Flag changes (FETCH) and expunges both wake the watcher."""
    acct = imap_account
    acct.server.append(acct.login, acct.password, "INBOX", [plain("a"), plain("b")])
    watch = watch_for(acct.host, acct.port, acct.login, acct.password)
    listener.reconcile([watch])
    assert wait_state(listener, watch.key, realtime.IDLE)
    other = acct.server.connect(acct.login, folder="INBOX")
    try:
        uids = other.search("ALL")
        other.add_flags(uids[:1], [b"\\Flagged"])
        assert listener.recorder.wait(lambda keys: len(keys) >= 1), "flag change not reported"
        listener.recorder.clear()
        other.add_flags(uids[1:], [b"\\Deleted"])
        other.expunge()
        assert listener.recorder.wait(lambda keys: len(keys) >= 1), "expunge not reported"
    finally:
        other.logout()


def test_idle_survives_server_restart():
    """A restarted server: the watcher reconnects on its own, reports a change once, and idles again."""
    server = DovecotServer()
    server.start()
    recorder = Recorder()
    listener = IdleListener(recorder, backoff_base=0.1, backoff_max=0.5, check_seconds=2)
    try:
        login, password = server.new_user()
        watch = watch_for(server.host, server.port, login, password)
        listener.reconcile([watch])
        assert wait_state(listener, watch.key, realtime.IDLE)
        process = server._process
        process.send_signal(signal.SIGTERM)
        process.wait(10)
        # Noticed: it left IDLE. While the server is down it cycles error → waiting → connecting
        # within a fraction of a second; a loaded machine's poll may land on any of them.
        assert wait_state(listener, watch.key, (realtime.ERROR, realtime.WAITING, realtime.CONNECTING), timeout=30)
        server._spawn()  # same configuration, ports and mail
        assert wait_state(listener, watch.key, realtime.IDLE, timeout=20)
        assert recorder.wait(lambda keys: watch.key in keys), "no catch-up wake-up after the reconnect"
        recorder.clear()
        server.append(login, password, "INBOX", [plain("after-restart")])
        assert recorder.wait(lambda keys: watch.key in keys)
    finally:
        listener.stop()
        server.stop()
    assert not listener.threads()


def test_password_change_reconnects_without_leak(listener, imap_account):
    """A new password (new fingerprint) replaces the connection: the old thread ends, the new one idles."""
    acct = imap_account
    watch = watch_for(acct.host, acct.port, acct.login, acct.password)
    listener.reconcile([watch])
    assert wait_state(listener, watch.key, realtime.IDLE)
    old_thread = listener.threads()[0]
    # The server's password changes first: the old session stays, a login with the old one fails.
    new_password = acct.password + "-new"
    acct.server.add_user(acct.login, new_password)
    time.sleep(1.1)  # Dovecot re-reads a passwd-file at most once a second
    stale = watch_for(acct.host, acct.port, acct.login, acct.password, key=("stale", "INBOX"))
    listener.reconcile([watch, stale])
    assert wait_state(listener, stale.key, realtime.ERROR)
    assert "refused" in listener.states()[stale.key][1]
    updated = watch_for(acct.host, acct.port, acct.login, new_password)
    listener.reconcile([updated])
    assert not old_thread.is_alive(), "the worker of the old password is still running"
    assert set(listener.states()) == {updated.key}
    assert wait_state(listener, updated.key, realtime.IDLE)
    assert len(listener.threads()) == 1
    acct.server.append(acct.login, new_password, "INBOX", [plain("pw")])
    assert listener.recorder.wait(lambda keys: updated.key in keys)


def test_fifty_mailboxes_on_one_listener(listener, dovecot):
    """50 mailboxes, one listener: each wake-up names its own mailbox; removing them leaks nothing."""
    users = [dovecot.new_user("idle") for _ in range(50)]
    watches = [watch_for(dovecot.host, dovecot.port, login, password) for login, password in users]
    listener.reconcile(watches)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(s != realtime.IDLE for s, _e in listener.states().values()):
        time.sleep(0.1)
    assert all(s == realtime.IDLE for s, _e in listener.states().values())
    assert len(listener.threads()) == 50
    for login, password in users[::5]:
        dovecot.append(login, password, "INBOX", [plain("fifty")])
    expected = {(login, "INBOX") for login, _p in users[::5]}
    assert listener.recorder.wait(lambda keys: expected <= set(keys))
    assert set(listener.recorder.keys) == expected, "a wake-up named a mailbox that did not change"
    listener.reconcile(watches[:10])
    assert len(listener.threads()) == 10
    listener.reconcile([])
    assert not listener.threads()
    deadline = time.monotonic() + 10  # Dovecot's session processes exit shortly after LOGOUT
    while True:
        who = dovecot._doveadm("who", "-1", check=False).stdout
        left = [login for login, _p in users if login in who]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not left, f"IMAP sessions left open: {left}"


def test_connections_per_server_are_bounded(dovecot):
    """Over the per-server cap a watcher waits for a slot instead of opening a connection."""
    recorder = Recorder()
    listener = IdleListener(recorder, max_per_server=2, backoff_base=0.1, backoff_max=0.5)
    try:
        watches = [watch_for(dovecot.host, dovecot.port, *dovecot.new_user("cap")) for _ in range(3)]
        listener.reconcile(watches)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            states = sorted(s for s, _e in listener.states().values())
            if states == [realtime.IDLE, realtime.IDLE, realtime.WAITING]:
                break
            time.sleep(0.05)
        assert states == [realtime.IDLE, realtime.IDLE, realtime.WAITING]
        listener.reconcile(watches[2:])  # a slot frees up: the waiting one connects
        assert wait_state(listener, watches[2].key, realtime.IDLE)
    finally:
        listener.stop()


def test_noop_polling_without_idle(listener, imap_account, monkeypatch):
    """A server without IDLE is polled with NOOP, and a new message still wakes the watcher."""
    connect = ImapProvider.connect

    def no_idle(self):
        connect(self)
        self.capabilities = self.capabilities - {b"IDLE"}
        return self

    monkeypatch.setattr(ImapProvider, "connect", no_idle)
    listener.poll_seconds = 0.2
    acct = imap_account
    watch = watch_for(acct.host, acct.port, acct.login, acct.password)
    listener.reconcile([watch])
    assert wait_state(listener, watch.key, realtime.POLLING)
    acct.server.append(acct.login, acct.password, "INBOX", [plain("noop")])
    assert listener.recorder.wait(lambda keys: watch.key in keys)


def test_reidle_before_the_server_timeout(listener, imap_account):
    """IDLE is renewed every ``reidle_seconds`` and the connection keeps reporting changes."""
    listener.reidle_seconds = 0.5
    listener.check_seconds = 0.2
    acct = imap_account
    watch = watch_for(acct.host, acct.port, acct.login, acct.password)
    listener.reconcile([watch])
    assert wait_state(listener, watch.key, realtime.IDLE)
    thread = listener.threads()[0]
    time.sleep(1.6)  # at least two renewals
    assert thread.sessions == 1, "re-IDLE must not reconnect"
    acct.server.append(acct.login, acct.password, "INBOX", [plain("reidle")])
    assert listener.recorder.wait(lambda keys: watch.key in keys)


# -- coalescing ---------------------------------------------------------------------------------------
def test_burst_of_wakeups_flushes_once():
    """100 wake-ups for one mailbox within the delay -> one flush naming it once."""
    flushed = []
    done = threading.Event()

    def flush(keys):
        flushed.append(set(keys))
        done.set()

    coalescer = Coalescer(flush, delay=0.2, max_delay=1.0)
    try:
        for _ in range(100):
            coalescer.add(("db", 7))
        coalescer.add(("db", 8))
        assert done.wait(3)
        time.sleep(0.4)
        assert flushed == [{("db", 7), ("db", 8)}]
    finally:
        coalescer.close()


def test_coalescer_retries_a_failed_flush():
    """A flush that fails keeps its keys: the wake-up is not lost."""
    calls = []

    def flush(keys):
        calls.append(set(keys))
        if len(calls) == 1:
            raise RuntimeError("database down")

    coalescer = Coalescer(flush, delay=0.01, max_delay=0.05, retry_delay=0.05)
    try:
        coalescer.add("a")
        deadline = time.monotonic() + 3
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert calls == [{"a"}, {"a"}]
    finally:
        coalescer.close()


# -- Gmail push authentication ---------------------------------------------------------------------------
AUDIENCE = "https://odoo.example.com/maildesk/push/gmail"
ACCOUNT = "push@maildesk-test.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def certs():
    issuer = OidcIssuer()
    server = EmulatorServer()
    server.route("GET", "/certs", lambda request: (200, issuer.certs()))
    server.start()
    yield issuer, server.base_url + "/certs"
    server.stop()


def verify(token, certs_url, audience=AUDIENCE):
    return push.verify_pubsub_oidc(f"Bearer {token}", audience, ACCOUNT, certs_url=certs_url,
                                   request=push.CachingRequest())


def test_pubsub_token_good(certs):
    """A token signed by the published key, for our audience and service account, passes."""
    issuer, url = certs
    claims = verify(issuer.token(AUDIENCE, ACCOUNT), url)
    assert claims["email"] == ACCOUNT


@pytest.mark.parametrize("case", ["other_key", "other_audience", "other_account", "unverified", "not_google",
                                  "tampered", "missing"])
def test_pubsub_token_forged(certs, case):
    """Anything but a genuine token for this endpoint is refused."""
    issuer, url = certs
    token = issuer.token(AUDIENCE, ACCOUNT)
    if case == "other_key":
        token = OidcIssuer().token(AUDIENCE, ACCOUNT)
    elif case == "other_audience":
        token = issuer.token("https://attacker.example/push", ACCOUNT)
    elif case == "other_account":
        token = issuer.token(AUDIENCE, "someone@else.iam.gserviceaccount.com")
    elif case == "unverified":
        token = issuer.token(AUDIENCE, ACCOUNT, email_verified=False)
    elif case == "not_google":
        token = issuer.token(AUDIENCE, ACCOUNT, issuer="https://evil.example")
    elif case == "tampered":
        head, body, sig = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=="))
        claims["email"] = ACCOUNT
        claims["aud"] = AUDIENCE
        claims["exp"] += 3600
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        token = ".".join((head, body, sig))
    elif case == "missing":
        token = ""
    with pytest.raises(push.PushRejected):
        verify(token, url)


def test_pubsub_token_stale(certs):
    """An expired token (a recorded push played back later) is refused."""
    issuer, url = certs
    token = issuer.token(AUDIENCE, ACCOUNT, lifetime=600, issued_at=time.time() - 3 * 3600)
    with pytest.raises(push.PushRejected):
        verify(token, url)


def test_pubsub_push_parsed():
    """Address (lower-cased), historyId and messageId of a push; replays are judged by the receiver's
    stored historyId (the Odoo tier's TestGmailPush), not here."""
    body = json.dumps({"message": {"data": base64.b64encode(b'{"emailAddress": "A@x.test", "historyId": 42}')
                                   .decode(), "messageId": "m-1"}, "subscription": "s"})
    email, history_id, message_id = push.parse_pubsub_push(body)
    assert (email, history_id, message_id) == ("a@x.test", 42, "m-1")


@pytest.mark.parametrize("body", [b"", b"{}", b'{"message": {"data": "!!!"}}', b"[1]",
                                  b'{"message": {"data": "eyJ4IjogMX0="}}'])
def test_pubsub_push_malformed(body):
    with pytest.raises(push.PushRejected):
        push.parse_pubsub_push(body)


def test_graph_notifications_parsed_and_malformed():
    body = json.dumps({"value": [{"subscriptionId": "s1", "clientState": "c", "changeType": "created",
                                  "resource": "Users/x/Messages/1"},
                                 {"subscriptionId": "s1", "clientState": "c", "lifecycleEvent": "missed"}]})
    notes = push.graph_notifications(body)
    assert [n["lifecycle_event"] for n in notes] == [None, "missed"]
    for bad in (b"", b"{}", b'{"value": {}}', b'{"value": [{}]}'):
        with pytest.raises(push.PushRejected):
            push.graph_notifications(bad)
    assert push.secret_equal("abc", "abc")
    assert not push.secret_equal("abc", "abd")
    assert not push.secret_equal("", "")
