"""SLA state through ingest, reply, triage and cron with a frozen clock; escalation fires once."""
import json
from datetime import datetime
from unittest.mock import patch

from freezegun import freeze_time
from odoo.tests import tagged

from .common import CockpitCase

MON9 = datetime(2026, 3, 2, 9, 0)  # Monday 09:00 UTC


@tagged("post_install", "-at_install", "maildesk")
class TestCockpitSla(CockpitCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.calendar = cls.env["resource.calendar"].create({
            "name": "Support hours", "tz": "UTC",
            "attendance_ids": [(0, 0, {"name": f"d{d}", "dayofweek": str(d), "hour_from": 9, "hour_to": 17,
                                       "day_period": "morning"}) for d in range(5)]})
        cls.env["resource.calendar.leaves"].create({
            "name": "Holiday", "calendar_id": cls.calendar.id,
            "date_from": datetime(2026, 3, 3, 0), "date_to": datetime(2026, 3, 3, 23, 59, 59)})
        cls.team.resource_calendar_id = cls.calendar
        cls.vip = cls.env["maildesk.sla.policy"].create({
            "name": "VIP", "sequence": 1, "partner_ids": [(6, 0, cls.customer.ids)], "first_response_hours": 2,
            "next_response_hours": 2, "resource_calendar_id": cls.calendar.id})
        cls.standard = cls.env["maildesk.sla.policy"].create({
            "name": "Standard", "sequence": 5, "first_response_hours": 8, "next_response_hours": 8,
            "resource_calendar_id": cls.calendar.id,
            "level_ids": [(0, 0, {"sequence": 1, "trigger": "percent", "percent": 80, "notify": "assignee"}),
                          (0, 0, {"sequence": 2, "trigger": "after_due", "minutes": 0, "notify": "leader"}),
                          (0, 0, {"sequence": 3, "trigger": "after_due", "minutes": 120, "notify": "users",
                                  "user_ids": [(6, 0, cls.cockpit_admin.ids)]})]})
        cls.stranger = cls.env["res.partner"].create({"name": "Stan", "email": "stan@else.test"})

    def incoming(self, thread, when, partner=None):
        return self.store(thread, "incoming", when, partner_id=(partner or self.stranger).id,
                          from_address="stan@else.test", email_from="stan@else.test")

    def test_first_match_wins(self):
        """The VIP customer gets the VIP policy, placed first; others the standard one."""
        with freeze_time(MON9):
            vip = self.thread(subject="VIP")
            self.store(vip, "incoming", MON9)
            plain = self.thread(subject="Plain")
            self.incoming(plain, MON9)
        self.assertEqual(vip.sla_policy_id, self.vip)
        self.assertEqual(plain.sla_policy_id, self.standard)
        self.assertEqual(vip.sla_due_at, datetime(2026, 3, 2, 11))

    def test_state_through_ingest_cron_reply_and_triage(self):
        thread = self.thread(subject="Lifecycle")
        with freeze_time(MON9):
            self.incoming(thread, MON9)
        # 8 business hours from Monday 09:00 = Monday 17:00.
        self.assertEqual((thread.sla_status, thread.sla_due_at), ("on_track", datetime(2026, 3, 2, 17)))
        Thread = self.env["maildesk.thread"]
        Thread._cron_cockpit_sla(now=datetime(2026, 3, 2, 15, 30))
        self.assertEqual(thread.sla_status, "at_risk")
        Thread._cron_cockpit_sla(now=datetime(2026, 3, 2, 17, 0))
        self.assertEqual(thread.sla_status, "breached")
        # Triage: the manager extends the deadline with a reason.
        with freeze_time(datetime(2026, 3, 2, 17, 5)):
            self.cockpit(self.manager).override_sla(thread.id, "2026-03-04 12:00:00", "Waiting for the warehouse")
        self.assertEqual((thread.sla_status, thread.sla_due_at), ("on_track", datetime(2026, 3, 4, 12)))
        # Our reply: the clock stops while we wait for the customer.
        with freeze_time(datetime(2026, 3, 4, 10)):
            self.store(thread, "outgoing", datetime(2026, 3, 4, 10), email_to="stan@else.test")
        self.assertEqual(thread.conversation_state, "waiting_for_them")
        self.assertEqual(thread.sla_status, "paused")
        self.assertFalse(thread.sla_due_at)
        # The customer answers: a next-response wait, the override is gone with the old wait.
        with freeze_time(datetime(2026, 3, 4, 11)):
            self.incoming(thread, datetime(2026, 3, 4, 11))
        self.assertEqual((thread.sla_status, thread.sla_target_kind), ("on_track", "next"))
        self.assertEqual(thread.sla_due_at, datetime(2026, 3, 5, 11))

    def test_refresh_writes_every_conversation_whatever_the_row_order(self):
        """The batch's rows come in the plan's order, not by id: every one is written all the same."""
        with freeze_time(MON9):
            threads = self.env["maildesk.thread"].browse([self.thread(subject=f"Order {i}").id for i in range(3)])
            for thread in threads:
                self.incoming(thread, MON9)
        self.env.cr.execute("UPDATE maildesk_thread SET sla_status = 'none', sla_policy_id = NULL, sla_due_at = NULL "
                            "WHERE id = ANY(%s)", (threads.ids,))
        threads.invalidate_recordset()
        cr = self.env.cr
        with patch.object(cr, "fetchall", lambda: list(reversed(cr._obj.fetchall())), create=True):
            threads._cockpit_refresh_sla(now=datetime(2026, 3, 2, 10))
        self.assertEqual(threads.mapped("sla_policy_id"), self.standard)
        self.assertEqual(set(threads.mapped("sla_status")), {"on_track"})
        self.assertEqual(set(threads.mapped("sla_due_at")), {datetime(2026, 3, 2, 17)})

    def test_holiday_and_weekend_push_the_due_time(self):
        """Friday 16:00 + 8 h: 1 h Friday, Monday 9-16 (7 h)... and a Tuesday holiday when needed."""
        thread = self.thread(subject="Friday")
        with freeze_time(datetime(2026, 2, 27, 16)):
            self.incoming(thread, datetime(2026, 2, 27, 16))
        self.assertEqual(thread.sla_due_at, datetime(2026, 3, 2, 16))
        late = self.thread(subject="Monday late")
        with freeze_time(datetime(2026, 3, 2, 16)):
            self.incoming(late, datetime(2026, 3, 2, 16))
        # 1 h Monday, Tuesday is a holiday, 7 h Wednesday -> Wednesday 16:00.
        self.assertEqual(late.sla_due_at, datetime(2026, 3, 4, 16))

    def test_escalation_fires_once_per_level_and_wait(self):
        thread = self.thread(subject="Escalate")
        with freeze_time(MON9):
            self.incoming(thread, MON9)
            thread.sudo().user_id = self.operator
        Thread = self.env["maildesk.thread"]
        Escalation = self.env["maildesk.cockpit.escalation"]
        Thread._cron_cockpit_sla(now=datetime(2026, 3, 2, 15, 24))  # 80 % of 8 h = 15:24
        log = Escalation.search([("thread_id", "=", thread.id)])
        self.assertEqual(log.level_id.mapped("sequence"), [1])
        self.assertEqual(log.user_ids, self.operator)
        Thread._cron_cockpit_sla(now=datetime(2026, 3, 2, 15, 30))
        self.assertEqual(len(Escalation.search([("thread_id", "=", thread.id)])), 1)
        # Breach (17:00) and breach + 2 business hours (Wednesday 11:00: Tuesday is a holiday).
        Thread._cron_cockpit_sla(now=datetime(2026, 3, 2, 17, 0))
        Thread._cron_cockpit_sla(now=datetime(2026, 3, 4, 10, 59))
        self.assertEqual(len(Escalation.search([("thread_id", "=", thread.id)])), 2)
        self.assertEqual(Escalation.search([("thread_id", "=", thread.id), ("level_id.sequence", "=", 2)]).user_ids,
                         self.manager)
        Thread._cron_cockpit_sla(now=datetime(2026, 3, 4, 11, 0))
        Thread._cron_cockpit_sla(now=datetime(2026, 3, 4, 12, 0))
        logs = Escalation.search([("thread_id", "=", thread.id)])
        self.assertEqual(sorted(logs.level_id.mapped("sequence")), [1, 2, 3])
        self.assertEqual(logs.filtered(lambda e: e.level_id.sequence == 3).user_ids, self.cockpit_admin)

    def test_escalation_batch_records_each_level_once_with_its_recipients(self):
        """One batch: a candidate listed twice and one that fired in an earlier batch fire once;
        the log row carries the conversation's mailbox and company and each level's recipients."""
        thread = self.thread(subject="Batch")
        first, _breach, third = self.standard.level_ids.sorted("sequence")
        Escalation = self.env["maildesk.cockpit.escalation"].sudo()
        now = datetime(2026, 3, 2, 15, 24)
        candidate = (thread.id, 0, self.standard.id, first.id, self.operator.id, self.manager.id)
        self.assertEqual(Escalation._fire([candidate, candidate], now), 1)
        later = (thread.id, 0, self.standard.id, third.id, self.operator.id, self.manager.id)
        self.assertEqual(Escalation._fire([candidate, later], now), 1)
        logs = Escalation.search([("thread_id", "=", thread.id)]).sorted(lambda e: e.level_id.sequence)
        self.assertEqual(len(logs), 2)
        self.assertEqual(logs[0].user_ids, self.operator)
        self.assertEqual(logs[1].user_ids, self.cockpit_admin)
        self.assertEqual((logs.account_id, logs.company_id, set(logs.mapped("fired_at"))),
                         (thread.account_id, thread.company_id, {now}))

    def test_closed_conversation_is_met(self):
        thread = self.thread(subject="Close me")
        with freeze_time(MON9):
            self.incoming(thread, MON9)
            thread.action_close()
        self.env["maildesk.thread"]._cron_cockpit_sla(now=datetime(2026, 3, 2, 10))
        self.assertEqual(thread.sla_status, "met")

    def _escalate_to_operator(self, subject):
        thread = self.thread(subject=subject)
        with freeze_time(MON9):
            self.incoming(thread, MON9)
            thread.sudo().user_id = self.operator
        self.env["bus.bus"].sudo().search([]).unlink()
        self.env["maildesk.thread"]._cron_cockpit_sla(now=datetime(2026, 3, 2, 15, 24))  # level 1 (80 %)
        return thread

    def test_escalation_in_app_message(self):
        """Each escalation sends an in-app toast to its recipients on the bus (with or without mail)."""
        thread = self._escalate_to_operator("Toast")
        notes = self.env["bus.bus"].sudo().search([("channel", "like", "res.partner")])
        toasts = [n for n in notes if '"simple_notification"' in n.message and thread.subject in n.message]
        self.assertEqual(len(toasts), 1)
        self.assertEqual(json.loads(toasts[0].channel)[1:], ["res.partner", self.operator.partner_id.id])

    def test_escalation_activity(self):
        """With Odoo's mail installed, each recipient also gets one To-Do activity on the conversation,
        found by the systray's domain, that they can mark done; the next cron run adds none."""
        if "mail.activity" not in self.env:
            self.skipTest("Odoo's mail app is not installed (MAILDESK_ODOO_INTEGRATIONS): no activities")
        thread = self._escalate_to_operator("Activity")
        Activity = self.env["mail.activity"].sudo()
        activity = Activity.search([("res_model", "=", "maildesk.thread"), ("res_id", "=", thread.id)])
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.operator)
        self.assertIn("SLA escalation", activity.summary)
        self.assertEqual(activity.activity_type_id, self.env.ref("mail.mail_activity_data_todo"))
        self.env["maildesk.thread"]._cron_cockpit_sla(now=datetime(2026, 3, 2, 15, 40))
        self.assertEqual(len(Activity.search([("res_model", "=", "maildesk.thread"), ("res_id", "=", thread.id)])), 1)
        # The operator's systray: "my activities" opens the conversations with the domain it uses.
        mine = self.env["maildesk.thread"].with_user(self.operator).search(
            [("activity_user_id", "=", self.operator.id)])
        self.assertEqual(mine, thread)
        self.assertFalse(self.env["maildesk.thread"].with_user(self.colleague).search(
            [("activity_user_id", "=", self.colleague.id)]))
        groups = self.env["res.users"].with_user(self.operator).systray_get_activities()
        self.assertIn("maildesk.thread", [g["model"] for g in groups])
        activity.with_user(self.operator).action_feedback(feedback="Answered")
        self.assertFalse(activity.exists())
        # The breach level (leader): the manager's activity; deleting the conversation removes it.
        self.env["maildesk.thread"]._cron_cockpit_sla(now=datetime(2026, 3, 2, 17, 0))
        leader = Activity.search([("res_model", "=", "maildesk.thread"), ("res_id", "=", thread.id)])
        self.assertEqual(leader.user_id, self.manager)
        thread.sudo().unlink()
        self.assertFalse(leader.exists())
