"""Over HTTP: the streaming endpoint and JSON-RPC refusals, as a browser would call them."""
import json

from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException

from .common import AiCaseMixin

PARAM = "maildesk_mail_client_pro.%s"


@tagged("post_install", "-at_install", "maildesk")
class TestAiHttp(AiCaseMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        group = "maildesk_mail_client.group_maildesk_user"
        cls.user_owner = new_test_user(cls.env, login="ai_owner", groups=group)
        cls.user_member = new_test_user(cls.env, login="ai_member", groups=group)
        cls.user_outsider = new_test_user(cls.env, login="ai_outsider", groups=group)
        cls.setup_ai()

    def stream(self, login, payload, content_type="application/json"):
        self.authenticate(login, login)
        response = self.url_open("/maildesk/ai/stream", data=json.dumps(payload),
                                 headers={"Content-Type": content_type}, timeout=30)
        return response, [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def test_stream_summarize(self):
        """Summarize over the stream ends with the parsed summary; the call is logged as ok."""
        _response, events = self.stream("ai_member", {"feature": "summarize", "thread_id": self.thread.id})
        self.assertEqual(events[0]["type"], "meta")
        self.assertEqual(events[-1]["type"], "done", events)
        self.assertEqual(events[-1]["result"]["summary"], "Summary of 3 messages.")
        self.assertEqual(self.usage(user_id=self.user_member.id, feature="summarize").outcome, "ok")

    def test_stream_ask_arrives_in_pieces(self):
        """Ask AI streams several deltas that add up to the answer."""
        _response, events = self.stream("ai_member", {"feature": "ask", "thread_id": self.thread.id,
                                                      "question": "Delivery date?", "history": [["A", "B"]]})
        deltas = [e["text"] for e in events if e["type"] == "delta"]
        self.assertGreater(len(deltas), 1)
        self.assertEqual("".join(deltas), events[-1]["result"]["answer"])
        self.assertTrue(events[-1]["result"]["answer"].startswith("Answer to: Delivery date?"))

    def test_stream_draft_saves_a_draft(self):
        """Draft reply over the stream ends with a saved reply draft of the user."""
        message = self.env["maildesk.message"].search([("thread_id", "=", self.thread.id)], order="date desc",
                                                      limit=1)
        _response, events = self.stream("ai_member", {"feature": "draft", "message_id": message.id,
                                                      "tone": "friendly"})
        draft = self.env["maildesk.draft"].browse(events[-1]["result"]["draft_id"])
        self.assertEqual(draft.user_id, self.user_member)
        self.assertIn("Thank you for your message", str(draft.body_html))

    def test_stream_cut_by_provider_is_an_error(self):
        """A provider stream cut half-way ends with a readable error event, logged as error."""
        self.emulator.cut_next_stream()
        _response, events = self.stream("ai_member", {"feature": "ask", "thread_id": self.thread.id,
                                                      "question": "Q?"})
        self.assertEqual(events[-1]["type"], "error")
        self.assertIn("stopped mid-way", events[-1]["message"])
        self.assertEqual(self.usage(user_id=self.user_member.id, feature="ask").outcome, "error")

    def test_stream_refused_for_outsider_and_switch(self):
        """An outsider's request and a switched-off feature end in an error event; nothing reaches the AI."""
        _response, events = self.stream("ai_outsider", {"feature": "summarize", "thread_id": self.thread.id})
        self.assertEqual([e["type"] for e in events], ["error"])
        self.env["ir.config_parameter"].sudo().set_param(PARAM % "feature_ask", "0")
        _response, events = self.stream("ai_member", {"feature": "ask", "thread_id": self.thread.id,
                                                      "question": "Q?"})
        self.assertIn("switched off", events[0]["message"])
        self.assertFalse(self.emulator.payloads)

    def test_stream_takes_json_only(self):
        """A form post (what a cross-site page could send) is refused."""
        response, _events = self.stream("ai_member", {"feature": "summarize", "thread_id": self.thread.id},
                                        content_type="application/x-www-form-urlencoded")
        self.assertEqual(response.status_code, 415)
        self.assertFalse(self.emulator.payloads)

    def test_jsonrpc_refuses_disabled_feature(self):
        """A direct JSON-RPC call to a feature switched off is refused with the readable error."""
        self.env["ir.config_parameter"].sudo().set_param(PARAM % "feature_summarize", "0")
        self.authenticate("ai_member", "ai_member")
        with self.assertRaises(JsonRpcException) as caught:
            self.make_jsonrpc_request("/web/dataset/call_kw/maildesk.client/ai_summarize", {
                "model": "maildesk.client", "method": "ai_summarize", "args": [self.thread.id], "kwargs": {}})
        self.assertIn("UserError", str(caught.exception))
        self.assertFalse(self.emulator.payloads)
