"""IMAP implementation of the provider interface, on imapclient.

Cursor (per folder, stored by the caller after each batch)::

    {"uidvalidity": 17, "uidnext": 1201, "modseq": 4711,
     "uid_high": 1200,      # highest UID synced; new mail arrives above it
     "uid_low": 301,        # lowest UID synced; backfill walks below it
     "bootstrap_left": 0,   # newest-first messages still owed to the first sync
     "complete": False}     # True once nothing older than uid_low is left

Everything in ``[uid_low, uid_high]`` that exists on the server is stored locally.

Incremental sync, cheapest first:
1. ``STATUS`` (UIDVALIDITY UIDNEXT HIGHESTMODSEQ MESSAGES): nothing changed -> done, no
   SELECT at all (a no-change resync costs one round trip per folder).
2. New UIDVALIDITY -> every stored UID is void: list ``(uid, message key)`` for the whole
   folder, re-bind local records by Message-ID (no re-download, no duplicate), drop
   the ones the server no longer has, then fetch what is missing.
3. New mail: ``UID SEARCH UID uid_high+1:*``, fetched in batches (ascending, so the
   cursor only moves forward).
4. Flags and expunges: QRESYNC ``UID FETCH (FLAGS) (CHANGEDSINCE m VANISHED)``;
   CONDSTORE ``CHANGEDSINCE`` + UID diff; plain servers a FLAGS scan + UID diff.

Bodies: sizes are fetched first so one FETCH never carries more than
``FETCH_BYTES_BUDGET``; a message over ``SyncOptions.max_body_bytes`` is listed with its
header block only (``partial``) and fetched on demand.

imapclient traps handled here (see research notes): ``fetch()`` drops responses for ids
it was not given explicitly, so range fetches go through ``_uid_fetch``; ``VANISHED``
and ``COPYUID`` are not parsed by imapclient and are read from the raw untagged
responses, which accumulate and must be cleared around each command.
"""
import dataclasses
import logging
import queue
import re
import socket
import ssl
import threading
from datetime import datetime, timezone

import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from . import imapfetch, parsepool, smtp
from .errors import AuthError, NetworkError, ProviderError, SendError, UnreachableError, unreachable_message
from .mime import message_key_from_headers
from .provider import FlagState, MailProvider, RemoteFolder, RemoteMessage, SendResult, SyncBatch

_logger = logging.getLogger(__name__)

IMAP_TIMEOUT = 60
UID_CHUNK = 1000  # UIDs per command line: servers cap line length (~8 KB typical)
FETCH_BYTES_BUDGET = 16 * 1024 * 1024  # bytes of bodies per FETCH: bounds memory
KEY_HEADERS = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM TO SUBJECT)]"

# SPECIAL-USE attributes (RFC 6154) in priority order, then common names per role.
SPECIAL_USE = {
    b"\\Sent": "sent", b"\\Drafts": "drafts", b"\\Trash": "trash",
    b"\\Junk": "spam", b"\\Archive": "archive",
}
ROLE_NAMES = {
    "sent": ("sent", "sent items", "sent messages", "sent mail", "gesendet", "gesendete elemente",
             "gesendete objekte", "envoyés", "enviados", "inviata", "posta inviata", "verzonden"),
    "drafts": ("drafts", "draft", "entwürfe", "brouillons", "borradores", "bozze", "concepten"),
    "trash": ("trash", "deleted items", "deleted messages", "bin", "papierkorb", "gelöschte elemente",
              "corbeille", "papelera", "cestino", "prullenbak"),
    "spam": ("junk", "spam", "junk e-mail", "junk email", "bulk mail", "courrier indésirable"),
    "archive": ("archive", "archives", "archiv", "all mail"),
}
SEEN, FLAGGED, DELETED = b"\\Seen", b"\\Flagged", b"\\Deleted"


