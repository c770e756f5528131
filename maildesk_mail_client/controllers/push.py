"""Webhooks of the providers' push: Gmail (Cloud Pub/Sub push) and Microsoft Graph.

Both answer fast and only *mark* the mailbox for sync (``maildesk.account.
_realtime_request_sync``); the sync itself runs in the cron worker through the normal
path. None of them tells the caller whether a mailbox exists: a genuine request for an
unknown or archived mailbox gets the same answer as one for a known mailbox (logged
here). Only a request that fails the authentication (Gmail) is refused, and that answer
does not depend on any mailbox either.

Routes are ``auth="none"``: the callers are Google and Microsoft, not users. The
database is the one Odoo selects for the host name (``--db-filter``), as for any
webhook.
"""
import logging

from odoo import SUPERUSER_ID, http
from odoo.http import request

from ..engine import push

_logger = logging.getLogger(__name__)

PARAM = "maildesk_mail_client.%s"
MAX_BODY = 1024 * 1024  # a Pub/Sub push or a Graph notification batch is a few KB
_CERTS = None  # one caching transport per process: Google's certificates are fetched once an hour


def _certs_request():
    global _CERTS  # noqa: PLW0603 - a process-wide cache, built on first use
    if _CERTS is None:
        _CERTS = push.CachingRequest()
    return _CERTS


class MaildeskPush(http.Controller):
    # -- Gmail ------------------------------------------------------------------------------------
    @http.route("/maildesk/push/gmail", type="http", auth="none", methods=["POST"], csrf=False,
                save_session=False)
    def gmail_push(self, **_kw):
        return self._gmail(token=None)

    @http.route("/maildesk/push/gmail/<string:token>", type="http", auth="none", methods=["POST"], csrf=False,
                save_session=False)
    def gmail_push_token(self, token, **_kw):
        return self._gmail(token=token)

    def _gmail(self, token):
        # The webhook has no user: superuser, and the methods it calls only mark mailboxes for sync.
        env = request.env(user=SUPERUSER_ID)
        params = env["ir.config_parameter"]
        mode = params.get_param(PARAM % "gmail_push_auth") or "oidc"
        body = request.httprequest.get_data(cache=False)[:MAX_BODY + 1]
        try:
            if len(body) > MAX_BODY:
                raise push.PushRejected("body too large")
            if mode == "token":
                if not push.secret_equal(token, params.get_param(PARAM % "gmail_push_token")):
                    raise push.PushRejected("wrong or missing secret in the push URL")
            else:
                if token is not None:
                    raise push.PushRejected("secret-path pushes are not enabled")
                base = env["maildesk.account"]._push_base_url()
                push.verify_pubsub_oidc(
                    request.httprequest.headers.get("Authorization"),
                    audience=params.get_param(PARAM % "gmail_push_audience") or base + "/maildesk/push/gmail",
                    service_account=params.get_param(PARAM % "gmail_push_service_account"),
                    certs_url=params.get_param(PARAM % "gmail_push_certs_url") or push.GOOGLE_CERTS_URL,
                    request=_certs_request())
            email, history_id, message_id = push.parse_pubsub_push(body)
        except push.PushRejected as exc:
            _logger.warning("MailDesk Gmail push refused from %s: %s", request.httprequest.remote_addr, exc)
            return request.make_response("", status=403)
        # Replays (Pub/Sub redeliveries, an attacker's copy) are refused by the stored
        # historyId, in the database: see _push_gmail for why not by messageId in memory.
        env["maildesk.account"]._push_gmail(email, history_id, message_id=message_id)
        return request.make_response("", status=204)

    # -- Microsoft Graph ---------------------------------------------------------------------------
    @http.route(["/maildesk/push/graph", "/maildesk/push/graph/lifecycle"], type="http", auth="none",
                methods=["POST"], csrf=False, save_session=False)
    def graph_push(self, validationToken=None, **_kw):  # noqa: N803 - Graph's parameter name
        if validationToken is not None:
            # The subscription handshake: echo the token, as plain text, within 10 s.
            return request.make_response(validationToken[:1024], headers=[
                ("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")])
        body = request.httprequest.get_data(cache=False)[:MAX_BODY + 1]
        try:
            if len(body) > MAX_BODY:
                raise push.PushRejected("body too large")
            notifications = push.graph_notifications(body)
        except push.PushRejected as exc:
            _logger.warning("MailDesk Graph notification refused from %s: %s", request.httprequest.remote_addr, exc)
            return request.make_response("", status=202)
        lifecycle = request.httprequest.path.endswith("/lifecycle")
        # The webhook has no user: superuser; notifications are checked against their clientState.
        request.env(user=SUPERUSER_ID)["maildesk.account"]._push_graph(notifications, lifecycle=lifecycle)
        return request.make_response("", status=202)
