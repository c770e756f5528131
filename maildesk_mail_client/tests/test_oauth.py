"""The OAuth round trip through the real controller, against the identity emulators.

The "browser" is requests: it opens the consent URL Odoo built (the emulator consents as
``login_as`` and redirects), then follows the redirect into Odoo's callback with the
test user's session. Gmail / Graph API calls of the connected mailbox go to the API
emulators, so everything after the consent is the production code path.
"""
import os
import unittest
from unittest.mock import patch
from urllib.parse import parse_qs, urlsplit

import requests
from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from ..models.maildesk_account_oauth import PARAM
from . import common  # noqa: F401 - puts the repository's tests/ (the emulators) on sys.path

try:
    from emulators.gmail import GmailEmulator
    from emulators.graph import GraphEmulator
    from emulators.oauth import GoogleOAuthEmulator, MicrosoftOAuthEmulator
    from emulators.tokens import TokenRegistry
except ImportError:  # pragma: no cover - addons deployed without the repo's tests/
    GoogleOAuthEmulator = None


class OAuthCase(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if GoogleOAuthEmulator is None:
            raise unittest.SkipTest("the repository's tests/emulators is not importable")
        cls.owner = new_test_user(cls.env, login="oa_owner", groups="maildesk_mail_client.group_maildesk_user")
        cls.member = new_test_user(cls.env, login="oa_member", groups="maildesk_mail_client.group_maildesk_user")
        cls.other = new_test_user(cls.env, login="oa_other", groups="maildesk_mail_client.group_maildesk_user")

    def setUp(self):
        super().setUp()
        self.tokens = TokenRegistry()
        self.google = GoogleOAuthEmulator(self.tokens, login_as="ann@gmail.test").start()
        self.microsoft = MicrosoftOAuthEmulator(self.tokens, login_as="bob@contoso.test").start()
        self.addCleanup(self.google.stop)
        self.addCleanup(self.microsoft.stop)
        # The identity emulators are HTTPS with a throw-away certificate; Odoo's server
        # thread (same process) trusts it through requests' standard variable.
        bundle = self._bundle(self.google.cert_path, self.microsoft.cert_path)
        patcher = patch.dict(os.environ, {"REQUESTS_CA_BUNDLE": bundle})
        patcher.start()
        self.addCleanup(patcher.stop)
        set_param = self.env["ir.config_parameter"].sudo().set_param
        for key, value in {
            "google_client_id": self.google.client_id, "google_client_secret": self.google.client_secret,
            "google_auth_uri": self.google.auth_uri, "google_token_uri": self.google.token_uri,
            "google_revoke_uri": self.google.revoke_uri,
            "microsoft_client_id": self.microsoft.client_id, "microsoft_client_secret": self.microsoft.client_secret,
            "microsoft_authority_host": self.microsoft.base_url,
        }.items():
            set_param(PARAM % key, value)
        self.gmail_api = GmailEmulator(self.tokens).start()
        self.addCleanup(self.gmail_api.stop)
        set_param(PARAM % "gmail_api_root", self.gmail_api.base_url)
        self.graph_api = GraphEmulator(self.tokens).start()
        self.addCleanup(self.graph_api.stop)
        set_param(PARAM % "graph_api_root", self.graph_api.base_url + "/v1.0")

    @staticmethod
    def _bundle(*paths):
        target = paths[0] + ".bundle.pem"
        with open(target, "w", encoding="ascii") as out:
            for path in paths:
                with open(path, encoding="ascii") as handle:
                    out.write(handle.read())
        return target

    def make_account(self, provider, **vals):
        return self.env["maildesk.account"].create(dict({
            "name": f"{provider} box", "provider": provider, "owner_id": self.owner.id}, **vals))

    def start(self, account, user=None):
        """Click Connect as ``user``; returns the consent URL."""
        action = account.with_user(user or self.owner).action_oauth_connect()
        self.assertEqual(action["type"], "ir.actions.act_url")
        return action["url"]

    def consent(self, url):
        """The browser at the provider: returns the callback path + query Odoo is sent to."""
        response = requests.get(url, allow_redirects=False, timeout=10)
        self.assertEqual(response.status_code, 302, response.text)
        location = urlsplit(response.headers["Location"])
        return f"{location.path}?{location.query}"

    def connect(self, account, login="oa_owner"):
        """The whole consent as ``login``; asserts Odoo's success page."""
        response = self.callback(self.consent(self.start(account)), login=login)
        self.assertEqual(response.status_code, 200, response.text[:500])
        self.assertIn("is connected as", response.text)
        account.invalidate_recordset()
        return response

    def callback(self, path, login="oa_owner"):
        self.authenticate(login, login)
        return self.url_open(path, allow_redirects=False)


@tagged("post_install", "-at_install", "maildesk")
class TestOAuthSettings(OAuthCase):
    def test_redirect_uris_follow_base_url(self):
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://odoo.example.com")
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.maildesk_google_redirect_uri,
                         "https://odoo.example.com/maildesk/oauth/gmail/callback")
        self.assertEqual(settings.maildesk_microsoft_redirect_uri,
                         "https://odoo.example.com/maildesk/oauth/outlook/callback")
        self.assertIn("maildesk_mail_client.gmail_api_root", settings.maildesk_endpoint_help)

    def test_settings_are_admin_only(self):
        with self.assertRaises(AccessError):
            self.env["res.config.settings"].with_user(self.owner).create({})

    def test_connect_is_the_owners(self):
        account = self.make_account("gmail", is_shared=True, user_ids=[(6, 0, [self.member.id])])
        with self.assertRaises(AccessError):
            self.start(account, user=self.member)

    def test_not_configured_is_readable(self):
        self.env["ir.config_parameter"].sudo().set_param(PARAM % "google_client_secret", "")
        account = self.make_account("gmail")
        with self.assertRaisesRegex(Exception, "client id and secret"):
            self.start(account)