@dataclasses.dataclass
class ImapConfig:
    host: str
    port: int = 993
    security: str = "ssl"  # ssl | starttls | none
    login: str = ""
    password: str = ""
    timeout: int = IMAP_TIMEOUT
    ssl_verify: bool = True
    oauth_token: str = ""  # XOAUTH2 bearer token instead of a password
    # Servers that file sent mail themselves (Gmail): don't APPEND a second copy.
    server_saves_sent: bool = False


def parse_uid_set(text):
    """``'1:3,7'`` -> ``[1, 2, 3, 7]`` (ranges in the order given)."""
    uids = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if ":" in part:
            start, end = (int(x) for x in part.split(":"))
            step = 1 if end >= start else -1
            uids.extend(range(start, end + step, step))
        else:
            uids.append(int(part))
    return uids


def uid_set(uids):
    """Compact IMAP sequence set for sorted or unsorted UIDs: ``[1,2,3,7]`` -> ``'1:3,7'``."""
    ordered = sorted(set(uids))
    parts, start, prev = [], None, None
    for uid in ordered:
        if start is None:
            start = prev = uid
        elif uid == prev + 1:
            prev = uid
        else:
            parts.append(f"{start}:{prev}" if prev != start else str(start))
            start = prev = uid
    if start is not None:
        parts.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(parts)


def chunks(seq, size):
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


def _announce_parsed(options, messages):
    """``options.on_parsed(messages)``; the caller's extra work never stops the sync."""
    if options.on_parsed is None:
        return
    try:
        options.on_parsed(messages)
    except Exception:  # noqa: BLE001 - an optional head start of the caller's; the batch goes on
        _logger.exception("MailDesk: the on_parsed hook failed; the batch is stored without it")


def _utc_naive(value):
    if isinstance(value, datetime) and value.tzinfo:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


