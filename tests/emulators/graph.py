"""Microsoft Graph v1.0 mail emulator: mailFolders, delta, $batch, sendMail, drafts, upload sessions.

Served under ``{base_url}/v1.0`` (pass that as ``GraphConfig.api_root``). One in-memory
mailbox per user, addressed as ``/me`` with a bearer token checked against a
``TokenRegistry``.

Model
-----
- Folders: the well-known ones (inbox, sentitems, drafts, deleteditems, junkemail,
  archive) under a hidden root, plus user folders with ``childFolders``. As in v1.0 the
  listing carries no ``wellKnownName`` (knob ``expose_well_known_name``); a well-known
  name works as an alias in URLs (``/me/mailFolders/inbox``).
- Messages keep an opaque immutable id; a move keeps it unless ``ids_change_on_move``.
- Every change appends ``(seq, message id)`` to the folder's change log. A delta round
  without token lists the folder newest first; a ``$deltatoken`` lists the ids changed
  since its sequence number, rendered as they are *now*: still in the folder -> the
  message, otherwise ``@removed``. Paging follows ``Prefer: odata.maxpagesize`` (default
  10, as Graph). Tokens are opaque keys of server-side state.
- ``$batch``: at most 20 requests, answered in order; non-JSON bodies (``/$value``) are
  base64 in the sub-response, as Graph does. Sub-requests run one after the other, so a
  batch counts as one request for the mailbox concurrency check.

Change notifications: ``POST /subscriptions`` first validates ``notificationUrl`` and
``lifecycleNotificationUrl`` as Graph does (POST ``?validationToken=...``; the receiver must
echo the token as text/plain with 200, else the subscription is refused with 400), then
every change in the subscribed mailbox (``add_message``, ``move``, ``delete``,
``set_flags``) POSTs ``{"value": [{subscriptionId, clientState, changeType, resource,
resourceData, subscriptionExpirationDateTime, tenantId}]}`` to ``notificationUrl``.
``lifecycle(user, event)`` sends ``reauthorizationRequired`` / ``subscriptionRemoved``
(which also drops the subscription) / ``missed``. ``PATCH`` renews, ``DELETE`` removes.
Expiry above 10,080 minutes is refused. ``push_sync`` makes POSTs synchronous;
``pushes`` logs them with the answer status.

Fault knobs: ``expire_delta(folder=None)`` (older tokens answer 410 syncStateNotFound),
``throttle_next(n, retry_after)`` (whole requests answer 429), ``throttle_batch_parts(n,
retry_after)`` (the next ``n`` batch sub-requests answer 429), inherited ``fail_next`` and
``delay``; more than ``mailbox_concurrency`` requests in flight for one mailbox answer
429 ApplicationThrottled and are recorded in ``throttled``. Requests without
``Prefer: IdType="ImmutableId"`` are recorded in ``missing_immutable``.
"""
import base64
import email
import email.policy
import json
import re
import secrets
import threading
from datetime import datetime, timezone
from email.utils import make_msgid, parsedate_to_datetime

from .push import PushSender
from .server import EmulatorServer, Request, Response

WELL_KNOWN = {"inbox": "Inbox", "sentitems": "Sent Items", "drafts": "Drafts", "deleteditems": "Deleted Items",
              "junkemail": "Junk Email", "archive": "Archive"}
REQUEST_LIMIT = 4 * 1024 * 1024
ME = "/v1.0/me"
FILTER = re.compile(r"(\w+) (eq|le|lt|ge|gt) (?:'((?:[^']|'')*)'|(\S+))")


def _new_id(prefix="AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A"):
    return prefix + secrets.token_urlsafe(18)


def _iso(value):
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(value):
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _error(status, code, message, headers=None):
    return Response(status, {"error": {"code": code, "message": message}}, headers or {})


