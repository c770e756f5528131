"""The AI panel against the AI emulator: grounding, limits, cache, tiers over RPC, rebalance, tour."""
import json
import os
from datetime import datetime, timedelta

from odoo import fields
from odoo.addons.maildesk_mail_client.tests.screenshots import capture, page_script
from odoo.addons.maildesk_mail_client_pro.tests.common import API_KEY, start_emulator_provider
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged
from odoo.tests.common import TransactionCase

from .common import CockpitSetup

LIMIT = "maildesk_mail_client_cockpit.ai_limit_%s_%s"
NAMES = "maildesk_mail_client_cockpit.ai_customer_names"
CAPACITY = "maildesk_mail_client_cockpit.ai_default_capacity"


class AiPanelSetup(CockpitSetup):
    """The cockpit fixture + the emulator as the active provider + a queue worth balancing.

    Six conversations wait for a reply in the Support team, all assigned to the operator
    (capacity 4 each); one of them says "URGENT ... cancel" and got a follow-up.
    """

    @classmethod
    def setup_panel(cls, env):
        cls.setup_cockpit(env)
        start_emulator_provider(cls)
        for user, name in ((cls.viewer, "Vera Viewer"), (cls.operator, "Otto Operator"),
                           (cls.colleague, "Cora Colleague"), (cls.manager, "Mona Manager")):
            user.name = name
        params = cls.env["ir.config_parameter"].sudo()
        params.set_param(CAPACITY, "4")
        cls.env["maildesk.sla.policy"].create({"name": "Fast", "first_response_hours": 1, "next_response_hours": 1})
        now = fields.Datetime.now().replace(microsecond=0)
        cls.waiting = cls.env["maildesk.thread"]
        for i in range(6):
            thread = cls.thread(subject=f"Secret subject {i}")
            cls.store(thread, date=now - timedelta(hours=3 + i), body_text=f"Confidential body {i}")
            cls.waiting |= thread
        cls.urgent = cls.waiting[0]
        cls.store(cls.urgent, date=now - timedelta(minutes=30), body_text="URGENT: we will cancel the contract")
        cls.waiting.sudo().write({"user_id": cls.operator.id})
        # A week ago: twelve customer messages in one morning (all answered), against nothing on
        # the same weekday of the eight weeks before: an anomaly of incoming mail.
        cls.spike_day = (now - timedelta(days=7)).date()
        spike = cls.thread(subject="Newsletter backlash")
        start = datetime.combine(cls.spike_day, datetime.min.time()) + timedelta(hours=10)
        for i in range(12):
            cls.store(spike, date=start + timedelta(minutes=i))
        cls.store(spike, "outgoing", date=start + timedelta(hours=1))
        cls.t_sales = cls.thread(cls.sales, "Sales only")
        cls.store(cls.t_sales, date=now - timedelta(hours=2))
        cls.env["maildesk.thread"]._cron_cockpit_sla(full=True)

    def setUp(self):
        super().setUp()
        self.emulator.reset(api_key=API_KEY)

    def panel(self, user):
        return self.env["maildesk.cockpit.ai"].with_user(user)

    def usage(self, user, feature="briefing"):
        return self.env["maildesk.ai.usage"].search([("user_id", "=", user.id), ("feature", "=", feature)])


