"""KPI numbers on a seeded dataset equal a straightforward recount; drill-down == card."""
import random
from datetime import timedelta

from freezegun import freeze_time
from lxml import etree
from odoo.tests import tagged
from odoo.tools.safe_eval import safe_eval

from .common import NOW, CockpitCase

KPIS = ("incoming", "outgoing", "waiting", "needs_reply", "overdue", "first_response", "response_time")


@tagged("post_install", "-at_install", "maildesk")
class TestCockpitKpi(CockpitCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.policy = cls.env["maildesk.sla.policy"].create({"name": "All", "first_response_hours": 4,
                                                            "next_response_hours": 4})
        rng = random.Random(7)
        with freeze_time(NOW):
            for i in range(40):
                thread = cls.thread(cls.support if i % 4 else cls.sales, f"Case {i}")
                when = NOW - timedelta(days=rng.randint(0, 12), hours=rng.randint(0, 20))
                for step in range(rng.randint(1, 4)):
                    direction = "incoming" if step % 2 == 0 else "outgoing"
                    extra = {}
                    if rng.random() < 0.1:
                        extra = {"auto_submitted": "auto-replied"}
                    elif rng.random() < 0.05:
                        extra = {"from_address": "sales@acme.test", "email_from": "sales@acme.test"}
                    if when < NOW:
                        cls.store(thread, direction, when, **extra)
                    when += timedelta(hours=rng.randint(1, 30))
                if i % 7 == 0 and thread.account_id == cls.support:
                    thread.sudo().user_id = cls.operator
            noise = cls.thread(cls.support, "Newsletter")
            cls.store(noise, "incoming", NOW - timedelta(days=1), list_id="<news.list>")
            cls.env["maildesk.thread"].sudo()._cron_cockpit_sla(now=NOW)

    def recount(self, user, account_ids):
        """Straight ORM recount of the definitions (no SQL of the engine)."""
        start = NOW.replace(hour=0, minute=0) - timedelta(days=6)
        Message = self.env["maildesk.message"].sudo()
        msgs = Message.search([("account_id", "in", account_ids), ("date", ">=", start), ("date", "<", NOW)])
        msgs = msgs.filtered(lambda m: not m.thread_id.is_noise and not m.thread_id.ck_marked_noise)
        threads = self.env["maildesk.thread"].sudo().search([("account_id", "in", account_ids)]).filtered(
            lambda t: not t.is_noise and not t.ck_marked_noise)
        waiting = threads.filtered(lambda t: t.conversation_state == "waiting_for_us")
        own = ("sales@acme.test", "support@acme.test")

        def unanswered(thread):
            counted = thread.message_ids.filtered(lambda m: not m.is_auto_generated and (
                m.direction == "outgoing" or m.from_address not in own)).sorted(lambda m: (m.date, m.id))
            return bool(counted) and counted[-1].direction == "incoming"
        needs = waiting.filtered(unanswered)
        gaps = Message.search([("account_id", "in", account_ids), ("ck_answered_at", ">=", start),
                               ("ck_answered_at", "<", NOW)]).filtered(
            lambda m: m.ck_wait_start and not m.thread_id.is_noise)
        return {
            "incoming": len(msgs.filtered(lambda m: m.direction == "incoming" and not m.is_auto_generated
                                          and m.from_address not in ("sales@acme.test", "support@acme.test"))),
            "outgoing": len(msgs.filtered(lambda m: m.direction == "outgoing" and not m.is_auto_generated)),
            "waiting": len(waiting), "needs_reply": len(needs),
            "overdue": len(needs.filtered(lambda t: t.sla_due_at and t.sla_due_at <= NOW)),
            "first_response": len(gaps.filtered("ck_first")), "response_time": len(gaps),
        }

    def card_counts(self, data):
        return {k: data["cards"][k]["count"] if k in ("first_response", "response_time") else
                data["cards"][k]["value"] for k in KPIS}

    @freeze_time(NOW)
    def test_cards_equal_recount_for_mailbox_user(self):
        """A viewer sees the Support mailbox only; every card equals the recount of it."""
        data = self.cockpit(self.viewer).get_dashboard({"period": "7d"})
        expected = self.recount(self.viewer, self.support.ids)
        self.assertEqual(self.card_counts(data), expected)
        self.assertGreater(expected["incoming"], 5)
        self.assertGreater(expected["needs_reply"], 0)

    @freeze_time(NOW)
    def test_cockpit_admin_without_mailbox_admin_sees_no_more(self):
        """The Administrator tier does not widen the base rules: Sales stays out."""
        data = self.cockpit(self.cockpit_admin).get_dashboard({"period": "7d"})
        names = {line["name"] for line in data["breakdown"]["account"]}
        self.assertNotIn("Sales", names)
        self.assertIn("Sales", {line["name"] for line in self.env["maildesk.cockpit"].get_dashboard(
            {"period": "7d"})["breakdown"]["account"]})

    @freeze_time(NOW)
    def test_drill_down_count_equals_card(self):
        """For every KPI the drill-down total and its rows equal the card."""
        cockpit = self.cockpit(self.viewer)
        cards = self.card_counts(cockpit.get_dashboard({"period": "7d"}))
        for kpi in KPIS:
            page = cockpit.get_drilldown(kpi, {"period": "7d"}, limit=200)
            self.assertEqual(page["total"], cards[kpi], kpi)
            self.assertEqual(len(page["rows"]), cards[kpi], kpi)

    @freeze_time(NOW)
    def test_median_matches_python_percentile(self):
        from odoo.addons.maildesk_mail_client_cockpit.engine import stats
        data = self.cockpit(self.viewer).get_dashboard({"period": "7d"})
        rows = self.cockpit(self.viewer).get_drilldown("response_time", {"period": "7d"}, limit=200)["rows"]
        values = [r["reply_seconds"] for r in rows]
        card = data["cards"]["response_time"]
        self.assertAlmostEqual(card["median"], stats.percentile(values, 0.5), places=3)
        self.assertAlmostEqual(card["p90"], stats.percentile(values, 0.9), places=3)
        self.assertAlmostEqual(card["mean"], stats.mean(values), places=3)

    @freeze_time(NOW)
    def test_breakdown_sums_to_cards(self):
        data = self.cockpit(self.viewer).get_dashboard({"period": "7d"})
        for kpi in ("incoming", "outgoing", "waiting", "needs_reply", "overdue"):
            for group in ("account", "user"):
                self.assertEqual(sum(line[kpi] for line in data["breakdown"][group]), data["cards"][kpi]["value"])

    @freeze_time(NOW)
    def test_filters_narrow_and_series_cover_the_period(self):
        cockpit = self.cockpit(self.manager)
        everything = cockpit.get_dashboard({"period": "30d"})
        mine = cockpit.get_dashboard({"period": "30d", "user_id": self.operator.id})
        self.assertLessEqual(mine["cards"]["incoming"]["value"], everything["cards"]["incoming"]["value"])
        self.assertEqual(len(everything["cards"]["incoming"]["series"]), 30)
        self.assertEqual(sum(everything["cards"]["incoming"]["series"]), everything["cards"]["incoming"]["value"])
        today = cockpit.get_dashboard({"period": "today"})
        self.assertEqual(len(today["cards"]["outgoing"]["series"]), 1)

    @freeze_time(NOW)
    def test_noise_mark_and_undo_change_the_card(self):
        cockpit = self.cockpit(self.manager)
        before = cockpit.get_dashboard({"period": "7d"})["cards"]["needs_reply"]["value"]
        row = cockpit.get_drilldown("needs_reply", {"period": "7d"})["rows"][0]
        cockpit.mark_noise([row["thread_id"]])
        self.assertEqual(cockpit.get_dashboard({"period": "7d"})["cards"]["needs_reply"]["value"], before - 1)
        cockpit.mark_noise([row["thread_id"]], noise=False)
        self.assertEqual(cockpit.get_dashboard({"period": "7d"})["cards"]["needs_reply"]["value"], before)

    @freeze_time(NOW)
    def test_noise_mark_survives_ingest_and_agrees_with_automation(self):
        """A manual "mark noise" stays when new mail of the same conversation is stored (automation
        recomputes its own is_noise then); the drawer, the cards and the conversation search
        ("Not noise") agree; an automatic noise conversation offers no undo."""
        cockpit = self.cockpit(self.manager)
        thread = self.thread(self.support, "Pushy vendor")
        self.store(thread, "incoming", NOW - timedelta(hours=2))
        cockpit.mark_noise([thread.id])
        self.store(thread, "incoming", NOW - timedelta(hours=1))  # a later ingest of the same thread
        self.assertFalse(thread.is_noise)  # automation: a person wrote
        self.assertTrue(thread.ck_marked_noise)  # the cockpit's mark is kept
        drawer = cockpit.get_thread(thread.id)["thread"]
        self.assertEqual((drawer["noise"], drawer["marked_noise"], drawer["auto_noise"]), (True, True, False))
        needs = cockpit.get_drilldown("needs_reply", {"period": "7d"}, limit=200)
        self.assertNotIn(thread.id, [r["thread_id"] for r in needs["rows"]])
        search = self.env["maildesk.thread"].with_user(self.manager)
        arch = etree.fromstring(search.get_view(view_type="search")["arch"])
        domain = safe_eval(arch.xpath("//filter[@name='not_noise']")[0].get("domain"))
        self.assertNotIn(thread, search.search(domain))
        cockpit.mark_noise([thread.id], noise=False)
        self.assertIn(thread, search.search(domain))
        self.assertIn(thread.id, [r["thread_id"] for r in cockpit.get_drilldown(
            "needs_reply", {"period": "7d"}, limit=200)["rows"]])
        newsletter = self.env["maildesk.thread"].search([("subject", "=", "Newsletter")])
        row = cockpit.get_thread(newsletter.id)["thread"]
        self.assertEqual((row["noise"], row["auto_noise"], row["marked_noise"]), (True, True, False))