class Mailbox:
    def __init__(self, user):
        self.user = user
        self.root = _new_id("root-")
        self.folders = {}  # id -> {id, displayName, parentFolderId, wellKnownName}
        self.well_known = {}
        self.messages = {}  # id -> dict (see add)
        self.log = {}  # folder id -> [(seq, message id)]
        self.seq = 0
        self.epoch = {}  # folder id -> generation of its delta tokens
        self.active = 0  # requests in flight
        for name, display in WELL_KNOWN.items():
            self.well_known[name] = self.add_folder(display, well_known=name)

    def add_folder(self, name, parent=None, well_known=None):
        fid = _new_id("AQMk")
        self.folders[fid] = {"id": fid, "displayName": name, "parentFolderId": parent or self.root,
                             "wellKnownName": well_known}
        self.log[fid], self.epoch[fid] = [], 0
        return fid

    def resolve(self, folder):
        return self.well_known.get(folder.lower(), folder) if folder else folder

    def touch(self, folder, mid):
        self.seq += 1
        self.log[folder].append((self.seq, mid))

    def in_folder(self, folder):
        return [m for m in self.messages.values() if m["folder"] == folder]


class GraphEmulator(EmulatorServer):
    def __init__(self, registry, host="127.0.0.1", port=0, ids_change_on_move=False, expose_well_known_name=False,
                 mailbox_concurrency=4):
        super().__init__(host, port)
        self.registry = registry
        self.ids_change_on_move = ids_change_on_move
        self.expose_well_known_name = expose_well_known_name
        self.mailbox_concurrency = mailbox_concurrency
        self.mailboxes = {}
        self.throttled = []  # (method, path) answered ApplicationThrottled for concurrency
        self.missing_immutable = []
        self.uploads = {}  # token -> session
        self._delta_states = {}
        self.value_reads = 0  # bodies served (batch sub-requests are not in ``requests``)
        self._throttle = [0, 1]
        self._part_throttle = [0, 1]
        self._glock = threading.RLock()
        for method, pattern, handler in [
            ("GET", ME, self._me), ("GET", ME + r"/mailFolders", self._folders),
            ("GET", ME + r"/mailFolders/(?P<fid>[^/]+)", self._folder),
            ("GET", ME + r"/mailFolders/(?P<fid>[^/]+)/childFolders", self._folders),
            ("GET", ME + r"/mailFolders/(?P<fid>[^/]+)/messages", self._list),
            ("GET", ME + r"/mailFolders/(?P<fid>[^/]+)/messages/delta", self._delta),
            ("GET", ME + r"/messages", self._list), ("POST", ME + r"/messages", self._create_draft),
            ("GET", ME + r"/messages/(?P<mid>[^/]+)", self._get),
            ("GET", ME + r"/messages/(?P<mid>[^/]+)/\$value", self._value),
            ("PATCH", ME + r"/messages/(?P<mid>[^/]+)", self._patch),
            ("DELETE", ME + r"/messages/(?P<mid>[^/]+)", self._delete),
            ("POST", ME + r"/messages/(?P<mid>[^/]+)/move", self._move),
            ("POST", ME + r"/messages/(?P<mid>[^/]+)/send", self._send_draft),
            ("POST", ME + r"/messages/(?P<mid>[^/]+)/attachments", self._attach),
            ("POST", ME + r"/messages/(?P<mid>[^/]+)/attachments/createUploadSession", self._upload_session),
            ("PUT", r"/upload/(?P<token>[^/]+)", self._upload_chunk),
            ("POST", ME + r"/sendMail", self._send_mail), ("POST", r"/v1.0/\$batch", self._batch),
            ("POST", r"/v1.0/subscriptions", self._subscribe),
            ("PATCH", r"/v1.0/subscriptions/(?P<sid>[^/]+)", self._renew),
            ("DELETE", r"/v1.0/subscriptions/(?P<sid>[^/]+)", self._unsubscribe)]:
            self.route(method, pattern, handler)
        self.subscriptions = {}  # id -> dict (user, urls, clientState, expirationDateTime, resource)
        self._sender = PushSender()
        self.tenant_id = "00000000-0000-0000-0000-0000000000aa"

    # -- change notifications ---------------------------------------------------------------------
    @property
    def push_sync(self):
        return self._sender.sync

    @push_sync.setter
    def push_sync(self, value):
        self._sender.sync = value

    @property
    def pushes(self):
        return self._sender.sent

    def wait_pushes(self, timeout=10):
        self._sender.join(timeout)

    def _validate(self, url):
        token = "Validation: " + secrets.token_urlsafe(12)
        try:
            import requests
            resp = requests.post(url, params={"validationToken": token}, headers={"Content-Type": "text/plain"},
                                 timeout=10)
        except Exception as exc:  # noqa: BLE001 - any failure is a refused validation
            return f"{exc.__class__.__name__}"
        if resp.status_code != 200 or resp.text != token:
            return f"answered {resp.status_code} {resp.text[:80]!r}"
        if not resp.headers.get("Content-Type", "").startswith("text/plain"):
            return "validation answer is not text/plain"
        return None

    def _subscribe(self, request):
        body = request.json()
        expires = _parse_iso(body["expirationDateTime"])
        minutes = (expires - datetime.now(timezone.utc)).total_seconds() / 60
        if minutes > 10080 or minutes < 0:
            return _error(400, "InvalidRequest", "Subscription expiration can only be 10080 minutes in the future.")
        for key in ("notificationUrl", "lifecycleNotificationUrl"):
            if body.get(key):
                problem = self._validate(body[key])
                if problem:
                    return _error(400, "ValidationError",
                                  f"Subscription validation request failed ({key}): {problem}")
        sid = secrets.token_hex(16)
        sub = {"id": sid, "user": request.user, "resource": body["resource"], "changeType": body["changeType"],
               "notificationUrl": body["notificationUrl"], "clientState": body.get("clientState"),
               "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
               "expirationDateTime": _iso(expires)}
        with self._glock:
            self.subscriptions[sid] = sub
        return 201, {k: v for k, v in sub.items() if k != "user"}

    def _renew(self, request):
        sub = self.subscriptions.get(request.match["sid"])
        if sub is None or sub["user"] != request.user:
            return _error(404, "ResourceNotFound", "The object was not found.")
        value = request.json()["expirationDateTime"]
        expires = _parse_iso(value)
        if (expires - datetime.now(timezone.utc)).total_seconds() > 10080 * 60:
            return _error(400, "InvalidRequest", "Subscription expiration can only be 10080 minutes in the future.")
        sub["expirationDateTime"] = _iso(expires)
        return 200, {k: v for k, v in sub.items() if k != "user"}

    def _unsubscribe(self, request):
        sub = self.subscriptions.get(request.match["sid"])
        if sub is None or sub["user"] != request.user:
            return _error(404, "ResourceNotFound", "The object was not found.")
        del self.subscriptions[request.match["sid"]]
        return 204, None

    def _notify(self, user, mid, change_type):
        for sub in list(self.subscriptions.values()):
            if sub["user"] != user or change_type not in sub["changeType"]:
                continue
            item = {"subscriptionId": sub["id"], "subscriptionExpirationDateTime": sub["expirationDateTime"],
                    "changeType": change_type, "resource": f"Users/{user}/Messages/{mid}",
                    "resourceData": {"@odata.type": "#Microsoft.Graph.Message",
                                     "@odata.id": f"Users/{user}/Messages/{mid}", "id": mid},
                    "clientState": sub["clientState"], "tenantId": self.tenant_id}
            self._sender.post(sub["notificationUrl"], {"value": [item]})

    def notification_body(self, subscription_id, client_state, change_type="created", mid="AAMk-forged"):
        """A notification as Graph would send it (tests forge or replay with it)."""
        return {"value": [{"subscriptionId": subscription_id, "clientState": client_state,
                           "changeType": change_type, "resource": f"Users/x/Messages/{mid}",
                           "resourceData": {"id": mid}, "tenantId": self.tenant_id}]}

    def lifecycle(self, user, event):
        """Send a lifecycle notification (``reauthorizationRequired``, ``subscriptionRemoved``, ``missed``)."""
        for sid, sub in list(self.subscriptions.items()):
            if sub["user"] != user:
                continue
            if event == "subscriptionRemoved":
                del self.subscriptions[sid]
            item = {"subscriptionId": sid, "subscriptionExpirationDateTime": sub["expirationDateTime"],
                    "tenantId": self.tenant_id, "clientState": sub["clientState"], "lifecycleEvent": event}
            self._sender.post(sub["lifecycleNotificationUrl"] or sub["notificationUrl"], {"value": [item]})

    # -- helpers for tests ------------------------------------------------------------------
    def mailbox(self, user):
        with self._glock:
            if user not in self.mailboxes:
                self.mailboxes[user] = Mailbox(user)
            return self.mailboxes[user]

    def folder_id(self, user, name):
        """Id of a well-known folder name or of a display name."""
        box = self.mailbox(user)
        if name.lower() in box.well_known:
            return box.well_known[name.lower()]
        return next(f["id"] for f in box.folders.values() if f["displayName"] == name)

    def add_folder(self, user, name, parent=None):
        with self._glock:
            box = self.mailbox(user)
            return box.add_folder(name, box.resolve(parent) if parent else None)

    def add_message(self, user, raw, folder="inbox", is_read=False, flagged=False, received=None):
        with self._glock:
            box = self.mailbox(user)
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
            if received is None:
                try:
                    received = parsedate_to_datetime(msg["Date"])
                except (TypeError, ValueError):
                    received = datetime.now(timezone.utc)
                if received.tzinfo is None:
                    received = received.replace(tzinfo=timezone.utc)
            mid = _new_id()
            internet_id = (msg["Message-ID"] or "").strip() or make_msgid(domain="emulator.outlook.test")
            box.messages[mid] = {
                "id": mid, "folder": box.resolve(folder), "isRead": is_read,
                "flagStatus": "flagged" if flagged else "notFlagged", "receivedDateTime": _iso(received),
                "internetMessageId": internet_id, "conversationId": self._conversation(box, msg),
                "mime": raw, "isDraft": False, "attachments": []}
            box.touch(box.messages[mid]["folder"], mid)
        self._notify(user, mid, "created")
        return mid

    def move(self, user, mid, folder):
        with self._glock:
            box = self.mailbox(user)
            item = box.messages[mid]
            source, target, old_id = item["folder"], box.resolve(folder), mid
            if self.ids_change_on_move and source != target:
                del box.messages[mid]
                mid = _new_id()
                item = dict(item, id=mid)
                box.messages[mid] = item
            item["folder"] = target
            box.touch(source, old_id)
            box.touch(target, mid)
        self._notify(user, mid, "updated")
        return mid

    def delete(self, user, mid):
        with self._glock:
            box = self.mailbox(user)
            item = box.messages.pop(mid)
            box.touch(item["folder"], mid)
        self._notify(user, mid, "deleted")

    def set_flags(self, user, mid, is_read=None, flagged=None):
        with self._glock:
            box = self.mailbox(user)
            item = box.messages[mid]
            if is_read is not None:
                item["isRead"] = is_read
            if flagged is not None:
                item["flagStatus"] = "flagged" if flagged else "notFlagged"
            box.touch(item["folder"], mid)
        self._notify(user, mid, "updated")

    def messages_in(self, user, folder):
        box = self.mailbox(user)
        return box.in_folder(box.resolve(folder))

    # -- fault knobs ----------------------------------------------------------------------------
    def expire_delta(self, folder=None, user=None):
        with self._glock:
            for box in self.mailboxes.values():
                if user and box.user != user:
                    continue
                for fid in ([box.resolve(folder)] if folder else list(box.epoch)):
                    box.epoch[fid] += 1

    def throttle_next(self, n, retry_after=1):
        self._throttle = [n, retry_after]

    def throttle_batch_parts(self, n, retry_after=1):
        self._part_throttle = [n, retry_after]

    def _take(self, knob):
        with self._glock:
            if knob[0] > 0:
                knob[0] -= 1
                return True
        return False

    # -- request pipeline ---------------------------------------------------------------------
    def dispatch(self, request, full_path):
        # A request occupies its mailbox from arrival to answer (``delay`` included).
        box = self.mailboxes.get(self.registry.user_for(request.bearer) or "")
        if box is None:
            return super().dispatch(request, full_path)
        with self._glock:
            box.active += 1
            request.over_limit = box.active > self.mailbox_concurrency
        try:
            return super().dispatch(request, full_path)
        finally:
            with self._glock:
                box.active -= 1

    def handle(self, request):
        if request.path.startswith("/upload/"):
            return super().handle(request)  # the upload URL carries its own authorisation
        if 'idtype="immutableid"' not in request.headers.get("prefer", "").lower():
            self.missing_immutable.append((request.method, request.path))
        user = self.registry.user_for(request.bearer)
        if user is None:
            return _error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
        if len(request.body) > REQUEST_LIMIT:
            return _error(413, "RequestEntityTooLarge", "The request body exceeds the maximum size of 4 MB.")
        if getattr(request, "over_limit", False):
            self.throttled.append((request.method, request.path))
            return _error(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                          {"Retry-After": "1"})
        if self._take(self._throttle):
            return _error(429, "TooManyRequests", "The request has been throttled.",
                          {"Retry-After": str(self._throttle[1])})
        request.user = user
        self.mailbox(user)
        return super().handle(request)

    def _box(self, request):
        return self.mailbox(request.user)

    def _link(self, path, **query):
        return self.base_url + path + "?" + "&".join(f"{k}={v}" for k, v in query.items())

    # -- folders --------------------------------------------------------------------------------
    def _folder_json(self, box, folder):
        data = {"id": folder["id"], "displayName": folder["displayName"], "parentFolderId": folder["parentFolderId"],
                "childFolderCount": sum(1 for f in box.folders.values() if f["parentFolderId"] == folder["id"]),
                "totalItemCount": len(box.in_folder(folder["id"])), "isHidden": False,
                "unreadItemCount": sum(1 for m in box.in_folder(folder["id"]) if not m["isRead"])}
        if self.expose_well_known_name and folder["wellKnownName"]:
            data["wellKnownName"] = folder["wellKnownName"]
        return data

    def _me(self, request):
        return 200, {"id": "user-" + request.user, "mail": request.user, "userPrincipalName": request.user,
                     "displayName": request.user.split("@")[0]}

    def _folder(self, request):
        box = self._box(request)
        folder = box.folders.get(box.resolve(request.match["fid"]))
        if folder is None:
            return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return 200, self._folder_json(box, folder)

    def _folders(self, request):
        box = self._box(request)
        parent = box.resolve(request.match.groupdict().get("fid")) or box.root
        folders = [self._folder_json(box, f) for f in box.folders.values() if f["parentFolderId"] == parent]
        return 200, self._page(request, folders)

    def _page(self, request, items):
        top, skip = int(request.query.get("$top", 10)), int(request.query.get("$skip", 0))
        body = {"value": items[skip:skip + top]}
        if skip + top < len(items):
            query = {k: v for k, v in request.query.items() if k != "$skip"}
            body["@odata.nextLink"] = self._link(request.path, **query, **{"$skip": skip + top})
        return body

    # -- messages -------------------------------------------------------------------------------
    def _message_json(self, item):
        return {"id": item["id"], "isRead": item["isRead"], "flag": {"flagStatus": item["flagStatus"]},
                "receivedDateTime": item["receivedDateTime"], "internetMessageId": item["internetMessageId"],
                "conversationId": item["conversationId"], "parentFolderId": item["folder"],
                "hasAttachments": b"attachment" in item["mime"].lower(), "isDraft": item["isDraft"]}

    def _find(self, request):
        item = self._box(request).messages.get(request.match["mid"])
        if item is None:
            return None, _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return item, None

    def _list(self, request):
        box = self._box(request)
        fid = request.match.groupdict().get("fid")
        items = box.in_folder(box.resolve(fid)) if fid else list(box.messages.values())
        for name, op, quoted, bare in FILTER.findall(request.query.get("$filter", "")):
            value = quoted.replace("''", "'") if quoted else bare
            items = [m for m in items if _compare(m.get(name), op, value)]
        items.sort(key=lambda m: m["receivedDateTime"], reverse="desc" in request.query.get("$orderby", "desc"))
        return 200, self._page(request, [self._message_json(m) for m in items])

    def _get(self, request):
        item, error = self._find(request)
        return error or (200, self._message_json(item))

    def _value(self, request):
        item, error = self._find(request)
        if error:
            return error
        self.value_reads += 1
        return Response(200, item["mime"], {"Content-Type": "text/plain"})

    def _patch(self, request):
        item, error = self._find(request)
        if error:
            return error
        body = request.json()
        flag = body.get("flag", {}).get("flagStatus")
        self.set_flags(request.user, item["id"], body.get("isRead"), None if flag is None else flag == "flagged")
        return 200, self._message_json(item)

    def _delete(self, request):
        item, error = self._find(request)
        if error:
            return error
        self.delete(request.user, item["id"])
        return Response(204, b"")

    def _move(self, request):
        item, error = self._find(request)
        if error:
            return error
        box = self._box(request)
        target = box.resolve(request.json().get("destinationId", ""))
        if target not in box.folders:
            return _error(400, "ErrorInvalidIdMalformed", "Id is malformed.")
        new_id = self.move(request.user, item["id"], target)
        return 201, self._message_json(box.messages[new_id])

    # -- delta ----------------------------------------------------------------------------------
    def _delta(self, request):
        box = self._box(request)
        fid = box.resolve(request.match["fid"])
        if fid not in box.folders:
            return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        token = request.query.get("$skiptoken") or request.query.get("$deltatoken")
        with self._glock:
            if token:
                state = self._delta_states.get(token)
                if state is None or state["epoch"] != box.epoch[fid] or state["folder"] != fid:
                    return _error(410, "syncStateNotFound", "The sync state is no longer available. Resync.")
                if "ids" in state:
                    ids, snap = state["ids"], state["snap"]
                else:
                    ids = list(dict.fromkeys(mid for seq, mid in box.log[fid] if seq > state["seq"]))
                    snap = box.seq
            else:
                newest = sorted(box.in_folder(fid), key=lambda m: m["receivedDateTime"], reverse=True)
                ids, snap = [m["id"] for m in newest], box.seq
            size = _max_page_size(request.headers.get("prefer", ""))
            page, rest = ids[:size], ids[size:]
            body = {"value": [self._delta_item(box, fid, mid) for mid in page]}
            key = secrets.token_urlsafe(12)
            path = f"{ME}/mailFolders/{fid}/messages/delta"
            if rest:
                self._delta_states[key] = {"folder": fid, "epoch": box.epoch[fid], "ids": rest, "snap": snap}
                body["@odata.nextLink"] = self._link(path, **{"$skiptoken": key})
            else:
                self._delta_states[key] = {"folder": fid, "epoch": box.epoch[fid], "seq": snap}
                body["@odata.deltaLink"] = self._link(path, **{"$deltatoken": key})
        return Response(200, body, {"Preference-Applied": f"odata.maxpagesize={size}"})

    def _delta_item(self, box, fid, mid):
        item = box.messages.get(mid)
        if item is None or item["folder"] != fid:
            return {"@odata.type": "#microsoft.graph.message", "id": mid, "@removed": {"reason": "deleted"}}
        return dict(self._message_json(item), **{"@odata.type": "#microsoft.graph.message"})

    # -- $batch ---------------------------------------------------------------------------------
    def _batch(self, request):
        parts = request.json().get("requests", [])
        if len(parts) > 20:
            return _error(400, "BadRequest", "Number of batch requests exceeds the maximum of 20.")
        return 200, {"responses": [self._batch_part(request, part) for part in parts]}

    def _batch_part(self, outer, part):
        headers = {k.lower(): v for k, v in (part.get("headers") or {}).items()}
        if 'idtype="immutableid"' not in headers.get("prefer", "").lower():
            self.missing_immutable.append((part["method"], part["url"]))
        if self._take(self._part_throttle):
            return {"id": part["id"], "status": 429, "headers": {"Retry-After": str(self._part_throttle[1])},
                    "body": {"error": {"code": "ApplicationThrottled", "message": "MailboxConcurrency limit."}}}
        body = part.get("body")
        sub = Request.parse(part["method"], "/v1.0" + part["url"], headers,
                            b"" if body is None else (body.encode() if isinstance(body, str) else _json(body)))
        sub.user = outer.user
        response = EmulatorServer.handle(self, sub)
        data, resp_headers = response.encode()
        if isinstance(response.body, (dict, list)):
            out = response.body
        elif data:
            out = base64.b64encode(data).decode()
        else:
            out = None
        return {"id": part["id"], "status": response.status, "headers": resp_headers, "body": out}

    # -- sending --------------------------------------------------------------------------------
    def _decode_mime(self, request):
        try:
            return base64.b64decode(request.body, validate=True), None
        except ValueError:
            return None, _error(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")

    def _send_mail(self, request):
        raw, error = self._decode_mime(request)
        if error:
            return error
        self.add_message(request.user, raw, folder="sentitems", is_read=True, received=datetime.now(timezone.utc))
        return Response(202, b"")

    def _create_draft(self, request):
        raw, error = self._decode_mime(request)
        if error:
            return error
        mid = self.add_message(request.user, raw, folder="drafts", is_read=True, received=datetime.now(timezone.utc))
        item = self._box(request).messages[mid]
        item["isDraft"] = True
        return 201, self._message_json(item)

    def _attach(self, request):
        item, error = self._find(request)
        if error:
            return error
        body = request.json()
        item["attachments"].append((body["name"], body.get("contentType", "application/octet-stream"),
                                    base64.b64decode(body["contentBytes"])))
        return 201, {"id": _new_id("att-"), "name": body["name"]}

    def _upload_session(self, request):
        item, error = self._find(request)
        if error:
            return error
        spec = request.json()["AttachmentItem"]
        token = secrets.token_urlsafe(16)
        self.uploads[token] = {"message": item, "name": spec["name"], "size": int(spec["size"]),
                               "contentType": spec.get("contentType", "application/octet-stream"),
                               "data": bytearray(), "chunks": 0}
        return 201, {"uploadUrl": f"{self.base_url}/upload/{token}", "nextExpectedRanges": ["0-"],
                     "expirationDateTime": "2099-01-01T00:00:00Z"}

    def _upload_chunk(self, request):
        session = self.uploads.get(request.match["token"])
        if session is None:
            return _error(404, "ErrorItemNotFound", "Upload session not found.")
        if "authorization" in request.headers:
            return _error(401, "InvalidAuthenticationToken", "Do not send Authorization to the upload URL.")
        found = re.match(r"bytes (\d+)-(\d+)/(\d+)", request.headers.get("content-range", ""))
        if not found or int(found[1]) != len(session["data"]) or int(found[2]) - int(found[1]) + 1 != len(
                request.body) or len(request.body) > REQUEST_LIMIT:
            return _error(416, "InvalidRange", "The Content-Range does not match the expected range.")
        session["data"] += request.body
        session["chunks"] += 1
        if len(session["data"]) < session["size"]:
            return 200, {"expirationDateTime": "2099-01-01T00:00:00Z",
                         "nextExpectedRanges": [f"{len(session['data'])}-"]}
        session["message"]["attachments"].append((session["name"], session["contentType"], bytes(session["data"])))
        return Response(201, b"", {"Location": f"{self.base_url}{ME}/messages/{session['message']['id']}/attachments"})

    def _send_draft(self, request):
        item, error = self._find(request)
        if error:
            return error
        with self._glock:
            item["mime"] = _with_attachments(item["mime"], item["attachments"])
            item["attachments"], item["isDraft"] = [], False
            item["receivedDateTime"] = _iso(datetime.now(timezone.utc))
        self.move(request.user, item["id"], "sentitems")
        return Response(202, b"")

    # -- threading --------------------------------------------------------------------------
    def _conversation(self, box, msg):
        refs = " ".join(filter(None, [msg["In-Reply-To"] or "", msg["References"] or ""])).split()
        for ref in refs:
            for other in box.messages.values():
                if other["internetMessageId"] == ref.strip():
                    return other["conversationId"]
        return _new_id("AAQk")


def _json(body):
    return json.dumps(body).encode()


def _compare(actual, op, value):
    if actual is None:
        return False
    actual = str(actual)
    return {"eq": actual == value, "le": actual <= value, "lt": actual < value,
            "ge": actual >= value, "gt": actual > value}[op]


def _max_page_size(prefer):
    found = re.search(r"odata\.maxpagesize=(\d+)", prefer)
    return int(found.group(1)) if found else 10


def _with_attachments(raw, attachments):
    """The draft's MIME with uploaded attachments added as parts of a multipart/mixed."""
    if not attachments:
        return raw
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart

    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.get_content_type() != "multipart/mixed":
        outer = MIMEMultipart("mixed")
        for name, value in msg.items():
            if not name.lower().startswith(("content-", "mime-version")):
                outer[name] = value
        inner = email.message_from_bytes(raw, policy=email.policy.compat32)
        for name in [n for n in inner.keys() if not n.lower().startswith(("content-", "mime-version"))]:
            del inner[name]
        outer.attach(inner)
        msg = outer
    for name, content_type, data in attachments:
        part = MIMEApplication(data, _subtype=content_type.split("/", 1)[-1])
        part.replace_header("Content-Type", f'{content_type}; name="{name}"')
        part.add_header("Content-Disposition", "attachment", filename=name)
        msg.attach(part)
    return msg.as_bytes(policy=email.policy.SMTP)