@tagged("post_install", "-at_install", "maildesk")
class TestOAuthCallbackFailures(OAuthCase):
    """Every way the callback can go wrong ends on a readable page and stores nothing."""

    def assert_page(self, response, text, status=400):
        self.assertEqual(response.status_code, status, response.text[:500])
        self.assertIn(text, response.text)
        self.assertNotIn("Traceback", response.text)

    def assert_nothing_stored(self, account):
        account.invalidate_recordset()
        self.assertFalse(account.sudo().oauth_refresh_token_encrypted)

    def test_tampered_state(self):
        account = self.make_account("gmail")
        path = self.consent(self.start(account))
        query = parse_qs(urlsplit(path).query)
        forged = query["state"][0][:-4] + "abcd"
        self.assert_page(self.callback(f"/maildesk/oauth/gmail/callback?code={query['code'][0]}&state={forged}"),
                         "could not be verified")
        self.assert_nothing_stored(account)

    def test_state_of_another_user(self):
        account = self.make_account("gmail")
        path = self.consent(self.start(account))
        response = self.callback(path, login="oa_other")
        self.assert_page(response, "started by another Odoo user")
        for leak in (self.owner.name, self.owner.login):
            self.assertNotIn(leak, response.text, "the page must not name who started the sign-in")
        self.assert_nothing_stored(account)

    def test_denied_consent(self):
        account = self.make_account("gmail")
        self.google.deny = True
        self.assert_page(self.callback(self.consent(self.start(account))), "did not allow")
        self.assert_nothing_stored(account)

    def test_bad_client_secret(self):
        account = self.make_account("gmail")
        url = self.start(account)
        self.env["ir.config_parameter"].sudo().set_param(PARAM % "google_client_secret", "wrong")
        self.assert_page(self.callback(self.consent(url)), "invalid_client")
        self.assert_nothing_stored(account)

    def test_wrong_redirect_uri(self):
        """The base URL changed between Connect and the callback: the code is refused, readably."""
        account = self.make_account("gmail")
        url = self.start(account)
        path = self.consent(url)
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://elsewhere.example.com")
        self.assert_page(self.callback(path), "redirect_uri_mismatch")
        self.assert_nothing_stored(account)

    def test_microsoft_denied_and_tampered(self):
        account = self.make_account("outlook")
        self.microsoft.deny = True
        self.assert_page(self.callback(self.consent(self.start(account))), "did not allow")
        self.microsoft.deny = False
        path = self.consent(self.start(account))
        self.assert_page(self.callback(path.replace("state=", "state=9")), "could not be verified")
        self.assert_nothing_stored(account)

    def test_unknown_provider(self):
        self.assert_page(self.callback("/maildesk/oauth/yahoo/callback?state=x"), "Unknown sign-in", status=404)


