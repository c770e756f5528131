"""The cockpit in a real browser: open, click overdue, open the drawer, assign to me, mark noise."""
import os
import random
import unittest
from datetime import datetime, timedelta

from freezegun import freeze_time
from odoo.addons.maildesk_mail_client.tests.screenshots import capture
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

    def test_cockpit_tour(self):
        self.start_tour("/web#action=maildesk_mail_client_cockpit.maildesk_cockpit_action", "maildesk_cockpit_tour",
                        login="ck_operator")
        self.assertEqual(self.late.user_id, self.operator)
        self.assertTrue(self.late.ck_marked_noise)


SHOT_JS = """
(async () => {
    const wait = (sel) => new Promise((resolve, reject) => {
        let n = 0;
        const timer = setInterval(() => {
            const el = document.querySelector(sel);
            if (el) { clearInterval(timer); resolve(el); }
            else if (++n > 150) { clearInterval(timer); reject(new Error("missing " + sel)); }
        }, 100);
    });
    (await wait(".o_cockpit_card_overdue")).click();
    (await wait(".o_cockpit_row")).click();
    await wait(".o_cockpit_drawer iframe");
    await new Promise((r) => setTimeout(r, 1500));
    console.log("test successful");
})();
"""


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
        rng = random.Random(3)
        now = datetime.now().replace(microsecond=0)
        subjects = ["Invoice 4711 is wrong", "Delivery delayed", "Cannot log in", "Quote for 40 chairs",
                    "Refund request", "Contract renewal", "API rate limit", "Broken link in newsletter"]
        for i in range(36):
            thread = cls.thread(cls.support, f"{subjects[i % len(subjects)]} #{i + 1}")
            when = now - timedelta(days=rng.randint(0, 6), hours=rng.randint(1, 12))
            for step in range(rng.randint(1, 4)):
                if when >= now:
                    break
                cls.store(thread, "incoming" if step % 2 == 0 else "outgoing", when)
                when += timedelta(hours=rng.randint(1, 20))
            if i % 3 == 0:
                thread.sudo().user_id = [cls.operator, cls.colleague, cls.manager][i % 9 // 3]
        cls.env["maildesk.thread"]._cron_cockpit_sla(full=True)

    def test_screenshot(self):
        """Open the cockpit as a manager, click overdue, open the first conversation; capture."""
        capture(self, "cockpit", "/web#action=maildesk_mail_client_cockpit.maildesk_cockpit_action", SHOT_JS,
                login="ck_manager", size=(1600, 1000))
