"""A private Dovecot 2.3 for engine tests: real IMAP on loopback, nothing shared.

What it is
----------
``DovecotServer`` writes a complete ``dovecot.conf`` into a fresh temp folder and runs
``dovecot -F -c <that file>`` (Debian ``dovecot-imapd``; the system configuration is
never read). It listens on 127.0.0.1 only:

- ``port``      plain IMAP that also offers STARTTLS
- ``ssl_port``  IMAPS (implicit TLS)

both with a self-signed certificate made at start (clients turn verification off).
The capabilities after login include CONDSTORE QRESYNC MOVE UIDPLUS SPECIAL-USE IDLE
MULTIAPPEND. Users live in passwd-files (``{PLAIN}`` passwords), one file per user, so
``add_user`` works on a running server without a reload. Mail is
Maildir under the temp folder; every user has INBOX plus the SPECIAL-USE folders
Sent, Drafts, Trash, Junk and Archive (created and subscribed at first login).

Settings that matter (measured on 2.3.19.1)
-------------------------------------------
- ``auth_failure_delay = 0``: the default (2 s) makes every wrong-password test slow.
  A failure still takes up to 0.5 s: the auth process flushes its failure queue on a
  fixed 500 ms timer.
- ``service anvil { unix_listener anvil-auth-penalty { mode = 0 } }``: turns off the
  per-IP auth penalty. Without it every failed login from 127.0.0.1 delays *all* later
  logins from 127.0.0.1, successful ones included, by 2, 4, 8 ... 15 s, so one
  wrong-password test slows the rest of the session. ``login_trusted_networks`` does
  not exempt loopback from it in 2.3.19 (measured).
- passwd-file path ``users/%u`` (one file per user): Dovecot re-reads a changed
  passwd-file at most once per second, so a user appended to a shared file right
  after another login fails with "unknown user". A new file is always read.
- ``first_valid_uid``: defaults to 500, but the Debian ``dovecot`` user is a system
  user (uid ~100), so it is lowered to the mail uid.
- ``mail_max_userip_connections``: defaults to 10 per user and IP; tests open many.
- ``mail_fsync = never``: test data need no durability and seeding gets faster.

Root and non-root
-----------------
Dovecot refuses uid 0 as the mail user. Run as root (CI), mail belongs to the
system ``dovecot`` user and login processes run as ``dovenull``, as in a packaged
install; the temp folder is made traversable and the mail tree chowned. Run as
anybody else, every Dovecot process and all mail use the current uid/gid and the
chroots are turned off (a chroot needs root).

Helpers for tests
-----------------
``append`` (IMAP MULTIAPPEND, internal date taken from the Date header),
``seed_maildir`` (files written straight into the Maildir: the fast path for 10k-100k
message benchmarks), ``change_uidvalidity`` (the folder gets a new UIDVALIDITY and its
UIDs are assigned afresh from 1, same messages and flags), ``status``, ``kick``.
The server stops at ``stop()``, at the end of a ``with`` block, or at interpreter exit
(and, on Linux, when the process that started it dies).
"""
import atexit
import ctypes
import email.utils
import grp
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import imapclient

from . import LOOPBACK, free_port, self_signed_cert

DOVECOT_BINARY = "/usr/sbin/dovecot"
START_TIMEOUT = 20  # seconds for the master to accept connections on both ports
STOP_TIMEOUT = 10  # seconds between SIGTERM and SIGKILL
IMAP_TIMEOUT = 30  # every IMAP connection the harness opens itself
START_ATTEMPTS = 3  # a free port can be taken between probing and binding
APPEND_BATCH = 500  # messages per MULTIAPPEND command
APPEND_BATCH_BYTES = 32 * 1024 * 1024  # ...and bytes, so one command never holds too much
SPECIAL_FOLDERS = (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
                   ("Junk", "\\Junk"), ("Archive", "\\Archive"))
MAILDIR_FLAGS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}
# Dovecot's per-folder UID and index state. Removing it makes Dovecot rebuild the
# folder from the message files with a fresh UIDVALIDITY and fresh UIDs.
_FOLDER_STATE = ("dovecot-uidlist", "dovecot-uidlist.lock", "dovecot.index", "dovecot.index.log",
                 "dovecot.index.log.2", "dovecot.index.cache")
