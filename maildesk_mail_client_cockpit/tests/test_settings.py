"""Cockpit settings (Settings ▸ MailDesk ▸ Cockpit): saved as parameters, used by the code that
used to hard-code them, validated, and a hand-edited bad value falls back to the default."""
from datetime import datetime

from freezegun import freeze_time
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..models.res_config_settings import PARAM, setting
from .common import CockpitCase

MON16 = datetime(2026, 3, 2, 16, 0)  # Monday 16:00 UTC


@tagged("post_install", "-at_install", "maildesk")
class TestCockpitSettings(CockpitCase):
    def save(self, **values):
        settings = self.env["res.config.settings"].create(values)
        settings.execute()
        return settings

    def test_defaults_without_parameters(self):
        self.assertEqual(setting(self.env, "sla_batch"), 5000)
        self.assertEqual(setting(self.env, "default_period"), "7d")
        self.assertEqual(self.env["res.config.settings"].create({}).maildesk_cockpit_at_risk_percent, 80.0)

    def test_saved_settings_are_used(self):
        calendar = self.env["resource.calendar"].create({
            "name": "Nine to five", "tz": "UTC",
            "attendance_ids": [(5, 0, 0)] + [(0, 0, {"name": f"d{d}", "dayofweek": str(d), "hour_from": 9,
                                                     "hour_to": 17, "day_period": "morning"}) for d in range(5)]})
        self.save(maildesk_cockpit_default_period="30d", maildesk_cockpit_at_risk_percent=60,
                  maildesk_cockpit_sla_batch=2000, maildesk_cockpit_sla_calendar_id=calendar.id)
        self.assertEqual(setting(self.env, "sla_batch"), 2000)
        # The cockpit opens on 30 days.
        dashboard = self.cockpit(self.manager).get_dashboard({})
        self.assertEqual(dashboard["period"]["kind"], "30d")
        self.assertEqual(len(dashboard["period"]["days"]), 30)
        # New policies start at 60 %; without working hours (and a team without any) the default
        # calendar counts: Monday 16:00 + 2 h = Tuesday 10:00, not Monday 18:00.
        policy = self.env["maildesk.sla.policy"].create({"name": "Quick", "first_response_hours": 2,
                                                        "next_response_hours": 2})
        self.assertEqual(policy.at_risk_percent, 60)
        self.assertFalse(self.team.resource_calendar_id)
        thread = self.thread(subject="After hours")
        with freeze_time(MON16):
            self.store(thread, "incoming", MON16)
        self.assertEqual(thread.sla_due_at, datetime(2026, 3, 3, 10))
        with freeze_time(MON16):  # the drawer's chip counts the default calendar's hours: 2 h, not 18 h
            chip = self.cockpit(self.manager).get_thread(thread.id)["thread"]["sla"]
        self.assertEqual((chip["due"], chip["seconds_left"]), ("2026-03-03 10:00:00", 2 * 3600))

    def test_validation_and_bad_parameters(self):
        with self.assertRaises(ValidationError):
            self.save(maildesk_cockpit_sla_batch=10)
        with self.assertRaises(ValidationError):
            self.save(maildesk_cockpit_at_risk_percent=150)
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(PARAM % "sla_batch", "lots")
        params.set_param(PARAM % "default_period", "forever")
        params.set_param(PARAM % "escalation_grace_hours", "-3")
        self.assertEqual(setting(self.env, "sla_batch"), 5000)
        self.assertEqual(setting(self.env, "default_period"), "7d")
        self.assertEqual(setting(self.env, "escalation_grace_hours"), 24)
        self.env["maildesk.thread"]._cron_cockpit_sla()  # runs with the defaults

    def test_changing_the_default_calendar_marks_the_sla_for_a_full_run(self):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("maildesk_mail_client_cockpit.sla_dirty", "")
        calendar = self.env["resource.calendar"].create({"name": "Other", "tz": "UTC"})
        self.save(maildesk_cockpit_sla_calendar_id=calendar.id)
        self.assertEqual(params.get_param("maildesk_mail_client_cockpit.sla_dirty"), "1")

    def test_the_settings_block_is_in_the_maildesk_app(self):
        arch = self.env["res.config.settings"].get_view(view_type="form")["arch"]
        self.assertIn("maildesk_cockpit_sla_batch", arch)
        self.assertIn('id="maildesk_cockpit_settings"', arch)
