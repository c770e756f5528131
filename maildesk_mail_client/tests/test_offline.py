"""Sending and acting while the IMAP server is down: the outbox and the queue of changes.

Against the real Dovecot and an SMTP sink on loopback. "IMAP down" is the mailbox pointed
at a closed port (connection refused), "IMAP back" the real port again.
"""
import email
import json
from datetime import timedelta
from email import policy
from unittest.mock import patch

from freezegun import freeze_time
from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..engine.errors import SendError
from ..models.maildesk_outbox import STUCK_MINUTES
from .common import ImapCase, closed_port

QUESTION = (b"From: Customer One <customer1@example.org>\r\nTo: owner@example.com\r\nSubject: Question\r\n"
            b"Message-ID: <q@example.org>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
            b"Content-Type: text/plain\r\n\r\nHow much?\r\n")


class OfflineCase(ImapCase):
    def setUp(self):
        super().setUp()
        self.sink = self.use_smtp_sink()
        self.append([QUESTION])
        self.account.action_sync()
        self.question = self.messages(subject="Question")
        self.client = self.env["maildesk.client"].with_user(self.user_owner)
        self.real_port = self.account.imap_port

    def imap_down(self):
        self.account.imap_port = closed_port()

    def imap_back(self):
        self.account.imap_port = self.real_port

    def pending_count(self):
        accounts = self.client.get_mailboxes()["accounts"]
        return next(a for a in accounts if a["id"] == self.account.id)["pending_count"]

    def compose(self, **values):
        return dict({"account_id": self.account.id, "to": "bob@example.com", "subject": "Offer",
                     "body_html": "<p>Our offer</p>"}, **values)


@tagged("post_install", "-at_install", "maildesk")
class TestSendWithoutImap(OfflineCase):
    def test_send_with_imap_down_reaches_smtp_and_sent_later(self):
        """IMAP down, SMTP up: delivered now, in Sent here now, in the server's Sent once IMAP is back."""
        self.imap_down()
        result = self.client.send(self.compose(), delay=0)
        self.assertEqual(len(self.sink.messages), 1)
        sent = self.env["maildesk.message"].browse(result["message_id"])
        self.assertEqual(sent.folder_id.role, "sent")
        self.assertFalse(sent.remote_id)
        self.assertTrue(sent.pending_sync)
        self.assertEqual(self.pending_count(), 1)
        self.assertNotIn("Offer", self.server_state()["Sent"])

        self.imap_back()
        self.account.action_sync()
        self.assertIn("Offer", self.server_state()["Sent"])
        self.assertTrue(sent.remote_id)
        self.assertFalse(sent.pending_sync)
        self.assertEqual(self.env["maildesk.message"].search_count([("message_id", "=", sent.message_id)]), 1)
        self.assertEqual(self.pending_count(), 0)

    def test_send_with_imap_up_files_copy_at_once(self):
        """IMAP up: the copy is appended to the server's Sent right after the send."""
        result = self.client.send(self.compose(), delay=0)
        sent = self.env["maildesk.message"].browse(result["message_id"])
        self.assertTrue(sent.remote_id)
        self.assertIn("Offer", self.server_state()["Sent"])
        self.account.action_sync()
        self.assertEqual(self.env["maildesk.message"].search_count([("message_id", "=", sent.message_id)]), 1)

    def test_forward_references_original_and_from_uses_user_name(self):
        """A forward carries In-Reply-To / References; a mailbox named after its address sends as the user."""
        self.account.name = self.account.email
        values = self.client.compose_defaults(mode="forward", message_id=self.question.id)
        values.update(to="bob@example.com")
        self.client.send(values, delay=0)
        raw = self.sink.messages[0][2]
        self.assertIn(b"In-Reply-To: <q@example.org>", raw)
        self.assertIn(b"References: <q@example.org>", raw)
        self.assertNotIn(b"\r\nCc:", raw)
        sender = email.message_from_bytes(raw, policy=policy.default)["From"].addresses[0]
        self.assertEqual((sender.display_name, sender.addr_spec), (self.user_owner.name, self.account.email))


