"""Microsoft Graph v1.0 (Microsoft 365 / Outlook) implementation of the provider interface.

Plain ``requests`` on one ``Session``; no Graph SDK. Every request carries
``Prefer: IdType="ImmutableId"`` so a message keeps its id when it moves between folders
(the header applies per request only, so batch sub-requests carry it too).

Folders are Graph mailFolders addressed by id (``RemoteFolder.path``); child folders are
listed recursively. v1.0 has no ``wellKnownName`` property, so roles come from one
``$batch`` resolving ``/me/mailFolders/{inbox,sentitems,...}`` to ids (a listing that does
carry ``wellKnownName`` is used as is).

Cursor (per folder)::

    {"round": "initial" | "delta" | "idle",
     "link": "https://…",     # nextLink of the running round, or the deltaLink when idle
     "bootstrap_left": 0,     # newest messages the initial round still fetches
     "floor": "2026-…Z",      # receivedDateTime of the oldest message fetched: the window
     "complete": False,       # True once nothing older than ``floor`` is left to fetch
     "backfill_link": None}   # nextLink of a backfill pass under way

Sync model
----------
- Delta works per folder. The initial round (``messages/delta``, newest first,
  ``Prefer: odata.maxpagesize``) fetches the MIME of the ``bootstrap`` newest messages and
  then only pages through the rest (ids and flags, no bodies) to reach the deltaLink:
  the deltaLink only exists at the end of a full round, and without it changes to the
  stored messages could not be tracked. Each page is one ``SyncBatch`` whose cursor holds
  the nextLink, so an interrupted round resumes where it stopped.
- Backfill lists ``receivedDateTime le floor`` newest first and fetches what is not stored
  yet, up to the limit; it never touches the delta state.
- Incremental: GET the deltaLink. ``@removed`` -> vanished; a known id -> flags; an unknown
  id -> fetched (delta does not tell "created" from "updated", so an unknown id is new to
  the folder, e.g. moved in; fetching it never loses mail).
- 410 / ``syncStateNotFound``: the folder's delta restarts from scratch. Known ids only get
  flags (immutable ids: nothing is downloaded twice), unknown ids inside the window are
  fetched, and a last batch with ``drop_unbound`` keeps every id the round saw. The
  resync's batches carry no cursor: interrupted, it simply starts over.
- Bodies: ``GET /me/messages/{id}/$value`` inside ``$batch`` (at most ``batch_size`` = 20
  per batch; Graph returns such non-JSON bodies base64-encoded). Graph lists no message
  size, so a message over ``SyncOptions.max_body_bytes`` is cut to its header block after
  the read (``partial``; Exchange caps mail at 35 MB by default) and fetched on demand.

Sending: up to 3 MB of MIME, ``POST /me/sendMail`` with the base64 MIME (Exchange files it
in Sent Items whatever ``sent_folder`` says), then the Sent Items copy is found by
``internetMessageId`` (a few short retries: the copy appears asynchronously). Larger: the
biggest attachments are cut out of the MIME until it fits, a draft is created from the
rest (``POST /me/messages``), the cut parts are added back (inline JSON below 3 MB, upload
session in chunks above) and the draft is sent; its immutable id is the Sent Items copy's.

Throttling and errors: 429/503/504 are retried after ``Retry-After`` (exponential backoff
without it), batch sub-requests answered 429 are re-batched, then ``ThrottledError``. A
semaphore keeps at most ``max_concurrency`` (Outlook: 4 per mailbox) requests in flight
per provider, even when several threads share it. A 401 refreshes the token once.
"""
import base64
import dataclasses
import io
import logging
import threading
import time
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.generator import BytesGenerator

import requests

from .errors import AuthError, CursorExpired, NetworkError, ProviderError, SendError, ThrottledError
from .mime import _header_block, message_key_from_headers
from .provider import FlagState, MailProvider, RemoteFolder, RemoteMessage, SendResult, SyncBatch

_logger = logging.getLogger(__name__)

IMMUTABLE = 'IdType="ImmutableId"'
SELECT = "id,isRead,flag,receivedDateTime,internetMessageId,conversationId,hasAttachments,parentFolderId"
WELL_KNOWN_ROLES = {"inbox": "inbox", "sentitems": "sent", "drafts": "drafts", "deleteditems": "trash",
                    "junkemail": "spam", "archive": "archive"}
