"""Server-side controls: switches, limits, data boundary, attachments opt-in, the key, the providers."""
import base64

from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import API_KEY, AiCase

PARAM = "maildesk_mail_client_pro.%s"


@tagged("post_install", "-at_install", "maildesk")
class TestAiControls(AiCase):
    def client(self, user=None):
        return self.env["maildesk.client"].with_user(user or self.user_member)

    def set_param(self, name, value):
        self.env["ir.config_parameter"].sudo().set_param(PARAM % name, value)

    # -- switches ------------------------------------------------------------------------------
    def test_feature_switched_off_is_refused(self):
        """A feature off in the database is refused by the server, whatever the client shows."""
        self.set_param("feature_summarize", "0")
        with self.assertRaisesRegex(UserError, "switched off in this database"):
            self.client().ai_summarize(self.thread.id)
        self.assertFalse(self.emulator.payloads)
        self.client().ai_ask(self.thread.id, "Still allowed?")  # other features unaffected

    def test_mailbox_switched_off_is_refused(self):
        """AI off on the mailbox refuses every AI action on its threads."""
        self.account.ai_enabled = False
        for call in (lambda c: c.ai_summarize(self.thread.id), lambda c: c.ai_ask(self.thread.id, "Q?")):
            with self.assertRaisesRegex(UserError, "switched off for the mailbox"):
                call(self.client())
        self.assertFalse(self.emulator.payloads)

    def test_owner_cannot_flip_mailbox_switches(self):
        """The mailbox switches are admin-only: the owner can neither write nor read them."""
        with self.assertRaises(AccessError):
            self.account.with_user(self.user_owner).write({"ai_attachments": True})
        with self.assertRaises(AccessError):
            self.account.with_user(self.user_owner).read(["ai_enabled"])

    def test_no_provider_is_a_readable_refusal(self):
        """Without an active provider the AI actions say how to set one up."""
        self.provider.is_active = False
        with self.assertRaisesRegex(UserError, "No AI provider is set up"):
            self.client().ai_summarize(self.thread.id)

    # -- limits --------------------------------------------------------------------------------
    def test_daily_limit_reached_with_reset_time(self):
        """The second summary of the day over a limit of 1 is refused, naming the reset time."""
        self.set_param("limit_summarize", "1")
        self.client().ai_summarize(self.thread.id)
        with self.assertRaisesRegex(UserError, r"Daily limit reached: 1 Summarize.*resets at midnight.*in \d+ h"):
            self.client().ai_summarize(self.thread.id)
        self.assertEqual(len(self.emulator.payloads), 1)
        self.client().ai_ask(self.thread.id, "Other feature?")  # limits are per operation

    def test_limits_are_per_user_and_admins_unlimited(self):
        """Another user has their own quota; Mailbox Admins are not limited."""
        self.set_param("limit_summarize", "1")
        self.client(self.user_member).ai_summarize(self.thread.id)
        self.client(self.user_owner).ai_summarize(self.thread.id)
        for _index in range(3):
            self.client(self.user_admin).ai_summarize(self.thread.id)

    def test_error_calls_count_cancelled_do_not(self):
        """Failed calls use quota (no retry abuse); cancelled ones give it back."""
        self.set_param("limit_ask", "1")
        self.emulator.fail_next(400, {"error": {"message": "bad"}})
        self.raises_kept(UserError, lambda: self.client().ai_ask(self.thread.id, "Q?"))
        with self.assertRaisesRegex(UserError, "Daily limit reached"):
            self.client().ai_ask(self.thread.id, "Q?")
        self.usage(user_id=self.user_member.id, feature="ask").sudo().write({"outcome": "cancelled"})
        self.client().ai_ask(self.thread.id, "Q?")

    # -- data boundary -------------------------------------------------------------------------
    def test_outsider_cannot_ask_about_a_thread(self):
        """A Mailbox User without access to the mailbox cannot use any AI action on its thread."""
        message = self.env["maildesk.message"].search([("thread_id", "=", self.thread.id)], limit=1)
        # A thread by id: the record rule refuses; a message by id: the user's search finds nothing.
        calls = [(AccessError, lambda c: c.ai_summarize(self.thread.id)),
                 (AccessError, lambda c: c.ai_ask(self.thread.id, "Secrets?")),
                 (UserError, lambda c: c.ai_draft(message.id)),
                 (UserError, lambda c: c.ai_scan(message.id, explain=True))]
        for exception, call in calls:
            with self.assertRaises(exception):
                call(self.client(self.user_outsider))
        self.assertFalse(self.emulator.payloads)
        self.assertFalse(self.usage(user_id=self.user_outsider.id))

    def test_service_checks_the_mailbox_as_the_calling_user(self):
        """run() with a mailbox the user cannot read is refused, even if the caller passes a sudo record."""
        service = self.env["maildesk.ai.service"].with_user(self.user_outsider)
        with self.assertRaises(AccessError):
            service.run("briefing", messages=[{"role": "user", "content": "hi"}], mailbox=self.account.sudo())

    def test_only_this_thread_is_sent(self):
        """The payload holds this thread's messages and nothing of another thread of the same mailbox."""
        self.make_thread(self.account, [("Z <z@x.example>", "2026-11-05 08:00:00", "OTHER-THREAD-SECRET")])
        self.client().ai_summarize(self.thread.id)
        sent = self.emulator.texts_sent()
        self.assertIn("Any news on the delivery?", sent)
        self.assertNotIn("OTHER-THREAD-SECRET", sent)

    def test_attachments_only_with_both_opt_ins(self):
        """Attachment text reaches the AI only when the mailbox is opted in AND the request asks."""
        message = self.env["maildesk.message"].search([("thread_id", "=", self.thread.id)], limit=1)
        self.env["ir.attachment"].create({"name": "terms.txt", "mimetype": "text/plain",
                                          "res_model": "maildesk.message", "res_id": message.id,
                                          "datas": base64.b64encode(b"ATTACHED-TERMS-TEXT")})
        for mailbox_opt_in, request_opt_in, expected in ((False, False, False), (False, True, False),
                                                         (True, False, False), (True, True, True)):
            self.account.ai_attachments = mailbox_opt_in
            self.emulator.payloads.clear()
            self.client().ai_summarize(self.thread.id, include_attachments=request_opt_in)
            self.assertEqual("ATTACHED-TERMS-TEXT" in self.emulator.texts_sent(), expected,
                             (mailbox_opt_in, request_opt_in))

    # -- the key and the providers -------------------------------------------------------------
    def test_key_never_readable_by_non_admins(self):
        """Users and Mailbox Admins cannot read providers at all; system admins see no key either."""
        for user in (self.user_member, self.user_admin):
            with self.assertRaises(AccessError):
                self.provider.with_user(user).read(["api_key", "base_url"])
            with self.assertRaises(AccessError):
                self.env["maildesk.ai.provider"].with_user(user).search([])
        system = new_test_user(self.env, login="md_system", groups="base.group_system")
        values = self.provider.with_user(system).read(["api_key", "has_key", "api_key_encrypted"])[0]
        self.assertFalse(values["api_key"])
        self.assertTrue(values["has_key"])
        self.assertTrue(values["api_key_encrypted"].startswith("md1:"))
        self.assertNotIn(API_KEY, values["api_key_encrypted"])

    def test_users_cannot_forge_usage(self):
        """The usage log is read-only over RPC; a user reads only their own rows."""
        self.client(self.user_owner).ai_ask(self.thread.id, "Q?")
        Usage = self.env["maildesk.ai.usage"].with_user(self.user_member)
        with self.assertRaises(AccessError):
            Usage.create({"user_id": self.user_member.id, "feature": "ask", "day": "2026-01-01"})
        self.assertFalse(Usage.search([]))
        row = self.env["maildesk.ai.usage"].with_user(self.user_owner).search([])
        self.assertEqual(len(row), 1)
        with self.assertRaises(AccessError):
            row.write({"outcome": "cancelled"})
        self.assertEqual(len(self.env["maildesk.ai.usage"].with_user(self.user_admin).search([])), 1)

    def test_test_connection_reports_ok_and_wrong_key(self):
        """Test Connection: OK with the model name; a wrong key is named, the key is not shown."""
        self.provider.action_test_connection()
        self.assertTrue(self.provider.last_test.startswith("OK"))
        self.provider.api_key = "sk-wrong-0000"
        action = self.provider.action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("refused the API key", self.provider.last_test)
        self.assertNotIn("sk-wrong-0000", self.provider.last_test)

    def test_unknown_model_and_unreachable_are_named(self):
        """404 model and a dead port give their own readable texts."""
        self.emulator.models = {"other"}
        self.provider.action_test_connection()
        self.assertIn("does not know the model 'emu-1'", self.provider.last_test)
        self.provider.base_url = "http://127.0.0.1:9/v1"
        self.provider.action_test_connection()
        self.assertIn("Could not reach", self.provider.last_test)

    def test_one_active_provider_per_company(self):
        """Set as Active deactivates the company's other provider."""
        other = self.env["maildesk.ai.provider"].create({"name": "Claude", "kind": "anthropic",
                                                         "base_url": self.emulator.base_url, "model": "claude",
                                                         "api_key": API_KEY})
        other.action_set_active()
        self.assertTrue(other.is_active)
        self.assertFalse(self.provider.is_active)
        result = self.client().ai_ask(self.thread.id, "Via Anthropic?")
        self.assertTrue(result["answer"].startswith("Answer to: Via Anthropic?"))
        self.assertEqual(self.emulator.payloads[-1]["path"], "/v1/messages")

    def test_backfill_fills_headers_from_kept_original(self):
        """The one-off backfill reads the six headers of older mail from the kept original."""
        message = self.env["maildesk.message"].search([("thread_id", "=", self.thread.id)], limit=1)
        raw = (b"From: a@x.example\r\nAuto-Submitted: auto-replied\r\nList-Id: <news.x.example>\r\n"
               b"Authentication-Results: mx.acme.com; dmarc=fail\r\nReturn-Path: <b@y.example>\r\n\r\nbody")
        self.env["ir.attachment"].create({"name": "original.eml", "res_model": "maildesk.message",
                                          "res_id": message.id, "raw": raw})
        self.env["ir.config_parameter"].sudo().set_param("maildesk_mail_client_pro.backfill_upto", "0")
        self.env["ir.config_parameter"].sudo().set_param("maildesk_mail_client_pro.backfill_done_id", "0")
        Message = self.env["maildesk.message"]
        while Message._backfill_headers(batch=500):
            pass
        self.assertEqual(message.auto_submitted, "auto-replied")
        self.assertEqual(message.return_path, "b@y.example")
        self.assertIn("dmarc=fail", message.authentication_results)
        self.assertEqual(Message._backfill_headers(), 0)  # done: stops by itself
