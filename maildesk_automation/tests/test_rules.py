import unittest
from datetime import datetime

from freezegun import freeze_time
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from .common import AutomationCase, make_rule

D = datetime


@tagged("post_install", "-at_install", "maildesk")
class TestRules(AutomationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag_invoice = cls.env["maildesk.tag"].create({"name": "Invoice"})
        cls.tag_vip = cls.env["maildesk.tag"].create({"name": "VIP"})
        cls.Run = cls.env["maildesk.rule.run"]

    def test_received_rule_tags_assigns_and_notes(self):
        """A matching incoming message gets the rule's tags and assignee, and the thread says which rule."""
        make_rule(self.env, self.account, name="Invoices",
                  conditions=[{"kind": "subject_regex", "value": r"invoice\s+\d+"}],
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_invoice.ids)]},
                           {"kind": "assign_user", "user_id": self.user_member.id}])
        message = self.store(subject="Invoice 42 overdue")
        other = self.store(subject="Hello")
        self.assertEqual(message.tag_ids, self.tag_invoice)
        self.assertEqual(message.thread_id.user_id, self.user_member)
        self.assertIn("Invoices", message.thread_id.rule_note)
        self.assertFalse(other.tag_ids)
        run = self.Run.search([("message_id", "=", message.id)])
        self.assertEqual(len(run), 1)
        self.assertIn("subject_regex", run.matched)
        self.assertIn("tagged: Invoice", run.actions_done)
        self.assertFalse(self.Run.search([("message_id", "=", other.id)]))

    def test_run_log_references_show_search_and_go_with_their_rule(self):
        """Log lines keep ids, not foreign keys: they still show and search their rule, mailbox and
        conversation, are read only by the mailbox's people, show a deleted message as empty and go
        with their rule."""
        rule = make_rule(self.env, self.account, name="Log me", actions=[{"kind": "star"}])
        message = self.store(subject="Keep a trace")
        run = self.Run.search([("message_id", "=", message.id)])
        self.assertEqual(len(run), 1)
        self.assertEqual((run.rule_id, run.account_id, run.thread_id), (rule, self.account, message.thread_id))
        self.assertEqual(self.Run.search([("rule_id", "ilike", "log m")]), run)
        self.assertEqual(self.Run.search([("thread_id", "=", message.thread_id.id), ("rule_id.name", "=", "Log me")]),
                         run)
        self.assertEqual(self.Run.with_user(self.user_member).search([("rule_id", "=", rule.id)]), run)
        self.assertFalse(self.Run.with_user(self.user_outsider).search([("rule_id", "=", rule.id)]))
        self.assertEqual(self.Run._read_group([("rule_id", "=", rule.id)], ["rule_name"], ["__count"]),
                         [("Log me", 1)])
        self.assertEqual(rule.run_count, 1)
        message.sudo().unlink()
        run.invalidate_recordset()
        self.assertFalse(run.message_id)
        rule.unlink()
        self.assertFalse(run.exists())

    def test_flag_team_notify_and_ai_actions(self):
        """Untag, mark read, star, set team, notify and AI classify act (or log why they skipped)."""
        team = self.env["maildesk.team"].create({"name": "Billing team"})
        make_rule(self.env, self.account, actions=[
            {"kind": "remove_tags", "tag_ids": [(6, 0, self.tag_vip.ids)]}, {"kind": "mark_read"}, {"kind": "star"},
            {"kind": "set_team", "team_id": team.id},
            {"kind": "notify", "notify_user_ids": [(6, 0, self.user_member.ids)]},
            {"kind": "ai_classify", "tag_ids": [(6, 0, self.tag_invoice.ids)]}])
        bus_before = self.env["bus.bus"].search_count([])
        message = self.store(tag_ids=[(6, 0, self.tag_vip.ids)])
        self.assertFalse(message.tag_ids)
        self.assertTrue(message.is_read and message.is_starred)
        self.assertEqual(message.thread_id.team_id, team)
        self.assertGreater(self.env["bus.bus"].search_count([]), bus_before)
        run = self.Run.search([("message_id", "=", message.id)])
        self.assertIn(f"notified {self.user_member.name}", run.actions_done)
        self.assertIn("AI classification skipped", run.actions_done)

    def test_order_and_stop_processing(self):
        """Rules run by sequence; a matching rule with stop ends the walk for that message."""
        make_rule(self.env, self.account, name="Second", sequence=20,
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_vip.ids)]}])
        make_rule(self.env, self.account, name="First", sequence=10, stop_processing=True,
                  conditions=[{"kind": "sender_domain", "value": "customer.example"}],
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_invoice.ids)]}])
        stopped = self.store(from_address="a@customer.example")
        passed = self.store(from_address="b@elsewhere.example")
        self.assertEqual(stopped.tag_ids, self.tag_invoice)
        self.assertEqual(passed.tag_ids, self.tag_vip)

    def test_failing_rule_is_logged_and_others_run(self):
        """A rule whose action fails is logged with the error, undone, and the next rule still acts."""
        make_rule(self.env, self.account, name="Broken record", sequence=1, actions=[
            {"kind": "star"},
            {"kind": "create_record", "record_model": "other", "record_model_name": "res.partner",
             "field_mapping": "name = subject\ndate = \"not a date\""}])
        make_rule(self.env, self.account, name="Tagger", sequence=2,
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_vip.ids)]}])
        message = self.store(subject="Broken lead")
        self.assertEqual(message.tag_ids, self.tag_vip)
        self.assertFalse(message.is_starred, "the failed rule's earlier actions are undone too")
        self.assertFalse(self.env["res.partner"].search_count([("name", "=", "Broken lead")]))
        self.assertFalse(self.env["maildesk.thread.record"].search_count([("thread_id", "=", message.thread_id.id)]))
        broken = self.Run.search([("message_id", "=", message.id), ("rule_id.name", "=", "Broken record")])
        self.assertEqual(broken.state, "error")
        self.assertTrue(broken.error)

    def test_rules_wait_for_their_activation_and_the_mailbox_switch(self):
        """History older than the rule and mailboxes with automation off never fire it."""
        rule = make_rule(self.env, self.account, actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_vip.ids)]}])
        rule.sudo().active_from = D(2026, 1, 1)
        self.assertFalse(self.store(date=D(2025, 12, 1)).tag_ids)
        self.assertTrue(self.store(date=D(2026, 1, 2)).tag_ids)
        self.account.automation_incoming = False
        self.assertFalse(self.store(date=D(2026, 1, 3)).tag_ids)

    def test_sent_trigger_only_on_outgoing_mail(self):
        """'Message sent' rules see our own outgoing mail, 'received' rules do not."""
        make_rule(self.env, self.account, trigger="sent",
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_vip.ids)]}])
        self.assertFalse(self.store().tag_ids)
        self.assertEqual(self.store(direction="outgoing").tag_ids, self.tag_vip)

    def test_second_copy_of_the_same_mail_does_not_fire_again(self):
        """A copy of an already stored Message-ID (another folder or label) runs no rule."""
        make_rule(self.env, self.account, actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_vip.ids)]}])
        first = self.store(message_id="<same@x>")
        folder = self.env["maildesk.folder"].create({"account_id": self.account.id, "name": "Label", "path": "Label"})
        copy = self.store(message_id="<same@x>", folder_id=folder.id)
        self.assertTrue(first.tag_ids)
        self.assertFalse(copy.tag_ids)

    def test_round_robin_assignment_within_the_team(self):
        """Assign within the team alternates between available members who see the mailbox."""
        self.account.user_ids = [(4, self.user_admin.id)]
        team = self.env["maildesk.team"].create({
            "name": "Support", "account_ids": [(4, self.account.id)],
            "member_ids": [(6, 0, (self.user_member | self.user_owner | self.user_outsider).ids)]})
        make_rule(self.env, self.account, actions=[{"kind": "assign_team", "assign_method": "round_robin"}])
        assignees = [self.store().thread_id.user_id for _ in range(4)]
        ordered = sorted((self.user_member | self.user_owner).ids)
        self.assertEqual([u.id for u in assignees], ordered + ordered)  # the outsider is never picked
        self.assertEqual(team.last_assigned_user_id.id, ordered[-1])

    def test_least_load_and_cap(self):
        """Least load picks the member with fewer open conversations; a full member is skipped."""
        team = self.env["maildesk.team"].create({
            "name": "Support", "account_ids": [(4, self.account.id)], "max_open_per_user": 2,
            "member_ids": [(6, 0, (self.user_member | self.user_owner).ids)]})
        busy = self.store().thread_id
        busy.user_id = self.user_owner
        make_rule(self.env, self.account, actions=[{"kind": "assign_team", "team_id": team.id,
                                                     "assign_method": "least_load"}])
        picks = [self.store().thread_id.user_id for _ in range(4)]
        # member 0 < owner 1; then a tie goes round robin (owner); owner is at the cap; nobody left.
        self.assertEqual(picks, [self.user_member, self.user_owner, self.user_member, self.env["res.users"]])

    def test_create_record_once_per_conversation(self):
        """Two messages of one conversation create one linked record."""
        rule = make_rule(self.env, self.account, actions=[{
            "kind": "create_record", "record_model": "other", "record_model_name": "res.partner",
            "field_mapping": "name = subject\ncomment = body_text\ncity = \"Rule City\""}])
        first = self.store(subject="Lead from web")
        self.store(first.thread_id, subject="Re: Lead from web")
        links = self.env["maildesk.thread.record"].search([("thread_id", "=", first.thread_id.id)])
        self.assertEqual(len(links), 1)
        partner = self.env["res.partner"].browse(links.res_id)
        self.assertEqual((partner.name, partner.city, links.rule_id), ("Lead from web", "Rule City", rule))
        self.assertEqual(self.env["res.partner"].search_count([("city", "=", "Rule City")]), 1)

    def test_dry_run_changes_nothing(self):
        """A dry run reports what would happen for the last N messages and changes no mail."""
        messages = [self.store(subject=f"Invoice {i}") for i in range(3)] + [self.store(subject="Other")]
        own_tag = self.env["maildesk.tag"].with_user(self.user_owner).create({"name": "VIP"})
        rule = make_rule(self.env(user=self.user_owner), self.account, name="Dry",
                         conditions=[{"kind": "subject_contains", "value": "invoice"}],
                         actions=[{"kind": "add_tags", "tag_ids": [(6, 0, own_tag.ids)]},
                                  {"kind": "assign_user", "user_id": self.user_member.id},
                                  {"kind": "mark_read"}])
        before_runs = self.Run.search_count([("dry_run", "=", False)])
        wizard = self.env["maildesk.rule.dry.run"].with_user(self.user_owner).create({"rule_id": rule.id, "limit": 4})
        wizard.action_run()
        self.assertEqual((wizard.examined, wizard.matched), (4, 3))
        self.assertEqual(len(wizard.line_ids), 3)
        self.assertTrue(all("would tag: VIP" in line.actions_done for line in wizard.line_ids))
        for message in messages:
            self.assertFalse(message.tag_ids)
            self.assertFalse(message.thread_id.user_id)
            self.assertFalse(message.is_read)
        self.assertEqual(self.Run.search_count([("dry_run", "=", False)]), before_runs)

    @freeze_time("2026-01-05 08:00:00")
    def test_no_reply_trigger_by_cron(self):
        """The cron fires 'no reply within N hours' once per unanswered message, after the delay."""
        thread = self.store(date=D(2026, 1, 5, 8, 0)).thread_id
        answered = self.store(date=D(2026, 1, 5, 8, 0)).thread_id
        make_rule(self.env, self.account, trigger="no_reply", delay_hours=2, use_business_hours=False,
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_vip.ids)]}])
        Rule = self.env["maildesk.rule"]
        with freeze_time("2026-01-05 09:59:00"):
            Rule._cron_time_triggers()
        self.assertFalse(thread.message_ids.tag_ids)
        self.store(answered, "outgoing", D(2026, 1, 5, 9, 0))
        with freeze_time("2026-01-05 10:01:00"):
            Rule._cron_time_triggers()
            Rule._cron_time_triggers()
        self.assertEqual(thread.message_ids.tag_ids, self.tag_vip)
        self.assertFalse(answered.message_ids.tag_ids)
        self.assertEqual(self.Run.search_count([("thread_id", "=", thread.id), ("dry_run", "=", False)]), 1)

    def test_no_reply_counts_business_hours(self):
        """With a team calendar, the delay runs only in working hours (Friday evening -> Monday)."""
        calendar = self.env["resource.calendar"].create({"name": "9-17 UTC", "tz": "UTC", "attendance_ids": [
            (0, 0, {"name": f"d{d}", "dayofweek": str(d), "hour_from": 9, "hour_to": 17, "day_period": "morning"})
            for d in range(5)]})
        self.env["maildesk.team"].create({"name": "T", "account_ids": [(4, self.account.id)],
                                          "resource_calendar_id": calendar.id})
        thread = self.store(date=D(2026, 1, 9, 16, 0)).thread_id  # Friday 16:00
        make_rule(self.env, self.account, trigger="no_reply", delay_hours=2,
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_vip.ids)]}])
        with freeze_time("2026-01-12 09:30:00"):  # Monday: 1.5 working hours passed
            self.env["maildesk.rule"]._cron_time_triggers()
        self.assertFalse(thread.message_ids.tag_ids)
        with freeze_time("2026-01-12 10:01:00"):
            self.env["maildesk.rule"]._cron_time_triggers()
        self.assertTrue(thread.message_ids.tag_ids)

    def test_idle_trigger_closes_quiet_conversations(self):
        """'Idle N days' acts on open conversations without messages for that long."""
        quiet = self.store(date=D(2026, 1, 1)).thread_id
        fresh = self.store(date=D(2026, 1, 9)).thread_id
        make_rule(self.env, self.account, trigger="idle", idle_days=7, actions=[{"kind": "close"}])
        with freeze_time("2026-01-10 12:00:00"):
            self.env["maildesk.rule"]._cron_time_triggers()
        self.assertEqual(quiet.conversation_state, "closed")
        self.assertEqual(fresh.conversation_state, "waiting_for_us")

    def test_schedule_trigger_runs_at_its_interval(self):
        """A scheduled rule runs when due and moves its next run forward."""
        thread = self.store().thread_id
        rule = make_rule(self.env, self.account, trigger="schedule", interval_number=1, interval_type="days",
                         actions=[{"kind": "set_team", "team_id": self.env["maildesk.team"].create({"name": "S"}).id}])
        rule.next_run_at = D(2026, 1, 5)
        with freeze_time("2026-01-05 00:01:00"):
            self.env["maildesk.rule"]._cron_time_triggers()
        self.assertEqual(thread.team_id.name, "S")
        self.assertEqual(rule.next_run_at, D(2026, 1, 6, 0, 1))

    def phishing(self, **kwargs):
        """A message Pro's code scan rates high: DMARC failed and it asks for a bank change."""
        return self.store(subject="Invoice", authentication_results="mx.example.com; dmarc=fail header.from=x.example",
                          body_text="Please note our new bank details and pay the outstanding invoice today.",
                          body_html="<p>Please note our new bank details and pay the outstanding invoice today.</p>",
                          **kwargs)

    def test_security_level_condition_uses_pro_scan(self):
        """The level of Pro's scan is stored on the message at ingest and 'at least medium' matches it."""
        make_rule(self.env, self.account, conditions=[{"kind": "security_level", "choice": "medium"}],
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_vip.ids)]}])
        risky = self.phishing()
        plain = self.store(subject="Lunch?", email_from="Friend <friend@partner.example>",
                           from_address="friend@partner.example")
        self.assertEqual(risky.security_level, "high")
        self.assertEqual(risky.tag_ids, self.tag_vip)
        self.assertEqual(plain.security_level, "low")
        self.assertFalse(plain.tag_ids)
        self.assertFalse(self.store(direction="outgoing").security_level, "outgoing mail is not scanned")

    def test_security_level_not_scanned_without_a_rule_but_when_opened(self):
        """Without a level rule ingest runs no scan; opening the conversation stores the level."""
        message = self.phishing()
        self.assertFalse(message.security_level)
        self.env["maildesk.client"].with_user(self.user_member).get_thread(message.thread_id.id)
        self.assertEqual(message.security_level, "high")

    def test_dry_run_of_a_level_rule_stores_no_level(self):
        """A dry run scans to decide but writes no level (it changes nothing)."""
        message = self.phishing()
        rule = make_rule(self.env, self.account, conditions=[{"kind": "security_level", "choice": "high"}],
                         actions=[{"kind": "star"}])
        wizard = self.env["maildesk.rule.dry.run"].create({"rule_id": rule.id, "limit": 5})
        wizard.action_run()
        self.assertEqual(wizard.matched, 1)
        self.assertFalse(message.security_level)
        self.assertFalse(message.is_starred)

    def test_two_week_calendar_conversion_matches_odoo(self):
        """A two-week resource.calendar (with a lunch line) gives the engine Odoo's own working intervals."""
        from ..engine import hours
        from ..models.maildesk_rule_runner import _work_calendar

        def line(week, day, start, end):
            return (0, 0, {"name": f"w{week}d{day}", "week_type": week, "dayofweek": str(day), "hour_from": start,
                           "hour_to": end, "day_period": "morning"})
        calendar = self.env["resource.calendar"].create({
            "name": "Two weeks", "tz": "Europe/Berlin", "two_weeks_calendar": True, "attendance_ids": [(5, 0, 0)]
            + [(0, 0, {"name": "First week", "display_type": "line_section", "week_type": "0", "sequence": 0,
                       "dayofweek": "0", "hour_from": 0, "hour_to": 0, "day_period": "morning"})]
            + [line("0", 0, 9, 12), line("0", 0, 13, 17)] + [line("0", d, 9, 17) for d in range(1, 5)]
            + [(0, 0, {"name": "Lunch", "week_type": "0", "dayofweek": "0", "hour_from": 12, "hour_to": 13,
                       "day_period": "lunch"})]
            + [(0, 0, {"name": "Second week", "display_type": "line_section", "week_type": "1", "sequence": 25,
                       "dayofweek": "0", "hour_from": 0, "hour_to": 0, "day_period": "morning"})]
            + [line("1", d, 9, 13) for d in range(3)]})
        engine_calendar = _work_calendar(calendar)
        self.assertIsNotNone(engine_calendar.second_week)
        start, end = D(2026, 1, 5), D(2026, 1, 19)
        odoo = calendar._work_intervals_batch(start.replace(tzinfo=hours.UTC), end.replace(tzinfo=hours.UTC))[False]
        expected = sorted((s.astimezone(hours.UTC).replace(tzinfo=None), e.astimezone(hours.UTC).replace(tzinfo=None))
                          for s, e, _rec in odoo)
        self.assertEqual(hours.working_intervals(engine_calendar, start, end), expected)
        self.assertTrue(hours.is_working(engine_calendar, D(2026, 1, 8, 14)))       # Thu, first week
        self.assertFalse(hours.is_working(engine_calendar, D(2026, 1, 15, 14)))     # Thu, second week

    def test_notify_posts_to_a_discuss_channel_and_the_inbox(self):
        """With Discuss installed, notify posts in the chosen channel and in each user's inbox."""
        if "discuss.channel" not in self.env:
            raise unittest.SkipTest("Discuss (the `mail` module) is not installed: the channel and inbox "
                                    "notifications are offered only with it")
        channel = self.env["discuss.channel"].create({"name": "Support desk", "channel_type": "channel"})
        make_rule(self.env, self.account, name="Tell the desk", actions=[{
            "kind": "notify", "notify_user_ids": [(6, 0, self.user_member.ids)], "notify_inbox": True,
            "notify_channel": f"discuss.channel,{channel.id}", "notify_text": "Urgent mail arrived"}])
        message = self.store(subject="Server down")
        posted = self.env["mail.message"].search([("model", "=", "discuss.channel"), ("res_id", "=", channel.id),
                                                  ("body", "ilike", "Urgent mail arrived")])
        self.assertEqual(len(posted), 1)
        inbox = self.env["mail.notification"].search([("res_partner_id", "=", self.user_member.partner_id.id),
                                                      ("mail_message_id.model", "=", "maildesk.thread"),
                                                      ("mail_message_id.res_id", "=", message.thread_id.id)])
        self.assertEqual(len(inbox), 1)
        self.assertIn("Urgent mail arrived", str(inbox.mail_message_id.body))
        run = self.Run.search([("message_id", "=", message.id)])
        self.assertIn("Support desk", run.actions_done)


