import base64
import io
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged
from PIL import Image

from .common import ImapCase, mailgen


def plain(subject, message_id, body="Hello", extra=""):
    return (f"From: Alice <alice@example.com>\r\nTo: owner@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: {message_id}\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n{extra}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


@tagged("post_install", "-at_install", "maildesk")
class TestImapSync(ImapCase):
    def test_initial_sync_stores_every_message_once(self):
        """A first sync stores each server message exactly once, with folders and roles."""
        self.append(mailgen.generate(40, seed=1))
        self.account.action_sync()
        self.assertEqual(len(self.messages()), 40)
        roles = set(self.account.folder_ids.mapped("role"))
        self.assertTrue({"inbox", "sent", "drafts", "trash", "spam"} <= roles, roles)
        self.assertEqual(self.account.state, "connected")
        self.assertFalse(self.account.sync_error)

    def test_resync_without_change_changes_nothing(self):
        """A second sync with no server change creates, updates and removes nothing."""
        self.append(mailgen.generate(10, seed=2))
        self.account.action_sync()
        before = self.messages().read(["remote_id", "is_read", "write_date"])
        self.account.action_sync()
        self.assertEqual(self.messages().read(["remote_id", "is_read", "write_date"]), before)

    def test_new_mail_arrives_incrementally(self):
        """Mail delivered after the first sync is added by the next one."""
        self.append([plain("first", "<first@example.com>")])
        self.account.action_sync()
        self.append([plain("second", "<second@example.com>")])
        self.account.action_sync()
        self.assertEqual(sorted(self.messages().mapped("subject")), ["first", "second"])

    def test_flag_change_on_server_reaches_odoo(self):
        """Read and starred set in another client show up after the next sync."""
        self.append([plain("flags", "<flags@example.com>")])
        self.account.action_sync()
        message = self.messages()
        self.assertFalse(message.is_read)
        client = self.imap()
        client.select_folder("INBOX")
        client.add_flags(client.search("ALL"), [b"\\Seen", b"\\Flagged"])
        client.logout()
        self.account.action_sync()
        self.assertTrue(message.is_read)
        self.assertTrue(message.is_starred)

    def test_expunge_on_server_removes_locally(self):
        """A message deleted in another client disappears from Odoo, the rest stays."""
        self.append([plain("keep", "<keep@example.com>"), plain("drop", "<drop@example.com>")])
        self.account.action_sync()
        client = self.imap()
        client.select_folder("INBOX")
        uid = client.search(["SUBJECT", "drop"])
        client.delete_messages(uid)
        client.expunge()
        client.logout()
        self.account.action_sync()
        self.assertEqual(self.messages().mapped("subject"), ["keep"])

    def test_move_in_other_client_is_followed(self):
        """A message moved on the server leaves INBOX and appears in the target folder, once."""
        self.append([plain("moving", "<moving@example.com>")])
        self.account.action_sync()
        client = self.imap()
        client.select_folder("INBOX")
        client.move(client.search("ALL"), "Archive")
        client.logout()
        self.account.action_sync()
        message = self.messages()
        self.assertEqual(len(message), 1)
        self.assertEqual(message.folder_id.role, "archive")

    def test_uidvalidity_change_rebinds_without_duplicates(self):
        """A new UIDVALIDITY re-binds stored mail by Message-ID: same records, no duplicates."""
        self.append([plain(f"m{i}", f"<uv{i}@example.com>") for i in range(5)])
        self.account.action_sync()
        ids_before = set(self.messages().ids)
        self.server.change_uidvalidity(self.login, "INBOX")
        self.account.action_sync()
        messages = self.messages()
        self.assertEqual(len(messages), 5)
        self.assertEqual(set(messages.ids), ids_before)
        validity = self.account.folder_ids.filtered(lambda f: f.role == "inbox").sync_cursor["uidvalidity"]
        self.assertTrue(all(m.remote_id.startswith(f"{validity}:") for m in messages))

    def test_bootstrap_then_backfill(self):
        """The first sync takes the newest N; backfill brings the rest, oldest last."""
        self.account.bootstrap_size = 10
        self.append([plain(f"n{i:02d}", f"<bf{i}@example.com>") for i in range(25)])
        self.account.action_sync()
        self.assertEqual(len(self.messages()), 10)
        self.assertEqual(sorted(self.messages().mapped("subject"))[0], "n15")
        self.account.action_backfill()
        self.assertEqual(len(self.messages()), 25)
        inbox = self.account.folder_ids.filtered(lambda f: f.role == "inbox")
        self.assertTrue(inbox.sync_cursor["complete"])

    def test_backfill_respects_cap(self):
        """Progressive backfill stops at the per-folder cap."""
        self.account.write({"bootstrap_size": 5, "backfill_cap": 12})
        self.append([plain(f"c{i:02d}", f"<cap{i}@example.com>") for i in range(20)])
        self.account.action_sync()
        self.account.action_backfill()
        self.account.action_backfill()
        self.assertEqual(len(self.messages()), 12)

    def test_from_now_mode_skips_history(self):
        """Mode 'from now on' never backfills below the bootstrap."""
        self.account.write({"bootstrap_size": 3, "backfill_mode": "from_now"})
        self.append([plain(f"f{i}", f"<fn{i}@example.com>") for i in range(8)])
        self.account.action_sync()
        self.account.action_backfill()
        self.assertEqual(len(self.messages()), 3)

    def test_malformed_mail_is_kept_with_its_error(self):
        """Unparseable mail is stored with its error and raw copy; the rest syncs."""
        corpus = mailgen.hostile_corpus()
        self.append([raw for _name, raw in corpus])
        self.account.action_sync()
        self.assertEqual(len(self.messages()), len(corpus))
        for message in self.messages().filtered(lambda m: m.body_state == "error"):
            self.assertTrue(message.parse_error)
            self.assertIn("original.eml", message.attachment_ids.mapped("name"))

    def test_hostile_html_is_sanitized(self):
        """Scripts and handlers never reach the stored body; remote images are blocked."""
        raw = (b"From: x@example.com\r\nTo: owner@example.com\r\nSubject: html\r\nMessage-ID: <h@x>\r\n"
               b"Content-Type: text/html\r\n\r\n<p onclick=\"steal()\">Hi<script>alert(1)</script>"
               b"<img src=\"https://tracker.example.com/p.gif\"></p>\r\n")
        self.append([raw])
        self.account.action_sync()
        body = str(self.messages().body_html)
        self.assertNotIn("<script", body)
        self.assertNotIn("onclick", body)
        self.assertNotIn(' src="https://tracker', body)
        self.assertIn('data-maildesk-src="https://tracker', body)
        self.assertTrue(self.messages().has_remote_images)

    def test_attachments_are_stored_on_the_message(self):
        """Attachments become ir.attachment records linked to their message."""
        raws = [raw for raw in mailgen.generate(60, seed=3)]
        self.append(raws)
        self.account.action_sync()
        with_files = self.messages().filtered("has_attachments")
        self.assertTrue(with_files)
        for message in with_files:
            self.assertTrue(message.attachment_ids)

    def test_image_attachment_is_kept_as_sent(self):
        """A large image attachment is stored byte for byte (never resized or re-encoded)."""
        image = io.BytesIO()
        Image.new("RGB", (2500, 40), (200, 30, 30)).save(image, "PNG")
        data = image.getvalue()
        raw = (b"From: Alice <alice@example.com>\r\nTo: owner@example.com\r\nSubject: photo\r\n"
               b"Message-ID: <img1@example.com>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
               b"--XX\r\nContent-Type: text/plain\r\n\r\nthe photo\r\n"
               b"--XX\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=wide.png\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data).replace(b"\n", b"\r\n")
               + b"--XX--\r\n")
        self.append([raw])
        self.account.action_sync()
        attachment = self.messages(message_id="<img1@example.com>").attachment_ids
        self.assertEqual(attachment.name, "wide.png")
        self.assertEqual(attachment.raw, data)

    def test_synced_mail_and_threads_carry_the_mailbox_company(self):
        """Synced messages and their conversations belong to the mailbox's company, and follow it."""
        self.append(mailgen.generate(12, seed=5))
        self.account.action_sync()
        messages = self.messages()
        self.assertEqual(messages.company_id, self.account.company_id)
        self.assertEqual(messages.thread_id.company_id, self.account.company_id)
        other = self.env["res.company"].create({"name": "Other company"})
        self.account.company_id = other
        self.env.flush_all()
        messages.invalidate_recordset(["company_id"])
        self.assertEqual(messages.company_id, other)
        self.assertEqual(messages.thread_id.company_id, other)

    def test_folder_deleted_on_server_keeps_threads_right(self):
        """Item 16: a server folder goes: its mail leaves through the code that keeps threads right."""
        client = self.imap()
        client.create_folder("Projects")
        client.logout()
        self.append([plain("plan", "<p1@example.com>")])
        file_mail = (b"From: Alice <alice@example.com>\r\nTo: owner@example.com\r\nSubject: files\r\n"
                     b"Message-ID: <f1@example.com>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
                     b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
                     b"--XX\r\nContent-Type: text/plain\r\n\r\nsee file\r\n"
                     b"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n"
                     b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKc2VjcmV0Cg==\r\n--XX--\r\n")
        self.append([plain("Re: plan", "<p2@example.com>", extra="In-Reply-To: <p1@example.com>\r\n"
                                                                "References: <p1@example.com>\r\n"),
                     file_mail], folder="Projects")
        self.account.action_sync()
        shared = self.messages(message_id="<p1@example.com>").thread_id
        self.assertEqual(shared.message_count, 2)
        with_file = self.messages(message_id="<f1@example.com>")
        self.assertTrue(with_file.attachment_ids)
        file_ids, solo = with_file.attachment_ids.ids, with_file.thread_id
        client = self.imap()
        client.delete_folder("Projects")
        client.logout()
        self.account.action_sync()
        self.assertFalse(self.account.folder_ids.filtered(lambda f: f.path == "Projects"))
        self.assertEqual(self.messages().mapped("message_id"), ["<p1@example.com>"])
        self.assertEqual(shared.message_count, 1)
        self.assertFalse(solo.exists())
        self.assertFalse(self.env["ir.attachment"].browse(file_ids).exists())
        threads = self.env["maildesk.thread"].search([("account_id", "=", self.account.id)])
        for thread in threads:
            self.assertEqual(thread.message_count, len(thread.message_ids), thread.subject)
            self.assertTrue(thread.message_ids, thread.subject)

    def test_replies_share_a_thread(self):
        """A reply joins its parent's conversation, even when the parent arrives later."""
        reply = plain("Re: plan", "<r1@example.com>", extra="In-Reply-To: <p1@example.com>\r\n"
                                                            "References: <p1@example.com>\r\n")
        self.append([reply])
        self.account.action_sync()
        self.append([plain("plan", "<p1@example.com>")])
        self.account.action_sync()
        threads = self.messages().mapped("thread_id")
        self.assertEqual(len(threads), 1)
        self.assertEqual(threads.message_count, 2)

    def test_same_subject_without_headers_stays_separate(self):
        """Two unrelated mails with the same plain subject are two conversations."""
        self.append([plain("Hello", "<s1@example.com>"), plain("Hello", "<s2@example.com>")])
        self.account.action_sync()
        self.assertEqual(len(self.messages().mapped("thread_id")), 2)

    def test_wrong_password_needs_reauth(self):
        """Refused credentials put the account in needs_reauth with a readable error."""
        self.account.imap_password = "wrong"
        self.account.action_sync()
        self.assertEqual(self.account.state, "needs_reauth")
        self.assertIn("refused", self.account.sync_error)
        self.assertEqual(self.account.sync_log_ids[:1].level, "error")

    def test_unreachable_server_backs_off(self):
        """A network failure sets state error and a later next_sync_at."""
        self.account.imap_port = 1  # nothing listens there
        self.account.action_sync()
        self.assertEqual(self.account.state, "error")
        self.assertGreater(self.account.next_sync_at, fields.Datetime.now())

    def test_cron_keeps_going_after_a_failing_account(self):
        """One broken account does not stop the cron syncing the others."""
        broken = self.make_account(name="Broken", imap_port=1, imap_host="127.0.0.1")
        self.append([plain("cron", "<cron@example.com>")])
        Account = self.env["maildesk.account"]
        with patch.object(type(Account), "_due_accounts", lambda model: broken | self.account):
            Account._cron_sync()
        self.assertEqual(broken.state, "error")
        self.assertEqual(len(self.messages()), 1)

    def test_test_connection_reports_failure_readably(self):
        """Test Connection raises a readable error on bad credentials."""
        from odoo.exceptions import UserError
        self.account.imap_password = "wrong"
        with self.assertRaises(UserError) as caught:
            self.account.action_test_connection()
        self.assertIn("refused", str(caught.exception))

    def test_sync_log_records_changes(self):
        """A sync that stored mail writes one info line to the sync log."""
        self.append([plain("log", "<log@example.com>")])
        self.account.action_sync()
        log = self.account.sync_log_ids[:1]
        self.assertEqual(log.level, "info")
        self.assertEqual(log.created_count, 1)

    def test_cleanup_prunes_old_logs(self):
        """The cleanup cron deletes log lines past retention."""
        self.account._log("sync", "info", "old")
        old = self.account.sync_log_ids[:1]
        self.env.cr.execute("UPDATE maildesk_sync_log SET create_date = %s WHERE id = %s",
                            (fields.Datetime.now() - timedelta(days=40), old.id))
        self.env["maildesk.account"]._cron_cleanup()
        self.assertFalse(old.exists())