class ImapProvider(MailProvider):
    """One authenticated IMAP connection plus the SMTP settings used to send."""

    def __init__(self, config: ImapConfig, smtp_config: smtp.SmtpConfig = None):
        self.config = config
        self.smtp_config = smtp_config
        self.client = None
        self._selected_uidvalidity = None
        self.capabilities = frozenset()

    # -- connection ---------------------------------------------------------------
    def connect(self):
        cfg = self.config
        with self._guard("connect"):
            # Building a TLS context loads the CA store (~20 ms): only when TLS is used.
            context = smtp.ssl_context(cfg.ssl_verify) if cfg.security in ("ssl", "starttls") else None
            client = imapclient.IMAPClient(cfg.host, port=cfg.port, ssl=cfg.security == "ssl",
                                           ssl_context=context, timeout=cfg.timeout)
            _quiet_imaplib(client)
            try:
                if cfg.security == "starttls":
                    client.starttls(context)
                if cfg.oauth_token:
                    client.oauth2_login(cfg.login, cfg.oauth_token)
                else:
                    client.login(cfg.login, cfg.password)
            except BaseException:
                _shutdown(client)
                raise
        client.normalise_times = False  # we convert INTERNALDATE to naive UTC ourselves
        self.client = client
        self.capabilities = frozenset(c.upper() for c in client.capabilities())
        if b"QRESYNC" in self.capabilities:
            with self._guard("enable QRESYNC"):
                client.enable("QRESYNC")
        elif b"CONDSTORE" in self.capabilities:
            with self._guard("enable CONDSTORE"):
                client.enable("CONDSTORE")
        return self

    def close(self):
        if self.client is not None:
            try:
                self.client.logout()
            except Exception:  # the connection may already be gone; nothing left to do
                _shutdown(self.client)
            self.client = None

    @property
    def qresync(self):
        return b"QRESYNC" in self.capabilities

    @property
    def condstore(self):
        return b"CONDSTORE" in self.capabilities or self.qresync

    def test_connection(self):
        result = {"capabilities": sorted(c.decode() for c in self.capabilities),
                  "folders": len(self.list_folders())}
        if self.smtp_config:
            result["smtp"] = smtp.test_connection(self.smtp_config)
        return result

    # -- folders ------------------------------------------------------------------
    def list_folders(self):
        with self._guard("list folders"):
            listing = self.client.list_folders()
        folders, taken = [], set()
        for flags, delimiter, name in listing:
            flags = {f.capitalize() if isinstance(f, bytes) else f for f in flags}
            selectable = not ({b"\\Noselect", b"\\Nonexistent"} & flags)
            delim = delimiter.decode() if isinstance(delimiter, bytes) else (delimiter or "")
            role = "inbox" if name.upper() == "INBOX" else None
            if role is None:
                for flag, flag_role in SPECIAL_USE.items():
                    if flag in flags and flag_role not in taken:
                        role = flag_role
                        break
            parent = name.rsplit(delim, 1)[0] if delim and delim in name else None
            label = name.rsplit(delim, 1)[-1] if delim else name
            folders.append([name, label, role, parent, selectable])
            if role:
                taken.add(role)
        # Fallback by well-known names for servers without SPECIAL-USE.
        for entry in folders:
            if entry[2] is None and entry[4]:
                lowered = entry[1].casefold()
                for role, names in ROLE_NAMES.items():
                    if role not in taken and lowered in names:
                        entry[2] = role
                        taken.add(role)
                        break
        return [RemoteFolder(path=name, name=label, role=role or "custom", parent_path=parent,
                             selectable=selectable)
                for name, label, role, parent, selectable in folders]

    # -- sync -----------------------------------------------------------------------
    def folder_status(self, folder):
        # STATUS on the selected mailbox may answer from the session's stale view.
        self._unselect()
        items = [b"UIDVALIDITY", b"UIDNEXT", b"MESSAGES"]
        if self.condstore:
            items.append(b"HIGHESTMODSEQ")
        with self._guard(f"read status of {folder.name}"):
            status = self.client.folder_status(folder.path, items)
        return {k.decode().lower(): int(v) for k, v in status.items()}

    def sync_folder(self, folder, cursor, local, options):
        cursor = dict(cursor or {})
        status = self.folder_status(folder)
        # Without CONDSTORE a flag change leaves no trace in STATUS: always scan then.
        if self.condstore and cursor.get("uidvalidity") == status["uidvalidity"] \
                and not cursor.get("bootstrap_left") and cursor.get("uidnext") == status["uidnext"] \
                and cursor.get("modseq") == status.get("highestmodseq") \
                and cursor.get("messages") == status["messages"]:
            return  # nothing changed since the last run: no SELECT, no fetch
        info = self._select(folder)
        if not cursor.get("uidvalidity") and not local.count():
            yield from self._initial(folder, info, local, options)
            return
        if cursor.get("uidvalidity") != info["uidvalidity"] or not cursor.get("uidvalidity"):
            # New UIDVALIDITY, or the sync state was reset while mail is stored.
            cursor = yield from self._rebind(folder, info, local, options)
        yield from self._incremental(folder, cursor, info, local, options)

    def backfill_folder(self, folder, cursor, local, options, limit):
        cursor = dict(cursor or {})
        history = options.history_limit()
        if history is not None:
            limit = min(limit, history - local.count())
        if options.backfill_mode == "from_now" or not cursor.get("uidvalidity") or cursor.get("complete") \
                or cursor.get("bootstrap_left") or limit <= 0:
            return
        info = self._select(folder)
        if info["uidvalidity"] != cursor["uidvalidity"]:
            return  # the next regular sync re-binds first
        yield from self._walk_down(folder, cursor, options, limit, "backfill")

    def _unselect(self):
        if self._selected_uidvalidity is None:
            return
        with self._guard("close folder"):
            if b"UNSELECT" in self.capabilities:
                self.client.unselect_folder()
            else:
                # CLOSE expunges \\Deleted mail of a read-write selection; we only flag
                # \\Deleted what we expunge ourselves anyway.
                self.client.close_folder()
        self._selected_uidvalidity = None

    def _select(self, folder):
        with self._guard(f"open folder {folder.name}"):
            info = self.client.select_folder(folder.path, readonly=True)
        result = {"uidvalidity": int(info[b"UIDVALIDITY"]),
                  "uidnext": int(info.get(b"UIDNEXT", 0)),
                  "exists": int(info.get(b"EXISTS", 0)),
                  "modseq": int(info[b"HIGHESTMODSEQ"]) if info.get(b"HIGHESTMODSEQ") else None}
        if not result["uidnext"]:
            # Some servers omit UIDNEXT: derive it from the highest UID.
            uids = self._search("ALL")
            result["uidnext"] = (max(uids) + 1) if uids else 1
        self._selected_uidvalidity = result["uidvalidity"]
        self.client._imap.untagged_responses.pop("VANISHED", None)
        return result

    def _initial(self, folder, info, local, options):
        cursor = {"uidvalidity": info["uidvalidity"], "uidnext": info["uidnext"], "modseq": info["modseq"],
                  "messages": info["exists"], "uid_high": info["uidnext"] - 1, "uid_low": info["uidnext"],
                  "bootstrap_left": options.bootstrap, "complete": False}
        yield SyncBatch(cursor=dict(cursor), phase="bootstrap")
        yield from self._walk_down(folder, cursor, options, options.bootstrap, "bootstrap")

    def _walk_down(self, folder, cursor, options, limit, phase):
        """Fetch up to ``limit`` messages below ``uid_low``, newest first."""
        below = cursor["uid_low"] - 1
        uids = sorted(self._search(f"UID 1:{below}") if below >= 1 else [], reverse=True)
        uids = [u for u in uids if u <= below]
        budget = max(0, limit)
        todo = uids[:budget]
        for batch in self._fetch_batches(todo, options):
            messages, fetched = batch
            cursor["uid_low"] = min(fetched)
            if phase == "bootstrap":
                cursor["bootstrap_left"] = max(0, cursor.get("bootstrap_left", 0) - len(fetched))
            yield SyncBatch(cursor=dict(cursor), messages=messages, phase=phase)
        reached_bottom = len(uids) <= budget
        if phase == "bootstrap":
            cursor["bootstrap_left"] = 0
        if reached_bottom:
            cursor["uid_low"] = min([cursor["uid_low"]] + todo) if todo else cursor["uid_low"]
            cursor["complete"] = True
        if phase == "bootstrap" or reached_bottom:
            yield SyncBatch(cursor=dict(cursor), phase=phase)

    def _incremental(self, folder, cursor, info, local, options):
        # 1. Bootstrap interrupted by a crash: finish it first, newest first.
        if cursor.get("bootstrap_left"):
            yield from self._walk_down(folder, cursor, options, cursor["bootstrap_left"], "bootstrap")
        # 2. New mail above uid_high, ascending so the cursor only moves forward.
        if info["uidnext"] > cursor["uid_high"] + 1:
            new_uids = [u for u in self._search(f"UID {cursor['uid_high'] + 1}:*") if u > cursor["uid_high"]]
            for messages, fetched in self._fetch_batches(sorted(new_uids), options):
                cursor["uid_high"] = max(cursor["uid_high"], max(fetched))
                yield SyncBatch(cursor=dict(cursor), messages=messages)
        # 3. Flags and removals within the synced window.
        flags, vanished = self._changes(cursor, info, local)
        cursor.update(uidnext=info["uidnext"], modseq=info["modseq"], messages=info["exists"])
        cursor["uid_high"] = max(cursor["uid_high"], info["uidnext"] - 1)
        yield SyncBatch(cursor=dict(cursor), flags=flags, vanished=vanished)

    def _changes(self, cursor, info, local):
        low, high = cursor["uid_low"], cursor["uid_high"]
        if high < low:
            return [], []
        window = f"{low}:{high}"
        prefix = f"{info['uidvalidity']}:"
        if self.condstore and cursor.get("modseq") and info["modseq"] is not None:
            if info["modseq"] == cursor["modseq"] and info["exists"] == cursor.get("messages"):
                return [], []
            modifiers = [f"CHANGEDSINCE {cursor['modseq']}"] + (["VANISHED"] if self.qresync else [])
            data, vanished = self._uid_fetch(window, ["UID", "FLAGS"], modifiers)
            if not self.qresync:
                vanished = self._vanished_by_diff(window, prefix, local)
        else:
            data, _ = self._uid_fetch(window, ["UID", "FLAGS"])
            vanished = self._vanished_by_diff(window, prefix, local)
        flags = [FlagState(f"{prefix}{uid}", SEEN in item.get(b"FLAGS", ()), FLAGGED in item.get(b"FLAGS", ()))
                 for uid, item in data.items() if low <= uid <= high and b"FLAGS" in item]
        return flags, [f"{prefix}{uid}" for uid in vanished if low <= uid <= high]

    def _vanished_by_diff(self, window, prefix, local):
        on_server = set(self._search(f"UID {window}"))
        known = {int(rid[len(prefix):]) for rid in local.known_remote_ids() if rid.startswith(prefix)}
        return sorted(known - on_server)

    def _rebind(self, folder, info, local, options):
        """Stored UIDs are void: re-bind stored messages by their Message-ID key."""
        prefix = f"{info['uidvalidity']}:"
        uids = self._search("ALL")
        for part in chunks(sorted(uids), UID_CHUNK):
            data, _ = self._uid_fetch(uid_set(part), ["UID", "FLAGS", KEY_HEADERS])
            mapping = {}
            for uid, item in data.items():
                key = message_key_from_headers(_header_bytes(item))
                flags = item.get(b"FLAGS", ())
                mapping.setdefault(key, []).append(FlagState(f"{prefix}{uid}", SEEN in flags, FLAGGED in flags))
            yield SyncBatch(cursor={}, rebind=mapping, phase="rebind")
        # Local records still bound to the old generation are gone from the server.
        yield SyncBatch(cursor={}, drop_unbound=True, keep=[f"{prefix}{uid}" for uid in uids], phase="rebind")
        known = sorted(int(r[len(prefix):]) for r in local.known_remote_ids() if r.startswith(prefix))
        matched_low = known[0] if known else info["uidnext"]
        cursor = {"uidvalidity": info["uidvalidity"], "uidnext": info["uidnext"], "modseq": info["modseq"],
                  "messages": info["exists"], "uid_high": info["uidnext"] - 1, "uid_low": matched_low,
                  "bootstrap_left": 0, "complete": False}
        # Fill what the old generation never had inside the re-bound window.
        missing = sorted((set(u for u in uids if u >= matched_low) - set(known)), reverse=True)
        for messages, _fetched in self._fetch_batches(missing, options):
            yield SyncBatch(cursor=dict(cursor), messages=messages, phase="rebind")
        if not known:
            cursor["bootstrap_left"] = options.bootstrap
            yield SyncBatch(cursor=dict(cursor), phase="rebind")
            yield from self._walk_down(folder, cursor, options, options.bootstrap, "bootstrap")
        else:
            yield SyncBatch(cursor=dict(cursor), phase="rebind")
        return cursor

    # -- fetching -----------------------------------------------------------------
    def _fetch_batches(self, uids, options):
        """Yield ``(messages, uids)`` in the order of ``uids``, bounded in count and bytes.

        With ``options.prefetch`` a worker thread fetches and parses batch N+1 while the
        caller stores batch N, and hands it to ``options.on_parsed`` as soon as it is parsed;
        it owns the connection until this generator ends (the caller never issues IMAP
        commands while consuming it), and is stopped and joined when the caller stops early
        or fails.
        """
        uids = list(uids)
        if not options.prefetch or len(uids) <= options.batch_size:
            yield from self._fetch_batches_serial(uids, options, parse=False)
            return
        results = queue.Queue(maxsize=1)  # one batch ahead: bounded memory
        stop = threading.Event()

        def produce():
            try:
                for batch in self._fetch_batches_serial(uids, options, parse=True):
                    _announce_parsed(options, batch[0])
                    while not stop.is_set():
                        try:
                            results.put(("batch", batch), timeout=0.5)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                results.put(("done", None))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
                results.put(("error", exc))

        worker = threading.Thread(target=produce, name="maildesk-imap-prefetch", daemon=True)
        worker.start()
        try:
            while True:
                kind, value = results.get()
                if kind == "done":
                    return
                if kind == "error":
                    raise value
                yield value
        finally:
            stop.set()
            while worker.is_alive():
                try:
                    results.get(timeout=0.1)  # unblock a producer waiting to put
                except queue.Empty:
                    pass
            worker.join()

    def _fetch_batches_serial(self, uids, options, parse=False):
        """Yield ``(messages, uids)`` batch by batch; with ``parse``, the messages come parsed.

        The parse of a batch is handed to ``parsepool`` before the next batch is fetched and
        collected after it, so the server, this thread and the parse workers overlap (one
        more batch in memory). A fetch that fails first hands over the batch already fetched.
        """
        workers = options.parse_workers
        workers = parsepool.default_workers() if workers is None else workers
        pending = None  # (messages, uids, parse result) of the batch fetched last
        for part in chunks(uids, max(1, options.batch_size)):
            try:
                messages, present = self._fetch_part(part, options)
            except BaseException:
                if pending:
                    yield self._parsed(*pending)
                raise
            if not present:
                continue
            if not parse:
                yield messages, present
                continue
            started = parsepool.parse_many_async([(m.raw, m.partial) for m in messages], workers)
            if pending:
                yield self._parsed(*pending)
            pending = (messages, present, started)
        if pending:
            yield self._parsed(*pending)

    @staticmethod
    def _parsed(messages, present, result):
        for message, parsed in zip(messages, result()):
            message.parsed = parsed
        return messages, present

    def _fetch_part(self, part, options):
        """The messages of the uids ``part`` (bodies in FETCHes of bounded size) and the uids present."""
        sizes, _ = self._uid_fetch(uid_set(part), ["UID", "RFC822.SIZE"])
        present = [u for u in part if u in sizes]
        messages = []
        group, group_bytes = [], 0
        for uid in present:
            size = int(sizes[uid].get(b"RFC822.SIZE", 0))
            if size > options.max_body_bytes:
                messages.extend(self._fetch_full([uid], partial=True))
                continue
            if group and group_bytes + size > FETCH_BYTES_BUDGET:
                messages.extend(self._fetch_full(group))
                group, group_bytes = [], 0
            group.append(uid)
            group_bytes += size
        if group:
            messages.extend(self._fetch_full(group))
        return messages, present

    def _fetch_full(self, uids, partial=False):
        body = "BODY.PEEK[HEADER]" if partial else "BODY.PEEK[]"
        data, _ = self._uid_fetch(uid_set(uids), ["UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", body])
        uidvalidity = self._selected_uidvalidity
        result = []
        for uid in uids:
            item = data.get(uid)
            if item is None:
                continue  # expunged between SEARCH and FETCH: the next sync sees it vanish
            flags = item.get(b"FLAGS", ())
            raw = item.get(b"BODY[HEADER]") if partial else item.get(b"BODY[]")
            result.append(RemoteMessage(
                remote_id=f"{uidvalidity}:{uid}", raw=raw or b"", is_read=SEEN in flags,
                is_starred=FLAGGED in flags, internal_date=_utc_naive(item.get(b"INTERNALDATE")),
                size=int(item.get(b"RFC822.SIZE", 0)), partial=partial))
        return result

    def fetch_messages(self, folder, remote_ids):
        info = self._select(folder)
        uids = self._uids_of(remote_ids, info["uidvalidity"])
        return self._fetch_full(uids) if uids else []

    def _search(self, criteria):
        with self._guard("search"):
            return list(self.client.search(criteria))

    def _uid_fetch(self, uids, items, modifiers=None):
        """UID FETCH over any set or range; returns ``({uid: data}, [vanished uids])``."""
        imap = self.client._imap
        imap.untagged_responses.pop("VANISHED", None)
        args = ["UID", "FETCH", uids, "(" + " ".join(items) + ")"]
        if modifiers:
            args.append("(" + " ".join(modifiers) + ")")
        with self._guard("fetch"):
            tag = imap._command(*args)
            typ, data = imap._command_complete("FETCH", tag)
            if typ != "OK":
                raise ProviderError(f"The server refused to fetch messages: {data!r}")
            typ, data = imap._untagged_response(typ, data, "FETCH")
            parsed = imapfetch.parse_fetch(data)
        vanished = []
        for line in imap.untagged_responses.pop("VANISHED", []) or []:
            text = line.decode() if isinstance(line, bytes) else str(line)
            vanished.extend(parse_uid_set(text.replace("(EARLIER)", "").strip()))
        return parsed, vanished

    # -- two-way changes -------------------------------------------------------------
    def _uids_of(self, remote_ids, uidvalidity):
        uids = []
        for rid in remote_ids:
            validity, _, uid = rid.partition(":")
            if int(validity) != uidvalidity:
                raise ProviderError("The folder changed on the server since the last sync; sync and try again.")
            uids.append(int(uid))
        return uids

    def _select_rw(self, folder):
        with self._guard(f"open folder {folder.name}"):
            info = self.client.select_folder(folder.path)
        uidvalidity = int(info[b"UIDVALIDITY"])
        self._selected_uidvalidity = uidvalidity
        return uidvalidity

    def set_flags(self, folder, remote_ids, is_read=None, is_starred=None):
        uids = self._uids_of(remote_ids, self._select_rw(folder))
        with self._guard("update flags"):
            for part in chunks(uids, UID_CHUNK):
                for flag, value in ((SEEN, is_read), (FLAGGED, is_starred)):
                    if value is True:
                        self.client.add_flags(part, [flag], silent=True)
                    elif value is False:
                        self.client.remove_flags(part, [flag], silent=True)

    def move(self, folder, remote_ids, target):
        uids = self._uids_of(remote_ids, self._select_rw(folder))
        imap = self.client._imap
        mapping = {}
        with self._guard(f"move messages to {target.name}"):
            for part in chunks(uids, UID_CHUNK):
                imap.untagged_responses.pop("COPYUID", None)
                if b"MOVE" in self.capabilities:
                    self.client.move(part, target.path)
                    copyuid = imap.untagged_responses.pop("COPYUID", [])
                    copyuid = copyuid[-1] if copyuid else None
                else:
                    response = self.client.copy(part, target.path)
                    found = re.search(rb"COPYUID (\d+ [\d:,]+ [\d:,]+)", response or b"")
                    copyuid = found.group(1) if found else None
                    self.client.add_flags(part, [DELETED], silent=True)
                    self._expunge(part)
                mapping.update(_copyuid_map(copyuid, part, folder_uidvalidity=self._selected_uidvalidity))
        return mapping

    def delete(self, folder, remote_ids):
        uids = self._uids_of(remote_ids, self._select_rw(folder))
        with self._guard("delete messages"):
            for part in chunks(uids, UID_CHUNK):
                self.client.add_flags(part, [DELETED], silent=True)
                self._expunge(part)

    def _expunge(self, uids):
        if b"UIDPLUS" in self.capabilities:
            self.client.uid_expunge(uids)
        else:
            # Without UIDPLUS an EXPUNGE also removes other \Deleted mail; that matches
            # what every client of such a server does.
            self.client.expunge()

    def append(self, folder, raw, seen=True):
        """APPEND ``raw`` to ``folder``; returns its remote id when the server says (UIDPLUS)."""
        with self._guard(f"save a copy in {folder.name}"):
            response = self.client.append(folder.path, raw, flags=[SEEN] if seen else [])
        found = re.search(rb"APPENDUID (\d+) (\d+)", response or b"")
        return f"{int(found.group(1))}:{int(found.group(2))}" if found else None

    def send(self, raw, sender, recipients, sent_folder):
        if not self.smtp_config:
            raise SendError("No outgoing (SMTP) server is configured for this account.")
        refused = smtp.send_raw(self.smtp_config, raw, sender, recipients)
        result = SendResult(message_id=message_key_from_headers(raw), refused=refused)
        if sent_folder and not self.config.server_saves_sent:
            try:
                result.sent_remote_id = self.append(sent_folder, raw)
                result.sent_folder_path = sent_folder.path
            except ProviderError as exc:
                # The mail is delivered; only the copy failed. Say so, don't fail the send.
                _logger.warning("Sent, but could not file a copy in %s: %s", sent_folder.path, exc)
        return result

    # -- errors -----------------------------------------------------------------------
    def _guard(self, action):
        return _ImapGuard(self.config, action)


