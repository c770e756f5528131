"""Provider push notifications: checks and parsing, no Odoo, no side effects.

Gmail (``users.watch`` -> Cloud Pub/Sub push subscription)
----------------------------------------------------------
Pub/Sub POSTs ``{"message": {"data": base64(json), "messageId", "publishTime"},
"subscription"}`` where the data is ``{"emailAddress", "historyId"}``. Two ways to
know the POST really comes from our subscription:

- ``oidc`` (recommended): the push subscription is created with authentication on;
  every POST carries ``Authorization: Bearer <Google-signed OIDC token>`` whose
  audience is the one configured on the subscription and whose ``email`` is the
  subscription's service account. ``verify_pubsub_oidc`` checks signature, expiry,
  issuer, audience and service account with google-auth (``id_token.verify_token``)
  against a configurable certificate URL (Google's, or the emulator's).
- ``token``: the endpoint URL holds a long random secret (compared in constant time).

Either way a notification only says "this mailbox changed": the receiver marks the
mailbox for sync and the normal history-based sync does the rest.

Replays (Pub/Sub redelivers until it gets a 2xx; an attacker may resend a captured push
within the token's hour) are refused by the receiver with the ``historyId``: a push
counts only when its ``historyId`` is above the last one taken for the mailbox, a value
stored in the database in the same transaction as the mark. That holds across worker
processes and restarts, and a push whose handling failed (rolled back) is taken when
Pub/Sub delivers it again. A per-process memory of ``messageId`` held neither (another
worker had not seen the id; a failed delivery's id was already remembered), and a
push out of order loses nothing: the sync the newer one caused read the history from the
stored cursor, past the older change.

Microsoft Graph (``/subscriptions`` on the mailbox's messages)
--------------------------------------------------------------
Graph first validates the notification URL with ``?validationToken=...`` (answer the
token as text/plain within 10 s), then POSTs ``{"value": [notification, ...]}``. Every
notification names its ``subscriptionId`` and carries the ``clientState`` secret we
chose when subscribing: ``graph_notifications`` returns them; the receiver compares the
secret of the subscription in constant time. Lifecycle notifications
(``lifecycleEvent``: ``reauthorizationRequired``, ``subscriptionRemoved``, ``missed``)
arrive at the lifecycle URL in the same shape.
"""
import base64
import binascii
import hmac
import json
import threading
import time

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
CLOCK_SKEW = 60  # seconds of clock difference tolerated on iat / exp
CERTS_TTL = 3600  # Google rotates its keys daily and announces them ahead
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


class PushRejected(Exception):
    """The request is not a genuine notification (bad token, bad body)."""


def secret_equal(given, expected):
    """Constant-time comparison of two secrets; False when either is empty."""
    if not given or not expected:
        return False
    return hmac.compare_digest(str(given).encode(), str(expected).encode())


class CachingRequest:
    """A google-auth transport ``Request`` that caches GETs (the signing certificates).

    Certificates change rarely; fetching them on every push would add a round trip to
    Google to each notification.
    """

    def __init__(self, ttl=CERTS_TTL, timeout=10):
        import google.auth.transport.requests
        import requests

        self._inner = google.auth.transport.requests.Request(requests.Session())
        self.ttl, self.timeout = ttl, timeout
        self._cache = {}
        self._lock = threading.Lock()

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        if method != "GET":
            return self._inner(url, method=method, body=body, headers=headers, timeout=timeout or self.timeout,
                               **kwargs)
        with self._lock:
            hit = self._cache.get(url)
            if hit and hit[0] > time.monotonic():
                return hit[1]
        response = self._inner(url, method="GET", headers=headers, timeout=timeout or self.timeout)
        if response.status == 200:
            with self._lock:
                self._cache[url] = (time.monotonic() + self.ttl, response)
        return response


def verify_pubsub_oidc(authorization, audience, service_account, certs_url=GOOGLE_CERTS_URL, request=None,
                       clock_skew=CLOCK_SKEW):
    """Check a Pub/Sub push's bearer token; returns its claims or raises ``PushRejected``."""
    from google.auth import exceptions as google_exceptions
    from google.oauth2 import id_token

    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise PushRejected("no bearer token")
    if not audience or not service_account:
        raise PushRejected("push authentication is not configured (audience and service account)")
    try:
        claims = id_token.verify_token(token.strip(), request or CachingRequest(), audience=audience,
                                       certs_url=certs_url, clock_skew_in_seconds=clock_skew)
    except (google_exceptions.GoogleAuthError, ValueError) as exc:
        raise PushRejected(f"invalid token: {exc}") from exc
    if claims.get("iss") not in GOOGLE_ISSUERS:
        raise PushRejected("token not issued by Google")
    if claims.get("email") != service_account or not claims.get("email_verified"):
        raise PushRejected("token of another service account")
    return claims


def parse_pubsub_push(body):
    """``(email, history_id, message_id)`` of a Pub/Sub push body; ``PushRejected`` if malformed."""
    try:
        envelope = json.loads(body)
        message = envelope["message"]
        data = json.loads(base64.b64decode(message["data"]))
        email = str(data["emailAddress"]).strip().lower()
        history_id = int(data["historyId"])
        message_id = str(message.get("messageId") or message.get("message_id") or "")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise PushRejected(f"not a Gmail Pub/Sub push: {exc.__class__.__name__}") from exc
    return email, history_id, message_id


def graph_notifications(body):
    """The notifications of a Graph POST: dicts with ``subscription_id``, ``client_state``,
    ``change_type``, ``lifecycle_event`` (or None), ``resource``."""
    try:
        items = json.loads(body)["value"]
        if not isinstance(items, list):
            raise TypeError("value is not a list")
        result = []
        for item in items:
            result.append({
                "subscription_id": str(item["subscriptionId"]),
                "client_state": item.get("clientState") or "",
                "change_type": item.get("changeType") or "",
                "lifecycle_event": item.get("lifecycleEvent") or None,
                "resource": item.get("resource") or "",
            })
    except (ValueError, KeyError, TypeError) as exc:
        raise PushRejected(f"not a Graph notification: {exc.__class__.__name__}") from exc
    return result
