from datetime import datetime

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged

from .common import AutomationCase

D = datetime


@tagged("post_install", "-at_install", "maildesk")
class TestConversationState(AutomationCase):
    def test_incoming_human_mail_waits_for_us(self):
        """A customer's message makes the conversation wait for us."""
        message = self.store(date=D(2026, 1, 5, 9, 0))
        thread = message.thread_id
        self.assertEqual(thread.conversation_state, "waiting_for_us")
        self.assertEqual(thread.last_incoming_at, D(2026, 1, 5, 9, 0))
        self.assertFalse(thread.last_outgoing_at)
        self.assertFalse(thread.first_response_at)
        self.assertFalse(thread.is_noise)
        self.assertFalse(message.is_auto_generated)

    def test_our_reply_waits_for_them_and_sets_first_response(self):
        """Our answer moves the state to waiting_for_them; the first answer is kept."""
        thread = self.store(date=D(2026, 1, 5, 9, 0)).thread_id
        self.store(thread, "outgoing", D(2026, 1, 5, 10, 0))
        self.assertEqual(thread.conversation_state, "waiting_for_them")
        self.assertEqual(thread.first_response_at, D(2026, 1, 5, 10, 0))
        self.store(thread, date=D(2026, 1, 5, 11, 0))
        self.store(thread, "outgoing", D(2026, 1, 5, 12, 0))
        self.assertEqual(thread.first_response_at, D(2026, 1, 5, 10, 0))
        self.assertEqual(thread.last_outgoing_at, D(2026, 1, 5, 12, 0))
        self.assertEqual(thread.last_incoming_at, D(2026, 1, 5, 11, 0))

    def test_conversation_we_started_has_no_first_response_until_answered(self):
        """Outgoing first: waiting_for_them, and no first response before the customer wrote."""
        thread = self.store(direction="outgoing", date=D(2026, 1, 5, 8, 0)).thread_id
        self.assertEqual(thread.conversation_state, "waiting_for_them")
        self.assertFalse(thread.first_response_at)
        self.store(thread, date=D(2026, 1, 5, 9, 0))
        self.assertEqual(thread.conversation_state, "waiting_for_us")

    def test_auto_reply_from_outside_does_not_count(self):
        """An out-of-office answer to our mail keeps the conversation waiting for them."""
        thread = self.store(date=D(2026, 1, 5, 9, 0)).thread_id
        self.store(thread, "outgoing", D(2026, 1, 5, 10, 0))
        auto = self.store(thread, date=D(2026, 1, 5, 10, 1), auto_submitted="auto-replied")
        self.assertTrue(auto.is_auto_generated)
        self.assertEqual(thread.conversation_state, "waiting_for_them")
        self.assertEqual(thread.last_incoming_at, D(2026, 1, 5, 9, 0))

    def test_our_own_auto_reply_is_not_a_response(self):
        """Our auto-reply (Auto-Submitted: auto-replied) is neither a response nor an answer."""
        thread = self.store(date=D(2026, 1, 5, 9, 0)).thread_id
        self.store(thread, "outgoing", D(2026, 1, 5, 9, 1), auto_submitted="auto-replied")
        self.assertEqual(thread.conversation_state, "waiting_for_us")
        self.assertFalse(thread.first_response_at)
        self.assertFalse(thread.last_outgoing_at)

    def test_list_bulk_and_no_reply_mail_is_noise(self):
        """Newsletters, list mail and no-reply senders make noise threads with no state."""
        for extra in ({"list_id": "<news.example.org>"}, {"precedence": "bulk"}, {"precedence": "junk"},
                      {"from_address": "no-reply@shop.example"}, {"from_address": "MAILER-DAEMON@mx.example"},
                      {"auto_submitted": "auto-generated"}):
            thread = self.store(**extra).thread_id
            self.assertTrue(thread.is_noise, extra)
            self.assertFalse(thread.conversation_state, extra)
        human = self.store(auto_submitted="no", precedence="first-class").thread_id
        self.assertFalse(human.is_noise)
        self.assertEqual(human.conversation_state, "waiting_for_us")

    def test_closed_until_new_human_message(self):
        """Marking done closes; a later auto-reply keeps it closed, a human message reopens it."""
        thread = self.store(date=D(2026, 1, 5, 9, 0)).thread_id
        thread.with_user(self.user_member).action_close()
        self.assertEqual(thread.conversation_state, "closed")
        self.store(thread, date=D(2099, 1, 1), auto_submitted="auto-replied")
        self.assertEqual(thread.conversation_state, "closed")
        self.store(thread, date=D(2099, 1, 2))
        self.assertEqual(thread.conversation_state, "waiting_for_us")
        self.assertFalse(thread.is_closed)

    def test_older_backfilled_message_does_not_reopen(self):
        """Backfill of mail older than the closing keeps the conversation closed."""
        thread = self.store(date=D(2026, 1, 5, 9, 0)).thread_id
        thread.action_close()
        self.store(thread, date=D(2025, 12, 1))
        self.assertEqual(thread.conversation_state, "closed")

    def test_batch_of_many_threads_in_one_hook_call(self):
        """The hook handles a whole batch: every thread of it gets its state."""
        Thread = self.env["maildesk.thread"]
        threads = Thread.create([{"account_id": self.account.id} for _ in range(5)])
        messages = self.env["maildesk.message"].with_context(maildesk_from_sync=True).create([
            {"account_id": self.account.id, "thread_id": t.id, "folder_id": self.inbox.id,
             "message_id": f"<b{t.id}@x>", "from_address": "c@example.org", "date": D(2026, 1, 5),
             "direction": "incoming"} for t in threads])
        messages._on_messages_stored()
        self.assertEqual(set(threads.mapped("conversation_state")), {"waiting_for_us"})

    def test_new_thread_gets_the_mailbox_team(self):
        """A conversation of a team's mailbox belongs to that team from ingest on."""
        team = self.env["maildesk.team"].create({"name": "Support", "account_ids": [(4, self.account.id)],
                                                  "member_ids": [(4, self.user_member.id)]})
        thread = self.store().thread_id
        self.assertEqual(thread.team_id, team)

    def test_member_takes_and_unassigns(self):
        """A member of the mailbox can take a conversation and hand it back."""
        thread = self.store().thread_id.with_user(self.user_member)
        thread.action_take()
        self.assertEqual(thread.user_id, self.user_member)
        thread.action_unassign()
        self.assertFalse(thread.user_id)

    def test_outsider_cannot_assign_or_be_assigned(self):
        """Nobody assigns a conversation of a mailbox they cannot see, nor to someone who cannot."""
        thread = self.store().thread_id
        with self.assertRaises(AccessError):
            thread.with_user(self.user_outsider).action_take()
        with self.assertRaises(ValidationError):
            thread.with_user(self.user_member).action_assign(self.user_outsider.id)

    def test_team_visibility(self):
        """Teams are read by their members and mailbox users, managed by Mailbox Admins only."""
        team = self.env["maildesk.team"].create({"name": "Support", "account_ids": [(4, self.account.id)]})
        self.assertTrue(team.with_user(self.user_member).read(["name"]))
        with self.assertRaises(AccessError):
            team.with_user(self.user_outsider).read(["name"])
        with self.assertRaises(AccessError):
            team.with_user(self.user_owner).write({"name": "Mine"})
        with self.assertRaises(AccessError):
            self.env["maildesk.team"].with_user(self.user_member).create({"name": "X"})
        team.with_user(self.user_admin).write({"member_ids": [(4, self.user_member.id)]})
