"""Gmail implementation of the provider interface, on google-api-python-client.

Folders are labels: the system ones with a role (INBOX, SENT, DRAFT, TRASH, SPAM), user
labels as custom folders (``a/b`` nests), plus one synthetic ``ARCHIVE`` folder: mail
with none of the role labels ("archived" in Gmail's words). A message carrying several
labels is stored once per folder, like Gmail's own IMAP view; ids never change.

Cursor (per folder)::

    {"history_id": "48211",  # history.list resumes here (incremental sync)
     "page_token": "…",      # messages.list continues older history here (bootstrap/backfill)
     "bootstrap_left": 0, "complete": False}

- First sync: the profile's historyId is recorded *before* listing (read once per
  connection, i.e. once per account sync, whatever the number of labels: an id from
  before the first listing is before every later one, and replaying a little history is
  harmless), then messages.list
  (newest first, up to ``bootstrap``) and batched ``messages.get(format=raw)``, at most
  ``batch_size`` (50) per HTTP batch: 1,000 messages take 2 list pages + 20 batches.
- Incremental: history.list from ``history_id`` filtered on the label. Every message it
  touched is re-read with ``format=minimal`` (one batch per 50), which gives its labels
  *now*, so the order of events does not matter: in the folder and unknown -> fetched;
  known -> flags; gone or out of the folder -> vanished. The synthetic Archive folder has no
  label to filter the history on, so it reads the whole mailbox's history; there the labels
  a message has after its last history record come from the record itself (history is
  complete and in order), and only messages that are or were in Archive are considered:
  new ones are fetched, none is re-read (a record without labels is re-read as above).
- history.list 404 (history expired): the folder is re-listed; unknown ids within the
  window are fetched, known ones get their flags, and a ``drop_unbound`` batch removes what
  Gmail no longer has in the label. Ids are stable, so nothing is downloaded twice.
- Mail above ``max_body_bytes`` is kept as its header block (``partial``): read with
  ``format=metadata`` when a minimal read already gave its size (incremental), else cut
  down after the raw read (a first listing carries no sizes). Bodies come on demand.
- Send: ``messages.send`` with ``threadId`` (found from In-Reply-To/References when the
  caller has none); above 4 MiB as a media upload; Gmail files the copy under SENT.

Throttling: every call spends quota units from a per-user bucket (15,000 units/min,
refilled at ``quota_units_per_second``); 429, 403 rate-limit reasons and 5xx are retried
with exponential backoff honouring ``Retry-After``, and batch parts that failed that way
are re-batched. A 401 refreshes the token once. Errors leave as ``errors`` classes.
"""
import base64
import dataclasses
import json
import logging
import random
import socket
import threading
import time
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from urllib.parse import urlsplit, urlunsplit

from .errors import AuthError, CursorExpired, NetworkError, ProviderError, SendError, ThrottledError
from .mime import _header_block
from .provider import FlagState, MailProvider, RemoteFolder, RemoteMessage, SendResult, SyncBatch

_logger = logging.getLogger(__name__)

ROLE_LABELS = {"INBOX": "inbox", "SENT": "sent", "DRAFT": "drafts", "TRASH": "trash", "SPAM": "spam"}
HIDDEN_LABELS = {"UNREAD", "STARRED", "IMPORTANT", "CHAT"}
ARCHIVE = "ARCHIVE"
ARCHIVE_QUERY = "-in:inbox -in:sent -in:drafts -in:trash -in:spam -in:chats"
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded"}
UNITS = {"get": 5, "list": 5, "history": 2, "modify": 5, "batchModify": 50, "batchDelete": 50, "send": 100,
         "labels": 1, "profile": 1, "watch": 100, "stop": 50}
PAGE = 500
HISTORY_TYPES = ["messageAdded", "messageDeleted", "labelAdded", "labelRemoved"]
SEND_LIMIT = 36_700_160  # messages.send's upload cap (35 MiB)
SIMPLE_SEND_BYTES = 4 * 1024 * 1024  # above this the message goes as a media upload, not base64 in JSON


