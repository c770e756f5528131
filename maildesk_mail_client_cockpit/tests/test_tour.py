"""The cockpit in a real browser: open, click overdue, open the drawer, assign to me, mark noise."""
import os
import unittest
from datetime import datetime, timedelta

from freezegun import freeze_time
from odoo.addons.maildesk_mail_client.tests.screenshots import capture, page_script
from odoo.tests import HttpCase, tagged

from .common import CockpitSetup


@tagged("post_install", "-at_install", "maildesk")
class TestCockpitTour(CockpitSetup, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_cockpit(cls.env)
        cls.env["maildesk.sla.policy"].create({"name": "Fast", "first_response_hours": 1,
                                               "next_response_hours": 1})
        now = datetime.now().replace(microsecond=0)
        with freeze_time(now - timedelta(hours=3)):
            cls.late = cls.thread(subject="Broken invoice export")
            cls.store(cls.late, date=now - timedelta(hours=3))
        cls.fresh = cls.thread(subject="Fresh question")
        cls.store(cls.fresh, date=now - timedelta(minutes=5))
        cls.env["maildesk.thread"]._cron_cockpit_sla()
        # The browser reads the KPI rollup (built for the users' time zone); the tour's triage marks
        # days dirty and its cards must change at once all the same.
        cls.env["maildesk.cockpit.rollup"]._cron_fold()

    def test_cockpit_tour(self):
        self.start_tour("/web#action=maildesk_mail_client_cockpit.maildesk_cockpit_action", "maildesk_cockpit_tour",
                        login="ck_operator")
        self.assertEqual(self.late.user_id, self.operator)
        self.assertTrue(self.late.ck_marked_noise)
        self.env.cr.execute("SELECT tz FROM maildesk_cockpit_rollup_tz")
        self.assertIn("UTC", [row[0] for row in self.env.cr.fetchall()])


SHOT_JS = page_script("""
    (await wait(".o_cockpit_card_overdue")).click();
    (await wait(".o_cockpit_row")).click();
    await wait(".o_cockpit_drawer iframe");
""", settle_ms=1500)


@tagged("post_install", "-at_install", "maildesk")
class TestCockpitScreenshot(CockpitSetup, HttpCase):
    """README screenshot from a real browser run: MAILDESK_SCREENSHOTS=<dir> enables it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.environ.get("MAILDESK_SCREENSHOTS"):
            raise unittest.SkipTest("set MAILDESK_SCREENSHOTS to take the README screenshot")
        cls.setup_cockpit(cls.env)
        cls.env["maildesk.sla.policy"].create({"name": "Standard", "first_response_hours": 4,
                                               "next_response_hours": 4})
        cls.seed_showcase(36, days=(0, 6), gap_hours=range(1, 21), seed=3)

    def test_screenshot(self):
        """Open the cockpit as a manager, click overdue, open the first conversation; capture."""
        capture(self, "cockpit", "/web#action=maildesk_mail_client_cockpit.maildesk_cockpit_action", SHOT_JS,
                login="ck_manager", size=(1600, 1000))