@tagged("post_install", "-at_install", "maildesk")
class TestAiPanel(AiPanelSetup, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_panel(cls.env)

    def test_statistics_are_computed_by_code(self):
        """Risk (ranked, with components), the rebalance proposal and the facts come without any AI call."""
        data = self.panel(self.manager).get_panel({})
        self.assertTrue(data["ai"]["available"])
        self.assertEqual(len(data["risks"]), 6)
        top = data["risks"][0]
        self.assertEqual(top["thread_id"], self.urgent.id)  # the urgent words and the follow-up lift it
        self.assertEqual(top["words"], ["urgent", "cancel"])
        self.assertEqual(top["components"]["followups"], 7)
        self.assertEqual(sum(top["components"].values()), top["score"])
        moves = data["rebalance"]["moves"]
        self.assertTrue(moves)
        self.assertEqual({m["from_id"] for m in moves}, {self.operator.id})
        self.assertTrue({m["to_id"] for m in moves} <= {self.colleague.id, self.viewer.id})
        spike = {(a["day"], a["value"], a["level"]) for a in data["anomalies"] if a["kpi"] == "incoming"}
        self.assertIn((self.spike_day.isoformat(), 12, "anomaly"), spike)
        # Run in the first hours of a (UTC) day, the fixture's recent mail (3 to 8 hours old) falls
        # on yesterday, which is then an anomaly as well (against nothing the weeks before); today
        # is never judged, and no other day may be.
        today = fields.Date.context_today(self.manager)
        recent = {m.date.date().isoformat() for m in self.waiting.message_ids if m.date.date() < today}
        self.assertLessEqual({day for day, _value, _level in spike} - {self.spike_day.isoformat()}, recent)
        self.assertEqual(self.emulator.payloads, [])
        self.assertEqual(self.waiting.mapped("user_id"), self.operator)  # nothing applied by looking

    def test_without_provider_the_panel_shows_the_figures_and_a_note(self):
        self.provider.sudo().is_active = False
        data = self.panel(self.manager).get_panel({})
        self.assertFalse(data["ai"]["available"])
        self.assertIn("No AI provider", data["ai"]["note"])
        self.assertTrue(data["risks"] and data["rebalance"]["people"])
        result = self.panel(self.manager).get_briefing({})
        self.assertEqual(result["source"], "template")
        self.assertIn("No AI provider", result["text"])
        self.assertFalse(self.usage(self.manager))

    def test_grounded_briefing_is_shown_then_cached(self):
        """A grounded text is shown; the second request of the day for the scope costs nothing."""
        first = self.panel(self.manager).get_briefing({"team_id": self.team.id})
        self.assertEqual(first["source"], "ai", first)
        self.assertIn("Briefing for Support team", first["text"])
        second = self.panel(self.manager).get_briefing({"team_id": self.team.id})
        self.assertEqual(second["source"], "cache")
        self.assertEqual(second["text"], first["text"])
        self.assertEqual(len(self.usage(self.manager)), 1)
        self.assertEqual(len(self.emulator.payloads), 1)
        self.assertEqual(self.panel(self.manager).get_panel({"team_id": self.team.id})["cached"]["briefing"]["text"],
                         first["text"])

    def test_no_bodies_subjects_or_customer_names_are_sent(self):
        self.panel(self.manager).get_briefing({})
        sent = self.emulator.texts_sent()
        for secret in ("Secret subject", "Confidential body", "cancel the contract", "Carla", "carla@"):
            self.assertNotIn(secret, sent)
        self.env["ir.config_parameter"].sudo().set_param(NAMES, "1")
        self.panel(self.manager).get_briefing({}, refresh=True)
        self.assertIn("Carla", self.emulator.texts_sent())
        self.assertNotIn("Confidential body", self.emulator.texts_sent())

    def test_hallucinated_number_is_caught_and_the_template_shown(self):
        """An invented figure: the AI text is not returned, the template of the facts is, with a note."""
        self.emulator.hallucinate_next()
        result = self.panel(self.manager).get_briefing({})
        self.assertEqual(result["source"], "template")
        self.assertIn("4321", result["note"])
        self.assertNotIn("rose to", result["text"])
        self.assertTrue(result["text"].startswith("Daily briefing (figures)\nThe AI text was not shown"))
        self.assertEqual(len(self.usage(self.manager)), 1)  # the failed call counts
        self.assertEqual(self.panel(self.manager).get_briefing({})["source"], "ai")  # a failure is not cached

    def test_daily_limit_refuses_the_next_call(self):
        self.env["ir.config_parameter"].sudo().set_param(LIMIT % ("briefing", "manager"), "1")
        self.assertEqual(self.panel(self.manager).get_briefing({})["source"], "ai")
        refused = self.panel(self.manager).get_briefing({}, refresh=True)
        self.assertEqual(refused["source"], "template")
        self.assertIn("Daily limit reached", refused["note"])
        self.assertEqual(len(self.usage(self.manager)), 1)
        self.assertEqual(len(self.emulator.payloads), 1)
        self.assertEqual(self.panel(self.cockpit_admin).get_briefing({}, refresh=True)["source"], "ai")  # unlimited

    def test_tier_limit_zero_and_pro_limit_both_apply(self):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(LIMIT % ("briefing", "manager"), "0")
        self.assertIn("no AI briefing calls", self.panel(self.manager).get_briefing({})["note"])
        params.set_param(LIMIT % ("briefing", "manager"), "-1")
        params.set_param("maildesk_mail_client_pro.limit_briefing", "1")
        self.assertEqual(self.panel(self.manager).get_briefing({})["source"], "ai")
        self.assertIn("Daily limit reached", self.panel(self.manager).get_briefing({}, refresh=True)["note"])

    def test_rebalance_explanation_is_grounded_and_counted_apart(self):
        result = self.panel(self.manager).explain_rebalance({})
        self.assertEqual(result["source"], "ai", result)
        self.assertEqual(len(self.usage(self.manager, "rebalance")), 1)
        self.assertFalse(self.usage(self.manager, "briefing"))

    def test_viewer_and_operator_cannot_use_the_panel(self):
        for user in (self.viewer, self.operator, self.plain):
            panel = self.panel(user)
            for call in (lambda p=panel: p.get_panel({}), lambda p=panel: p.get_briefing({}),
                         lambda p=panel: p.explain_rebalance({}),
                         lambda p=panel: p.apply_rebalance({}, [[self.urgent.id, self.colleague.id]])):
                with self.assertRaises(AccessError):
                    call()
        self.assertFalse(self.env["maildesk.ai.usage"].search([]))

    def test_apply_rebalance_only_on_click_and_only_in_scope(self):
        panel = self.panel(self.manager)
        moves = panel.get_panel({})["rebalance"]["moves"]
        with self.assertRaises(UserError):  # a conversation outside the proposal (and the scope)
            panel.apply_rebalance({}, [[self.t_sales.id, self.colleague.id]])
        with self.assertRaises(UserError):  # another target than proposed
            panel.apply_rebalance({}, [[moves[0]["thread_id"], self.manager.id]])
        with self.assertRaises(UserError):
            panel.apply_rebalance({}, [["1; DROP TABLE x", 2]])
        self.assertEqual(self.waiting.mapped("user_id"), self.operator)
        self.assertEqual(panel.apply_rebalance({}, [[m["thread_id"], m["to_id"]] for m in moves]),
                         {"applied": len(moves)})
        for move in moves:
            self.assertEqual(self.env["maildesk.thread"].browse(move["thread_id"]).user_id.id, move["to_id"])
        audit = self.env["maildesk.cockpit.audit"].search([("thread_id", "in", [m["thread_id"] for m in moves])])
        self.assertEqual(set(audit.mapped("reason")), {"Workload rebalance"})
        self.assertEqual(audit.user_id, self.manager)
        self.assertFalse(self.t_sales.user_id)
        self.assertFalse(panel.get_panel({})["rebalance"]["moves"])  # balanced now

    def test_members_who_cannot_read_the_mailbox_receive_nothing(self):
        """Automation refuses an assignee outside the mailbox, so the proposal never names one."""
        self.team.sudo().member_ids = [(4, self.outsider.id)]
        moves = self.panel(self.manager).get_panel({})["rebalance"]["moves"]
        self.assertTrue(moves)
        self.assertNotIn(self.outsider.id, {m["to_id"] for m in moves})

    def test_outsider_manager_sees_nothing_of_the_team(self):
        """A Manager who is not in the mailbox: no risks, no moves, no foreign team."""
        data = self.panel(self.outsider).get_panel({})
        self.assertFalse(data["risks"])
        self.assertFalse(data["rebalance"]["moves"])
        with self.assertRaises(AccessError):
            self.panel(self.outsider).get_panel({"account_id": self.support.id})


@tagged("post_install", "-at_install", "maildesk")
class TestAiPanelHttp(AiPanelSetup, HttpCase):
    """Real JSON-RPC and the streaming route, as the browser calls them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_panel(cls.env)

    def call(self, login, method, *args):
        self.authenticate(login, login)
        return self.make_jsonrpc_request("/web/dataset/call_kw", {
            "model": "maildesk.cockpit.ai", "method": method, "args": list(args), "kwargs": {}})

    def stream(self, login, payload):
        self.authenticate(login, login)
        response = self.url_open("/maildesk/cockpit/ai/stream", data=json.dumps(payload),
                                 headers={"Content-Type": "application/json"}, timeout=60)
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def test_viewer_and_operator_are_refused_over_rpc(self):
        calls = [("get_panel", {}), ("get_briefing", {}), ("explain_rebalance", {}),
                 ("apply_rebalance", {}, [[self.urgent.id, self.colleague.id]])]
        for login in ("ck_viewer", "ck_operator", "ck_plain"):
            for method, *args in calls:
                with self.subTest(login=login, method=method):
                    with self.assertRaises(Exception) as caught:
                        self.call(login, method, *args)
                    self.assertIn("AccessError", str(caught.exception) + repr(caught.exception.args))
            events = self.stream(login, {"kind": "briefing", "filters": {}})
            self.assertEqual(events[-1]["type"], "error")
        self.assertEqual(self.urgent.user_id, self.operator)
        self.assertEqual(self.emulator.payloads, [])
        self.assertTrue(self.call("ck_manager", "get_panel", {})["risks"])

    def test_stream_releases_grounded_lines_then_caches(self):
        events = self.stream("ck_manager", {"kind": "briefing", "filters": {}})
        deltas = "".join(e["text"] for e in events if e["type"] == "delta")
        self.assertEqual(events[-1]["type"], "done", events)
        self.assertEqual(events[-1]["result"]["source"], "ai")
        self.assertEqual(deltas.strip(), events[-1]["result"]["text"].strip())
        again = self.stream("ck_manager", {"kind": "briefing", "filters": {}})
        self.assertEqual(again[-1]["result"]["source"], "cache")
        self.assertEqual(len(self.emulator.payloads), 1)

    def test_stream_never_shows_an_invented_number(self):
        self.emulator.hallucinate_next()
        events = self.stream("ck_manager", {"kind": "briefing", "filters": {}, "refresh": True})
        shown = "".join(e.get("text", "") for e in events if e["type"] == "delta")
        self.assertNotIn("4321", shown)
        self.assertEqual(events[-1]["result"]["source"], "template")
        self.assertIn("4321", events[-1]["result"]["note"])


@tagged("post_install", "-at_install", "maildesk")
class TestAiPanelTour(AiPanelSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_panel(cls.env)

    def test_ai_panel_tour(self):
        """Manager: briefing streamed and checked, risk listed, rebalance applied on click."""
        self.start_tour("/web#action=maildesk_mail_client_cockpit.maildesk_cockpit_action",
                        "maildesk_cockpit_ai_panel_tour", login="ck_manager")
        self.assertNotEqual(self.waiting.mapped("user_id"), self.operator)
        self.assertEqual(len(self.env["maildesk.ai.usage"].search([("feature", "=", "briefing")])), 1)

    def test_operator_has_no_panel(self):
        self.start_tour("/web#action=maildesk_mail_client_cockpit.maildesk_cockpit_action",
                        "maildesk_cockpit_ai_panel_hidden_tour", login="ck_operator")

    def test_screenshot(self):
        """README screenshot of the panel after a briefing: MAILDESK_SCREENSHOTS=<dir> enables it."""
        if not os.environ.get("MAILDESK_SCREENSHOTS"):
            self.skipTest("set MAILDESK_SCREENSHOTS to take the README screenshot")
        capture(self, "cockpit_ai_panel", "/web#action=maildesk_mail_client_cockpit.maildesk_cockpit_action",
                SHOT_JS, login="ck_manager", size=(1600, 1100), timeout=120)


SHOT_JS = page_script("""
    (await wait(".o_cockpit_ai_brief")).click();
    await wait(".o_cockpit_ai_source_ai .o_cockpit_ai_copy");
    (await wait(".o_cockpit_ai_explain")).click();
    await wait(".o_cockpit_ai_rebalance .o_cockpit_ai_source_ai .o_cockpit_ai_copy");
    document.querySelector(".o_cockpit_ai").scrollIntoView();
""", settle_ms=1000)