@dataclasses.dataclass
class GmailConfig:
    email: str
    token_source: object  # get_token(force_refresh=False) -> str
    api_root: str = "https://gmail.googleapis.com"
    timeout: int = 60
    batch_size: int = 50
    max_retries: int = 5
    backoff_base: float = 1.0
    quota_units_per_second: float = 250.0
    quota_burst: float = 15000.0


class _QuotaBucket:
    """Per-user quota units: spend, and wait when the bucket is empty."""

    def __init__(self, rate, burst):
        self.rate, self.burst = rate, burst
        self.level, self.stamp = burst, time.monotonic()
        self._lock = threading.Lock()

    def spend(self, units):
        with self._lock:
            now = time.monotonic()
            self.level = min(self.burst, self.level + (now - self.stamp) * self.rate)
            self.stamp = now
            self.level -= units
            wait = -self.level / self.rate if self.level < 0 else 0
        if wait:
            time.sleep(wait)


class _BearerHttp:
    """httplib2 with the bearer token; a 401 refreshes the token once and retries."""

    def __init__(self, token_source, timeout):
        import httplib2

        self.token_source = token_source
        self.http = httplib2.Http(timeout=timeout)  # one per provider: httplib2 is not thread-safe

    def request(self, uri, method="GET", body=None, headers=None, **kwargs):
        for attempt in (0, 1):
            headers = dict(headers or {})
            headers["authorization"] = f"Bearer {self.token_source.get_token(force_refresh=attempt == 1)}"
            response, content = self.http.request(uri, method=method, body=body, headers=headers, **kwargs)
            if response.status != 401:
                return response, content
        raise AuthError("Google refused the mailbox's access token even after a refresh. Reconnect the mailbox.")