def plain(subject, message_id, sender="Bob <bob@example.com>", to="ann@gmail.test", refs=""):
    extra = f"In-Reply-To: {refs}\r\nReferences: {refs}\r\n" if refs else ""
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n{extra}"
            f"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain\r\n\r\nhello\r\n").encode()


@tagged("post_install", "-at_install", "maildesk")
class TestGmailConnected(OAuthCase):
    """Consent -> tokens -> sync -> send -> refresh -> revocation, all through production code."""

    def test_round_trip_sync_send_and_access(self):
        for i in range(3):
            self.gmail_api.add_message("ann@gmail.test", plain(f"Hello {i}", f"<h{i}@x>"))
        account = self.make_account("gmail", name="Ann", is_shared=True, user_ids=[(6, 0, [self.member.id])])
        self.connect(account)
        self.assertEqual(account.email, "ann@gmail.test")  # from the Gmail profile
        self.assertTrue(account.oauth_connected)
        self.env.cr.execute("SELECT oauth_refresh_token_encrypted FROM maildesk_account WHERE id = %s",
                            (account.id,))
        self.assertTrue(self.env.cr.fetchone()[0].startswith("md1:"))  # encrypted at rest
        account.with_user(self.owner).action_sync()
        self.assertEqual(account.state, "connected")
        inbox = account.folder_ids.filtered(lambda f: f.role == "inbox")
        messages = self.env["maildesk.message"].search([("folder_id", "=", inbox.id)])
        self.assertEqual(sorted(messages.mapped("subject")), ["Hello 0", "Hello 1", "Hello 2"])
        # A member replies from the web client: Gmail gets it in the parent's thread, Sent has it at once.
        client = self.env["maildesk.client"].with_user(self.member)
        parent = messages.filtered(lambda m: m.subject == "Hello 1")
        values = client.compose_defaults(mode="reply", message_id=parent.id)
        values["body_html"] = "<p>Thanks!</p>" + values["body_html"]
        result = client.send(values, delay=0)
        sent = self.env["maildesk.message"].browse(result["message_id"])
        self.assertEqual(sent.folder_id.role, "sent")
        self.assertEqual(sent.thread_id, parent.thread_id)
        remote = self.gmail_api.mailbox("ann@gmail.test").messages[sent.remote_id]
        self.assertEqual(remote["threadId"], parent.provider_thread_id)
        account.with_user(self.owner).action_sync()
        self.assertEqual(self.env["maildesk.message"].search_count([("message_id", "=", sent.message_id)]), 1)
        # The same security matrix as IMAP mailboxes.
        Message = self.env["maildesk.message"]
        self.assertEqual(Message.with_user(self.other).search_count([("account_id", "=", account.id)]), 0)
        self.assertTrue(Message.with_user(self.member).search_count([("account_id", "=", account.id)]))
        with self.assertRaises(AccessError):
            account.with_user(self.other).action_sync()

    def test_replayed_callback_is_refused(self):
        account = self.make_account("gmail")
        path = self.consent(self.start(account))
        self.assertEqual(self.callback(path).status_code, 200)
        response = self.callback(path)
        self.assertEqual(response.status_code, 400)
        self.assertIn("already used", response.text)

    def test_refresh_before_expiry_and_revocation(self):
        """Expired access token: refreshed and stored; revoked grant: needs_reauth, others go on."""
        self.gmail_api.add_message("ann@gmail.test", plain("For Ann", "<a@x>"))
        self.gmail_api.add_message("carl@gmail.test", plain("For Carl", "<c@x>", to="carl@gmail.test"))
        ann = self.make_account("gmail", name="Ann")
        self.connect(ann)
        self.google.login_as = "carl@gmail.test"
        carl = self.make_account("gmail", name="Carl")
        self.connect(carl)
        old_access = ann.sudo().oauth_access_token_encrypted
        ann.sudo().oauth_expires_at = 0  # due for refresh
        (ann | carl)._sync()
        self.assertEqual(self.tokens.refresh_count, 1)
        self.assertNotEqual(ann.sudo().oauth_access_token_encrypted, old_access)
        self.assertEqual(ann.state, "connected")
        self.tokens.revoke("ann@gmail.test")
        self.gmail_api.add_message("carl@gmail.test", plain("Again", "<c2@x>", to="carl@gmail.test"))
        (ann | carl)._sync()
        self.assertEqual(ann.state, "needs_reauth")
        self.assertIn("Reconnect", ann.sync_error)
        self.assertEqual(carl.state, "connected")
        self.assertIn("Again", self.env["maildesk.message"].search([("account_id", "=", carl.id)]).mapped("subject"))
        # One click: the same Connect action starts a new consent for the same mailbox.
        self.google.login_as = "ann@gmail.test"
        self.connect(ann)
        ann._sync()
        self.assertEqual(ann.state, "connected")

    def test_disconnect_revokes_at_google(self):
        account = self.make_account("gmail")
        self.connect(account)
        action = account.with_user(self.owner).action_oauth_disconnect()
        self.assertIn("Google confirmed", action["params"]["message"])
        self.assertEqual(len(self.google.revoked), 1)
        self.assertFalse(account.oauth_connected)
        self.assertEqual(account.state, "needs_reauth")


