"""The KPI rollup gives exactly the figures of the messages: built, after every kind of change
(dirty days read from the messages), after the fold, in other time zones; and every KPI test
of ``test_kpi`` passes again on the rollup path."""
from datetime import timedelta
from unittest.mock import patch

from freezegun import freeze_time
from odoo.tests import tagged

from . import test_kpi
from .common import NOW

FILTERS = [{"period": "7d"}, {"period": "today"}, {"period": "30d"},
           {"period": "custom", "date_from": "2026-02-20", "date_to": "2026-03-01"}]


def _rounded(value):
    """Means may differ in the last bits (another summation order); everything else is exact."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


@tagged("post_install", "-at_install", "maildesk")
class TestCockpitRollup(test_kpi.TestCockpitKpi):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with freeze_time(NOW):
            cls.Rollup = cls.env["maildesk.cockpit.rollup"]
            cls.Rollup._cron_fold()

    def figures(self, user, filters):
        data = self.cockpit(user).get_dashboard(filters, options=False)
        return _rounded({"cards": data["cards"], "breakdown": data["breakdown"]})

    def raw_figures(self, user, filters):
        with patch.object(type(self.Rollup), "_plan", lambda *args: None):
            return self.figures(user, filters)

    def assert_same(self, users=None, filters=FILTERS):
        for user in users or (self.viewer, self.manager):
            for flt in filters:
                with self.subTest(user=user.login, filters=flt):
                    self.assertEqual(self.figures(user, flt), self.raw_figures(user, flt))

    def dirty(self):
        self.env.flush_all()
        self.env.cr.execute("SELECT count(*) FROM maildesk_cockpit_rollup_dirty")
        return self.env.cr.fetchone()[0]

    @freeze_time(NOW)
    def test_rollup_is_built_and_used(self):
        self.env.cr.execute("SELECT tz FROM maildesk_cockpit_rollup_tz")
        self.assertEqual([r[0] for r in self.env.cr.fetchall()], ["UTC"])
        self.env.cr.execute("SELECT count(*), sum(incoming), sum(outgoing) FROM maildesk_cockpit_rollup")
        rows, incoming, outgoing = self.env.cr.fetchone()
        self.assertTrue(rows and incoming and outgoing)
        self.assertEqual(self.dirty(), 0)
        calls = []
        original = type(self.Rollup)._plan

        def spy(model, scope, period):
            calls.append(original(model, scope, period))
            return calls[-1]
        with patch.object(type(self.Rollup), "_plan", spy):
            self.cockpit(self.viewer).get_dashboard({"period": "30d"})
        self.assertTrue(calls[0] and calls[0].reads["period"][0], "the 30-day read takes whole days from the rollup")

    @freeze_time(NOW)
    def test_same_figures_with_every_filter(self):
        self.assert_same()
        team, support = self.team.id, self.support.id
        self.assert_same([self.manager], [{"period": "30d", "team_id": team}, {"period": "30d", "account_id": support},
                                          {"period": "7d", "user_id": self.operator.id},
                                          {"period": "7d", "user_id": -1},
                                          {"period": "30d", "partner_id": self.customer.id}])

    @freeze_time(NOW)
    def test_changes_are_exact_before_and_after_the_fold(self):
        """Reassign, noise mark, a late message on an old day, an SLA due time moved, a deletion:
        the dirty days are read from the messages at once, the fold brings the rollup level."""
        Thread = self.env["maildesk.thread"].sudo()
        threads = Thread.search([("account_id", "=", self.support.id), ("is_noise", "=", False)], order="id")
        self.cockpit(self.manager).assign(threads[:3].ids, self.colleague.id)
        self.cockpit(self.manager).mark_noise(threads[3:5].ids)
        self.store(threads[6], "incoming", NOW - timedelta(days=5, hours=3))  # arrives late, dated 5 days ago
        self.store(self.thread(self.support, "Fresh"), "incoming", NOW - timedelta(hours=1))
        old = self.env["maildesk.message"].sudo().search([("account_id", "=", self.support.id),
                                                         ("date", "<", NOW - timedelta(days=3))], limit=1)
        old.unlink()
        Thread.search([])._cockpit_refresh_sla(now=NOW + timedelta(hours=30))
        self.assertGreater(self.dirty(), 0)
        self.assert_same()
        result = self.Rollup._cron_fold()
        self.assertGreater(result["keys"], 0)
        self.assertEqual(self.dirty(), 0)
        self.assert_same()

    @freeze_time(NOW)
    def test_other_time_zones(self):
        """Users in New York and in Kolkata (a half-hour offset) get their own local days."""
        self.manager.tz = "America/New_York"
        self.viewer.tz = "Asia/Kolkata"
        self.assertEqual(self.Rollup._cron_fold()["built"], ["America/New_York", "Asia/Kolkata"])
        self.env.cr.execute("SELECT tz FROM maildesk_cockpit_rollup_tz ORDER BY tz")
        self.assertEqual([r[0] for r in self.env.cr.fetchall()], ["America/New_York", "Asia/Kolkata", "UTC"])
        self.assert_same()
        self.cockpit(self.manager).assign(self.env["maildesk.thread"].sudo().search(
            [("account_id", "=", self.support.id)], limit=2).ids, self.operator.id)
        self.assert_same()