RETRY_STATUS = (429, 503, 504)
EXPIRED_CODES = {"syncstatenotfound", "resyncrequired", "syncstateinvalid"}
SMALL_MIME = 3 * 1024 * 1024  # base64 of 3 MB stays under Graph's 4 MB request limit
UPLOAD_CHUNK = 10 * 320 * 1024  # upload-session chunks: multiples of 320 KiB, under 4 MB


@dataclasses.dataclass
class GraphConfig:
    email: str
    token_source: object  # get_token(force_refresh=False) -> str; AuthError when the grant is gone
    api_root: str = "https://graph.microsoft.com/v1.0"
    timeout: int = 60
    page_size: int = 100
    batch_size: int = 20
    max_concurrency: int = 4
    max_retries: int = 5
    backoff_base: float = 1.0
    max_retry_after: float = 300.0  # a longer Retry-After is handed to the caller, not slept through
    sent_lookup_attempts: int = 5  # the Sent Items copy "might not be available immediately"


def _utc_naive(value):
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def _flag_state(item):
    if "isRead" not in item and "flag" not in item:
        return None
    return FlagState(item["id"], bool(item.get("isRead")), (item.get("flag") or {}).get("flagStatus") == "flagged")


def _body_bytes(body):
    """A batch sub-response body as bytes: Graph base64-encodes non-JSON content."""
    if body is None:
        return b""
    if isinstance(body, str):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            return body.encode()  # already plain text (some gateways do not encode)
    return repr(body).encode()


def _graph_error(body):
    error = (body or {}).get("error") if isinstance(body, dict) else None
    return (error or {}).get("code") or "", (error or {}).get("message") or ""