@tagged("post_install", "-at_install", "maildesk")
class TestOutlookConnected(OAuthCase):
    """Microsoft 365 through msal and Graph: consent, sync, send, rotated refresh tokens, revocation."""

    def test_round_trip_with_rotation_and_revocation(self):
        self.tokens.rotate_refresh = True
        user = "bob@contoso.test"
        self.graph_api.add_message(user, plain("Quote", "<quote@x>", to=user))
        account = self.make_account("outlook", name="Bob", is_shared=True, user_ids=[(6, 0, [self.member.id])])
        self.connect(account)
        self.assertEqual(account.email, user)
        account.with_user(self.owner).action_sync()
        self.assertEqual(account.state, "connected")
        quote = self.env["maildesk.message"].search([("account_id", "=", account.id), ("subject", "=", "Quote")])
        self.assertEqual(quote.folder_id.role, "inbox")
        # Reply from the client as a member: sent through Graph, in Sent Items and in the thread at once.
        client = self.env["maildesk.client"].with_user(self.member)
        values = client.compose_defaults(mode="reply", message_id=quote.id)
        result = client.send(values, delay=0)
        sent = self.env["maildesk.message"].browse(result["message_id"])
        self.assertEqual((sent.folder_id.role, sent.thread_id), ("sent", quote.thread_id))
        account.with_user(self.owner).action_sync()
        self.assertEqual(self.env["maildesk.message"].search_count([("message_id", "=", sent.message_id)]), 1)
        # Microsoft rotates the refresh token on each use: the newest one is always stored.
        old_refresh = account.sudo().oauth_refresh_token_encrypted
        account.sudo().oauth_expires_at = 0
        account._sync()
        self.assertEqual(account.state, "connected")
        self.assertNotEqual(account.sudo().oauth_refresh_token_encrypted, old_refresh)
        account.sudo().oauth_expires_at = 0
        account._sync()  # works only with the rotated token: the first one is dead
        self.assertEqual(account.state, "connected")
        self.tokens.revoke(user)
        account._sync()
        self.assertEqual(account.state, "needs_reauth")
        action = account.with_user(self.owner).action_oauth_disconnect()
        self.assertIn("myaccount.microsoft.com", action["params"]["message"])
        self.assertFalse(account.oauth_connected)
