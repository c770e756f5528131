"""Gmail API v1 emulator: labels, messages, history, batch, send, modify — the real shapes.

One in-memory mailbox per user (the email the bearer token belongs to). What it keeps
faithful because the engine depends on it:

- ids are 16 hex digits; ``historyId`` grows with random gaps; ``internalDate`` is epoch ms
  as a string; ``raw`` is base64url; an empty list omits its key (``messages``, ``history``);
- messages.list is newest first, hides TRASH/SPAM unless asked, pages with
  ``nextPageToken``; ``q`` understands ``in:<label>``, ``-in:<label>`` and ``rfc822msgid:``;
- history.list filters by ``labelId`` and answers 404 for a start older than what it keeps
  (``expire_history()``);
- ``POST /batch/gmail/v1`` (and ``/batch``) take multipart/mixed ``application/http``
  parts, at most 100, and answer multipart/mixed with ``Content-ID: <response-...>``; parts
  inherit the outer request's bearer token, as at Google;
- errors are ``{"error": {"code", "message", "errors": [{"reason", "domain"}], "status"}}``.

- messages.send joins ``threadId`` only when, as at Google, the message also carries
  ``In-Reply-To``/``References`` and the same subject (``Re:``/``Fwd:`` aside); it takes
  the JSON form and the ``/upload/...`` media and multipart forms googleapiclient uses.

Push (``users.watch`` -> Cloud Pub/Sub push subscription): ``watch`` stores the topic and
answers ``{historyId, expiration}`` (7 days out), ``stop`` ends it. As documented for
``users.watch``: without ``labelIds`` every change is pushed; with them,
``labelFilterBehavior`` (or the deprecated ``labelFilterAction``; ``include`` when neither
is given) ``include`` pushes only changes of messages carrying (or gaining or losing) one
of those labels, ``exclude`` every change but those. Configure the push
subscription with ``configure_push(url, auth="oidc"|"none", audience, service_account,
sync)``: every change to a watched mailbox then POSTs a Pub/Sub push envelope
(``{"message": {"data": base64({"emailAddress", "historyId"}), "messageId",
"publishTime"}, "subscription"}``) to ``url``, with a Google-style signed OIDC bearer token
when ``auth="oidc"``. The signing keys are served at ``/oauth2/v1/certs`` (Google's
``{kid: PEM}`` format). ``pushes`` logs every POST and its answer status.

Counting: ``requests`` / ``count()`` (inherited) log HTTP requests; ``parts`` logs the
``(method, target)`` of every batch part and ``count_parts(contains)`` counts them, so a
test can tell how many messages were read, not only how many batches went out.

Fault knobs: ``rate_limit_next(n, reason, retry_after)`` (whole requests answer 403 for the
user/daily reasons, 429 for ``rateLimitExceeded``), ``rate_limit_parts(n, reason,
retry_after)`` (the next n batch parts do), ``expire_history()``, and the inherited
``fail_next`` / ``delay``.
"""
import base64
import itertools
import json
import random
import re
import threading
import time
from email import message_from_bytes
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime

from .push import OidcIssuer, PushSender
from .server import EmulatorServer, Request, Response

SYSTEM_LABELS = ("INBOX", "SENT", "DRAFT", "TRASH", "SPAM", "UNREAD", "STARRED", "IMPORTANT",
                 "CATEGORY_PERSONAL", "CATEGORY_SOCIAL", "CATEGORY_PROMOTIONS", "CATEGORY_UPDATES", "CHAT")
API = "/gmail/v1/users/me"
SERVICE_ACCOUNT = "push@maildesk-test.iam.gserviceaccount.com"
HISTORY_KINDS = {"messageAdded": "messagesAdded", "messageDeleted": "messagesDeleted", "labelAdded": "labelsAdded",
                 "labelRemoved": "labelsRemoved"}  # historyTypes value -> history record key


def google_error(code, message, reason, status):
    return Response(code, {"error": {"code": code, "message": message, "status": status,
                                     "errors": [{"message": message, "domain": "global", "reason": reason}]}})