class GraphProvider(MailProvider):
    """One mailbox on Microsoft Graph; thread-safe for concurrent folder syncs."""

    def __init__(self, config: GraphConfig):
        self.config = config
        self.session = None
        self._slots = threading.BoundedSemaphore(max(1, config.max_concurrency))
        self._token = None
        self._token_lock = threading.Lock()
        self._well_known = None  # {well-known name: folder id}
        self._max_body_bytes = None  # SyncOptions.max_body_bytes of the running sync

    # -- connection -----------------------------------------------------------------------------
    def connect(self):
        self.session = requests.Session()
        self._token = self.config.token_source.get_token()
        return self

    def close(self):
        if self.session is not None:
            self.session.close()
            self.session = None

    def test_connection(self):
        me = self._get("/me", "read the profile")
        return {"email": me.get("mail") or me.get("userPrincipalName"), "folders": len(self.list_folders())}

    # -- HTTP -------------------------------------------------------------------------------------
    def _refresh_token(self, stale):
        with self._token_lock:
            if self._token == stale:  # another thread may have refreshed already
                self._token = self.config.token_source.get_token(force_refresh=True)
            return self._token

    def _retry_after(self, headers, attempt):
        value = {k.lower(): v for k, v in (headers or {}).items()}.get("retry-after")
        try:
            return max(0.0, float(value))
        except (TypeError, ValueError):
            return self.config.backoff_base * (2 ** attempt)

    def _throttled(self, wait, attempt, action):
        """Sleep before retry ``attempt``, or raise when retries are spent or the wait is too long."""
        if attempt >= self.config.max_retries or wait > self.config.max_retry_after:
            raise ThrottledError(f"Microsoft 365 asks to slow down ({action}); the sync retries later.",
                                 retry_after=wait)
        time.sleep(wait)

    def _request(self, method, url, action, params=None, json=None, data=None, headers=None, prefer=(),
                 auth=True):
        url = url if url.startswith("http") else self.config.api_root + url
        refreshed, attempt = False, 0
        while True:
            sent_headers = {"Prefer": ", ".join((IMMUTABLE,) + tuple(prefer)), **(headers or {})}
            token = self._token
            if auth:
                sent_headers["Authorization"] = f"Bearer {token}"
            try:
                with self._slots:
                    resp = self.session.request(method, url, params=params, json=json, data=data,
                                                headers=sent_headers, timeout=self.config.timeout)
            except requests.Timeout as exc:
                raise NetworkError(f"Microsoft 365 did not answer in time ({action}).") from exc
            except requests.RequestException as exc:
                raise NetworkError(f"Could not reach Microsoft 365 ({action}): {exc.__class__.__name__}.") from exc
            if resp.status_code == 401 and auth and not refreshed:
                refreshed = True
                self._refresh_token(token)
                continue
            if resp.status_code in RETRY_STATUS:
                self._throttled(self._retry_after(resp.headers, attempt), attempt, action)
                attempt += 1
                continue
            if resp.status_code >= 400:
                raise self._error(resp.status_code, _safe_json(resp), action)
            return resp

    def _error(self, status, body, action):
        code, message = _graph_error(body)
        if status == 401:
            return AuthError(f"Microsoft 365 no longer accepts the authorization of {self.config.email}. "
                             "Reconnect the account.")
        if status == 403:
            return AuthError(f"Microsoft 365 denied access ({action}): {message or code}. "
                             "Reconnect the account and grant the mail permissions.")
        if status == 410 or code.lower() in EXPIRED_CODES:
            return CursorExpired(f"Microsoft 365 reset the sync state ({action}); the folder is resynced.")
        error = ProviderError(f"Microsoft 365 refused to {action}: {message or code or status}.")
        error.status = status
        return error

    def _get(self, url, action, **kw):
        return self._request("GET", url, action, **kw).json()

    def _paged(self, url, action, params=None, prefer=()):
        """Every item of a collection, following ``@odata.nextLink``."""
        items = []
        while url:
            page = self._get(url, action, params=params, prefer=prefer)
            items.extend(page.get("value", []))
            url, params = page.get("@odata.nextLink"), None
        return items

    # -- $batch -------------------------------------------------------------------------------------
    def _batch(self, parts, action):
        """Run ``[{"method", "url", "body"?}]`` through ``$batch``; ``[(status, body)]`` in order."""
        results = [None] * len(parts)
        size = max(1, min(20, self.config.batch_size))
        for start in range(0, len(parts), size):
            self._run_batch(parts, list(range(start, min(start + size, len(parts)))), results, action)
        return results

    def _run_batch(self, parts, pending, results, action):
        attempt = 0
        while pending:
            payload = {"requests": [self._sub_request(i, parts[i]) for i in pending]}
            answer = self._request("POST", "/$batch", action, json=payload).json()
            retry, wait = [], 0.0
            for sub in answer.get("responses", []):
                index, status = int(sub["id"]), int(sub["status"])
                if status in RETRY_STATUS:
                    retry.append(index)
                    wait = max(wait, self._retry_after(sub.get("headers"), attempt))
                else:
                    results[index] = (status, sub.get("body"))
            if retry:
                self._throttled(wait, attempt, action)
                attempt += 1
            pending = sorted(retry)

    @staticmethod
    def _sub_request(index, part):
        sub = {"id": str(index), "method": part["method"], "url": part["url"], "headers": {"Prefer": IMMUTABLE}}
        if part.get("body") is not None:
            sub["body"] = part["body"]
            sub["headers"]["Content-Type"] = "application/json"
        return sub

    def _check(self, results, action, tolerate=(404,)):
        for status, body in results:
            if status >= 400 and status not in tolerate:
                raise self._error(status, body, action)

    # -- folders ----------------------------------------------------------------------------------
    def list_folders(self):
        params = {"$top": 100}
        pending = self._paged("/me/mailFolders", "list folders", params=params)
        listed = []
        while pending:
            folder = pending.pop(0)
            listed.append(folder)
            if folder.get("childFolderCount"):
                pending.extend(self._paged(f"/me/mailFolders/{folder['id']}/childFolders", "list folders",
                                           params=params))
        roles = self._roles(listed)
        ids = {f["id"] for f in listed}
        return [RemoteFolder(path=f["id"], name=f.get("displayName") or f["id"], role=roles.get(f["id"], "custom"),
                             parent_path=f.get("parentFolderId") if f.get("parentFolderId") in ids else None)
                for f in listed]

    def _roles(self, listed):
        named = {f["id"]: WELL_KNOWN_ROLES[f["wellKnownName"]] for f in listed
                 if f.get("wellKnownName") in WELL_KNOWN_ROLES}
        if named:
            self._well_known = {f["wellKnownName"]: f["id"] for f in listed if f.get("wellKnownName")}
            return named
        return {fid: WELL_KNOWN_ROLES[name] for name, fid in self.well_known_ids().items()}

    def well_known_ids(self):
        """``{well-known name: folder id}`` for the names the mailbox has (one ``$batch``)."""
        if self._well_known is None:
            names = list(WELL_KNOWN_ROLES)
            results = self._batch([{"method": "GET", "url": f"/me/mailFolders/{n}?$select=id"} for n in names],
                                  "resolve the standard folders")
            self._well_known = {n: body["id"] for n, (status, body) in zip(names, results)
                                if status == 200 and isinstance(body, dict)}
        return self._well_known

    # -- sync ----------------------------------------------------------------------------------------
    def sync_folder(self, folder, cursor, local, options):
        self._max_body_bytes = options.max_body_bytes
        cursor = dict(cursor or {})
        if cursor.get("round") in ("idle", "delta"):
            try:
                yield from self._delta_round(folder, cursor, local, options)
                return
            except CursorExpired:
                _logger.info("Graph delta state of folder %s expired: resyncing it", folder.name)
            yield from self._resync(folder, cursor, local, options)
        elif cursor.get("round") == "initial" or not local.count():
            try:
                yield from self._initial(folder, cursor, local, options)
            except CursorExpired:  # the stored nextLink of an interrupted round expired
                yield from self._resync(folder, cursor, local, options)
        else:
            yield from self._resync(folder, cursor, local, options)  # cursor lost while mail is stored

    def _delta_start(self, folder):
        return (f"{self.config.api_root}/me/mailFolders/{folder.path}/messages/delta"
                f"?$select={SELECT}&$orderby=receivedDateTime+desc")

    def _initial(self, folder, cursor, local, options):
        if cursor.get("round") != "initial":
            cursor = {"round": "initial", "link": self._delta_start(folder), "bootstrap_left": options.bootstrap,
                      "floor": None, "complete": False, "backfill_link": None}
        known = set(local.known_remote_ids())
        while True:
            batch, done = self._delta_page(cursor, known, "initial")
            if done:
                # Fewer messages than the bootstrap budget: the folder is stored whole.
                cursor.update(round="idle", complete=cursor["bootstrap_left"] > 0, bootstrap_left=0)
            batch.cursor, batch.phase = dict(cursor), "bootstrap"
            yield batch
            if done:
                return

    def _delta_round(self, folder, cursor, local, options):
        known = set(local.known_remote_ids())
        cursor["round"] = "delta"
        while True:
            batch, done = self._delta_page(cursor, known, "delta")
            if done:
                cursor["round"] = "idle"
            batch.cursor = dict(cursor)
            yield batch
            if done:
                return

    def _resync(self, folder, cursor, local, options):
        if cursor.get("round") == "initial":
            budget = cursor.get("bootstrap_left", 0)  # an interrupted initial round still owes these
        else:
            budget = 0 if cursor.get("floor") or cursor.get("complete") else options.bootstrap
        window = {"round": "initial", "link": self._delta_start(folder), "floor": cursor.get("floor"),
                  "complete": bool(cursor.get("complete")), "backfill_link": None, "bootstrap_left": budget}
        known, seen = set(local.known_remote_ids()), set()
        while True:
            batch, done = self._delta_page(window, known, "resync", seen)
            batch.cursor, batch.phase = {}, "rebind"  # not resumable: an interrupted resync starts over
            if done:
                window.update(round="idle", bootstrap_left=0,
                              complete=window["complete"] or (budget > 0 and window["bootstrap_left"] > 0))
                batch.cursor, batch.drop_unbound, batch.keep = dict(window), True, sorted(seen)
            yield batch
            if done:
                return

    def _delta_page(self, cursor, known, mode, seen=None):
        """Read one delta page at ``cursor["link"]``; returns ``(SyncBatch, round_finished)``."""
        page = self._get(cursor["link"], "read the changes of a folder",
                         prefer=(f"odata.maxpagesize={self.config.page_size}",))
        flags, vanished, wanted = [], [], []
        for item in page.get("value", []):
            rid = item["id"]
            if "@removed" in item:
                if rid in known:
                    vanished.append(rid)
                    known.discard(rid)
                continue
            if seen is not None:
                seen.add(rid)
            if rid in known:
                state = _flag_state(item)
                if state:
                    flags.append(state)
            elif self._wanted(item, cursor, mode):
                wanted.append(item)
        messages = self._download(wanted)
        known.update(m.remote_id for m in messages)
        self._lower_floor(cursor, wanted)
        cursor["link"] = page.get("@odata.nextLink") or page.get("@odata.deltaLink")
        done = "@odata.nextLink" not in page
        return SyncBatch(cursor={}, messages=messages, flags=flags, vanished=vanished), done

    @staticmethod
    def _wanted(item, cursor, mode):
        """Whether an id not stored yet is fetched in this round (see the module doc)."""
        if mode == "delta" or cursor.get("complete"):
            return True
        if cursor.get("floor") and (item.get("receivedDateTime") or "") >= cursor["floor"]:
            return True
        if cursor.get("bootstrap_left", 0) > 0:
            cursor["bootstrap_left"] -= 1
            return True
        return False

    @staticmethod
    def _lower_floor(cursor, items):
        received = [i.get("receivedDateTime") for i in items if i.get("receivedDateTime")]
        if received and cursor.get("round") != "delta":
            cursor["floor"] = min(received + ([cursor["floor"]] if cursor.get("floor") else []))

    def backfill_folder(self, folder, cursor, local, options, limit):
        self._max_body_bytes = options.max_body_bytes
        cursor = dict(cursor or {})
        history = options.history_limit()
        if history is not None:
            limit = min(limit, history - local.count())
        if options.backfill_mode == "from_now" or cursor.get("round") not in ("idle", "delta") \
                or cursor.get("complete") or not cursor.get("floor") or limit <= 0:
            return
        known = set(local.known_remote_ids())
        link = cursor.get("backfill_link") or (
            f"{self.config.api_root}/me/mailFolders/{folder.path}/messages?$select={SELECT}"
            f"&$filter=receivedDateTime+le+{cursor['floor']}&$orderby=receivedDateTime+desc"
            f"&$top={self.config.page_size}")
        while link and limit > 0:
            page = self._get(link, "read older mail")
            unknown = [i for i in page.get("value", []) if i["id"] not in known]
            wanted = unknown[:limit]
            limit -= len(wanted)
            messages = self._download(wanted)
            known.update(m.remote_id for m in messages)
            self._lower_floor(cursor, wanted)
            # Stopped inside a page: re-read it next time (stored ids are skipped).
            link = page.get("@odata.nextLink") if len(wanted) == len(unknown) else link
            cursor["backfill_link"] = link
            cursor["complete"] = link is None
            yield SyncBatch(cursor=dict(cursor), messages=messages, phase="backfill")

    # -- fetching -----------------------------------------------------------------------------------
    def _download(self, items):
        """``RemoteMessage`` for delta/list items, MIME fetched via ``$batch`` (gone ones skipped)."""
        if not items:
            return []
        results = self._batch([{"method": "GET", "url": f"/me/messages/{i['id']}/$value"} for i in items],
                              "download messages")
        self._check(results, "download messages")
        return [self._remote(item, _body_bytes(body)) for item, (status, body) in zip(items, results)
                if status == 200]

    def _remote(self, item, raw):
        state = _flag_state(item) or FlagState(item["id"], False, False)
        size, partial = len(raw), False
        if self._max_body_bytes and size > self._max_body_bytes:
            # Graph lists no sizes, so a huge message is only known once read: keep its
            # headers (bounded storage and parsing); the body is fetched on demand.
            raw, partial = _header_block(raw), True
        return RemoteMessage(remote_id=item["id"], raw=raw, is_read=state.is_read, is_starred=state.is_starred,
                             internal_date=_utc_naive(item.get("receivedDateTime")), size=size, partial=partial,
                             provider_thread_id=item.get("conversationId"))

    def fetch_messages(self, folder, remote_ids):
        self._max_body_bytes = None  # an explicit read wants the whole message
        parts = []
        for rid in remote_ids:
            parts.append({"method": "GET", "url": f"/me/messages/{rid}?$select={SELECT}"})
            parts.append({"method": "GET", "url": f"/me/messages/{rid}/$value"})
        results = self._batch(parts, "download messages")
        self._check(results, "download messages")
        messages = []
        for i in range(0, len(results), 2):
            (meta_status, meta), (raw_status, raw) = results[i], results[i + 1]
            if meta_status == 200 and raw_status == 200:
                messages.append(self._remote(meta, _body_bytes(raw)))
        return messages

    # -- two-way changes ------------------------------------------------------------------------------
    def set_flags(self, folder, remote_ids, is_read=None, is_starred=None):
        body = {}
        if is_read is not None:
            body["isRead"] = bool(is_read)
        if is_starred is not None:
            body["flag"] = {"flagStatus": "flagged" if is_starred else "notFlagged"}
        if not body or not remote_ids:
            return
        results = self._batch([{"method": "PATCH", "url": f"/me/messages/{rid}", "body": body} for rid in remote_ids],
                              "update flags")
        self._check(results, "update flags")

    def move(self, folder, remote_ids, target):
        results = self._batch([{"method": "POST", "url": f"/me/messages/{rid}/move",
                                "body": {"destinationId": target.path}} for rid in remote_ids],
                              f"move messages to {target.name}")
        self._check(results, f"move messages to {target.name}")
        # Immutable ids survive most moves, but not all (archive mailbox): trust the answer.
        return {rid: (body or {}).get("id") if status < 300 else None
                for rid, (status, body) in zip(remote_ids, results)}

    def delete(self, folder, remote_ids):
        trash = self.well_known_ids().get("deleteditems")
        if folder.role == "trash" or folder.path == trash:
            results = self._batch([{"method": "DELETE", "url": f"/me/messages/{rid}"} for rid in remote_ids],
                                  "delete messages")
            self._check(results, "delete messages")
        else:
            self.move(folder, remote_ids, RemoteFolder(path=trash or "deleteditems", name="Deleted Items",
                                                       role="trash"))

    # -- sending ---------------------------------------------------------------------------------------
    def send(self, raw, sender, recipients, sent_folder):
        try:
            if len(raw) <= SMALL_MIME:
                return self._send_small(raw)
            return self._send_large(raw)
        except (AuthError, NetworkError, SendError):
            raise
        except ProviderError as exc:
            raise SendError(f"Microsoft 365 did not send the message: {exc}") from exc

    def _send_small(self, raw):
        self._request("POST", "/me/sendMail", "send the message", data=base64.b64encode(raw),
                      headers={"Content-Type": "text/plain"})
        result = SendResult(message_id=message_key_from_headers(raw))
        if b"\nmessage-id:" not in b"\n" + _header_block(raw).lower():
            return result  # Exchange makes up the Message-ID: nothing to look the copy up by
        try:
            copy = self._find_sent_copy(result.message_id)
        except ProviderError as exc:  # delivered already: only the lookup of the copy failed
            _logger.warning("Sent, but could not find the copy in Sent Items: %s", exc)
            copy = None
        if copy:
            result.sent_remote_id, result.sent_folder_path = copy["id"], copy.get("parentFolderId")
            result.provider_thread_id = copy.get("conversationId")
        return result

    def _find_sent_copy(self, message_id):
        quoted = message_id.replace("'", "''")
        for attempt in range(self.config.sent_lookup_attempts):
            found = self._get("/me/mailFolders/sentitems/messages", "find the sent copy",
                              params={"$filter": f"internetMessageId eq '{quoted}'", "$select": SELECT})
            if found.get("value"):
                return found["value"][0]
            time.sleep(min(2.0, self.config.backoff_base * (2 ** attempt)))
        return None

    def _send_large(self, raw):
        slim, cut = split_large_parts(raw, SMALL_MIME)
        draft = self._request("POST", "/me/messages", "create the draft", data=base64.b64encode(slim),
                              headers={"Content-Type": "text/plain"}).json()
        for name, content_type, data in cut:
            self._attach(draft["id"], name, content_type, data)
        self._request("POST", f"/me/messages/{draft['id']}/send", "send the message")
        result = SendResult(message_id=message_key_from_headers(raw), sent_remote_id=draft["id"],
                            provider_thread_id=draft.get("conversationId"))
        result.sent_folder_path = self.well_known_ids().get("sentitems")
        return result

    def _attach(self, message_id, name, content_type, data):
        if len(data) < SMALL_MIME:
            self._request("POST", f"/me/messages/{message_id}/attachments", "attach a file", json={
                "@odata.type": "#microsoft.graph.fileAttachment", "name": name, "contentType": content_type,
                "contentBytes": base64.b64encode(data).decode()})
            return
        session = self._request("POST", f"/me/messages/{message_id}/attachments/createUploadSession",
                                "upload an attachment", json={"AttachmentItem": {
                                    "attachmentType": "file", "name": name, "size": len(data),
                                    "contentType": content_type}}).json()
        for start in range(0, len(data), UPLOAD_CHUNK):
            chunk = data[start:start + UPLOAD_CHUNK]
            # The upload URL is pre-authorised: an Authorization header makes Graph refuse it.
            self._request("PUT", session["uploadUrl"], "upload an attachment", data=chunk, auth=False, headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {start}-{start + len(chunk) - 1}/{len(data)}"})


    # -- change notifications (/subscriptions) ------------------------------------------------------
    def create_subscription(self, notification_url, lifecycle_url, client_state, expires_at,
                            resource="/me/messages", change_type="created,updated,deleted"):
        """Subscribe to changes of the mailbox's messages; returns ``{id, expires_at}``.

        Graph validates ``notification_url`` (and ``lifecycle_url``) with a
        ``validationToken`` request before it answers; ``expires_at`` is an aware
        datetime, at most 10,080 minutes ahead for messages.
        """
        body = {"changeType": change_type, "notificationUrl": notification_url,
                "lifecycleNotificationUrl": lifecycle_url, "resource": resource,
                "expirationDateTime": _iso_utc(expires_at), "clientState": client_state}
        answer = self._request("POST", "/subscriptions", "subscribe to mailbox changes", json=body).json()
        return {"id": answer["id"], "expires_at": _utc_naive(answer.get("expirationDateTime"))}

    def renew_subscription(self, subscription_id, expires_at):
        """Extend (and re-authorize) a subscription; a 404 (``status``) means it is gone."""
        answer = self._request("PATCH", f"/subscriptions/{subscription_id}", "renew the mailbox subscription",
                               json={"expirationDateTime": _iso_utc(expires_at)}).json()
        return {"id": answer.get("id", subscription_id), "expires_at": _utc_naive(answer.get("expirationDateTime"))}

    def delete_subscription(self, subscription_id):
        """Delete a subscription; one that is already gone counts as deleted."""
        try:
            self._request("DELETE", f"/subscriptions/{subscription_id}", "delete the mailbox subscription")
        except ProviderError as exc:
            if getattr(exc, "status", None) == 404:
                return False
            raise
        return True

def _iso_utc(value):
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _safe_json(resp):
    try:
        return resp.json()
    except ValueError:
        return {}


def _serialize(msg):
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False, maxheaderlen=0).flatten(msg)
    return buffer.getvalue()


def split_large_parts(raw, budget):
    """``(mime, [(name, content_type, bytes)])``: attachments cut out, biggest first, until ``mime`` fits.

    Parts cut out lose their MIME position (an inline ``cid:`` image becomes a plain
    attachment); only messages over ``budget`` take this path.
    """
    msg = message_from_bytes(raw, policy=policy.compat32)
    leaves = []
    for parent in msg.walk():
        if parent.is_multipart():
            leaves.extend((parent, part) for part in parent.get_payload() if not part.is_multipart())
    leaves = [(p, part) for p, part in leaves if part.get_filename() or part.get_content_disposition() == "attachment"]
    leaves.sort(key=lambda pair: len(pair[1].get_payload()), reverse=True)
    cut, size = [], len(raw)
    for parent, part in leaves:
        if size <= budget:
            break
        parent.get_payload().remove(part)
        cut.append((part.get_filename() or "attachment", part.get_content_type(), part.get_payload(decode=True) or b""))
        size = len(_serialize(msg))
    if size > budget:
        raise SendError("The message text alone is larger than Microsoft 365 accepts (4 MB without attachments).")
    return (_serialize(msg) if cut else raw), cut