class _ImapGuard:
    """Translate imapclient/socket exceptions into engine errors with readable text."""

    def __init__(self, config, action):
        self.config, self.action = config, action

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None or isinstance(exc, ProviderError):
            return False
        where = f"{self.config.host}:{self.config.port}"
        if isinstance(exc, LoginError):
            raise AuthError(f"The IMAP server {where} refused the login or password.") from exc
        if isinstance(exc, ssl.SSLError):
            raise NetworkError(f"TLS with the IMAP server {where} failed ({exc.reason or exc}). "
                               "Check the security setting and port.") from exc
        if self.action == "connect" and isinstance(exc, (OSError, imapclient.exceptions.IMAPClientAbortError)):
            raise UnreachableError(unreachable_message("IMAP", self.config.host, self.config.port, exc)) from exc
        if isinstance(exc, (socket.timeout, TimeoutError)):
            raise NetworkError(f"The IMAP server {where} did not answer in time ({self.action}).") from exc
        if isinstance(exc, IMAPClientError) and "AUTHENTICATIONFAILED" in str(exc).upper():
            raise AuthError(f"The IMAP server {where} refused the credentials.") from exc
        if isinstance(exc, (OSError, imapclient.exceptions.IMAPClientAbortError)):
            raise NetworkError(f"Lost the connection to the IMAP server {where} ({self.action}). "
                               "It will be tried again.") from exc
        if isinstance(exc, IMAPClientError):
            raise ProviderError(f"The IMAP server {where} refused to {self.action}: {exc}") from exc
        return False