@tagged("post_install", "-at_install", "maildesk")
class TestRuleSecurity(AutomationCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.foreign = cls.make_account(name="Foreign", email="foreign@example.com", owner_id=cls.user_outsider.id)
        cls.foreign_folder = cls.env["maildesk.folder"].create(
            {"account_id": cls.foreign.id, "name": "INBOX", "path": "INBOX", "role": "inbox"})
        cls.tag = cls.env["maildesk.tag"].create({"name": "T"})

    def _rule_vals(self, accounts, actions=None):
        return {"name": "R", "account_ids": [(6, 0, accounts.ids)],
                "action_ids": [(0, 0, a) for a in (actions or [{"kind": "star"}])]}

    def test_owner_manages_rules_of_own_mailbox(self):
        """The mailbox owner creates a rule on it and becomes its owner whatever the client says."""
        Rule = self.env["maildesk.rule"].with_user(self.user_owner)
        rule = Rule.create(dict(self._rule_vals(self.account), user_id=self.user_admin.id))
        self.assertEqual(rule.user_id, self.user_owner)
        rule.write({"name": "Renamed"})

    def test_member_and_outsider_cannot_create_rules(self):
        """A member of the mailbox (not owner) and an outsider cannot create rules on it."""
        for user in (self.user_member, self.user_outsider):
            with self.assertRaises(AccessError):
                self.env["maildesk.rule"].with_user(user).create(self._rule_vals(self.account))

    def test_owner_cannot_scope_a_rule_to_a_mailbox_they_cannot_see(self):
        """Adding a foreign mailbox to the scope is refused on create and on write."""
        Rule = self.env["maildesk.rule"].with_user(self.user_owner)
        with self.assertRaises(AccessError):
            Rule.create(self._rule_vals(self.account | self.foreign))
        rule = Rule.create(self._rule_vals(self.account))
        with self.assertRaises(AccessError):
            rule.write({"account_ids": [(4, self.foreign.id)]})

    def test_rule_cannot_copy_mail_out_of_a_mailbox(self):
        """Moving to a folder of another mailbox is refused."""
        with self.assertRaises(ValidationError):
            self.env["maildesk.rule"].with_user(self.user_owner).create(
                self._rule_vals(self.account, [{"kind": "move", "folder_id": self.foreign_folder.id}]))

    def test_member_cannot_edit_or_read_foreign_rules(self):
        """Members read their mailbox's rules but cannot change them; outsiders do not see them."""
        rule = self.env["maildesk.rule"].with_user(self.user_owner).create(self._rule_vals(self.account))
        self.assertTrue(rule.with_user(self.user_member).read(["name"]))
        with self.assertRaises(AccessError):
            rule.with_user(self.user_member).write({"name": "Mine"})
        with self.assertRaises(AccessError):
            rule.with_user(self.user_member).action_ids.write({"kind": "mark_read"})
        with self.assertRaises(AccessError):
            rule.with_user(self.user_outsider).read(["name"])

    def test_create_record_limited_to_business_models(self):
        """Mailbox users cannot make a rule create arbitrary records (e.g. users)."""
        with self.assertRaises(AccessError):
            self.env["maildesk.rule"].with_user(self.user_owner).create(self._rule_vals(
                self.account, [{"kind": "create_record", "record_model": "other", "record_model_name": "res.users"}]))

    def test_assignee_must_see_the_mailbox(self):
        """A rule cannot assign conversations to someone who cannot see the mailbox."""
        with self.assertRaises(ValidationError):
            self.env["maildesk.rule"].with_user(self.user_owner).create(
                self._rule_vals(self.account, [{"kind": "assign_user", "user_id": self.user_outsider.id}]))

    def test_dry_run_only_shows_mail_the_user_may_read(self):
        """A dry run of an admin's rule by a user reads only their own mailboxes' mail."""
        self.store(subject="secret")  # in self.account
        rule = self.env["maildesk.rule"].create(self._rule_vals(self.account))
        wizard = self.env["maildesk.rule.dry.run"].with_user(self.user_outsider)
        with self.assertRaises(AccessError):
            wizard.create({"rule_id": rule.id}).action_run()
        own = wizard.with_user(self.user_member).create({"rule_id": rule.id})
        own.action_run()
        self.assertEqual(own.examined, 1)
        with self.assertRaises(AccessError):
            own.with_user(self.user_outsider).read(["examined"])

    def test_notify_only_people_and_channels_who_may_see_it(self):
        """A rule's notification (subject, sender) goes to users who see the mailbox and to channels its owner reads."""
        Rule = self.env["maildesk.rule"].with_user(self.user_owner)
        with self.assertRaises(ValidationError):
            Rule.create(self._rule_vals(self.account, [{"kind": "notify",
                                                         "notify_user_ids": [(6, 0, self.user_outsider.ids)]}]))
        if "discuss.channel" not in self.env:
            raise unittest.SkipTest("Discuss (the `mail` module) is not installed: no channels to post to")
        private = self.env["discuss.channel"].with_user(self.user_outsider).create(
            {"name": "Outsiders only", "channel_type": "group"})
        with self.assertRaises(AccessError):
            Rule.create(self._rule_vals(self.account, [{"kind": "notify",
                                                         "notify_channel": f"discuss.channel,{private.id}"}]))

    def test_users_cannot_read_rule_mail_nor_set_scan_levels(self):
        """The queue of rule mail is admin-only and no user writes a message's security level."""
        make_rule(self.env, self.account, actions=[{"kind": "forward", "forward_to": "x@elsewhere.example"}])
        message = self.store(subject="Contract")
        queued = self.env["maildesk.rule.mail"].search([("message_id", "=", message.id)])
        self.assertEqual(len(queued), 1)
        with self.assertRaises(AccessError):
            queued.with_user(self.user_owner).read(["email_to"])
        with self.assertRaises(AccessError):
            self.env["maildesk.rule.mail"].with_user(self.user_owner).create(
                {"kind": "forward", "account_id": self.account.id, "email_to": "x@evil.example"})
        with self.assertRaises(AccessError):
            message.with_user(self.user_owner).write({"security_level": "low"})
