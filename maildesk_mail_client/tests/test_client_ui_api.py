"""The server side of the client's trust fixes (issue 11): one unit for unread counts, list
order equal to the shown date, the folder of each message, undo of archive / delete / move,
undo send (outbox), the sync status on the bus, the read-only mailbox card of a member.
Attacks: other users' outbox rows and messages, crafted undo lists, ORM writes to the outbox.
"""
import json

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import ClientApiCase, ImapCase


def _bus_payloads(env, kind):
    out = []
    for note in env["bus.bus"].sudo().search([], order="id"):
        message = json.loads(note.message)
        if message.get("type") == "maildesk.update" and message["payload"].get("kind") == kind:
            out.append((note.channel, message["payload"]))
    return out


@tagged("post_install", "-at_install", "maildesk")
class TestClientUiApi(ClientApiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.projects = cls.make_folder(cls.account, "Projects")
        # "Old question": asked on the 1st (inbox), answered by us on the 5th (Sent).
        cls.question = cls.msg("Old question", "2026-11-01 09:00:00")
        cls.question_2 = cls.msg("Re: Old question", "2026-11-01 10:00:00", thread=cls.question.thread_id)
        cls.answer = cls.msg("Re: Old question", "2026-11-05 09:00:00", thread=cls.question.thread_id,
                             folder=cls.sent, direction="outgoing", is_read=True)
        cls.news = cls.msg("Newer news", "2026-11-03 09:00:00")
        cls.secret = cls.msg("Private plans", "2026-11-04 08:00:00", account=cls.private, folder=cls.private_inbox)

    # -- one unit, one order ---------------------------------------------------------------
    def test_unread_counts_conversations(self):
        """Two unread messages of one conversation count once, like the list's total."""
        data = self.client().get_mailboxes()
        inbox = next(f for f in data["accounts"][0]["folders"] if f["role"] == "inbox")
        self.assertEqual(inbox["unread_count"], 2)  # Old question (2 unread messages) + Newer news
        self.assertEqual(data["accounts"][0]["unread_count"], 2)
        self.assertEqual(data["unified"]["unread_count"], 2)

    def test_list_order_and_shown_date_agree(self):
        """In the inbox a conversation is placed and dated by its newest inbox message, not by a Sent reply."""
        rows = self.client().get_threads(folder_id=self.inbox.id)["threads"]
        self.assertEqual([r["subject"] for r in rows], ["Newer news", "Old question"])
        self.assertEqual([r["date"] for r in rows], ["2026-11-03 09:00:00", "2026-11-01 10:00:00"])
        dates = [r["date"] for r in rows]
        self.assertEqual(dates, sorted(dates, reverse=True))
        sent = self.client().get_threads(folder_id=self.sent.id)["threads"]
        self.assertEqual(sent[0]["date"], "2026-11-05 09:00:00")

    def test_each_message_names_its_folder(self):
        messages = self.client().get_thread(self.question.thread_id.id)["messages"]
        self.assertEqual([(m["folder_name"], m["folder_role"]) for m in messages],
                         [("Inbox", "inbox"), ("Inbox", "inbox"), ("Sent", "sent")])

    # -- undo archive / delete / move --------------------------------------------------------
    def test_undo_archive_delete_move(self):
        client = self.client()
        thread_ids = [self.question.thread_id.id]
        result = client.archive(thread_ids)
        self.assertEqual((self.question | self.question_2).folder_id, self.archive)
        self.assertEqual(self.answer.folder_id, self.sent, "Sent stays put")
        client.undo_move(result["undo"])
        self.assertEqual((self.question | self.question_2).folder_id, self.inbox)
        self.assertEqual(self.answer.folder_id, self.sent)

        result = client.delete(thread_ids)
        self.assertEqual((self.question | self.question_2 | self.answer).folder_id, self.trash)
        client.undo_move(result["undo"])
        self.assertEqual((self.question | self.question_2).folder_id, self.inbox)
        self.assertEqual(self.answer.folder_id, self.sent, "undo puts each message back where it was")

        result = client.move([self.news.thread_id.id], self.projects.id)
        self.assertEqual(self.news.folder_id, self.projects)
        self.assertEqual(result["undo"], [[self.inbox.id, [self.news.id]]])
        client.undo_move(result["undo"])
        self.assertEqual(self.news.folder_id, self.inbox)

    def test_undo_cannot_reach_other_mailboxes(self):
        """A crafted undo list: foreign messages are not found, a foreign folder is refused."""
        with self.assertRaises(UserError):
            self.client().undo_move([[self.inbox.id, [self.secret.id]]])
        with self.assertRaises(AccessError):
            self.client().undo_move([[self.private_inbox.id, [self.news.id]]])
        with self.assertRaises(UserError):
            # The private inbox's message into the shared inbox: not found (not readable), nothing moves.
            self.client(self.user_member).undo_move([[self.inbox.id, [self.secret.id]]])
        self.assertEqual(self.secret.folder_id, self.private_inbox)
        self.assertEqual(self.news.folder_id, self.inbox)

    # -- read-only card for members ---------------------------------------------------------
    def test_gear_is_read_only_for_members(self):
        readonly = self.env.ref("maildesk_mail_client.maildesk_account_view_form_readonly")
        action = self.client(self.user_member).mailbox_view_action(self.account.id)
        self.assertEqual(action["views"], [[readonly.id, "form"]])
        self.assertFalse(action["context"]["edit"])
        # The card's fields are readable by the member (no access error when it opens).
        self.account.with_user(self.user_member).read(["name", "email", "owner_id", "is_shared", "state",
                                                       "last_sync_at", "sync_error"])
        owner = self.client(self.user_owner).mailbox_view_action(self.account.id)
        self.assertEqual(owner["views"], [[False, "form"]])
        admin = self.client(self.user_admin).mailbox_view_action(self.account.id)
        self.assertEqual(admin["views"], [[False, "form"]])
        with self.assertRaises(AccessError):
            self.client(self.user_outsider).mailbox_view_action(self.account.id)
        flags = self.client(self.user_member).get_mailboxes()["accounts"][0]["can_manage"]
        self.assertFalse(flags)
        self.assertTrue(self.client(self.user_owner).get_mailboxes()["accounts"][0]["can_manage"])

    def test_raw_lists_are_admin_menus(self):
        for xmlid in ("maildesk_mail_client.maildesk_thread_menu", "maildesk_mail_client.maildesk_message_menu"):
            menu = self.env.ref(xmlid)
            self.assertEqual(menu.parent_id, self.env.ref("maildesk_mail_client.maildesk_config_menu"))
            self.assertEqual(menu.groups_id, self.env.ref("maildesk_mail_client.group_maildesk_admin"))

    # -- live state ------------------------------------------------------------------------------
    def test_reading_tells_every_member(self):
        """Opening a thread changes unread counts: every open client of the mailbox hears it."""
        self.env["bus.bus"].sudo().search([]).unlink()
        self.client(self.user_member).get_thread(self.news.thread_id.id)
        notes = _bus_payloads(self.env, "flags")
        channels = " ".join(channel for channel, _payload in notes)
        for user in (self.user_owner, self.user_member):
            self.assertIn(f'"res.partner",{user.partner_id.id}]', channels)
        self.assertEqual(notes[0][1]["folder_ids"], [self.inbox.id])


@tagged("post_install", "-at_install", "maildesk")
class TestClientUiServer(ImapCase):
    """Undo send and sync status against a real Dovecot + SMTP sink."""

    def setUp(self):
        super().setUp()
        self.sink = self.use_smtp_sink(is_shared=True, user_ids=[(4, self.user_member.id)])
        self.account.action_sync()
        self.client = self.env["maildesk.client"].with_user(self.user_owner)
        self.values = {"account_id": self.account.id, "to": "bob@example.org", "subject": "Offer",
                       "body_html": "<p>Our offer</p>", "mode": "new"}

    def test_delayed_send_waits_then_leaves_once(self):
        queued = self.client.send(dict(self.values, delay=10))
        self.assertEqual(set(queued), {"outbox_id", "send_at"})
        self.assertEqual(self.sink.messages, [], "nothing leaves during the undo delay")
        result = self.client.dispatch_outbox(queued["outbox_id"])
        self.assertEqual(len(self.sink.messages), 1)
        self.assertEqual(self.env["maildesk.message"].browse(result["message_id"]).folder_id.role, "sent")
        # A second dispatch (or the cron) does not send it again, and it is too late to undo.
        self.client.dispatch_outbox(queued["outbox_id"])
        self.env["maildesk.outbox"]._cron_send()
        self.assertEqual(len(self.sink.messages), 1)
        with self.assertRaises(UserError):
            self.client.cancel_send(queued["outbox_id"])

    def test_undo_send_gives_back_a_draft(self):
        draft = self.client.save_draft(self.values)["draft_id"]
        queued = self.client.send(dict(self.values, draft_id=draft), delay=10)
        self.assertNotIn(draft, [d["id"] for d in self.client.list_drafts()], "waiting to leave: not a draft")
        values = self.client.cancel_send(queued["outbox_id"])
        self.assertEqual((values["to"], values["subject"], values["body_html"], values["draft_id"]),
                         ("bob@example.org", "Offer", "<p>Our offer</p>", draft))
        self.assertIn(draft, [d["id"] for d in self.client.list_drafts()], "back in Drafts")
        self.env["maildesk.outbox"].sudo().search([]).write({"send_at": "2000-01-01 00:00:00"})
        self.env["maildesk.outbox"]._cron_send()
        self.assertEqual(self.sink.messages, [], "an undone message never leaves")
        with self.assertRaises(UserError):
            self.client.dispatch_outbox(queued["outbox_id"])

    def test_cron_sends_what_the_page_left(self):
        queued = self.client.send(self.values, delay=5)
        self.env["maildesk.outbox"]._cron_send()
        self.assertEqual(self.sink.messages, [], "not due yet")
        self.env["maildesk.outbox"].sudo().browse(queued["outbox_id"]).write({"send_at": "2000-01-01 00:00:00"})
        self.env["maildesk.outbox"]._cron_send()
        self.assertEqual(len(self.sink.messages), 1)
        row = self.env["maildesk.outbox"].sudo().browse(queued["outbox_id"])
        self.assertEqual(row.state, "sent")
        self.assertEqual(self.client.dispatch_outbox(queued["outbox_id"])["message_id"], row.message_id.id)

    def test_unreachable_smtp_is_retried_not_lost(self):
        queued = self.client.send(self.values, delay=5)
        self.sink.stop()
        result = self.client.dispatch_outbox(queued["outbox_id"])
        self.assertTrue(result["pending"], "the page is told it has not left yet")
        row = self.env["maildesk.outbox"].sudo().browse(queued["outbox_id"])
        self.assertEqual(row.state, "queued", "tried again later, nothing lost")

    def test_outbox_is_private_and_not_writable(self):
        queued = self.client.send(self.values, delay=10)
        member = self.env["maildesk.client"].with_user(self.user_member)
        for call in (member.cancel_send, member.dispatch_outbox):
            with self.assertRaises(UserError):
                call(queued["outbox_id"])
        Outbox = self.env["maildesk.outbox"]
        self.assertFalse(Outbox.with_user(self.user_member).search([]))
        with self.assertRaises(AccessError):
            Outbox.with_user(self.user_member).browse(queued["outbox_id"]).read(["values"])
        with self.assertRaises(AccessError):
            Outbox.with_user(self.user_owner).browse(queued["outbox_id"]).write({"values": {"to": "evil@x.test"}})
        with self.assertRaises(AccessError):
            Outbox.with_user(self.user_owner).create({"values": self.values, "send_at": "2000-01-01 00:00:00"})
        self.assertEqual(self.sink.messages, [])
        # The owner's row still sends what the owner wrote.
        self.client.dispatch_outbox(queued["outbox_id"])
        self.assertIn(b"bob@example.org", self.sink.messages[0][2])

    def test_delay_is_checked_and_bounded(self):
        with self.assertRaises(UserError):
            self.client.send(dict(self.values, to=""), delay=5)
        queued = self.client.send(self.values, delay=100000)
        row = self.env["maildesk.outbox"].sudo().browse(queued["outbox_id"])
        self.assertLessEqual((row.send_at - fields.Datetime.now()).total_seconds(), 61)
        with self.assertRaises(AccessError):
            self.env["maildesk.client"].with_user(self.user_outsider).send(self.values, delay=5)

    def test_sync_status_on_the_bus(self):
        """After each sync every open page gets the mailbox's status: an error, then it clears."""
        self.env["bus.bus"].sudo().search([]).unlink()
        self.account.imap_password = "wrong"
        self.account._sync()
        self.account.imap_password = self.password
        self.account._sync()
        statuses = [payload["status"] for _channel, payload in _bus_payloads(self.env, "status")]
        members = {self.user_owner.partner_id.id, self.user_member.partner_id.id}
        channels = " ".join(c for c, _p in _bus_payloads(self.env, "status"))
        for partner in members:
            self.assertIn(f'"res.partner",{partner}]', channels)
        self.assertTrue(statuses[0]["sync_error"])
        self.assertEqual(statuses[0]["sync"]["phase"], "error")
        self.assertFalse(statuses[-1]["sync_error"])
        self.assertEqual(statuses[-1]["state"], "connected")
        self.assertTrue(statuses[-1]["last_sync_at"])