def _copyuid_map(copyuid, requested, folder_uidvalidity):
    """Map old remote ids to new ones from a ``COPYUID <validity> <src> <dst>`` answer."""
    mapping = {f"{folder_uidvalidity}:{uid}": None for uid in requested}
    if not copyuid:
        return mapping
    text = copyuid.decode() if isinstance(copyuid, bytes) else str(copyuid)
    validity, src, dst = text.split()
    for old, new in zip(parse_uid_set(src), parse_uid_set(dst)):
        mapping[f"{folder_uidvalidity}:{old}"] = f"{validity}:{new}"
    return mapping


def _quiet_imaplib(client):
    """imaplib's debug messages only when their logger shows them.

    imapclient sets imaplib's debug level to 5 and hands the messages to a logger, so
    imaplib formats the ``repr`` of every response, body literals and whole FETCH batches
    included, just for the logger to drop it at its default level: about a third of the
    CPU time of fetching a first sync. Whoever turns DEBUG on for that logger still gets them.
    """
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        client._imap.debug = 0


def _header_bytes(item):
    for key, value in item.items():
        if isinstance(key, bytes) and key.startswith(b"BODY[HEADER"):
            return value or b""
    return b""


def _shutdown(client):
    try:
        client.shutdown()
    except Exception:  # best effort on a broken socket
        pass
