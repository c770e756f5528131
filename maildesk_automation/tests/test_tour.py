"""Browser tour: build a rule with the form, dry-run it, enable it, see new mail handled."""
from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install", "maildesk")
class TestRuleTour(HttpCase):
    def test_build_dry_run_enable(self):
        """A mailbox owner builds, dry-runs and enables a rule; new mail is then tagged and assigned."""
        owner = new_test_user(self.env, login="tour_owner", name="Tour Owner",
                              groups="maildesk_mail_client.group_maildesk_user")
        member = new_test_user(self.env, login="tour_member", name="Tour Member",
                               groups="maildesk_mail_client.group_maildesk_user")
        account = self.env["maildesk.account"].create({
            "name": "Tour mailbox", "email": "tour@example.com", "owner_id": owner.id, "imap_host": "127.0.0.1",
            "user_ids": [(4, member.id)]})
        inbox = self.env["maildesk.folder"].create({"account_id": account.id, "name": "INBOX", "path": "INBOX",
                                                    "role": "inbox"})
        tag = self.env["maildesk.tag"].with_user(owner).create({"name": "Billing"})
        Message = self.env["maildesk.message"].with_context(maildesk_from_sync=True).sudo()

        def store(subject, mid):
            thread = self.env["maildesk.thread"].sudo().create({"account_id": account.id, "subject": subject})
            message = Message.create({"account_id": account.id, "folder_id": inbox.id, "thread_id": thread.id,
                                      "subject": subject, "message_id": mid, "from_address": "c@customer.example",
                                      "email_from": "c@customer.example", "direction": "incoming"})
            message._on_messages_stored()
            return message

        old = store("Invoice 1 overdue", "<old@x>")
        self.start_tour("/web", "maildesk_automation_rule_builder", login="tour_owner")

        rule = self.env["maildesk.rule"].search([("name", "=", "Invoices to the member")])
        self.assertTrue(rule.active)
        self.assertEqual(rule.user_id, owner)
        self.assertEqual(rule.condition_ids.mapped("kind"), ["subject_contains"])
        # The dry run changed nothing.
        self.assertFalse(old.tag_ids)
        self.assertFalse(old.thread_id.user_id)
        runs = self.env["maildesk.rule.run"].search_count([("rule_id", "=", rule.id), ("dry_run", "=", False)])
        self.assertEqual(runs, 0)
        dry = self.env["maildesk.rule.run"].search([("rule_id", "=", rule.id), ("dry_run", "=", True)])
        self.assertEqual(dry.message_id, old)
        self.assertIn("would tag: Billing", dry.actions_done)
        self.assertIn("would assign Tour Member", dry.actions_done)
        new = store("Invoice 2", "<new@x>")
        self.assertEqual(new.tag_ids, tag)
        self.assertEqual(new.thread_id.user_id, member)
        row = self.env["maildesk.client"].with_user(member).get_threads(account_id=account.id, filter="mine")
        self.assertEqual([t["id"] for t in row["threads"]], new.thread_id.ids)
        self.assertEqual(row["threads"][0]["assignee"]["name"], "Tour Member")