@tagged("post_install", "-at_install", "maildesk")
class TestOfflineQueue(OfflineCase):
    def test_actions_while_down_are_queued_then_replayed_in_order(self):
        """Read, star, unstar, star and archive while IMAP is down: no error; replayed in order later."""
        thread_ids = [self.question.thread_id.id]
        self.imap_down()
        self.client.mark(thread_ids, read=True)
        self.client.mark(thread_ids, starred=True)
        self.client.mark(thread_ids, starred=False)
        self.client.mark(thread_ids, starred=True)
        self.client.archive(thread_ids)
        self.assertTrue(self.question.is_read and self.question.is_starred)
        self.assertEqual(self.question.folder_id.role, "archive")
        self.assertTrue(self.question.pending_sync)
        row = self.client.get_threads(role="archive")["threads"][0]
        self.assertTrue(row["pending"])
        self.assertEqual(self.pending_count(), 5)
        kinds = self.env["maildesk.pending.action"].search([("account_id", "=", self.account.id)]).mapped("kind")
        self.assertEqual(kinds, ["flags", "flags", "flags", "flags", "move"])
        self.assertIn("Question", self.server_state()["INBOX"])

        self.imap_back()
        self.account.action_sync()
        state = self.server_state()
        self.assertNotIn("Question", state["INBOX"])
        self.assertEqual(state["Archive"]["Question"] & {b"\\Seen", b"\\Flagged"}, {b"\\Seen", b"\\Flagged"})
        messages = self.messages(subject="Question")
        self.assertEqual(len(messages), 1, "replayed and synced without a duplicate")
        self.assertEqual(messages.folder_id.role, "archive")
        self.assertTrue(messages.remote_id)
        self.assertFalse(messages.pending_sync)
        self.assertEqual(self.pending_count(), 0)

    def test_change_waits_behind_queued_ones(self):
        """Once something is queued, later changes queue behind it even if the server answers."""
        thread_ids = [self.question.thread_id.id]
        self.imap_down()
        self.client.mark(thread_ids, starred=True)
        self.imap_back()
        self.client.mark(thread_ids, starred=False)  # must not run before the queued star
        self.assertEqual(self.pending_count(), 2)
        self.account.action_sync()
        self.assertNotIn(b"\\Flagged", self.server_state()["INBOX"]["Question"])
        self.assertFalse(self.question.is_starred)

    def test_reading_with_imap_down_opens_and_queues(self):
        """Opening a thread while IMAP is down shows it, marks it read here, queues the \\Seen."""
        self.imap_down()
        data = self.client.get_thread(self.question.thread_id.id)
        self.assertEqual(len(data["messages"]), 1)
        self.assertFalse(data["notice"])
        self.assertTrue(self.question.is_read)
        self.imap_back()
        self.account.action_sync()
        self.assertIn(b"\\Seen", self.server_state()["INBOX"]["Question"])

    def test_other_users_cannot_see_the_queue(self):
        """The queue follows the mailbox's access: an outsider reads none of it."""
        self.imap_down()
        self.client.mark([self.question.thread_id.id], read=True)
        Pending = self.env["maildesk.pending.action"]
        self.assertEqual(Pending.with_user(self.user_owner).search_count([]), 1)
        self.assertEqual(Pending.with_user(self.user_outsider).search_count([]), 0)
        with self.assertRaises(AccessError):
            Pending.with_user(self.user_owner).create({"account_id": self.account.id, "kind": "delete"})