class GmailProvider(MailProvider):
    def __init__(self, config: GmailConfig):
        self.config = config
        self.service = None
        self._http = None
        self._quota = _QuotaBucket(config.quota_units_per_second, config.quota_burst)
        self._labels = None
        self._start_history_id = None  # the profile's historyId, read once per connection

    # -- connection -------------------------------------------------------------------------
    def connect(self):
        from googleapiclient.discovery import build

        self._http = _BearerHttp(self.config.token_source, self.config.timeout)
        self._start_history_id = None
        root = self.config.api_root.rstrip("/") + "/"
        self.service = build("gmail", "v1", http=self._http, static_discovery=True, cache_discovery=False,
                             client_options={"api_endpoint": root})
        return self

    def close(self):
        if self._http is not None:
            for connection in self._http.http.connections.values():
                connection.close()
        self.service = self._http = None

    def test_connection(self):
        profile = self._call("profile", self._users().getProfile(userId="me"))
        return {"email": profile.get("emailAddress"), "folders": len(self.list_folders()),
                "messages": profile.get("messagesTotal")}

    def _users(self):
        return self.service.users()

    def _messages(self):
        return self.service.users().messages()

    # -- folders ------------------------------------------------------------------------------
    def list_folders(self):
        labels = self._call("labels", self._users().labels().list(userId="me")).get("labels", [])
        self._labels = {label["id"]: label for label in labels}
        names = {label["name"]: label["id"] for label in labels if label.get("type") == "user"}
        folders = []
        for label in labels:
            label_id, name = label["id"], label["name"]
            if label_id in HIDDEN_LABELS or label_id.startswith("CATEGORY_"):
                continue
            if label.get("type") == "system" and label_id not in ROLE_LABELS:
                continue
            parent = names.get(name.rsplit("/", 1)[0]) if "/" in name else None
            folders.append(RemoteFolder(path=label_id, name=name.rsplit("/", 1)[-1].title() if label_id in ROLE_LABELS
                                        else name.rsplit("/", 1)[-1], role=ROLE_LABELS.get(label_id, "custom"),
                                        parent_path=parent))
        folders.append(RemoteFolder(path=ARCHIVE, name="All Mail (archived)", role="archive"))
        return folders

    @staticmethod
    def _in_folder(folder, label_ids):
        labels = set(label_ids or ())
        if folder.path == ARCHIVE:
            return not (labels & {"INBOX", "SENT", "DRAFT", "TRASH", "SPAM", "CHAT"})
        if folder.path not in labels:
            return False
        return folder.path in ("TRASH", "SPAM") or not (labels & {"TRASH", "SPAM"})

    def _list_kwargs(self, folder):
        if folder.path == ARCHIVE:
            return {"q": ARCHIVE_QUERY}
        kwargs = {"labelIds": [folder.path]}
        if folder.path in ("TRASH", "SPAM"):
            kwargs["includeSpamTrash"] = True
        return kwargs

    # -- sync ---------------------------------------------------------------------------------
    def sync_folder(self, folder, cursor, local, options):
        cursor = dict(cursor or {})
        if not cursor.get("history_id"):
            if local.count():
                cursor = {"bootstrap_left": 0, "complete": cursor.get("complete", False)}
                yield from self._resync(folder, cursor, local, options)
                return
            yield from self._initial(folder, options)
            return
        if cursor.get("bootstrap_left"):
            yield from self._walk(folder, cursor, local, options, cursor["bootstrap_left"], "bootstrap")
        try:
            yield from self._incremental(folder, cursor, local, options)
        except CursorExpired:
            _logger.info("Gmail history of %s expired: re-listing label %s", self.config.email, folder.path)
            yield from self._resync(folder, cursor, local, options)

    def backfill_folder(self, folder, cursor, local, options, limit):
        cursor = dict(cursor or {})
        history = options.history_limit()
        if history is not None:
            limit = min(limit, history - local.count())
        if options.backfill_mode == "from_now" or not cursor.get("history_id") or cursor.get("complete") \
                or cursor.get("bootstrap_left") or limit <= 0:
            return
        yield from self._walk(folder, cursor, local, options, limit, "backfill")

    def _current_history_id(self):
        """The mailbox's historyId when this connection first asked: one getProfile per sync.

        Every folder's listing starts after that read, so the id is a valid "history from
        here" for each of them; at worst a folder replays a few changes it already has.
        """
        if self._start_history_id is None:
            self._start_history_id = str(self._call("profile", self._users().getProfile(userId="me"))["historyId"])
        return self._start_history_id

    def _initial(self, folder, options):
        cursor = {"history_id": self._current_history_id(), "page_token": None,
                  "bootstrap_left": options.bootstrap, "complete": False}
        yield SyncBatch(cursor=dict(cursor), phase="bootstrap")
        yield from self._walk(folder, cursor, None, options, options.bootstrap, "bootstrap")

    def _walk(self, folder, cursor, local, options, limit, phase):
        """Newest-first listing from ``page_token``: fetch up to ``limit`` messages not stored yet."""
        known = set(local.known_remote_ids()) if local is not None else set()
        left = max(0, limit)
        while left > 0:
            page = self._list_page(folder, cursor.get("page_token"), min(PAGE, left))
            ids = [m["id"] for m in page.get("messages", []) if m["id"] not in known]
            for messages in self._fetch_raw(ids, options):
                left -= len(messages)
                if phase == "bootstrap":
                    cursor["bootstrap_left"] = max(0, cursor.get("bootstrap_left", 0) - len(messages))
                yield SyncBatch(cursor=dict(cursor), messages=messages, phase=phase)
            cursor["page_token"] = page.get("nextPageToken")
            if not cursor["page_token"]:
                cursor["complete"] = True
                break
        if phase == "bootstrap":
            cursor["bootstrap_left"] = 0
        yield SyncBatch(cursor=dict(cursor), phase=phase)

    def _list_page(self, folder, page_token, size):
        request = self._messages().list(userId="me", maxResults=size, pageToken=page_token or None,
                                        **self._list_kwargs(folder))
        try:
            return self._call("list", request)
        except ProviderError as exc:
            if page_token and "400" in str(exc):
                # A stale page token (they do not live forever): start again from the top;
                # stored mail is skipped, so this costs list calls, not downloads.
                return self._call("list", self._messages().list(userId="me", maxResults=size,
                                                                 **self._list_kwargs(folder)))
            raise

    def _incremental(self, folder, cursor, local, options):
        touched, new_history, after = self._history(folder, cursor["history_id"])
        known = set(local.known_remote_ids())
        if touched and folder.path == ARCHIVE:
            touched, states = self._archive_states(folder, touched, after, known)
        elif touched:
            states = self._minimal(touched)
        if touched:
            fresh, flags, vanished = [], [], []
            for message_id in touched:
                state = states.get(message_id)
                inside = state is not None and self._in_folder(folder, state.get("labelIds"))
                if not inside:
                    if message_id in known:
                        vanished.append(message_id)
                elif message_id in known:
                    labels = set(state.get("labelIds", ()))
                    flags.append(FlagState(message_id, "UNREAD" not in labels, "STARRED" in labels))
                else:
                    fresh.append(message_id)
            if flags or vanished:
                yield SyncBatch(cursor=dict(cursor), flags=flags, vanished=vanished)
            sizes = {i: int(states[i].get("sizeEstimate") or 0) for i in fresh}
            for messages in self._fetch_raw(fresh, options, sizes):
                yield SyncBatch(cursor=dict(cursor), messages=messages)
        cursor["history_id"] = new_history
        yield SyncBatch(cursor=dict(cursor))

    def _archive_states(self, folder, touched, after, known):
        """Archive: states of the touched messages that are or were in it, from the history.

        ``after`` maps an id to its labels after its last history record (None: deleted).
        Messages neither stored here nor in Archive now are dropped without a read (on a
        busy mailbox, nearly all of them: new inbox mail, flags of inbox mail); only those
        whose record carried no labels are read with ``format=minimal``.
        """
        states, unknown, relevant = {}, [], []
        for message_id in touched:
            if message_id not in after:
                unknown.append(message_id)
                relevant.append(message_id)
                continue
            labels = after[message_id]
            if labels is None:  # deleted: absent from ``states``, so vanished if stored
                if message_id in known:
                    relevant.append(message_id)
                continue
            if message_id in known or self._in_folder(folder, labels):
                states[message_id] = {"labelIds": sorted(labels)}
                relevant.append(message_id)
        if unknown:
            states.update(self._minimal(unknown))
        return relevant, states

    def _history(self, folder, start):
        """The history since ``start`` for this folder: (touched ids, new history id, labels after).

        ``labels after`` maps each id to its labels after its last record, when the records
        carry them (``None``: deleted); ids whose records carry none are left out of it.
        """
        touched, page_token, after = [], None, {}
        label = None if folder.path == ARCHIVE else folder.path
        while True:
            request = self.service.users().history().list(userId="me", startHistoryId=start, maxResults=PAGE,
                                                          pageToken=page_token, labelId=label,
                                                          historyTypes=HISTORY_TYPES)
            try:
                body = self._call("history", request)
            except _NotFound as exc:
                raise CursorExpired(f"Gmail history for {self.config.email} expired") from exc
            for record in body.get("history", []):
                for kind in ("messagesAdded", "messagesDeleted", "labelsAdded", "labelsRemoved"):
                    for item in record.get(kind, []):
                        message_id = item["message"]["id"]
                        if message_id not in touched:
                            touched.append(message_id)
                        _note_labels(after, kind, item)
            page_token = body.get("nextPageToken")
            if not page_token:
                return touched, str(body.get("historyId") or start), after

    def _resync(self, folder, cursor, local, options):
        """History expired (or the cursor was reset): re-list the label, no duplicates."""
        cursor["history_id"] = self._current_history_id()
        window = max(local.count(), options.bootstrap)
        listed, page_token = [], None
        while True:
            page = self._list_page(folder, page_token, PAGE)
            listed += [m["id"] for m in page.get("messages", [])]
            page_token = page.get("nextPageToken")
            if not page_token:
                break
        known = set(local.known_remote_ids())
        states = self._minimal([i for i in listed if i in known])
        flags = [FlagState(i, "UNREAD" not in s.get("labelIds", ()), "STARRED" in s.get("labelIds", ()))
                 for i, s in states.items()]
        yield SyncBatch(cursor=dict(cursor), flags=flags, drop_unbound=True, keep=list(listed), phase="rebind")
        fresh = [i for i in listed[:window] if i not in known]
        for messages in self._fetch_raw(fresh, options):
            yield SyncBatch(cursor=dict(cursor), messages=messages)
        cursor["page_token"] = None
        cursor["complete"] = len(listed) <= window
        yield SyncBatch(cursor=dict(cursor))

    # -- fetching -----------------------------------------------------------------------------
    def _fetch_raw(self, ids, options, sizes=None):
        """RemoteMessage lists of at most ``batch_size``, newest-first order kept.

        Messages known (``sizes``, from a minimal read) to exceed ``max_body_bytes`` are read
        with ``format=metadata``: only their headers travel. Sizes are unknown on a first
        listing, so a big message met there is cut down to its headers after the read.
        """
        sizes = sizes or {}
        size = self.config.batch_size
        for start in range(0, len(ids), size):
            chunk = ids[start:start + size]
            formats = {i: "metadata" if sizes.get(i, 0) > options.max_body_bytes else "raw" for i in chunk}
            found = self._batch_get(formats)
            messages = [self._remote(found[i], options) for i in chunk if i in found]
            if messages:
                yield messages

    def _minimal(self, ids):
        states = {}
        for start in range(0, len(ids), self.config.batch_size):
            states.update(self._batch_get(dict.fromkeys(ids[start:start + self.config.batch_size], "minimal")))
        return states

    def _remote(self, resource, options):
        labels = set(resource.get("labelIds", ()))
        if "raw" in resource:
            raw = base64.urlsafe_b64decode(resource["raw"] + "=" * (-len(resource["raw"]) % 4))
            partial = len(raw) > options.max_body_bytes
            if partial:
                raw = _header_block(raw)
        else:  # format=metadata
            headers = resource.get("payload", {}).get("headers", [])
            raw = "".join(f"{h['name']}: {h['value']}\r\n" for h in headers).encode("utf-8", "replace") + b"\r\n"
            partial = True
        date = None
        if resource.get("internalDate"):
            date = datetime.fromtimestamp(int(resource["internalDate"]) / 1000, tz=timezone.utc).replace(tzinfo=None)
        return RemoteMessage(remote_id=resource["id"], raw=raw, is_read="UNREAD" not in labels,
                             is_starred="STARRED" in labels, internal_date=date,
                             size=int(resource.get("sizeEstimate") or len(raw)), partial=partial,
                             provider_thread_id=resource.get("threadId"))

    def _batch_get(self, formats):
        """``{id: resource}`` for ``{id: format}`` via HTTP batches; 404s are skipped (deleted meanwhile).

        googleapiclient only re-sends parts that answered 401; parts refused for rate or
        server reasons reach the callback, so they are collected and re-batched after a backoff.
        """
        results, pending = {}, list(formats)
        state = {"failed": [], "retry_after": None, "status": 0, "auth": False, "refreshed": False}

        def collect(request_id, response, exception):
            if exception is None:
                results[request_id] = response
                return
            status, reason, after = _error_facts(exception)
            if status == 404:
                return
            if status in (429, 401) or status >= 500 or (status == 403 and reason in RATE_REASONS):
                state["failed"].append(request_id)
                state["auth"] = state["auth"] or status == 401
                state["status"] = max(state["status"], status)
                state["retry_after"] = max(state["retry_after"] or 0, after or 0) or None
                return
            raise ProviderError(f"Gmail refused to read message {request_id} ({status} {reason}).")

        for attempt in range(self.config.max_retries + 1):
            state.update(failed=[], retry_after=None, status=0, auth=False)
            try:
                self._run_batch(pending, formats, collect)
            except _Retryable as exc:  # the whole batch was refused: send it all again
                state.update(failed=list(pending), retry_after=exc.retry_after, status=exc.status)
            pending = state["failed"]
            if not pending:
                return results
            if state["auth"]:
                self._refresh_for_parts(state)
            if state["status"] != 401 and attempt < self.config.max_retries:
                self._sleep(attempt, state["retry_after"])
        raise self._gave_up(state["status"], state["retry_after"], f"{len(pending)} message reads")

    def _run_batch(self, ids, formats, callback):
        from googleapiclient.http import BatchHttpRequest

        # Built by hand: service.new_batch_http_request() ignores api_endpoint.
        batch = BatchHttpRequest(callback=callback, batch_uri=self.config.api_root.rstrip("/") + "/batch/gmail/v1")
        for message_id in ids:
            batch.add(self._messages().get(userId="me", id=message_id, format=formats[message_id]),
                      request_id=message_id)
        self._quota.spend(UNITS["get"] * len(ids))
        self._execute(lambda: batch.execute(http=self._http))

    def _refresh_for_parts(self, state):
        """Parts refused the token the outer request carried: refresh once, then give up."""
        if state["refreshed"]:
            raise AuthError("Google refused the mailbox's access token even after a refresh. Reconnect the mailbox.")
        state["refreshed"] = True
        self.config.token_source.get_token(force_refresh=True)

    # -- two-way --------------------------------------------------------------------------------
    def fetch_messages(self, folder, remote_ids):
        from .provider import SyncOptions

        options = SyncOptions(max_body_bytes=10 ** 12)
        return [m for batch in self._fetch_raw(list(remote_ids), options) for m in batch]

    def set_flags(self, folder, remote_ids, is_read=None, is_starred=None):
        add, remove = [], []
        if is_read is not None:
            (remove if is_read else add).append("UNREAD")
        if is_starred is not None:
            (add if is_starred else remove).append("STARRED")
        self._batch_modify(remote_ids, add, remove)

    def _batch_modify(self, ids, add, remove):
        ids = list(ids)
        for start in range(0, len(ids), 1000):
            body = {"ids": ids[start:start + 1000], "addLabelIds": add, "removeLabelIds": remove}
            self._call("batchModify", self._messages().batchModify(userId="me", body=body))

    def move(self, folder, remote_ids, target):
        """Label changes in one batchModify per 1,000 ids; TRASH is a label like the others
        (messages.trash / untrash would cost one request per message)."""
        add = [] if target.path == ARCHIVE else [target.path]
        remove = [] if folder.path == ARCHIVE else [folder.path]
        if target.path == ARCHIVE:
            remove = sorted(set(remove) | {"INBOX"})
        ids = list(remote_ids)
        self._batch_modify(ids, add, remove)
        return {message_id: message_id for message_id in ids}  # Gmail ids never change

    def delete(self, folder, remote_ids):
        ids = list(remote_ids)
        if folder.path != "TRASH":  # outside the trash, delete means trash (recoverable)
            self._batch_modify(ids, ["TRASH"], [])
            return
        for start in range(0, len(ids), 1000):  # already in the trash: now for good
            self._call("batchDelete", self._messages().batchDelete(userId="me", body={"ids": ids[start:start + 1000]}))

    def send(self, raw, sender, recipients, sent_folder, thread_id=None):
        """Gmail files the sent copy under SENT itself; ``thread_id`` (Gmail-only) names the thread.

        Without it the thread is looked up from In-Reply-To/References. Gmail joins it only
        when the subject matches too, which the composer's "Re:" subjects do.
        """
        if len(raw) > SEND_LIMIT:
            raise SendError("The message is larger than Gmail accepts (35 MB). Remove attachments or share links.")
        headers = BytesHeaderParser().parsebytes(raw)
        message_id = (headers.get("Message-ID") or "").strip()
        thread_id = thread_id or self._thread_of(headers)
        try:
            try:
                sent = self._call("send", self._send_request(raw, thread_id), idempotent=False)
            except _NotFound:
                if not thread_id:
                    raise
                # The thread was deleted meanwhile: send it as a new conversation.
                sent = self._call("send", self._send_request(raw, None), idempotent=False)
        except (AuthError, NetworkError):
            raise
        except ProviderError as exc:
            raise SendError(f"Gmail did not send the message: {exc}") from exc
        return SendResult(message_id=message_id, sent_remote_id=sent["id"], sent_folder_path="SENT",
                          provider_thread_id=sent.get("threadId"))

    def _send_request(self, raw, thread_id):
        if len(raw) <= SIMPLE_SEND_BYTES:
            body = {"raw": base64.urlsafe_b64encode(raw).decode()}
            if thread_id:
                body["threadId"] = thread_id
            return self._messages().send(userId="me", body=body)
        from googleapiclient.http import MediaInMemoryUpload

        # Large mail goes as bytes (no +33 % base64 in a JSON string); metadata only when threading.
        media = MediaInMemoryUpload(raw, mimetype="message/rfc822", resumable=False)
        request = self._messages().send(userId="me", body={"threadId": thread_id} if thread_id else None,
                                        media_body=media)
        # googleapiclient moves upload URLs to api_endpoint's host but keeps the discovery
        # document's https scheme; keep the configured root's scheme (a plain-http endpoint).
        root = urlsplit(self.config.api_root)
        request.uri = urlunsplit(urlsplit(request.uri)._replace(scheme=root.scheme, netloc=root.netloc))
        return request

    def _thread_of(self, headers):
        """The Gmail thread a reply belongs to, from its In-Reply-To / References."""
        refs = ((headers.get("In-Reply-To") or "") + " " + (headers.get("References") or "")).split()
        for ref in reversed(refs):
            page = self._call("list", self._messages().list(userId="me", q=f"rfc822msgid:{ref.strip('<>')}",
                                                            maxResults=1, includeSpamTrash=True))
            if page.get("messages"):
                return page["messages"][0]["threadId"]
        return None

    # -- push (users.watch -> Cloud Pub/Sub) ----------------------------------------------------
    def watch(self, topic, label_ids=()):
        """Start (or renew) push notifications to ``topic``; returns ``{historyId, expiration}``.

        Without ``label_ids`` (what MailDesk uses) Gmail pushes every change of the mailbox:
        new mail that a Gmail filter files away from the Inbox (skip Inbox, apply a label)
        wakes the sync as well, and so do changes made in other clients. With them, only
        changes of messages carrying one of those labels (``labelFilterBehavior: include``).
        ``expiration`` is epoch milliseconds (about 7 days out); call again before it.
        """
        body = {"topicName": topic, "labelFilterBehavior": "include", "labelIds": list(label_ids)}
        if not label_ids:
            body = {"topicName": topic}
        answer = self._call("watch", self._users().watch(userId="me", body=body))
        return {"history_id": str(answer.get("historyId") or ""), "expiration": int(answer.get("expiration") or 0)}

    def stop_watch(self):
        """Stop push notifications for this mailbox (``users.stop``)."""
        self._call("stop", self._users().stop(userId="me"))

    # -- calls, errors, backoff ---------------------------------------------------------------------
    def _call(self, kind, request, idempotent=True):
        """Execute one API request with quota pacing and retries; returns the JSON body.

        ``idempotent=False`` (send): a 5xx may come after Gmail delivered, so it is not
        re-sent blindly; rate-limit refusals are, since those were never processed.
        """
        if self.service is None:
            raise NetworkError("The Gmail connection is not open.")
        for attempt in range(self.config.max_retries + 1):
            self._quota.spend(UNITS.get(kind, 5))
            try:
                return self._execute(lambda: request.execute(http=self._http, num_retries=0)) or {}
            except _Retryable as exc:
                if attempt >= self.config.max_retries or (exc.status >= 500 and not idempotent):
                    raise self._gave_up(exc.status, exc.retry_after, "requests") from exc
                self._sleep(attempt, exc.retry_after)
        raise AssertionError("unreachable")

    def _gave_up(self, status, retry_after, what):
        if status >= 500:
            return NetworkError(f"Gmail had a server error ({status}) for {self.config.email} and kept failing "
                                f"{what}; the sync will retry later.")
        return ThrottledError(f"Gmail is limiting {what} for {self.config.email} (rate limit); the sync will "
                              f"retry later.", retry_after=retry_after or 60)

    def _execute(self, call):
        from googleapiclient.errors import HttpError

        try:
            return call()
        except HttpError as exc:
            status, reason, after = _error_facts(exc)
            if status == 404:
                raise _NotFound(f"Gmail: not found ({reason})") from exc
            if status == 429 or status >= 500 or (status == 403 and reason in RATE_REASONS):
                raise _Retryable(status, after) from exc
            if status == 401:
                raise AuthError("Google no longer accepts this mailbox's authorization. Reconnect it.") from exc
            raise ProviderError(f"Gmail refused the request ({status} {reason}).") from exc
        except (AuthError, ProviderError):
            raise
        except (socket.timeout, TimeoutError) as exc:
            raise NetworkError(f"Gmail did not answer in time for {self.config.email}.") from exc
        except OSError as exc:
            raise NetworkError(f"Could not reach Gmail for {self.config.email}: {exc}") from exc
        except Exception as exc:  # httplib2's own errors (ServerNotFoundError, ...) have no common base
            if type(exc).__module__.startswith("httplib2"):
                raise NetworkError(f"Could not reach Gmail for {self.config.email}: {exc}") from exc
            raise

    def _sleep(self, attempt, retry_after=None):
        delay = retry_after if retry_after else self.config.backoff_base * (2 ** attempt) * (0.5 + random.random())
        time.sleep(min(delay, 60))


