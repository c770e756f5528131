"""The cockpit in a real browser: open, click overdue, open the drawer, assign to me, mark noise."""
from datetime import datetime, timedelta

from freezegun import freeze_time
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
