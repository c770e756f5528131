"""Every server method of the web client (maildesk.client), with its access checks.

Local messages (no remote id) keep the actions in Odoo; the classes at the end run the
same calls against a real Dovecot and SMTP sink to check they reach the server.
"""
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import ClientApiCase, ImapCase


@tagged("post_install", "-at_install", "maildesk")
class TestClientApi(ClientApiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.quote = cls.msg("Quarterly report", "2026-11-01 09:00:00", body_text="the quarterly numbers attached",
                            email_from="Alice Smith <alice@acme.test>", has_attachments=True)
        cls.quote_reply = cls.msg("Re: Quarterly report", "2026-11-02 09:00:00", thread=cls.quote.thread_id,
                                  email_from="Sales <sales@example.com>", direction="outgoing", is_read=True,
                                  folder=cls.sent, email_to="alice@acme.test")
        cls.lunch = cls.msg("Lunch on Friday", "2026-11-03 12:00:00", body_text="pizza or sushi",
                            email_from="bob@bistro.test", is_starred=True)
        cls.invoice = cls.msg("Invoice 42", "2026-10-20 08:00:00", body_text="please pay invoice",
                              email_from="billing@vendor.test", is_read=True)
        cls.secret = cls.msg("Private plans", "2026-11-04 08:00:00", body_text="quarterly secret",
                             account=cls.private, folder=cls.private_inbox, email_from="x@other.test")

    def subjects(self, result):
        return [row["subject"] for row in result["threads"]]

    # -- mailboxes -------------------------------------------------------------------------
    def test_mailboxes_per_user(self):
        """Owner and member see the shared mailbox with counts; the outsider only their own."""
        for user in (self.user_owner, self.user_member):
            data = self.client(user).get_mailboxes()
            self.assertEqual([a["name"] for a in data["accounts"]], ["Sales"])
            sales = data["accounts"][0]
            inbox = next(f for f in sales["folders"] if f["role"] == "inbox")
            self.assertEqual(inbox["unread_count"], 2)  # quote + lunch
            self.assertEqual(sales["unread_count"], 2)
            self.assertEqual(data["unified"]["unread_count"], 2)
            self.assertIn(sales["sync"]["phase"], ("initial", "backfill", "idle", "error"))
        outsider = self.client(self.user_outsider).get_mailboxes()
        self.assertEqual([a["name"] for a in outsider["accounts"]], ["Private"])
        admin = self.client(self.user_admin).get_mailboxes()
        self.assertEqual({a["name"] for a in admin["accounts"]}, {"Sales", "Private"})
        self.assertEqual(admin["unified"]["unread_count"], 3)

    def test_sync_status_reads_plainly(self):
        """A failed account reports phase 'error' and its readable error."""
        self.account.write({"state": "error", "sync_error": "The IMAP server refused the login or password."})
        sales = self.client(self.user_owner).get_mailboxes()["accounts"][0]
        self.assertEqual(sales["sync"]["phase"], "error")
        self.assertIn("refused the login", sales["sync"]["error"])

    # -- thread list -----------------------------------------------------------------------
    def test_threads_newest_first_with_summary(self):
        """A folder lists its conversations by latest activity, with markers."""
        result = self.client(self.user_owner).get_threads(folder_id=self.inbox.id)
        self.assertEqual(result["total"], 3)
        self.assertEqual(self.subjects(result), ["Lunch on Friday", "Quarterly report", "Invoice 42"])
        quote = result["threads"][1]
        self.assertEqual(quote["message_count"], 2)
        self.assertTrue(quote["unread"])
        self.assertTrue(quote["has_attachments"])
        self.assertTrue(result["threads"][0]["starred"])

    def test_paging_has_no_gaps_or_duplicates(self):
        """offset/limit walk the list exactly once."""
        client = self.client(self.user_owner)
        seen = []
        for offset in range(0, 4, 2):
            page = client.get_threads(role="inbox", offset=offset, limit=2)
            self.assertEqual(page["total"], 3)
            seen += [t["id"] for t in page["threads"]]
        self.assertEqual(len(seen), 3)
        self.assertEqual(len(set(seen)), 3)

    def test_unified_inbox_spans_visible_mailboxes_only(self):
        """role=inbox without account: every mailbox the user may see, no more."""
        self.assertEqual(self.client(self.user_admin).get_threads(role="inbox")["total"], 4)
        self.assertEqual(self.client(self.user_owner).get_threads(role="inbox")["total"], 3)
        self.assertEqual(self.subjects(self.client(self.user_outsider).get_threads(role="inbox")),
                         ["Private plans"])

    def test_quick_filters(self):
        client = self.client(self.user_owner)
        cases = {"unread": {"Lunch on Friday", "Quarterly report"}, "starred": {"Lunch on Friday"},
                 "outgoing": {"Quarterly report"}, "attachments": {"Quarterly report"},
                 "incoming": {"Lunch on Friday", "Quarterly report", "Invoice 42"}}
        for key, expected in cases.items():
            with self.subTest(filter=key):
                self.assertEqual(set(self.subjects(client.get_threads(account_id=self.account.id, filter=key))),
                                 expected)

    def test_search_fields(self):
        """Body words (prefix), sender, recipient, subject, dates, tags, account."""
        client = self.client(self.user_owner)
        tag = self.env["maildesk.tag"].with_user(self.user_owner).create({"name": "Finance"})
        self.invoice.tag_ids = [(4, tag.id)]
        cases = [({"text": "quarter"}, {"Quarterly report"}),
                 ({"body": "sushi"}, {"Lunch on Friday"}),
                 ({"text": "pay invoice"}, {"Invoice 42"}),
                 ({"from": "bistro"}, {"Lunch on Friday"}),
                 ({"to": "alice@acme"}, {"Quarterly report"}),
                 ({"subject": "invoice"}, {"Invoice 42"}),
                 ({"date_from": "2026-11-02", "date_to": "2026-11-03"}, {"Lunch on Friday", "Quarterly report"}),
                 ({"tag_ids": [tag.id]}, {"Invoice 42"}),
                 ({"account_id": self.private.id}, set()),
                 ({"text": "nothingmatches"}, set())]
        for search, expected in cases:
            with self.subTest(search=search):
                self.assertEqual(set(self.subjects(client.get_threads(search=search))), expected)

    def test_search_never_crosses_mailboxes(self):
        """A word only in someone else's private mailbox finds nothing, not even a count."""
        result = self.client(self.user_owner).get_threads(search={"text": "secret"})
        self.assertEqual(result["total"], 0)
        self.assertEqual(self.client(self.user_admin).get_threads(search={"text": "secret"})["total"], 1)

    def test_partner_threads(self):
        """The reading pane's 'other conversations with this contact'."""
        partner = self.env["res.partner"].create({"name": "Bob", "email": "bob@bistro.test"})
        self.lunch.partner_id = partner
        self.assertEqual(self.subjects(self.client(self.user_owner).get_threads(partner_id=partner.id)),
                         ["Lunch on Friday"])

    # -- reading ---------------------------------------------------------------------------
    def test_get_thread_oldest_first_and_marks_read(self):
        data = self.client(self.user_member).get_thread(self.quote.thread_id.id)
        self.assertEqual([m["subject"] for m in data["messages"]], ["Quarterly report", "Re: Quarterly report"])
        self.assertTrue(data["messages"][0]["was_unread"])
        self.assertFalse(data["notice"])
        self.assertTrue(self.quote.is_read)
        self.assertEqual(self.quote.thread_id.unread_count, 0)

    def test_outsider_cannot_open_or_act(self):
        """Another user's conversation: no content, no action, whatever the id."""
        client = self.client(self.user_outsider)
        thread_ids = [self.quote.thread_id.id]
        with self.assertRaises(AccessError):
            client.get_thread(thread_ids[0])
        for call in (lambda: client.mark(thread_ids, read=True), lambda: client.archive(thread_ids),
                     lambda: client.delete(thread_ids), lambda: client.move(thread_ids, self.archive.id),
                     lambda: client.set_tags(thread_ids, add_ids=[1]),
                     lambda: client.allow_remote_images(self.quote.id),
                     lambda: client.create_partner_from_sender(self.quote.id),
                     lambda: client.compose_defaults(mode="reply", message_id=self.quote.id)):
            with self.assertRaises(UserError):
                call()
        self.assertFalse(self.quote.is_read)
        self.assertEqual(self.quote.folder_id, self.inbox)

    def test_internal_user_without_group_is_refused(self):
        with self.assertRaises(AccessError):
            self.client(self.user_internal).get_threads(role="inbox")

    def test_remote_images_per_message_and_sender(self):
        client = self.client(self.user_owner)
        client.allow_remote_images(self.lunch.id)
        self.assertTrue(self.lunch.remote_images_allowed)
        client.allow_remote_images(self.quote.id, scope="sender")
        rows = client.get_thread(self.quote.thread_id.id)["messages"]
        self.assertTrue(rows[0]["remote_images_allowed"])
        # The choice is the owner's own: the member still sees the images blocked.
        rows = self.client(self.user_member).get_thread(self.quote.thread_id.id)["messages"]
        self.assertFalse(rows[0]["remote_images_allowed"])

    # -- actions -----------------------------------------------------------------------------
    def test_mark_read_unread_and_star(self):
        client = self.client(self.user_member)
        ids = [self.lunch.thread_id.id, self.quote.thread_id.id]
        client.mark(ids, read=True)
        self.assertTrue(self.lunch.is_read and self.quote.is_read)
        client.mark(ids, read=False)
        self.assertFalse(self.lunch.is_read or self.quote.is_read or self.quote_reply.is_read)
        client.mark([self.quote.thread_id.id], starred=True)
        self.assertTrue(self.quote_reply.is_starred)  # the newest message carries the star
        self.assertTrue(self.quote.thread_id.is_starred)
        client.mark([self.quote.thread_id.id], starred=False)
        self.assertFalse(self.quote.thread_id.is_starred)

    def test_tags_create_add_remove(self):
        client = self.client(self.user_owner)
        tag = client.create_tag("Urgent", color=3)
        self.assertEqual(client.create_tag("urgent")["id"], tag["id"])  # no duplicate by case
        client.set_tags([self.lunch.thread_id.id], add_ids=[tag["id"]])
        row = client.get_threads(folder_id=self.inbox.id)["threads"][0]
        self.assertEqual(row["tag_ids"], [tag["id"]])
        client.set_tags([self.lunch.thread_id.id], remove_ids=[tag["id"]])
        self.assertFalse(self.lunch.tag_ids)
        with self.assertRaises(UserError):
            client.create_tag("  ")

    def test_archive_move_delete(self):
        client = self.client(self.user_owner)
        client.archive([self.lunch.thread_id.id])
        self.assertEqual(self.lunch.folder_id, self.archive)
        client.move([self.lunch.thread_id.id], self.inbox.id)
        self.assertEqual(self.lunch.folder_id, self.inbox)
        client.delete([self.invoice.thread_id.id])
        self.assertEqual(self.invoice.folder_id, self.trash)
        with self.assertRaises(UserError):
            # Another mailbox's folder: refused, nothing moves (admin sees both mailboxes).
            self.client(self.user_admin).move([self.lunch.thread_id.id], self.private_inbox.id)
        self.assertEqual(self.lunch.folder_id, self.inbox)

    def test_sync_now_requires_access(self):
        with self.assertRaises(AccessError):
            self.client(self.user_outsider).sync_now(self.account.id)

    # -- contacts ----------------------------------------------------------------------------
    def test_contact_autocomplete(self):
        self.env["res.partner"].create({"name": "Alicia Keys", "email": "alicia@music.test"})
        found = self.client(self.user_owner).search_contacts("ali")
        emails = [c["email"] for c in found]
        self.assertIn("alicia@music.test", emails)
        self.assertIn("alice@acme.test", emails)  # a past correspondent, not yet a contact
        self.assertEqual(self.client(self.user_owner).search_contacts(""), [])
        # Correspondents of mailboxes the user cannot see are not suggested.
        self.assertNotIn("x@other.test", [c["email"] for c in self.client(self.user_owner).search_contacts("x@")])

    def test_create_partner_from_sender(self):
        self.user_owner.groups_id = [(4, self.env.ref("base.group_partner_manager").id)]
        result = self.client(self.user_owner).create_partner_from_sender(self.quote.id)
        partner = self.env["res.partner"].browse(result["id"])
        self.assertEqual((partner.name, partner.email), ("Alice Smith", "alice@acme.test"))
        self.assertEqual(self.quote.partner_id, partner)
        # Again: the same partner, no duplicate; a user who may not create contacts is told so.
        self.quote_reply.from_address = "new@acme.test"
        with self.assertRaises(AccessError):
            self.client(self.user_member).create_partner_from_sender(self.quote_reply.id)
        self.assertEqual(self.client(self.user_owner).create_partner_from_sender(self.quote.id)["id"], partner.id)

    # -- compose and drafts --------------------------------------------------------------------
    def test_compose_defaults_reply_signature_above_quote(self):
        self.account.signature = "<p>-- Sales team</p>"
        self.account.smtp_host = "127.0.0.1"
        values = self.client(self.user_member).compose_defaults(mode="reply", message_id=self.quote.id)
        self.assertEqual(values["account_id"], self.account.id)
        self.assertEqual(values["subject"], "Re: Quarterly report")
        self.assertIn("alice@acme.test", values["to"])
        body = values["body_html"]
        self.assertLess(body.index("Sales team"), body.index("<blockquote>"))
        self.assertEqual([a["id"] for a in values["accounts"]], [self.account.id])

    def test_compose_defaults_without_sending_mailbox(self):
        with self.assertRaises(UserError):
            self.client(self.user_member).compose_defaults()

    def test_drafts_are_personal(self):
        owner = self.client(self.user_owner)
        saved = owner.save_draft({"account_id": self.account.id, "to": "bob@example.com", "subject": "Plan",
                                  "body_html": "<p>draft</p>", "mode": "new"})
        owner.save_draft({"draft_id": saved["draft_id"], "account_id": self.account.id, "subject": "Plan v2",
                          "body_html": "<p>draft 2</p>"})
        self.assertEqual([d["subject"] for d in owner.list_drafts()], ["Plan v2"])
        self.account.smtp_host = "127.0.0.1"
        restored = owner.compose_defaults(draft_id=saved["draft_id"])
        self.assertEqual((restored["subject"], restored["draft_id"]), ("Plan v2", saved["draft_id"]))
        # The member shares the mailbox, not the draft; neither does an admin read it.
        for user in (self.user_member, self.user_admin):
            self.assertEqual(self.client(user).list_drafts(), [])
            with self.assertRaises(UserError):
                self.client(user).compose_defaults(draft_id=saved["draft_id"])
        owner.discard_draft(saved["draft_id"])
        self.assertEqual(owner.list_drafts(), [])

    def test_send_refuses_foreign_mailbox(self):
        with self.assertRaises(AccessError):
            self.client(self.user_outsider).send({"account_id": self.account.id, "to": "a@b.test",
                                                   "subject": "x", "body_html": "x"})

    # -- live updates -------------------------------------------------------------------------
    def test_bus_notifies_everyone_who_sees_the_mailbox(self):
        self.env["bus.bus"].sudo().search([]).unlink()
        self.account._notify_clients([self.inbox.id])
        notes = self.env["bus.bus"].sudo().search([])
        channels = set(notes.mapped("channel"))
        for user in (self.user_owner, self.user_member, self.user_admin):
            self.assertTrue(any(f'"res.partner",{user.partner_id.id}]' in c for c in channels), user.login)
        self.assertFalse(any(f'"res.partner",{self.user_outsider.partner_id.id}]' in c for c in channels))
        self.assertIn("maildesk.update", notes[0].message)


@tagged("post_install", "-at_install", "maildesk")
class TestClientApiServer(ImapCase):
    """The client's calls against a real Dovecot + SMTP sink: they reach the server."""

    def setUp(self):
        super().setUp()
        self.sink = self.use_smtp_sink(is_shared=True, user_ids=[(4, self.user_member.id)])
        raw = (b"From: Alice <alice@example.com>\r\nTo: owner@example.com\r\nSubject: Question\r\n"
               b"Message-ID: <q@example.com>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
               b"Content-Type: text/plain\r\n\r\nHow much?\r\n")
        self.append([raw])
        self.account.action_sync()
        self.question = self.messages(subject="Question")
        self.client = self.env["maildesk.client"].with_user(self.user_member)

    def test_reading_marks_seen_on_server(self):
        self.client.get_thread(self.question.thread_id.id)
        self.assertIn(b"\\Seen", self.server_flags()["Question"])

    def test_reading_with_server_down_still_opens(self):
        """A refused flag change does not stop the reading; the client is told why."""
        self.account.imap_password = "wrong"
        data = self.client.get_thread(self.question.thread_id.id)
        self.assertEqual(len(data["messages"]), 1)
        self.assertTrue(data["notice"])
        self.assertFalse(self.question.is_read)

    def test_star_and_move_reach_server(self):
        thread_ids = [self.question.thread_id.id]
        self.client.mark(thread_ids, starred=True)
        self.assertIn(b"\\Flagged", self.server_flags()["Question"])
        archive = self.account.folder_ids.filtered(lambda f: f.role == "archive")
        self.client.move(thread_ids, archive.id)
        self.assertIn("Question", self.server_flags("Archive"))
        self.account.action_sync()
        self.assertEqual(len(self.messages(subject="Question")), 1)

    def test_reply_from_client_joins_thread_and_sent(self):
        """Send a reply with an attachment: delivered, in Sent and in the thread at once; draft gone."""
        draft = self.client.save_draft({"account_id": self.account.id, "subject": "Re: Question", "mode": "reply",
                                        "parent_id": self.question.id})
        attachment = self.env["ir.attachment"].with_user(self.user_member).create({
            "name": "price.txt", "raw": b"42 EUR", "res_model": "maildesk.draft", "res_id": draft["draft_id"]})
        values = self.client.compose_defaults(mode="reply", message_id=self.question.id)
        values.update({"body_html": "<p>42 EUR</p>" + values["body_html"], "attachment_ids": [attachment.id],
                       "draft_id": draft["draft_id"]})
        result = self.client.send(values, delay=0)
        self.assertEqual(len(self.sink.messages), 1)
        raw = self.sink.messages[0][2]
        self.assertIn(b"In-Reply-To: <q@example.com>", raw)
        self.assertIn(b"price.txt", raw)
        self.assertEqual(result["thread_id"], self.question.thread_id.id)
        sent = self.env["maildesk.message"].browse(result["message_id"])
        self.assertEqual(sent.folder_id.role, "sent")
        self.assertEqual(self.client.list_drafts(), [])
        thread = self.client.get_thread(result["thread_id"])
        self.assertEqual([m["subject"] for m in thread["messages"]], ["Question", "Re: Question"])


@tagged("post_install", "-at_install", "maildesk")
class TestAccountSetup(ImapCase):
    """The connect wizard a non-technical user goes through."""

    def setUp(self):
        super().setUp()
        # The wizard connects the test user's mailbox itself: ImapCase's copy would be a twin.
        self.account.active = False

    def wizard(self, **vals):
        values = {"email": self.login, "password": self.password, "preset": "custom",
                  "imap_host": self.server.host, "imap_port": self.server.port, "imap_security": "none",
                  "smtp_host": False}
        values.update(vals)
        return self.env["maildesk.account.setup"].with_user(self.user_owner).create(values)

    def test_presets_fill_servers(self):
        from odoo.tests import Form
        form = Form(self.env["maildesk.account.setup"].with_user(self.user_owner))
        form.email = "someone@gmail.com"
        self.assertEqual(form.preset, "gmail")
        self.assertEqual((form.imap_host, form.imap_port, form.smtp_host), ("imap.gmail.com", 993, "smtp.gmail.com"))
        form.email = "me@my-company.test"
        form.preset = "custom"
        self.assertEqual(form.preset, "custom")

    def test_password_never_stored_in_clear(self):
        wizard = self.wizard()
        self.env.flush_all()
        self.env.cr.execute("SELECT password_encrypted FROM maildesk_account_setup WHERE id = %s", (wizard.id,))
        stored = self.env.cr.fetchone()[0]
        self.assertTrue(stored)
        self.assertNotIn(self.password, stored)

    def test_connect_creates_mailbox_after_test(self):
        wizard = self.wizard(name="My mail")
        wizard.action_test()
        self.assertEqual(wizard.test_state, "ok", wizard.test_message)
        self.assertIn("folders found", wizard.test_message)
        action = wizard.action_connect()
        self.assertEqual(action["tag"], "display_notification")
        account = self.env["maildesk.account"].search([("name", "=", "My mail")])
        self.assertEqual(account.owner_id, self.user_owner)
        self.assertTrue(account.sudo().imap_password_encrypted)
        account.action_sync()
        self.assertEqual(account.state, "connected")

    def test_wrong_password_reads_plainly_and_creates_nothing(self):
        wizard = self.wizard(password="not-it", name="Bad")
        action = wizard.action_connect()
        self.assertEqual(action["res_model"], "maildesk.account.setup")  # stays on the form
        self.assertEqual(wizard.test_state, "failed")
        self.assertIn("refused", wizard.test_message)
        self.assertIn("password", wizard.test_message)
        self.assertFalse(self.env["maildesk.account"].search([("name", "=", "Bad")]))

    def test_unreachable_server_reads_plainly(self):
        wizard = self.wizard(imap_port=1)
        wizard.action_test()
        self.assertEqual(wizard.test_state, "failed")
        self.assertIn("server names and ports", wizard.test_message)

    def test_missing_fields_are_named(self):
        wizard = self.wizard(password=False, imap_host=False)
        with self.assertRaises(UserError) as caught:
            wizard.action_test()
        self.assertIn("password", str(caught.exception))

    def test_sign_in_with_google_when_configured(self):
        """With Google OAuth configured, the wizard offers sign-in instead of an app password."""
        wizard = self.wizard(preset="gmail", email="someone@gmail.com")
        self.assertFalse(wizard.oauth_provider)
        with self.assertRaises(UserError):
            wizard.action_oauth()
        set_param = self.env["ir.config_parameter"].sudo().set_param
        set_param("maildesk_mail_client.google_client_id", "cid")
        set_param("maildesk_mail_client.google_client_secret", "secret")
        wizard.invalidate_recordset(["oauth_provider"])
        self.assertEqual(wizard.oauth_provider, "gmail")
        action = wizard.action_oauth()
        self.assertEqual(action["type"], "ir.actions.act_url")
        self.assertIn("accounts.google.com", action["url"])
        account = self.env["maildesk.account"].search([("email", "=", "someone@gmail.com")])
        self.assertEqual((account.provider, account.owner_id), ("gmail", self.user_owner))