class _Retryable(ProviderError):
    def __init__(self, status, retry_after=None):
        super().__init__(f"Gmail answered {status}")
        self.status, self.retry_after = status, retry_after


class _NotFound(ProviderError):
    pass


def _note_labels(after, kind, item):
    """Record in ``after`` the labels a message has after this history item (None: deleted)."""
    message_id = item["message"]["id"]
    if kind == "messagesDeleted":
        after[message_id] = None
        return
    labels = item["message"].get("labelIds")
    if labels is None:
        after.pop(message_id, None)  # unknown from here on: read it
        return
    labels = set(labels)
    changed = set(item.get("labelIds") or ())
    # Whether a record lists the labels before or after its own change, this gives "after".
    if kind == "labelsAdded":
        labels |= changed
    elif kind == "labelsRemoved":
        labels -= changed
    after[message_id] = labels


def _error_facts(exc):
    """(status, reason, retry_after seconds) of a googleapiclient HttpError."""
    status = int(getattr(getattr(exc, "resp", None), "status", 0) or 0)
    reason, after = "", None
    try:
        body = json.loads(exc.content.decode() if isinstance(exc.content, bytes) else exc.content)
        errors = body.get("error", {}).get("errors") or [{}]
        reason = errors[0].get("reason") or body.get("error", {}).get("status", "")
    except (ValueError, AttributeError):
        pass
    header = getattr(exc, "resp", {}).get("retry-after") if hasattr(getattr(exc, "resp", None), "get") else None
    if header and str(header).isdigit():
        after = int(header)
    return status, reason, after

