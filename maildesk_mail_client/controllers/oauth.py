"""The OAuth callback: where Google / Microsoft send the browser back after consent.

Every outcome is a readable page, never a traceback: denied consent, a forged, expired,
replayed or someone else's ``state``, a refused code (bad client secret, wrong redirect
URI), an unreachable provider. Nothing is stored unless the whole exchange succeeded.
"""
import logging

from odoo import _, http
from odoo.exceptions import UserError
from odoo.http import request

from ..engine.errors import ProviderError
from ..models.maildesk_oauth_request import OAuthStateError

_logger = logging.getLogger(__name__)
PROVIDERS = {"gmail": "Gmail", "outlook": "Microsoft 365"}
DENIED = {"access_denied", "consent_required", "interaction_required"}


class MaildeskOAuth(http.Controller):
    @http.route("/maildesk/oauth/<string:provider>/callback", type="http", auth="user", methods=["GET"])
    def callback(self, provider, **params):
        if provider not in PROVIDERS:
            return self._page(_("Unknown sign-in provider."), ok=False, status=404)
        env = request.env
        try:
            pending, secret = env["maildesk.oauth.request"]._consume(params.get("state"), provider)
        except OAuthStateError as exc:
            return self._page(str(exc), ok=False, status=400)
        account = pending.account_id
        if params.get("error"):
            if params["error"] in DENIED:
                message = _("You did not allow MailDesk to use %(mailbox)s, so nothing was connected. "
                            "Use Connect again whenever you are ready.", mailbox=PROVIDERS[provider])
            else:
                message = _("%(provider)s refused the sign-in: %(error)s %(details)s", provider=PROVIDERS[provider],
                            error=params["error"], details=params.get("error_description", ""))
            return self._page(message, ok=False, account=account, status=400)
        try:
            with env.cr.savepoint():
                email = account._oauth_finish(secret, params)
        except (ProviderError, UserError) as exc:
            _logger.info("MailDesk: OAuth callback for account %s failed: %s", account.id, exc)
            message = exc.args[0] if exc.args else str(exc)
            return self._page(_("Could not connect %(name)s: %(error)s", name=account.name, error=message),
                              ok=False, account=account, status=400)
        return self._page(_("%(name)s is connected as %(email)s. The first sync has started; new mail appears in "
                            "the mailbox in a moment.", name=account.name, email=email), ok=True, account=account)

    @staticmethod
    def _page(message, ok, account=None, status=200):
        return request.render("maildesk_mail_client.oauth_result", {
            "ok": ok, "message": message, "account": account,
            "back_url": f"/web#id={account.id}&model=maildesk.account&view_type=form" if account else "/web",
        }, status=status)