@tagged("post_install", "-at_install", "maildesk")
class TestOutbox(OfflineCase):
    def due(self, result):
        """Make the queued row due now (the Undo delay is over)."""
        row = self.env["maildesk.outbox"].browse(result["outbox_id"])
        row.send_at = fields.Datetime.now() - timedelta(seconds=1)
        return row

    def test_delayed_send_returns_outbox_and_triggers_cron(self):
        """With a delay Send answers {outbox_id, send_at} and wakes the outbox cron then."""
        self.env["ir.config_parameter"].sudo().set_param("maildesk_mail_client.send_delay", "7")
        before = fields.Datetime.now()
        result = self.client.send(self.compose())
        self.assertEqual(set(result), {"outbox_id", "send_at"})
        send_at = fields.Datetime.to_datetime(result["send_at"])
        self.assertGreaterEqual(send_at, before + timedelta(seconds=6))
        cron = self.env.ref("maildesk_mail_client.ir_cron_maildesk_outbox")
        self.assertTrue(self.env["ir.cron.trigger"].search([("cron_id", "=", cron.id), ("call_at", "=", send_at)]))
        self.assertEqual(self.sink.messages, [])

    def test_undo_returns_the_values_and_nothing_leaves(self):
        """cancel_send gives back what was written; the cron then sends nothing."""
        draft = self.client.save_draft(self.compose())
        result = self.client.send(self.compose(draft_id=draft["draft_id"]), delay=5)
        values = self.client.cancel_send(result["outbox_id"])
        self.assertEqual((values["to"], values["subject"], values["body_html"], values["draft_id"]),
                         ("bob@example.com", "Offer", "<p>Our offer</p>", draft["draft_id"]))
        self.due(result)
        self.env["maildesk.outbox"]._cron_send()
        self.assertEqual(self.sink.messages, [])

    def test_draft_hidden_while_waiting_back_after_undo(self):
        """A message waiting to leave is not listed as a draft; after Undo its draft is back."""
        draft = self.client.save_draft(self.compose(subject="Wait for it"))
        result = self.client.send(self.compose(subject="Wait for it", draft_id=draft["draft_id"]), delay=5)
        self.assertEqual(self.client.list_drafts(), [])
        self.assertEqual(self.client.get_threads(role="drafts")["drafts"], [])
        self.client.cancel_send(result["outbox_id"])
        self.assertEqual([d["id"] for d in self.client.list_drafts()], [draft["draft_id"]])

    def test_cron_sends_once_then_undo_is_too_late(self):
        """The cron sends a due row once; a second run and a late Undo change nothing."""
        draft = self.client.save_draft(self.compose())
        result = self.client.send(self.compose(draft_id=draft["draft_id"]), delay=5)
        row = self.due(result)
        Outbox = self.env["maildesk.outbox"]
        Outbox._cron_send()
        Outbox._cron_send()
        self.assertEqual(len(self.sink.messages), 1)
        self.assertEqual(row.state, "sent")
        self.assertEqual(row.message_id.folder_id.role, "sent")
        self.assertEqual(self.client.list_drafts(), [], "the draft goes once the message left")
        with self.assertRaisesRegex(UserError, "already been sent"):
            self.client.cancel_send(result["outbox_id"])

    def test_row_left_sending_by_a_crash_is_never_sent_again(self):
        """A worker killed mid-send leaves "sending": no later run sends it a second time."""
        result = self.client.send(self.compose(), delay=5)
        row = self.due(result)
        row.state = "sending"
        self.env["maildesk.outbox"]._cron_send()
        self.assertEqual(self.sink.messages, [])
        with self.assertRaisesRegex(UserError, "already been sent"):
            self.client.cancel_send(result["outbox_id"])

    def test_smtp_unreachable_is_retried_not_lost(self):
        """SMTP down at send time: the row waits for a retry, with the reason."""
        result = self.client.send(self.compose(), delay=5)
        row = self.due(result)
        self.account.smtp_port = closed_port()
        self.env["maildesk.outbox"]._cron_send()
        self.assertEqual((row.state, row.attempts), ("queued", 1))
        self.assertIn("Cannot reach", row.error)
        self.assertNotIn("Errno", row.error)
        self.assertGreater(row.send_at, fields.Datetime.now())

    def test_refused_send_comes_back_as_draft(self):
        """A refusal marks the row "Not sent" and brings the text back as the author's draft."""
        result = self.client.send(self.compose(subject="Refused one"), delay=5)
        row = self.due(result)
        with patch("odoo.addons.maildesk_mail_client.engine.smtp.send_raw",
                   side_effect=SendError("550 no such user")):
            self.env["maildesk.outbox"]._cron_send()
        self.assertEqual(row.state, "failed")
        self.assertIn("550", row.error)
        self.assertEqual([d["subject"] for d in self.client.list_drafts()], ["Refused one"])

    def test_outbox_is_private_to_its_author(self):
        """Another user (even a Mailbox Admin) can neither read nor cancel someone's outgoing mail."""
        self.account.write({"is_shared": True, "user_ids": [(4, self.user_member.id)]})
        result = self.client.send(self.compose(), delay=5)
        for user in (self.user_member, self.user_admin):
            with self.assertRaises(AccessError):
                self.env["maildesk.outbox"].with_user(user).browse(result["outbox_id"]).read(["subject"])
            with self.assertRaises(UserError):
                self.env["maildesk.client"].with_user(user).cancel_send(result["outbox_id"])
        with self.assertRaises(AccessError):
            self.env["maildesk.outbox"].with_user(self.user_owner).browse(result["outbox_id"]).write(
                {"state": "queued"})
        self.assertEqual(self.env["maildesk.outbox"].browse(result["outbox_id"]).state, "queued")

    def test_outbox_send_rechecks_access_as_author(self):
        """A row queued on a mailbox that was unshared meanwhile is not sent."""
        self.account.write({"is_shared": True, "user_ids": [(4, self.user_member.id)]})
        member = self.env["maildesk.client"].with_user(self.user_member)
        result = member.send(self.compose(), delay=5)
        self.account.write({"user_ids": [(3, self.user_member.id)]})
        row = self.due(result)
        self.env["maildesk.outbox"]._cron_send()
        self.assertEqual(row.state, "failed")
        self.assertEqual(self.sink.messages, [])

    def test_delay_setting_zero_sends_at_once(self):
        """Undo delay 0 in the settings: Send sends at once and returns the message."""
        self.env["ir.config_parameter"].sudo().set_param("maildesk_mail_client.send_delay", "0")
        result = self.client.send(self.compose())
        self.assertIn("message_id", result)
        self.assertEqual(len(self.sink.messages), 1)