_DATE_HEADER = re.compile(rb"^Date:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


class DovecotError(RuntimeError):
    """The test server could not be started or driven; the message carries its log."""


def dovecot_binary():
    """Path of the Dovecot master binary, or None when Dovecot is not installed."""
    if os.access(DOVECOT_BINARY, os.X_OK):
        return DOVECOT_BINARY
    return shutil.which("dovecot")


def _header_date(raw):
    """The message's Date header as an aware datetime, or None (hostile mail has none)."""
    head = raw[:65536].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = _DATE_HEADER.search(head)
    if not match:
        return None
    try:
        value = email.utils.parsedate_to_datetime(match.group(1).decode("ascii", "replace").strip())
    except (TypeError, ValueError, IndexError):
        return None
    return value if value and value.tzinfo else None


class DovecotServer:
    """A private Dovecot on loopback; see the module docstring."""

    host = LOOPBACK

    def __init__(self, binary=None, keep=False):
        self.binary = binary or dovecot_binary()
        self.keep = keep  # keep the temp folder (config, log, mail) after stop, for debugging
        self.port = self.ssl_port = None
        self.workdir = None
        self.users = {}  # login -> password
        self._process = None
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._seed_counter = itertools.count(1)
        self._identity()

    # -- lifecycle ---------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Write the configuration and run Dovecot until it accepts IMAP and IMAPS."""
        if self._process:
            return self
        if not self.binary:
            raise DovecotError("Dovecot is not installed (Debian package dovecot-imapd).")
        self.workdir = Path(tempfile.mkdtemp(prefix="maildesk-dovecot-"))
        # mkdtemp makes 0700; the unprivileged Dovecot processes must traverse it.
        self.workdir.chmod(0o755)
        for sub in ("run", "state", "mail"):
            (self.workdir / sub).mkdir()
        self.cert_path, self.key_path = self_signed_cert(self.workdir / "tls")
        self.users_dir = self.workdir / "users"
        self.users_dir.mkdir()
        self._chown(self.users_dir)
        self._chown(self.workdir / "mail")
        atexit.register(self.stop)
        last_error = None
        for _attempt in range(START_ATTEMPTS):
            self.port, self.ssl_port = free_port(), free_port()
            self.config_path.write_text(self._config())
            try:
                self._spawn()
                return self
            except DovecotError as exc:  # most likely a port taken meanwhile: try new ones
                last_error = exc
        self.stop()
        raise last_error

    def stop(self):
        """Stop Dovecot and its children and remove the temp folder (unless ``keep``)."""
        process, self._process = self._process, None
        if process and process.poll() is None:
            # The master forwards SIGTERM to every child and waits for them.
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
        if self.workdir and not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        atexit.unregister(self.stop)

    @property
    def running(self):
        return bool(self._process and self._process.poll() is None)

    @property
    def config_path(self):
        return self.workdir / "dovecot.conf"

    @property
    def log_path(self):
        return self.workdir / "dovecot.log"

    @property
    def pid(self):
        """The master's pid, as Dovecot itself records it."""
        return int((self.workdir / "run" / "master.pid").read_text())

    def log_tail(self, lines=30):
        """The end of Dovecot's log, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- users -------------------------------------------------------------------

    def add_user(self, login, password):
        """Create a user; Dovecot sees it at the next login, no reload needed.

        Changing the password of an existing user may take a second to be seen (Dovecot
        re-reads a passwd-file at most once per second).
        """
        if not login or any(c in login + password for c in ":/\r\n") or login.startswith("."):
            raise ValueError("login and password must be non-empty and free of ':', '/' and newlines")
        # Replaced atomically: Dovecot must never read half a file.
        path = self.users_dir / login
        tmp = self.users_dir / f".{login}.tmp"
        tmp.write_text(f"{login}:{{PLAIN}}{password}\n")
        tmp.chmod(0o600)
        self._chown(tmp)
        os.replace(tmp, path)
        with self._lock:
            self.users[login] = password

    def new_user(self, prefix="user"):
        """Create a user with a unique login and a random password; returns ``(login, password)``."""
        login = f"{prefix}{next(self._counter)}-{secrets.token_hex(3)}@maildesk.test"
        password = secrets.token_urlsafe(12)
        self.add_user(login, password)
        return login, password

    # -- IMAP helpers ------------------------------------------------------------

    def connect(self, login, password=None, folder=None):
        """A logged-in ``IMAPClient`` on the plain port (``folder`` selected when given)."""
        client = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=IMAP_TIMEOUT)
        try:
            client.login(login, password if password is not None else self.users[login])
            if folder:
                client.select_folder(folder)
        except Exception:
            client.shutdown()
            raise
        return client

    def append(self, login, password, folder, raw_messages, flags=()):
        """Append ``raw_messages`` (bytes) to ``folder`` with MULTIAPPEND, in batches.

        Every message gets ``flags``; its internal date is its Date header when that
        parses (so INTERNALDATE order looks like a real mailbox), else "now".
        """
        client = self.connect(login, password)
        try:
            batch, size = [], 0
            for raw in raw_messages:
                item = {"msg": raw, "flags": list(flags)}
                date = _header_date(raw)
                if date:
                    item["date"] = date
                batch.append(item)
                size += len(raw)
                if len(batch) >= APPEND_BATCH or size >= APPEND_BATCH_BYTES:
                    client.multiappend(folder, batch)
                    batch, size = [], 0
            if batch:
                client.multiappend(folder, batch)
        finally:
            client.logout()

    def status(self, login, folder="INBOX"):
        """``STATUS`` of a folder as ``{"MESSAGES": .., "UIDVALIDITY": .., "UIDNEXT": .., ...}``."""
        client = self.connect(login)
        try:
            values = client.folder_status(folder, ["MESSAGES", "UIDVALIDITY", "UIDNEXT", "HIGHESTMODSEQ"])
        finally:
            client.logout()
        return {key.decode(): value for key, value in values.items()}

    def kick(self, login):
        """Disconnect every IMAP session of ``login`` and wait until they are gone."""
        self._doveadm("kick", login, check=False)
        # kick only signals the processes; their index files are closed when they exit.
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            who = self._doveadm("who", "-1", login, check=False)
            if login not in who.stdout:
                return
            time.sleep(0.05)
        raise DovecotError(f"sessions of {login} did not end after kick")

    # -- Maildir helpers ---------------------------------------------------------

    def maildir(self, login, folder="INBOX"):
        """Maildir++ directory of a folder: INBOX is the root, ``a/b`` is ``.a.b``."""
        root = self.workdir / "mail" / login / "Maildir"
        if folder.upper() == "INBOX":
            return root
        return root / ("." + folder.replace("/", "."))

    def seed_maildir(self, login, folder, raw_messages, flags=(), index=True):
        """Write messages straight into the folder's Maildir; returns how many.

        Orders of magnitude faster than APPEND for big benchmark mailboxes; streams, so
        ``raw_messages`` may be a generator of 100k messages. Files go through ``tmp/``
        and are renamed into ``new/`` (``cur/`` when ``flags`` are given), as a delivery
        agent does. Dovecot notices the changed directories and assigns UIDs at the
        next SELECT; ``index=True`` does that SELECT now so benchmarks do not time it.
        """
        path = self.maildir(login, folder)
        self._make_maildir(path)
        info = "".join(sorted(MAILDIR_FLAGS[f] for f in flags))
        target = path / ("cur" if flags else "new")
        stamp, pid, count = int(time.time()), os.getpid(), 0
        batch = next(self._seed_counter)
        for count, raw in enumerate(raw_messages, 1):
            # Unique per delivery; ",S=" tells Dovecot the size without a stat().
            name = f"{stamp}.M{batch}_{count}P{pid}.maildesk,S={len(raw)}"
            tmp = path / "tmp" / name
            tmp.write_bytes(raw)
            self._chown(tmp)
            date = _header_date(raw)
            if date:
                # Maildir keeps the internal date in the file's mtime.
                ts = date.timestamp()
                os.utime(tmp, (ts, ts))
            os.rename(tmp, target / (f"{name}:2,{info}" if flags else name))
        if index and count:
            client = self.connect(login)
            try:
                client.select_folder(folder, readonly=True)
            finally:
                client.logout()
        return count

    def change_uidvalidity(self, login, folder="INBOX"):
        """Give ``folder`` a new UIDVALIDITY (UIDs assigned afresh) while keeping its messages.

        This is what a server does after losing its index: the user's sessions are
        kicked, Dovecot's UID list and indexes of the folder are deleted, and the next
        access rebuilds them from the message files (flags survive: Maildir keeps them
        in the file names). Returns the new UIDVALIDITY; raises if it did not change
        or the message count moved.
        """
        before = self.status(login, folder)
        self.kick(login)
        path = self.maildir(login, folder)
        for name in _FOLDER_STATE:
            (path / name).unlink(missing_ok=True)
        # The per-user counter file ``dovecot-uidvalidity`` must stay: Dovecot hands out
        # max(now, last + 1), so without it a rebuild in the same second reuses the value.
        after = self.status(login, folder)
        if after["UIDVALIDITY"] == before["UIDVALIDITY"] or after["MESSAGES"] != before["MESSAGES"]:
            raise DovecotError(f"UIDVALIDITY change failed for {login}/{folder}: {before} -> {after}")
        return after["UIDVALIDITY"]

    # -- internals ---------------------------------------------------------------

    def _identity(self):
        """Who owns mail and runs Dovecot's unprivileged processes (see module doc)."""
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                mail = pwd.getpwnam("dovecot")
                pwd.getpwnam("dovenull")
            except KeyError as exc:
                raise DovecotError("running as root needs the dovecot and dovenull system users "
                                   "(Debian package dovecot-core)") from exc
            self.mail_uid, self.mail_gid = mail.pw_uid, mail.pw_gid
            self.login_user, self.internal_user = "dovenull", "dovecot"
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
            me = pwd.getpwuid(self.mail_uid).pw_name
            self.login_user = self.internal_user = me
        self.mail_group = grp.getgrgid(self.mail_gid).gr_name

    def _chown(self, path):
        if self.as_root:
            os.chown(path, self.mail_uid, self.mail_gid)

    def _make_maildir(self, path):
        """Create a Maildir (and the user's mail root) owned by the mail user."""
        mail_root = self.workdir / "mail"
        for directory in [*reversed(path.relative_to(mail_root).parents), path.relative_to(mail_root)]:
            full = mail_root / directory
            if not full.exists():
                full.mkdir(mode=0o700)
                self._chown(full)
        for sub in ("cur", "new", "tmp"):
            if not (path / sub).exists():
                (path / sub).mkdir(mode=0o700)
                self._chown(path / sub)
        if path.name.startswith("."):
            marker = path / "maildirfolder"
            marker.touch()
            self._chown(marker)

    def _config(self):
        work = self.workdir
        mailboxes = "\n".join(
            f"  mailbox {name} {{\n    special_use = {use}\n    auto = subscribe\n  }}"
            for name, use in SPECIAL_FOLDERS)
        if self.as_root:
            rootless = ""
        else:
            # chroot() needs root; these are the services that chroot by default.
            rootless = "".join(f"service {name} {{\n  chroot =\n}}\n"
                               for name in ("imap-login", "anvil", "ipc", "old-stats"))
        return f"""\
# Generated by tests/harness/dovecot.py; see its docstring for why each setting is here.
instance_name = maildesk-{work.name}
base_dir = {work}/run
state_dir = {work}/state
log_path = {work}/dovecot.log
protocols = imap
listen = {LOOPBACK}

default_login_user = {self.login_user}
default_internal_user = {self.internal_user}
default_internal_group = {self.mail_group}
mail_uid = {self.mail_uid}
mail_gid = {self.mail_gid}
first_valid_uid = {self.mail_uid}
last_valid_uid = {self.mail_uid}
first_valid_gid = {self.mail_gid}

ssl = yes
ssl_cert = <{self.cert_path}
ssl_key = <{self.key_path}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_cache_size = 0

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.users_dir}/%u
}}
userdb {{
  driver = static
  args = uid={self.mail_uid} gid={self.mail_gid} home={work}/mail/%u
}}

mail_location = maildir:~/Maildir
mail_fsync = never

namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}
}}

service imap-login {{
  inet_listener imap {{
    address = {LOOPBACK}
    port = {self.port}
  }}
  inet_listener imaps {{
    address = {LOOPBACK}
    port = {self.ssl_port}
    ssl = yes
  }}
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
{rootless}"""

    def _spawn(self):
        """Run the master in the foreground (its own pid, no daemon) and wait until ready."""
        out = open(self.workdir / "master.out", "ab")  # noqa: SIM115 - owned by the child
        try:
            self._process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.config_path)], stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            out.close()
        deadline = time.monotonic() + START_TIMEOUT
        pending = {self.port: False, self.ssl_port: True}
        while pending:
            if self._process.poll() is not None:
                output = (self.workdir / "master.out").read_text(errors="replace")
                self._process = None
                raise DovecotError(f"dovecot exited at start:\n{output}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                process, self._process = self._process, None
                process.kill()
                process.wait(STOP_TIMEOUT)
                raise DovecotError(f"dovecot did not answer within {START_TIMEOUT} s:\n{self.log_tail()}")
            for port, tls in list(pending.items()):
                if self._greets(port, tls):
                    del pending[port]
            if pending:
                time.sleep(0.05)

    def _greets(self, port, tls):
        """True once ``port`` answers with an IMAP greeting."""
        try:
            client = imapclient.IMAPClient(self.host, port=port, ssl=tls, ssl_context=_no_verify() if tls else None,
                                           timeout=2)
        except (OSError, imapclient.exceptions.IMAPClientError):
            return False
        client.shutdown()
        return True

    def _doveadm(self, *args, check=True):
        return subprocess.run(["doveadm", "-c", str(self.config_path), *args], capture_output=True, text=True,
                              timeout=STOP_TIMEOUT, check=check)


def _die_with_parent():
    """In the child before exec: get SIGTERM when the test process dies, even by SIGKILL.

    atexit does not run on SIGKILL or a crash; this way no Dovecot outlives its tests.
    Linux only (prctl PR_SET_PDEATHSIG); elsewhere atexit is the only guard. The signal
    follows the *thread* that started the server, so start it from a long-lived thread.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _no_verify():
    """TLS context for the self-signed test certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
