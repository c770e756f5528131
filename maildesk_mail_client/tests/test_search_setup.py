"""Search as people type it, one mailbox connected once, a setup wizard that follows the
address, and a backfill that runs until done with a true progress."""
from unittest.mock import patch

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, tagged

from .common import ImapCase, MaildeskCase


@tagged("post_install", "-at_install", "maildesk")
class TestSearchByAddress(MaildeskCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.make_account()
        cls.first = cls.make_message(cls.account, subject="Zürich office move",
                                     email_from="Customer One <customer1@example.org>", email_to="owner@example.com",
                                     body_text="We move to the new Zürich office.")
        cls.second = cls.make_message(cls.account, subject="Invoice 42", email_from="customer2@example.org",
                                      email_to="Owner <owner@example.com>", email_cc="café-team@example.net",
                                      body_text="Please pay the invoice.")
        cls.client = cls.env["maildesk.client"].with_user(cls.user_owner)

    def found(self, text):
        rows = self.client.get_threads(search={"text": text})["threads"]
        return sorted(row["subject"] for row in rows)

    def test_whole_address(self):
        """A full address finds the mail from it, and only that."""
        self.assertEqual(self.found("customer1@example.org"), ["Zürich office move"])

    def test_address_while_typing(self):
        """Half-typed addresses and their parts find it too."""
        self.assertEqual(self.found("customer1@exam"), ["Zürich office move"])
        self.assertEqual(self.found("customer1"), ["Zürich office move"])
        self.assertEqual(self.found("example.org"), ["Invoice 42", "Zürich office move"])

    def test_from_and_to_operators(self):
        """from: / to: / cc: / subject: typed in the search box filter those fields."""
        self.assertEqual(self.found("from:customer1@example.org"), ["Zürich office move"])
        self.assertEqual(self.found("from:customer2@example.org invoice"), ["Invoice 42"])
        self.assertEqual(self.found("from:customer2@example.org office"), [])
        self.assertEqual(self.found("to:owner@example.com"), ["Invoice 42", "Zürich office move"])
        self.assertEqual(self.found('cc:café-team@example.net'), ["Invoice 42"])
        self.assertEqual(self.found('subject:"office move"'), ["Zürich office move"])

    def test_operator_does_not_override_field(self):
        """A value given in the advanced "from" field wins over a typed from:."""
        rows = self.client.get_threads(search={"text": "from:customer1@example.org", "from": "customer2"})
        self.assertEqual([r["subject"] for r in rows["threads"]], ["Invoice 42"])

    def test_accent_insensitive(self):
        """zurich finds Zürich (PostgreSQL unaccent; the README says what happens without it)."""
        self.env.cr.execute("SELECT 1 FROM pg_extension WHERE extname = 'unaccent'")
        if not self.env.cr.fetchone():
            self.skipTest("the unaccent extension could not be created in this database")
        self.assertEqual(self.found("zurich"), ["Zürich office move"])
        self.assertEqual(self.found("ZURICH office"), ["Zürich office move"])
        self.assertEqual(self.found("cafe-team"), ["Invoice 42"])

    def test_tsquery_keeps_whole_address(self):
        """The query keeps a whole address as one word, as the column's parser does."""
        Client = self.env["maildesk.client"]
        self.assertEqual(Client._tsquery("Customer1@Example.org"), "'customer1@example.org':*")
        self.assertEqual(Client._tsquery("customer1@exam rep"), "customer1:* & exam:* & rep:*")
        self.assertIsNone(Client._tsquery("  "))


@tagged("post_install", "-at_install", "maildesk")
class TestMailboxConnectedOnce(MaildeskCase):
    def test_same_address_and_server_refused(self):
        """The same address, server and login cannot be connected twice."""
        self.make_account()
        with self.assertRaisesRegex(ValidationError, "already connected"):
            self.make_account(name="Again", email="OWNER@example.com", imap_host="127.0.0.1 ")

    def test_other_user_gets_no_owner_detail(self):
        """Someone else's mailbox: refused, without naming its owner."""
        self.make_account()
        with self.assertRaises(ValidationError) as caught:
            self.env["maildesk.account"].with_user(self.user_outsider).create({
                "name": "Mine", "email": "owner@example.com", "imap_host": "127.0.0.1",
                "imap_login": "owner@example.com"})
        self.assertIn("someone else", str(caught.exception))
        self.assertNotIn("Test mailbox", str(caught.exception))

    def test_other_server_or_login_allowed(self):
        """Another server, or another login, is another mailbox."""
        self.make_account()
        self.make_account(name="Other server", imap_host="mail.example.com")
        self.make_account(name="Other login", imap_login="alias@example.com")

    def test_archived_twin_does_not_block(self):
        """An archived mailbox does not block connecting it again."""
        self.make_account().active = False
        self.make_account(name="Again")

    def test_setup_wizard_says_so_before_testing(self):
        """The setup wizard refuses a second connection in plain words, before any network."""
        self.make_account(imap_port=993)
        wizard = self.env["maildesk.account.setup"].with_user(self.user_owner).create({
            "email": "owner@example.com", "password": "x", "imap_host": "127.0.0.1",
            "imap_login": "owner@example.com"})
        with self.assertRaisesRegex(UserError, "already connected"):
            wizard.action_test()


@tagged("post_install", "-at_install", "maildesk")
class TestSetupWizardFollowsAddress(MaildeskCase):
    def form(self):
        return Form(self.env["maildesk.account.setup"].with_user(self.user_owner))

    def test_corrected_address_updates_provider_and_servers(self):
        """gmail.com -> Gmail preset; corrected to example.org -> Other with guessed servers."""
        form = self.form()
        form.email = "ann@gmail.com"
        self.assertEqual((form.preset, form.imap_host), ("gmail", "imap.gmail.com"))
        form.email = "ann@example.org"
        self.assertEqual((form.preset, form.imap_host, form.smtp_host),
                         ("custom", "imap.example.org", "smtp.example.org"))
        form.email = "ann@example.net"
        self.assertEqual(form.imap_host, "imap.example.net")
        form.email = "ann@outlook.com"
        self.assertEqual((form.preset, form.imap_host), ("outlook", "outlook.office365.com"))

    def test_user_edited_servers_are_kept(self):
        """Servers the user typed stay when the address is corrected."""
        form = self.form()
        form.email = "ann@example.org"
        form.imap_host = "mail.example.org"
        form.email = "ann@example.net"
        self.assertEqual(form.imap_host, "mail.example.org")

    def test_user_chosen_preset_is_kept(self):
        """A preset the user picked (Google Workspace on an own domain) survives a corrected address."""
        form = self.form()
        form.email = "ann@company.test"
        form.preset = "gmail"
        form.email = "anne@company.test"
        self.assertEqual((form.preset, form.imap_host), ("gmail", "imap.gmail.com"))

    def test_other_imap_clears_preset_servers(self):
        """Choosing "Other (IMAP)" after a preset clears that preset's servers."""
        form = self.form()
        form.email = "ann@gmail.com"
        form.preset = "custom"
        self.assertFalse(form.imap_host)
        self.assertFalse(form.smtp_host)

    def test_form_starts_in_email(self):
        """The cursor starts in Email."""
        arch = self.env.ref("maildesk_mail_client.maildesk_account_setup_view_form").arch
        self.assertIn('name="email"', arch)
        self.assertRegex(arch, r'<field name="email"[^>]*default_focus="1"')


@tagged("post_install", "-at_install", "maildesk")
class TestContinuousBackfill(ImapCase):
    def setUp(self):
        super().setUp()
        raws = [(f"From: a@example.org\r\nTo: {self.login}\r\nSubject: Old {i}\r\nMessage-ID: <old{i}@example.org>\r\n"
                 f"Date: Mon, 02 Nov 2026 10:{i:02d}:00 +0000\r\n\r\nbody {i}\r\n").encode() for i in range(30)]
        self.append(raws)
        self.account.bootstrap_size = 5
        self.account.action_sync()

    def status(self):
        accounts = self.env["maildesk.client"].with_user(self.user_owner).get_mailboxes()["accounts"]
        return next(a for a in accounts if a["id"] == self.account.id)["sync"]

    def test_progress_counts_messages(self):
        """After the first sync 5 of 30 messages are here: 16 %, not "4 of 5 folders"."""
        self.assertEqual(len(self.messages()), 5)
        self.assertEqual((self.status()["phase"], self.status()["progress"]), ("backfill", 16))

    def test_backfill_runs_until_done(self):
        """One cron run loads the whole history in successive batches, then says 100 %."""
        with patch("odoo.addons.maildesk_mail_client.models.maildesk_folder.BACKFILL_BATCH", 10):
            self.env["maildesk.account"]._cron_backfill()
        self.assertEqual(len(self.messages()), 30)
        self.assertEqual((self.status()["phase"], self.status()["progress"]), ("idle", 100))

    def test_backfill_retriggers_itself_when_time_is_up(self):
        """History left when the run's time is up: the next run is triggered, seconds later."""
        cron = self.env.ref("maildesk_mail_client.ir_cron_maildesk_backfill")
        Trigger = self.env["ir.cron.trigger"]
        before = Trigger.search([("cron_id", "=", cron.id)])
        with patch("odoo.addons.maildesk_mail_client.models.maildesk_account.BACKFILL_TIME_BUDGET", 0):
            self.env["maildesk.account"]._cron_backfill()
        self.assertTrue(Trigger.search([("cron_id", "=", cron.id)]) - before)


@tagged("post_install", "-at_install", "maildesk")
class TestPlainWords(MaildeskCase):
    def test_labels_written_by_a_person(self):
        """Field labels read like a person wrote them."""
        fields_ = self.env["maildesk.account"]._fields
        self.assertEqual([fields_[name].string for name in ("imap_host", "imap_login", "last_sync_at")],
                         ["IMAP server", "IMAP login", "Last synced"])
        arch = self.env.ref("maildesk_mail_client.maildesk_account_view_form").arch
        self.assertIn('<field name="imap_security" string="Security"/>', arch)
        self.assertIn('<field name="imap_port" options="{\'format\': false}"/>', arch)

    def test_inbox_not_INBOX(self):
        """The server's "INBOX" reads "Inbox" wherever its role is known."""
        account = self.make_account()
        message = self.make_message(account)
        self.assertEqual(message.folder_id.display_name, "Inbox")
        data = self.env["maildesk.client"].with_user(self.user_owner).get_mailboxes()
        self.assertEqual([f["name"] for a in data["accounts"] for f in a["folders"]], ["Inbox"])

    def test_outage_is_not_an_invalid_operation(self):
        """Test Connection against a closed port: a MailServerUnreachable (not "Invalid Operation"), in words."""
        from ..models.maildesk_account import MailServerUnreachable

        account = self.make_account(imap_port=1)
        with self.assertRaises(MailServerUnreachable) as caught:
            account.with_user(self.user_owner).action_test_connection()
        # One plain message for every refusal (no port probing through the form), no errno.
        self.assertIn("Cannot connect to the mail server", str(caught.exception))
        self.assertNotIn("Errno", str(caught.exception))