class Mailbox:
    def __init__(self, email, rng):
        self.email = email
        self.rng = rng
        self.labels = {name: {"id": name, "name": name, "type": "system"} for name in SYSTEM_LABELS}
        self.messages = {}  # id -> dict
        self.threads_by_message_id = {}  # Message-ID header -> threadId
        self.history = []  # records, oldest first
        self.history_id = 1000
        self.oldest_history = 0  # a startHistoryId below this answers 404

    def next_history(self):
        self.history_id += self.rng.randint(1, 7)  # gaps, as at Google
        return self.history_id

    def new_id(self):
        return f"{self.rng.getrandbits(64):016x}"

    def record(self, kind, message, labels=None):
        hid = self.next_history()
        message["historyId"] = str(hid)
        entry = {"id": str(hid), "kind": kind, "message": {"id": message["id"], "threadId": message["threadId"]},
                 "labels": set(message["labelIds"]) | set(labels or ()), "changed": list(labels or ())}
        self.history.append(entry)


class GmailEmulator(EmulatorServer):
    def __init__(self, tokens, seed=0):
        super().__init__()
        self.tokens = tokens
        self.rng = random.Random(seed)
        self.boxes = {}
        self._lock_box = threading.RLock()
        self._part_faults = []  # [reason, retry_after] per coming faulty batch part
        self.parts = []  # (method, target) of every batch part served
        self._clock = itertools.count(1_700_000_000_000, 60_000)
        m = r"/(?P<id>[0-9a-f]+)"
        for method, path, handler in [
            ("GET", f"{API}/profile", self._profile), ("GET", f"{API}/labels", self._labels),
            ("POST", f"{API}/labels", self._create_label), ("GET", f"{API}/messages", self._list),
            ("GET", f"{API}/messages{m}", self._get), ("POST", f"{API}/messages{m}/modify", self._modify),
            ("POST", f"{API}/messages/batchModify", self._batch_modify),
            ("POST", f"{API}/messages/batchDelete", self._batch_delete),
            ("POST", f"{API}/messages{m}/trash", self._trash), ("POST", f"{API}/messages{m}/untrash", self._untrash),
            ("DELETE", f"{API}/messages{m}", self._delete), ("POST", f"{API}/messages/send", self._send),
            ("POST", f"/upload{API}/messages/send", self._upload_send),
            ("GET", f"{API}/history", self._history),
            ("POST", "/batch/gmail/v1", self._batch), ("POST", "/batch", self._batch),
            ("POST", f"{API}/watch", self._watch), ("POST", f"{API}/stop", self._stop),
        ]:
            self.route(method, path, self._authed(handler))
        self.route("GET", "/oauth2/v1/certs", lambda request: (200, self.issuer.certs()))
        self.issuer = OidcIssuer()
        self.watches = {}  # email -> {"topic", "labels", "expiration"}
        self.push = None  # {"url", "auth", "audience", "service_account"}
        self._sender = PushSender()
        self._push_ids = itertools.count(time.time_ns() // 1000)  # unique like Pub/Sub's

    # -- push --------------------------------------------------------------------------------
    @property
    def certs_url(self):
        return self.base_url + "/oauth2/v1/certs"

    @property
    def pushes(self):
        return self._sender.sent

    def configure_push(self, url, auth="oidc", audience=None, service_account=SERVICE_ACCOUNT, sync=False,
                       subscription="projects/maildesk-test/subscriptions/gmail-push"):
        self.push = {"url": url, "auth": auth, "audience": audience or url, "service_account": service_account,
                     "subscription": subscription}
        self._sender.sync = sync

    def push_envelope(self, email, history_id, message_id=None):
        """The body Pub/Sub POSTs for one Gmail notification."""
        data = base64.b64encode(json.dumps({"emailAddress": email, "historyId": int(history_id)}).encode()).decode()
        return {"message": {"data": data, "messageId": str(message_id or next(self._push_ids)),
                            "publishTime": "2026-11-30T10:00:00.000Z"},
                "subscription": (self.push or {}).get("subscription", "projects/p/subscriptions/s")}

    def push_headers(self, audience=None, email=None, **token_kw):
        push = self.push or {}
        token = self.issuer.token(audience or push.get("audience"), email or push.get("service_account"), **token_kw)
        return {"Authorization": f"Bearer {token}"}

    def _notify(self, box, records):
        """Push ``records`` (the history the change wrote) when the mailbox's watch covers them."""
        watch = self.watches.get(box.email)
        if not watch or not self.push or not any(self._watched(watch, r) for r in records):
            return
        headers = self.push_headers() if self.push["auth"] == "oidc" else {}
        self._sender.post(self.push["url"], self.push_envelope(box.email, box.history_id), headers)

    def wait_pushes(self, timeout=10):
        self._sender.join(timeout)

    @staticmethod
    def _watched(watch, record):
        if not watch["labels"]:
            return True
        related = bool(set(watch["labels"]) & record["labels"])
        return related if watch["behavior"] == "include" else not related

    def _watch(self, request):
        body = request.json()
        if not str(body.get("topicName", "")).startswith("projects/"):
            return google_error(400, "Invalid topicName", "invalidArgument", "INVALID_ARGUMENT")
        behavior = str(body.get("labelFilterBehavior") or body.get("labelFilterAction") or "include").lower()
        if behavior not in ("include", "exclude"):
            return google_error(400, "Invalid labelFilterBehavior", "invalidArgument", "INVALID_ARGUMENT")
        box = self.mailbox(request.user)
        expiration = int(time.time() * 1000) + 7 * 24 * 3600 * 1000
        self.watches[box.email] = {"topic": body["topicName"], "labels": body.get("labelIds") or [],
                                   "behavior": behavior, "expiration": expiration}
        return 200, {"historyId": str(box.history_id), "expiration": str(expiration)}

    def _stop(self, request):
        self.watches.pop(self.mailbox(request.user).email, None)
        return 204, None

    # -- test helpers ----------------------------------------------------------------------------
    def count_parts(self, contains=""):
        """How many batch parts (single message reads, mostly) had ``contains`` in their target."""
        with self._lock:
            return sum(1 for _m, target in self.parts if contains in target)

    def mailbox(self, user):
        with self._lock_box:
            if user not in self.boxes:
                self.boxes[user] = Mailbox(user, self.rng)
            return self.boxes[user]

    def add_label(self, user, name):
        box = self.mailbox(user)
        label_id = f"Label_{len(box.labels) + 1}"
        box.labels[label_id] = {"id": label_id, "name": name, "type": "user"}
        return label_id

    def add_message(self, user, raw, labels=("INBOX", "UNREAD"), thread_id=None):
        box = self.mailbox(user)
        with self._lock_box:
            start = len(box.history)
            message = {"id": box.new_id(), "raw": raw, "labelIds": set(labels),
                       "internalDate": str(self._internal_date(raw)),
                       "threadId": thread_id or self._thread_for(box, raw)}
            box.messages[message["id"]] = message
            box.threads_by_message_id[self._header(raw, "Message-ID").strip()] = message["threadId"]
            box.record("messagesAdded", message)
            records = box.history[start:]
        self._notify(box, records)
        return message["id"]

    def set_labels(self, user, message_id, add=(), remove=()):
        box = self.mailbox(user)
        with self._lock_box:
            start = len(box.history)
            self._apply_labels(box, box.messages[message_id], add, remove)
            records = box.history[start:]
        self._notify(box, records)

    def remove(self, user, message_id):
        box = self.mailbox(user)
        with self._lock_box:
            start = len(box.history)
            message = box.messages.pop(message_id)
            box.record("messagesDeleted", message)
            records = box.history[start:]
        self._notify(box, records)

    delete = remove  # the name the tests' brief uses

    def expire_history(self, user=None):
        for box in ([self.mailbox(user)] if user else list(self.boxes.values())):
            box.oldest_history = box.history_id + 1

    def rate_limit_next(self, count=1, reason="userRateLimitExceeded", retry_after=None, match=None):
        response = self._rate_fault(reason, retry_after)
        self.fail_next(response.status, response.body, response.headers, count=count, match=match)

    def rate_limit_parts(self, count, reason="rateLimitExceeded", retry_after=None):
        with self._lock_box:
            self._part_faults += [(reason, retry_after)] * count

    @staticmethod
    def _rate_fault(reason, retry_after):
        """Google answers 403 for the per-user and daily quotas, 429 for plain rate limiting."""
        status = 429 if reason == "rateLimitExceeded" else 403
        response = google_error(status, "Rate Limit Exceeded" if status == 429 else "User Rate Limit Exceeded",
                                reason, "RESOURCE_EXHAUSTED" if status == 429 else "PERMISSION_DENIED")
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    def by_subject(self, user, subject):
        return [m for m in self.mailbox(user).messages.values() if self._header(m["raw"], "Subject") == subject]

    # -- plumbing ----------------------------------------------------------------------------------
    def _authed(self, handler):
        def wrapped(request):
            user = self.tokens.user_for(request.bearer)
            if user is None:
                return google_error(401, "Request had invalid authentication credentials.", "authError",
                                    "UNAUTHENTICATED")
            request.user = user
            with self._lock_box:
                return handler(request)
        return wrapped

    @staticmethod
    def _header(raw, name):
        return BytesHeaderParser().parsebytes(raw).get(name, "") or ""

    def _internal_date(self, raw):
        try:
            return int(parsedate_to_datetime(self._header(raw, "Date")).timestamp() * 1000)
        except (TypeError, ValueError):
            return next(self._clock)

    def _thread_for(self, box, raw):
        refs = (self._header(raw, "In-Reply-To") + " " + self._header(raw, "References")).split()
        for ref in refs:
            if ref in box.threads_by_message_id:
                return box.threads_by_message_id[ref]
        return box.new_id()

    def _apply_labels(self, box, message, add, remove):
        add = [label for label in add if label not in message["labelIds"]]
        remove = [label for label in remove if label in message["labelIds"]]
        message["labelIds"] |= set(add)
        message["labelIds"] -= set(remove)
        if add:
            box.record("labelsAdded", message, add)
        if remove:
            box.record("labelsRemoved", message, remove)

    def _resource(self, message, fmt="full", header_names=None):
        raw = message["raw"]
        # Google's "minimal" still carries the size and date (no headers, no payload).
        body = {"id": message["id"], "threadId": message["threadId"], "labelIds": sorted(message["labelIds"]),
                "historyId": message["historyId"], "internalDate": message["internalDate"],
                "sizeEstimate": len(raw)}
        if fmt == "minimal":
            return body
        body["snippet"] = self._header(raw, "Subject")[:100]
        if fmt == "raw":
            body["raw"] = base64.urlsafe_b64encode(raw).decode()
        else:
            parsed = message_from_bytes(raw)
            wanted = {name.lower() for name in header_names or ()}
            body["payload"] = {"mimeType": parsed.get_content_type(),
                               "headers": [{"name": k, "value": str(v)} for k, v in parsed.items()
                                           if not wanted or k.lower() in wanted]}
        return body

    # -- routes ------------------------------------------------------------------------------------
    def _profile(self, request):
        box = self.mailbox(request.user)
        return 200, {"emailAddress": box.email, "messagesTotal": len(box.messages),
                     "threadsTotal": len({m["threadId"] for m in box.messages.values()}),
                     "historyId": str(box.history_id)}

    def _labels(self, request):
        return 200, {"labels": list(self.mailbox(request.user).labels.values())}

    def _create_label(self, request):
        return 200, self.mailbox(request.user).labels[self.add_label(request.user, request.json()["name"])]

    def _matches(self, message, label_ids, query, include_spam_trash):
        labels = message["labelIds"]
        if not set(label_ids) <= labels:
            return False
        if not include_spam_trash and {"TRASH", "SPAM"} & labels and not {"TRASH", "SPAM"} & set(label_ids):
            return False
        for negate, label in re.findall(r"(-?)in:(\w+)", query or ""):
            present = label.upper() in labels or (label.upper() == "DRAFTS" and "DRAFT" in labels)
            if present == bool(negate):
                return False
        msgid = re.search(r"rfc822msgid:(\S+)", query or "")
        if msgid and self._header(message["raw"], "Message-ID").strip("<> ") != msgid.group(1).strip("<>"):
            return False
        return True

    def _list(self, request):
        box = self.mailbox(request.user)
        query = request.query
        label_ids = request.values("labelIds")
        include = query.get("includeSpamTrash") == "true"
        found = sorted((m for m in box.messages.values() if self._matches(m, label_ids, query.get("q"), include)),
                       key=lambda m: (int(m["internalDate"]), m["id"]), reverse=True)
        size = min(int(query.get("maxResults", 100)), 500)
        start = int(query.get("pageToken") or 0)
        page = found[start:start + size]
        body = {"resultSizeEstimate": len(found)}
        if page:
            body["messages"] = [{"id": m["id"], "threadId": m["threadId"]} for m in page]
        if start + size < len(found):
            body["nextPageToken"] = str(start + size)
        return 200, body

    def _message(self, request):
        return self.mailbox(request.user).messages.get(request.match.group("id"))

    def _not_found(self):
        return google_error(404, "Requested entity was not found.", "notFound", "NOT_FOUND")

    def _get(self, request):
        message = self._message(request)
        if message is None:
            return self._not_found()
        names = request.query.get("metadataHeaders")
        return 200, self._resource(message, request.query.get("format", "full"), names and names.split(","))

    def _modify(self, request):
        message = self._message(request)
        if message is None:
            return self._not_found()
        body = request.json()
        self._apply_labels(self.mailbox(request.user), message, body.get("addLabelIds", []),
                           body.get("removeLabelIds", []))
        return 200, self._resource(message, "minimal")

    def _batch_modify(self, request):
        body = request.json()
        box = self.mailbox(request.user)
        if len(body.get("ids", [])) > 1000:
            return google_error(400, "Too many ids", "invalidArgument", "INVALID_ARGUMENT")
        for message_id in body.get("ids", []):
            if message_id in box.messages:
                self._apply_labels(box, box.messages[message_id], body.get("addLabelIds", []),
                                   body.get("removeLabelIds", []))
        return Response(204, b"")

    def _batch_delete(self, request):
        box = self.mailbox(request.user)
        for message_id in request.json().get("ids", []):
            if message_id in box.messages:
                box.record("messagesDeleted", box.messages.pop(message_id))
        return Response(204, b"")

    def _trash(self, request):
        message = self._message(request)
        if message is None:
            return self._not_found()
        self._apply_labels(self.mailbox(request.user), message, ["TRASH"], [])
        return 200, self._resource(message, "minimal")

    def _untrash(self, request):
        message = self._message(request)
        if message is None:
            return self._not_found()
        self._apply_labels(self.mailbox(request.user), message, [], ["TRASH"])
        return 200, self._resource(message, "minimal")

    def _delete(self, request):
        message = self._message(request)
        if message is None:
            return self._not_found()
        box = self.mailbox(request.user)
        box.record("messagesDeleted", box.messages.pop(message["id"]))
        return Response(204, b"")

    def _send(self, request):
        body = request.json()
        try:
            raw = base64.urlsafe_b64decode(body["raw"] + "=" * (-len(body["raw"]) % 4))
        except (KeyError, ValueError):
            return google_error(400, "Invalid raw message", "invalidArgument", "INVALID_ARGUMENT")
        return self._deliver(request.user, raw, body.get("threadId"))

    def _upload_send(self, request):
        """uploadType=media (the bytes are the message) or multipart (JSON metadata + message)."""
        kind = request.query.get("uploadType")
        if kind == "media":
            return self._deliver(request.user, request.body, None)
        if kind != "multipart":
            return google_error(400, f"Unsupported uploadType {kind}", "invalidArgument", "INVALID_ARGUMENT")
        boundary = re.search(r'boundary="?([^";]+)"?', request.headers.get("content-type", ""))
        if not boundary:
            return google_error(400, "Multipart upload without boundary", "badRequest", "INVALID_ARGUMENT")
        parts = [p for p in request.body.split(b"--" + boundary.group(1).encode()) if p.strip(b"\r\n-")]
        if len(parts) != 2:
            return google_error(400, "Expected metadata and media parts", "badRequest", "INVALID_ARGUMENT")
        metadata, media = (self._part_body(part) for part in parts)
        return self._deliver(request.user, media, json.loads(metadata or b"{}").get("threadId"))

    @staticmethod
    def _part_body(part):
        """Body of one multipart part. googleapiclient writes the part structure with bare LF
        (email's compat32 generator) around a CRLF message, so the line ending is taken from
        the part's own headers, not guessed from the body."""
        eol = b"\r\n" if part.startswith(b"\r\n") else b"\n"
        part = part[len(eol):]
        _head, _sep, body = part.partition(eol + eol)
        return body[:-len(eol)] if body.endswith(eol) else body  # the line break before the next boundary

    def _deliver(self, user, raw, thread_id):
        box = self.mailbox(user)
        if len(raw) > 36_700_160:
            return google_error(400, "Message too large", "invalidArgument", "INVALID_ARGUMENT")
        if thread_id:
            thread = [m for m in box.messages.values() if m["threadId"] == thread_id]
            if not thread:
                return self._not_found()
            if not self._joins(raw, thread):
                thread_id = box.new_id()  # Google silently starts a new thread
        message_id = self.add_message(user, raw, labels=("SENT",), thread_id=thread_id)
        return 200, self._resource(box.messages[message_id], "minimal")

    def _joins(self, raw, thread):
        """Google's rule: threadId plus RFC 2822 In-Reply-To/References plus the same subject."""
        refs = (self._header(raw, "In-Reply-To") + " " + self._header(raw, "References")).split()
        subject = _base_subject(self._header(raw, "Subject"))
        return bool(refs) and any(_base_subject(self._header(m["raw"], "Subject")) == subject for m in thread)

    def _history(self, request):
        box = self.mailbox(request.user)
        query = request.query
        try:
            start = int(query["startHistoryId"])
        except (KeyError, ValueError):
            return google_error(400, "Invalid startHistoryId", "invalidArgument", "INVALID_ARGUMENT")
        if start < box.oldest_history:
            return self._not_found()
        label = query.get("labelId")
        kinds = {HISTORY_KINDS.get(kind, kind) for kind in request.values("historyTypes")}
        records = [r for r in box.history if int(r["id"]) > start and (not label or label in r["labels"])
                   and (not kinds or r["kind"] in kinds)]
        size = min(int(query.get("maxResults", 100)), 500)
        offset = int(query.get("pageToken") or 0)
        page = records[offset:offset + size]
        body = {"historyId": str(box.history_id)}
        if page:
            body["history"] = [self._history_resource(r) for r in page]
        if offset + size < len(records):
            body["nextPageToken"] = str(offset + size)
        return 200, body

    @staticmethod
    def _history_resource(record):
        message = dict(record["message"], labelIds=sorted(record["labels"]))
        entry = {"id": record["id"], "messages": [record["message"]]}
        if record["kind"] in ("messagesAdded", "messagesDeleted"):
            entry[record["kind"]] = [{"message": message}]
        else:
            entry[record["kind"]] = [{"message": message, "labelIds": record["changed"]}]
        return entry

    # -- batch -----------------------------------------------------------------------------------------
    def _batch(self, request):
        boundary = re.search(r'boundary="?([^";]+)"?', request.headers.get("content-type", ""))
        if not boundary:
            return google_error(400, "Batch request must be multipart/mixed", "badRequest", "INVALID_ARGUMENT")
        parts = [p for p in request.body.split(b"--" + boundary.group(1).encode()) if p.strip(b"\r\n-")]
        if len(parts) > 100:
            return google_error(400, "Too many requests in batch", "badRequest", "INVALID_ARGUMENT")
        out_boundary = "batch_" + base64.b16encode(self.rng.randbytes(8)).decode()
        chunks = []
        for part in parts:
            head, _sep, inner = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
            if not _sep:
                head, _sep, inner = part.lstrip(b"\n").partition(b"\n\n")
            content_id = re.search(rb"Content-ID:\s*<([^>]*)>", head, re.I)
            status, body, headers = self._batch_part(request, inner)
            extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            chunks.append(f"--{out_boundary}\r\nContent-Type: application/http\r\n"
                          f"Content-ID: <response-{content_id.group(1).decode() if content_id else ''}>\r\n\r\n"
                          f"HTTP/1.1 {status} {'OK' if status < 300 else 'Error'}\r\n"
                          f"Content-Type: application/json; charset=UTF-8\r\n{extra}\r\n{body}\r\n")
        payload = "".join(chunks) + f"--{out_boundary}--\r\n"
        return Response(200, payload.encode(), {"Content-Type": f"multipart/mixed; boundary={out_boundary}"})

    def _batch_part(self, outer, inner):
        text = inner.decode("utf-8", "replace").replace("\r\n", "\n")
        request_line, _sep, rest = text.partition("\n")
        method, target, _version = request_line.split(" ", 2)
        with self._lock:
            self.parts.append((method, target))
        headers_text, _sep, body = rest.partition("\n\n")
        headers = {}
        for line in headers_text.splitlines():
            name, _c, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "authorization" not in headers and "authorization" in outer.headers:
            headers["authorization"] = outer.headers["authorization"]
        if self._part_faults:
            fault = self._rate_fault(*self._part_faults.pop(0))
            return fault.status, json.dumps(fault.body), fault.headers
        sub = Request.parse(method, target, headers, body.strip().encode() if body.strip() else b"")
        response = self.handle(sub)
        data, _headers = response.encode()
        return response.status, data.decode() if data else "", {}


def _base_subject(subject):
    return re.sub(r"^\s*((re|fwd?|aw|wg)\s*:\s*)+", "", subject or "", flags=re.I).strip().lower()