@tagged("post_install", "-at_install", "maildesk")
class TestDraftsInDraftsFolder(OfflineCase):
    def test_autosaved_draft_listed_in_drafts_folder(self):
        """The autosaved draft is counted on the Drafts folder and listed when it is opened; own drafts only."""
        draft = self.client.save_draft(self.compose(subject="Half written", body_html="<p>Dear Bob,</p>"))
        drafts_folder = self.account.folder_ids.filtered(lambda f: f.role == "drafts")
        mailbox = next(a for a in self.client.get_mailboxes()["accounts"] if a["id"] == self.account.id)
        self.assertEqual(next(f for f in mailbox["folders"] if f["role"] == "drafts")["draft_count"], 1)
        listed = self.client.get_threads(folder_id=drafts_folder.id)["drafts"]
        self.assertEqual([(d["draft_id"], d["subject"], d["snippet"]) for d in listed],
                         [(draft["draft_id"], "Half written", "Dear Bob,")])
        self.assertEqual(self.client.get_threads(role="drafts")["drafts"][0]["draft_id"], draft["draft_id"])
        self.assertEqual(self.client.get_threads(role="inbox")["drafts"], [])
        self.account.write({"is_shared": True, "user_ids": [(4, self.user_member.id)]})
        member = self.env["maildesk.client"].with_user(self.user_member)
        self.assertEqual(member.get_threads(folder_id=drafts_folder.id)["drafts"], [])


@tagged("post_install", "-at_install", "maildesk")
class TestOutboxInterrupted(OfflineCase):
    """A row left "sending" by a dead worker: told to its author after a grace period, never re-sent."""

    def start_sending(self, subject):
        """Send with a delay, then play the worker that died right after committing "sending"."""
        draft = self.client.save_draft(self.compose(subject=subject))
        result = self.client.send(self.compose(subject=subject, draft_id=draft["draft_id"]), delay=5)
        row = self.env["maildesk.outbox"].browse(result["outbox_id"])
        row.write({"state": "sending", "attempts": 1, "sending_since": fields.Datetime.now()})
        return row, draft["draft_id"]

    def outbox_notices(self):
        """The "maildesk.outbox" bus payloads sent to the owner."""
        channel = json.dumps([self.env.cr.dbname, "res.partner", self.user_owner.partner_id.id],
                             separators=(",", ":"))
        messages = [json.loads(n.message) for n in self.env["bus.bus"].sudo().search([("channel", "=", channel)])]
        return [m["payload"] for m in messages if m["type"] == "maildesk.outbox"]

    def test_interrupted_send_becomes_unknown_after_grace_never_resent(self):
        start = fields.Datetime.now().replace(microsecond=0)
        Outbox = self.env["maildesk.outbox"]
        with freeze_time(start):
            row, draft_id = self.start_sending("Did it leave")
        with freeze_time(start + timedelta(minutes=STUCK_MINUTES - 1)):
            Outbox._cron_send()
            self.assertEqual(row.state, "sending", "within the grace period a slow send is left alone")
            self.assertEqual(self.client.list_drafts(), [])
        with freeze_time(start + timedelta(minutes=STUCK_MINUTES + 1)), \
                patch.object(type(self.env["maildesk.client"]), "_send_values",
                             side_effect=AssertionError("never re-sent")):
            Outbox._cron_send()
            Outbox._cron_send()
        self.assertEqual(row.state, "unknown")
        self.assertIn("Sent folder", row.error)
        self.assertEqual(self.sink.messages, [], "nothing sent again")
        # The author sees it: the row (their own), their draft back, a bus notification.
        own = self.env["maildesk.outbox"].with_user(self.user_owner).browse(row.id)
        self.assertEqual((own.state, own.error), ("unknown", row.error))
        self.assertEqual([d["id"] for d in self.client.list_drafts()], [draft_id])
        notices = [n for n in self.outbox_notices() if n["outbox_id"] == row.id]
        self.assertEqual([(n["state"], n["error"]) for n in notices], [("unknown", row.error)], "told once")
        # Undo stays refused: nobody can resend it through the outbox.
        with self.assertRaisesRegex(UserError, "already been sent|no longer waiting"):
            self.client.cancel_send(row.id)

    def test_other_users_rows_stay_private(self):
        start = fields.Datetime.now().replace(microsecond=0)
        with freeze_time(start):
            row, _draft_id = self.start_sending("Private note")
        with freeze_time(start + timedelta(minutes=STUCK_MINUTES + 1)):
            self.env["maildesk.outbox"]._cron_send()
        self.assertEqual(row.state, "unknown")
        with self.assertRaises(AccessError):
            self.env["maildesk.outbox"].with_user(self.user_member).browse(row.id).read(["error"])
