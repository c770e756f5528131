"""The security matrix: who reads what, and every way a Mailbox User could write past it.

The attack classes (issue 10) each ATTACK as an ordinary user would over RPC: ``with_user``
plus crafted values and context keys, other users' wizard rows, foreign ids in every
many2one and method argument, the client API called with foreign ids; one class goes
through real JSON-RPC.
"""
import socketserver
import threading
from functools import partial
from unittest.mock import patch

from lxml import etree
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from ..engine import compose as compose_engine
from ..models.maildesk_account import SYNC_LIMIT, TEST_LIMIT, cannot_connect_message
from ..models.maildesk_guard import trusted_ingest
from .common import MaildeskCase, closed_port, create_message

HOSTILE = '<p>hi</p><script>alert(1)</script><img src="x" onerror="alert(2)"><a href="javascript:alert(3)">x</a>'


@tagged("post_install", "-at_install", "maildesk")
class TestSecurityMatrix(MaildeskCase):
    """Owner / member / outsider / admin x account, folder, thread, message, attachment."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.make_account(is_shared=True, user_ids=[(6, 0, [cls.user_member.id])])
        cls.message = cls.make_message(cls.account, subject="Quarterly numbers")
        cls.attachment = cls.env["ir.attachment"].create({
            "name": "numbers.pdf", "raw": b"%PDF-1.4 test", "res_model": "maildesk.message",
            "res_id": cls.message.id})
        cls.private = cls.make_account(name="Private", email="priv@example.com")
        cls.private_message = cls.make_message(cls.private, subject="Private")

    def _records(self):
        return {"account": self.account, "folder": self.message.folder_id, "thread": self.message.thread_id,
                "message": self.message, "attachment": self.attachment}

    def assert_can_read(self, user):
        for label, record in self._records().items():
            with self.subTest(user=user.login, record=label):
                record.with_user(user).read(["display_name"])

    def assert_cannot_read(self, user):
        for label, record in self._records().items():
            with self.subTest(user=user.login, record=label), self.assertRaises(AccessError):
                record.with_user(user).read(["display_name"])

    def test_owner_reads_everything(self):
        """The owner sees the mailbox, its folders, conversations, messages and files."""
        self.assert_can_read(self.user_owner)

    def test_member_reads_everything(self):
        """A user in Users with Access sees the shared mailbox like its owner."""
        self.assert_can_read(self.user_member)

    def test_admin_reads_everything(self):
        """A Mailbox Admin sees every mailbox, listed or not."""
        self.assert_can_read(self.user_admin)

    def test_outsider_reads_nothing(self):
        """Another Mailbox User sees none of it, attachments included."""
        self.assert_cannot_read(self.user_outsider)

    def test_internal_user_without_group_reads_nothing(self):
        """An internal user without a MailDesk group has no access at all."""
        self.assert_cannot_read(self.user_internal)

    def test_outsider_search_finds_nothing(self):
        """Searches apply the same scope: no count leaks either."""
        for model in ("maildesk.account", "maildesk.message", "maildesk.thread", "maildesk.folder"):
            with self.subTest(model=model):
                self.assertEqual(self.env[model].with_user(self.user_outsider).search_count([]), 0)
        attachments = self.env["ir.attachment"].with_user(self.user_outsider).search(
            [("res_model", "=", "maildesk.message")])
        self.assertFalse(attachments)

    def test_member_sees_only_the_shared_mailbox(self):
        """A member of one shared mailbox does not see the owner's private mailbox."""
        accounts = self.env["maildesk.account"].with_user(self.user_member).search([])
        self.assertEqual(accounts, self.account)
        messages = self.env["maildesk.message"].with_user(self.user_member).search([])
        self.assertEqual(messages, self.message)

    def test_member_can_work_on_messages(self):
        """A member may tag and flag messages of the shared mailbox (local-only fields here)."""
        tag = self.env["maildesk.tag"].with_user(self.user_member).create({"name": "urgent"})
        self.message.with_user(self.user_member).write({"tag_ids": [(4, tag.id)]})
        self.assertIn(tag, self.message.tag_ids)

    def test_member_cannot_change_connection_settings(self):
        """Only the owner or an admin changes server settings or sharing."""
        with self.assertRaises(AccessError):
            self.account.with_user(self.user_member).write({"imap_host": "evil.example.com"})
        with self.assertRaises(AccessError):
            self.account.with_user(self.user_member).write({"user_ids": [(4, self.user_outsider.id)]})

    def test_member_cannot_stop_push(self):
        """Archiving or deleting a shared mailbox is the owner's: a refused member stops no push."""
        stopped = []
        with patch.object(type(self.env["maildesk.account"]), "_push_stop",
                          lambda records: stopped.extend(records.ids)):
            with self.assertRaises(AccessError):
                self.account.with_user(self.user_member).write({"active": False})
            with self.assertRaises(AccessError):
                self.account.with_user(self.user_member).unlink()
            self.assertEqual(stopped, [])
            self.account.with_user(self.user_owner).write({"active": False})
        self.assertEqual(stopped, self.account.ids)

    def test_outsider_cannot_write_messages(self):
        """An outsider cannot touch a message it cannot see."""
        with self.assertRaises(AccessError):
            self.message.with_user(self.user_outsider).write({"tag_ids": [(5, 0, 0)]})
        with self.assertRaises(AccessError):
            self.message.with_user(self.user_outsider).unlink()

    def test_outsider_cannot_download_attachment(self):
        """The attachment download path checks the message's rules."""
        with self.assertRaises(AccessError):
            self.attachment.with_user(self.user_outsider).datas  # noqa: B018

    def test_owner_can_write_settings(self):
        """The owner edits their own mailbox."""
        self.account.with_user(self.user_owner).write({"name": "Renamed"})
        self.assertEqual(self.account.name, "Renamed")

    def test_user_cannot_create_mailbox_for_someone_else(self):
        """A Mailbox User creates mailboxes only for themself."""
        with self.assertRaises(AccessError):
            self.env["maildesk.account"].with_user(self.user_outsider).create(
                {"name": "x", "email": "x@example.com", "owner_id": self.user_owner.id})
        own = self.env["maildesk.account"].with_user(self.user_outsider).create({"name": "x", "email": "x@example.com"})
        self.assertEqual(own.owner_id, self.user_outsider)

    def test_only_admin_resets_sync_state(self):
        """Reset Sync State is a Mailbox Admin action."""
        with self.assertRaises(AccessError):
            self.account.with_user(self.user_owner).action_reset_sync_state()

    def test_outsider_cannot_sync(self):
        """Sync now checks access before doing anything as superuser."""
        with self.assertRaises(AccessError):
            self.account.with_user(self.user_outsider).action_sync()

    def test_other_company_hidden(self):
        """Multi-company rule: a mailbox of another company is hidden even from admins."""
        other = self.env["res.company"].create({"name": "Other Co"})
        account = self.make_account(name="Other", email="o@example.com", company_id=other.id,
                                    owner_id=self.user_admin.id)
        visible = self.env["maildesk.account"].with_user(self.user_admin).with_context(
            allowed_company_ids=[self.env.company.id]).search([])
        self.assertNotIn(account, visible)


class AttackCase(MaildeskCase):
    """A shared mailbox (owner + member), a private one of the owner, one of the outsider."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.make_account(is_shared=True, user_ids=[(6, 0, [cls.user_member.id])])
        cls.message = cls.make_message(cls.account, subject="Shared numbers", email_from="Ann <ann@example.com>")
        cls.private = cls.make_account(name="Private", email="priv@example.com")
        cls.private_message = cls.make_message(cls.private, subject="Private plans")
        cls.foreign = cls.make_account(name="Outsider's", email="out@example.com", owner_id=cls.user_outsider.id)
        cls.foreign_message = cls.make_message(cls.foreign, subject="Outsider's secret")

    def setUp(self):
        super().setUp()
        # The server side of two-way actions is not under test here.
        patcher = patch.object(type(self.env["maildesk.message"]), "_push_flags", lambda *a, **k: None)
        patcher.start()
        self.addCleanup(patcher.stop)

    def assert_refused(self, attacks, exception=AccessError):
        """Every attack of ``attacks`` ({label: callable}) raises ``exception``."""
        for label, attack in attacks.items():
            with self.subTest(attack=label), self.assertRaises(exception):
                attack()


@tagged("post_install", "-at_install", "maildesk")
class TestWizardPrivacy(AttackCase):
    """Item 1: a wizard row belongs to whoever opened it; nobody else reads, writes or runs it."""

    def compose_of(self, user):
        return self.env["maildesk.compose"].with_user(user).create({
            "account_id": self.account.id, "email_to": "x@example.com", "email_bcc": "hidden@example.com",
            "subject": "Confidential", "body_html": "<p>draft</p>"})

    def setup_of(self, user):
        return self.env["maildesk.account.setup"].with_user(user).create({
            "email": "me@example.com", "password": "typed-secret", "imap_host": "imap.example.com"})

    def assert_private_row(self, row, read_fields, write_vals, actions):
        """Nobody but its creator reads, writes, runs (``actions``, method names) or finds the row."""
        for user in (self.user_member, self.user_outsider, self.user_admin):
            attacker = row.with_user(user)
            with self.subTest(user=user.login):
                self.assert_refused({"read": partial(attacker.read, read_fields),
                                     "write": partial(attacker.write, write_vals),
                                     **{name: getattr(attacker, name) for name in actions}})
                self.assertFalse(self.env[row._name].with_user(user).search([("id", "=", row.id)]))

    def test_compose_rows_are_private(self):
        compose = self.compose_of(self.user_owner)
        self.assert_private_row(compose, ["email_bcc", "subject", "body_html"], {"email_to": "attacker@evil.test"},
                                ["action_send", "unlink"])
        self.assertEqual(compose.with_user(self.user_owner).read(["subject"])[0]["subject"], "Confidential")

    def test_setup_rows_are_private(self):
        wizard = self.setup_of(self.user_owner)
        self.assert_private_row(wizard, ["imap_host", "email"], {"imap_host": "127.0.0.1", "imap_port": 1},
                                ["action_test", "action_connect"])
        self.assertEqual(wizard.imap_host, "imap.example.com")
        self.assertEqual(wizard.test_state, "untested")

    def test_every_transient_model_has_a_creator_rule(self):
        """The class, not the two examples: every wizard of the suite is private to its creator."""
        modules = {m for m in self.env["ir.module.module"].search([("name", "=like", "maildesk%")]).mapped("name")}
        found = []
        for model in self.env["ir.model"].search([("transient", "=", True)]):
            owners = set((model.modules or "").replace(" ", "").split(","))
            if not owners & modules or model.model == "res.config.settings":
                continue
            found.append(model.model)
            rules = self.env["ir.rule"].search([("model_id", "=", model.id), ("global", "=", True)])
            with self.subTest(model=model.model):
                self.assertTrue(any("create_uid" in (r.domain_force or "") for r in rules),
                                f"{model.model} has no global record rule on create_uid")
        self.assertIn("maildesk.compose", found)
        self.assertIn("maildesk.account.setup", found)


@tagged("post_install", "-at_install", "maildesk")
class TestSanitizing(AttackCase):
    """Item 2: stored mail HTML is sanitized whatever the context; no view renders it raw."""

    def test_context_key_does_not_skip_sanitizing(self):
        """Even a superuser path that passes the sync's context key gets its body sanitized."""
        Message = self.env["maildesk.message"].with_context(maildesk_from_sync=True)
        message = Message.create({"account_id": self.account.id, "folder_id": self.message.folder_id.id,
                                  "subject": "x", "message_id": "<hostile@example.com>", "body_html": HOSTILE})
        body = str(message.body_html)
        self.assertNotIn("<script", body)
        self.assertNotIn("onerror", body)
        self.assertNotIn("javascript:", body)
        message.with_context(maildesk_from_sync=True).write({"body_html": HOSTILE})
        self.assertNotIn("<script", str(message.body_html))

    def test_rpc_caller_cannot_write_bodies_with_the_sync_key(self):
        """A member sets the sync's context key: still refused, the body is the server's."""
        for user in (self.user_member, self.user_admin):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.message.with_user(user).with_context(maildesk_from_sync=True).write({"body_html": HOSTILE})
        with self.assertRaises(AccessError):
            self.env["maildesk.message"].with_user(self.user_admin).with_context(maildesk_from_sync=True).create({
                "account_id": self.account.id, "subject": "planted", "body_html": HOSTILE})
        self.assertNotIn("script", str(self.message.body_html))

    def test_sync_key_does_not_skip_the_server_push_for_users(self):
        """The context key only means "from the sync" on the sync's own (privileged) paths."""
        calls = []
        with patch.object(type(self.env["maildesk.message"]), "_push_flags",
                          lambda records, **flags: calls.append(flags)):
            self.message.with_user(self.user_member).with_context(maildesk_from_sync=True).write({"is_starred": True})
        self.assertEqual(calls, [{"is_starred": True}])

    def test_trusted_ingest_keeps_engine_output(self):
        """The sync's own route stores the engine's sanitized body as it is (cid images rewritten)."""
        body = '<p>logo <img src="/web/image/42"></p>'
        with trusted_ingest():
            message = self.env["maildesk.message"].sudo().create({
                "account_id": self.account.id, "subject": "cid", "message_id": "<cid@example.com>",
                "body_html": body})
        self.assertIn('src="/web/image/42"', str(message.body_html))

    def test_no_view_renders_mail_html_outside_the_sandbox(self):
        """Every view showing a stored mail body uses the sandboxed iframe widget."""
        mail_models = {"maildesk.message", "maildesk.thread"}
        checked = 0
        views = self.env["ir.ui.view"].search([("model", "like", "maildesk.%")])
        for view in views:
            arch = etree.fromstring(view.with_context(lang=None).get_combined_arch())
            for node in arch.iter("field"):
                model = self.env[view.model]
                field = model._fields.get(node.get("name"))
                if view.model in mail_models and field is not None and field.type == "html":
                    checked += 1
                    with self.subTest(view=view.xml_id, field=field.name):
                        self.assertEqual(node.get("widget"), "maildesk_sandboxed_html")
        self.assertTrue(checked, "the message form shows the body")


@tagged("post_install", "-at_install", "maildesk")
class TestProtectedFields(AttackCase):
    """Item 3: what the server and the sync set is never written by users, whatever they may write."""

    SERVER_FIELDS = {
        "account_id": lambda self: self.private.id,
        "folder_id": lambda self: self.private_message.folder_id.id,
        "thread_id": lambda self: self.private_message.thread_id.id,
        "remote_id": lambda self: "1:99",
        "message_id": lambda self: "<forged@example.com>",
        "email_from": lambda self: "ceo@example.com",
        "from_address": lambda self: "ceo@example.com",
        "subject": lambda self: "forged",
        "date": lambda self: "2020-01-01 00:00:00",
        "direction": lambda self: "outgoing",
        "snippet": lambda self: "forged",
        "body_state": lambda self: "partial",
        "company_id": lambda self: self.env.company.id,
    }

    def test_message_server_fields_refused(self):
        for user in (self.user_owner, self.user_member, self.user_admin):
            for name, value in self.SERVER_FIELDS.items():
                with self.subTest(user=user.login, field=name), self.assertRaises(AccessError):
                    self.message.with_user(user).with_context(maildesk_from_sync=True).write({name: value(self)})
        self.assertEqual(self.message.account_id, self.account)
        self.assertEqual(self.message.subject, "Shared numbers")

    def test_refused_write_pushes_nothing_to_the_server(self):
        """A write with a refused field never reaches the mail server, not even its allowed flags."""
        calls = []
        with patch.object(type(self.env["maildesk.message"]), "_push_flags",
                          lambda records, **flags: calls.append(flags)):
            with self.assertRaises(AccessError):
                self.message.with_user(self.user_member).write({"is_read": True, "subject": "forged"})
        self.assertEqual(calls, [])

    def test_every_user_written_model_is_guarded(self):
        """The models users write through the client and the wizards all inherit the write guard."""
        mixin = type(self.env["maildesk.guard.mixin"])
        guarded = {name for name, model in self.env.registry.items() if issubclass(model, mixin)}
        self.assertLessEqual({"maildesk.account", "maildesk.folder", "maildesk.thread", "maildesk.message",
                              "maildesk.draft", "maildesk.tag", "maildesk.trusted.sender", "maildesk.compose",
                              "maildesk.account.setup"}, guarded)

    def test_message_reader_state_still_writable(self):
        tag = self.env["maildesk.tag"].with_user(self.user_member).create({"name": "mine"})
        self.message.with_user(self.user_member).write({"is_starred": True, "tag_ids": [(4, tag.id)],
                                                        "remote_images_allowed": True})
        self.assertTrue(self.message.is_starred)

    def test_thread_and_folder_not_writable(self):
        thread, folder = self.message.thread_id, self.message.folder_id
        for user in (self.user_owner, self.user_member):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    thread.with_user(user).write({"subject": "x", "account_id": self.private.id})
                with self.assertRaises(AccessError):
                    thread.with_user(user).write({"message_ids": [(4, self.private_message.id)]})
                with self.assertRaises(AccessError):
                    folder.with_user(user).write({"account_id": self.private.id})
        for name, value in (("account_id", self.private.id), ("path", "Elsewhere"), ("sync_cursor", {"x": 1}),
                            ("subject", "x")):
            model = thread if name == "subject" else folder
            with self.subTest(admin_field=name), self.assertRaises(AccessError):
                model.with_user(self.user_admin).write({name: value})
        folder.with_user(self.user_admin).write({"name": "Renamed"})  # what an admin may change

    def test_account_sync_state_refused(self):
        for name, value in (("state", "connected"), ("sync_error", False), ("error_count", 0),
                            ("next_sync_at", False), ("last_sync_at", "2020-01-01 00:00:00")):
            with self.subTest(field=name), self.assertRaises(AccessError):
                self.account.with_user(self.user_owner).write({name: value})

    def test_private_rows_belong_to_their_user(self):
        """No draft, tag or trusted sender planted for another user, on create or write."""
        victim = self.user_member.id
        for model, vals in (("maildesk.draft", {"account_id": self.account.id, "subject": "x"}),
                            ("maildesk.tag", {"name": "planted"}),
                            ("maildesk.trusted.sender", {"email": "spam@evil.test"})):
            Model = self.env[model].with_user(self.user_owner)
            with self.subTest(model=model, op="create"), self.assertRaises(AccessError):
                Model.create(dict(vals, user_id=victim))
            own = Model.create(vals)
            with self.subTest(model=model, op="write"), self.assertRaises(AccessError):
                own.write({"user_id": victim})
            self.assertEqual(own.user_id, self.user_owner)

    def test_client_listing_rechecks_threads(self):
        """A visible message pointing at a foreign conversation does not reveal it in the listing."""
        # The state the old write path allowed: the outsider's own message attached to the
        # owner's private conversation (the sync itself never does this).
        self.foreign_message.sudo().thread_id = self.private_message.thread_id
        client = self.env["maildesk.client"].with_user(self.user_outsider)
        rows = client.get_threads(account_id=self.foreign.id)["threads"]
        self.assertNotIn(self.private_message.thread_id.id, [r["id"] for r in rows])
        self.assertNotIn("Private plans", str(rows))
        rows = client.get_threads(search={"text": "secret"})["threads"]
        self.assertNotIn("Private plans", str(rows))
        with self.assertRaises(AccessError):
            client.get_thread(self.private_message.thread_id.id)


@tagged("post_install", "-at_install", "maildesk")
class TestForeignLinks(AttackCase):
    """Item 4: every many2one / many2many a user sets, and every id a method takes, is checked."""

    def test_draft_links(self):
        Draft = self.env["maildesk.draft"].with_user(self.user_member)
        foreign_file = self.env["ir.attachment"].create({"name": "secret.pdf", "raw": b"x",
                                                         "res_model": "maildesk.message",
                                                         "res_id": self.private_message.id})
        for vals in ({"account_id": self.private.id},
                     {"account_id": self.account.id, "parent_id": self.private_message.id},
                     {"account_id": self.account.id, "attachment_ids": [(6, 0, [foreign_file.id])]},
                     {"account_id": self.account.id, "attachment_ids": [(4, foreign_file.id)]}):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                Draft.create(vals)
        draft = Draft.create({"account_id": self.account.id, "parent_id": self.message.id})
        with self.assertRaises(AccessError):
            draft.write({"parent_id": self.private_message.id})
        with self.assertRaises(AccessError):
            draft.write({"account_id": self.private.id})

    def test_compose_links(self):
        Compose = self.env["maildesk.compose"].with_user(self.user_member)
        for vals in ({"account_id": self.private.id},
                     {"account_id": self.account.id, "parent_id": self.private_message.id}):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                Compose.create(vals)
        compose = Compose.create({"account_id": self.account.id})
        with self.assertRaises(AccessError):
            compose.write({"parent_id": self.private_message.id})
        with self.assertRaises(AccessError):
            Compose.with_context(default_parent_id=self.private_message.id).default_get(["parent_id", "body_html"])

    def test_message_links(self):
        other_tag = self.env["maildesk.tag"].with_user(self.user_owner).create({"name": "owner's"})
        for command in ([(4, other_tag.id)], [(6, 0, [other_tag.id])]):
            with self.subTest(command=command), self.assertRaises(AccessError):
                self.message.with_user(self.user_member).write({"tag_ids": command})
        self.assertFalse(self.message.tag_ids)

    def test_account_company(self):
        other = self.env["res.company"].create({"name": "Elsewhere Co"})
        with self.assertRaises(AccessError):
            self.account.with_user(self.user_owner).write({"company_id": other.id})

    def test_client_api_with_foreign_ids(self):
        client = self.env["maildesk.client"].with_user(self.user_member)
        private_thread = self.private_message.thread_id.id
        foreign_tag = self.env["maildesk.tag"].with_user(self.user_owner).create({"name": "owner only"})
        attacks = {
            "get_thread": lambda: client.get_thread(private_thread),
            "mark": lambda: client.mark([private_thread], read=True),
            "archive": lambda: client.archive([private_thread]),
            "delete": lambda: client.delete([private_thread]),
            "move": lambda: client.move([self.message.thread_id.id], self.private_message.folder_id.id),
            "set_tags": lambda: client.set_tags([self.message.thread_id.id], add_ids=[foreign_tag.id]),
            "allow_remote_images": lambda: client.allow_remote_images(self.private_message.id),
            "create_partner_from_sender": lambda: client.create_partner_from_sender(self.private_message.id),
            "compose_defaults": lambda: client.compose_defaults("reply", message_id=self.private_message.id),
            "save_draft parent": lambda: client.save_draft({"account_id": self.account.id,
                                                            "parent_id": self.private_message.id}),
            "save_draft account": lambda: client.save_draft({"account_id": self.private.id}),
            "sync_now": lambda: client.sync_now(self.private.id),
        }
        self.assert_refused(attacks, UserError)  # AccessError included
        self.assertFalse(self.message.tag_ids)
        draft = self.env["maildesk.draft"].with_user(self.user_owner).create({"account_id": self.account.id})
        self.assert_refused({
            "save_draft foreign draft": lambda: client.save_draft(
                {"account_id": self.account.id, "draft_id": draft.id, "subject": "hijack"}),
            "discard_draft": lambda: client.discard_draft(draft.id)})
        self.assertTrue(draft.exists())


@tagged("post_install", "-at_install", "maildesk")
class TestStoredSecrets(AttackCase):
    """Items 5 and 6: a stored password goes only where it was typed for and never decrypts for a user."""

    def test_owner_cannot_redirect_the_stored_password(self):
        owner_account = self.private.with_user(self.user_owner)
        for vals in ({"imap_host": "attacker.example.com"}, {"imap_port": 8143}, {"imap_security": "ssl"},
                     {"smtp_host": "smtp.attacker.example.com"}, {"smtp_port": 2525}):
            with self.subTest(vals=vals), self.assertRaises(UserError):
                owner_account.write(vals)
        self.assertEqual(self.private.imap_host, "127.0.0.1")
        owner_account.write({"name": "Renamed", "imap_login": "other-login"})  # same destination
        owner_account.write({"imap_host": "imap.new.example.com", "imap_password": "typed-again"})
        self.assertEqual(self.private.imap_host, "imap.new.example.com")
        owner_account.write({"smtp_host": "smtp.new.example.com", "imap_password": "typed-again"})

    def test_separate_smtp_password_needs_its_own_retype(self):
        self.private.write({"smtp_host": "smtp.example.com", "smtp_password": "smtp-secret"})
        owner_account = self.private.with_user(self.user_owner)
        with self.assertRaises(UserError):
            owner_account.write({"smtp_host": "smtp.attacker.example.com", "imap_password": "imap-only"})
        owner_account.write({"smtp_host": "smtp.other.example.com", "smtp_password": "smtp-secret"})

    def test_admin_may_move_a_stored_password(self):
        self.private.with_user(self.user_admin).write({"imap_host": "imap.moved.example.com"})
        self.assertEqual(self.private.imap_host, "imap.moved.example.com")

    def test_form_save_then_test_connection_cannot_leak(self):
        """The attack end to end: change the host, press Test Connection; the save is refused first."""
        captured = []
        with patch.object(type(self.env["maildesk.account"]), "_get_provider",
                          lambda account: captured.append(account._get_imap_config())):
            with self.assertRaises(UserError):
                account = self.private.with_user(self.user_owner)
                account.write({"imap_host": "attacker.example.com", "imap_security": "none"})
                account.action_test_connection()
        self.assertFalse(captured)

    def test_setup_wizard_ciphertext_not_client_writable(self):
        """Ciphertext lifted from a dump cannot be fed to a user's own wizard to be decrypted."""
        stolen = self.private.sudo().imap_password_encrypted
        Setup = self.env["maildesk.account.setup"].with_user(self.user_outsider)
        with self.assertRaises(AccessError):
            Setup.create({"email": "me@example.com", "imap_host": "127.0.0.1", "password_encrypted": stolen})
        wizard = Setup.create({"email": "me@example.com", "imap_host": "127.0.0.1", "password": "mine"})
        with self.assertRaises(AccessError):
            wizard.write({"password_encrypted": stolen})
        with self.assertRaises(AccessError):
            wizard.read(["password_encrypted"])
        for vals in ({"test_state": "ok"}, {"test_message": "forged"}):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                wizard.write(vals)
        self.assertEqual(wizard._password(), "mine")

    def test_account_ciphertext_not_client_writable(self):
        stolen = self.private.sudo().imap_password_encrypted
        Account = self.env["maildesk.account"].with_user(self.user_outsider)
        with self.assertRaises(AccessError):
            Account.create({"name": "x", "email": "x@example.com", "imap_host": "127.0.0.1",
                            "imap_password_encrypted": stolen})
        with self.assertRaises(AccessError):
            self.foreign.with_user(self.user_outsider).write({"imap_password_encrypted": stolen})


@tagged("post_install", "-at_install", "maildesk")
class TestReplyEscaping(AttackCase):
    """Item 7: header values from the mail stay text when they enter the reply / forward HTML."""

    EVIL_NAME = '"<img src=https://evil.test/pixel.png><b>Boss</b>" <boss@evil.test>'

    def test_reply_and_forward_quote_escape_headers(self):
        self.account.write({"smtp_host": "127.0.0.1"})
        message = self.make_message(self.account, subject="<i>Subject</i>", email_from=self.EVIL_NAME,
                                    email_to='"<u>Team</u>" <team@example.com>', message_id="<evil@example.com>")
        Compose = self.env["maildesk.compose"].with_user(self.user_member)
        for mode in ("reply", "reply_all", "forward"):
            body = Compose._prepare_from_parent(message.with_user(self.user_member), mode)["body_html"]
            with self.subTest(mode=mode):
                self.assertNotIn("<img", body)
                self.assertNotIn("<b>Boss", body)
                self.assertNotIn("<u>Team", body)
                self.assertIn("&lt;img src=https://evil.test/pixel.png&gt;", body)
        client_body = self.env["maildesk.client"].with_user(self.user_member).compose_defaults(
            "reply", message_id=message.id)["body_html"]
        self.assertNotIn("<img", client_body)
        self.assertIn("&lt;b&gt;Boss&lt;/b&gt;", client_body)

    def test_engine_quote(self):
        html = compose_engine.quote_html("On x, <script>y</script> wrote:", "<p>b</p>")
        self.assertNotIn("<script", html)


@tagged("post_install", "-at_install", "maildesk")
class TestTagsPerUser(AttackCase):
    """Item 8: tags are each user's own; the sync log follows the multi-company rule."""

    def test_tags_are_private_to_their_user(self):
        owner_tag = self.env["maildesk.tag"].with_user(self.user_owner).create({"name": "Follow-up"})
        self.message.sudo().tag_ids = [(4, owner_tag.id)]
        as_member = owner_tag.with_user(self.user_member)
        with self.assertRaises(AccessError):
            as_member.write({"name": "renamed by member"})
        with self.assertRaises(AccessError):
            as_member.unlink()
        with self.assertRaises(AccessError):
            as_member.read(["name"])
        self.assertFalse(self.env["maildesk.tag"].with_user(self.user_admin).search([("id", "=", owner_tag.id)]))
        # The same name is free for another user; each sees only their own on a shared message.
        member_tag = self.env["maildesk.tag"].with_user(self.user_member).create({"name": "Follow-up"})
        self.message.with_user(self.user_member).write({"tag_ids": [(4, member_tag.id)]})
        # One request = one user: the test drops the cache between users as requests would.
        self.message.invalidate_recordset()
        self.assertEqual(self.message.with_user(self.user_member).tag_ids, member_tag)
        self.message.invalidate_recordset()
        self.assertEqual(self.message.with_user(self.user_owner).tag_ids, owner_tag)
        self.message.invalidate_recordset()
        client = self.env["maildesk.client"].with_user(self.user_member)
        row = client.get_threads(account_id=self.account.id)["threads"][0]
        self.assertEqual(row["tag_ids"], [member_tag.id])
        self.assertEqual([t["id"] for t in client.get_mailboxes()["tags"]], [member_tag.id])
        self.assertEqual(client.get_thread(self.message.thread_id.id)["thread"]["tag_ids"], [member_tag.id])
        # The member clearing "their" tags leaves the owner's in place.
        self.message.invalidate_recordset()
        self.message.with_user(self.user_member).write({"tag_ids": [(5, 0, 0)]})
        self.message.invalidate_recordset()
        self.assertEqual(self.message.sudo().tag_ids, owner_tag)
        # The owner renames and deletes their own.
        owner_tag.with_user(self.user_owner).write({"name": "Done"})
        owner_tag.with_user(self.user_owner).unlink()

    def test_create_tag_through_client_is_per_user(self):
        owner = self.env["maildesk.client"].with_user(self.user_owner).create_tag("Urgent", 2)
        member = self.env["maildesk.client"].with_user(self.user_member).create_tag("urgent", 3)
        self.assertNotEqual(owner["id"], member["id"])
        self.assertEqual(self.env["maildesk.tag"].browse(member["id"]).user_id, self.user_member)

    def test_sync_log_multi_company(self):
        other = self.env["res.company"].create({"name": "Other Co"})
        self.user_admin.write({"company_ids": [(4, other.id)]})
        account = self.make_account(name="Other", email="o@example.com", company_id=other.id,
                                    owner_id=self.user_admin.id)
        account._log("sync", "info", "other company line")
        logs = self.env["maildesk.sync.log"].with_user(self.user_admin).with_context(
            allowed_company_ids=[self.env.company.id]).search([("account_id", "=", account.id)])
        self.assertFalse(logs)
        logs = self.env["maildesk.sync.log"].with_user(self.user_admin).with_context(
            allowed_company_ids=[other.id]).search([("account_id", "=", account.id)])
        self.assertEqual(len(logs), 1)


class _Garbage(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


class ProbingCase(AttackCase):
    """What a prober points a mailbox at: a closed port and a port that answers garbage."""

    def setUp(self):
        super().setUp()
        self.garbage = socketserver.TCPServer(("127.0.0.1", 0), _Garbage)
        threading.Thread(target=self.garbage.serve_forever, daemon=True).start()
        self.addCleanup(self.garbage.server_close)
        self.addCleanup(self.garbage.shutdown)
        self.closed_port = closed_port()


@tagged("post_install", "-at_install", "maildesk")
class TestConnectionTestProbing(ProbingCase):
    """Item 8: Test Connection is no port scanner: rate-limited, one answer for every refusal."""

    def wizard(self, port, security="none"):
        return self.env["maildesk.account.setup"].with_user(self.user_owner).create({
            "email": "me@example.com", "password": "pw", "imap_host": "127.0.0.1", "imap_port": port,
            "imap_security": security, "smtp_host": False})

    def test_one_message_whatever_the_refusal(self):
        open_port = self.garbage.server_address[1]
        messages = {}
        for label, port, security in (("closed port", self.closed_port, "none"),
                                      ("not a mail server", open_port, "none"),
                                      ("no TLS there", open_port, "ssl"),
                                      ("STARTTLS refused", open_port, "starttls")):
            wizard = self.wizard(port, security)
            wizard.action_test()
            self.assertEqual(wizard.test_state, "failed", label)
            messages[label] = wizard.test_message
        self.assertEqual(len(set(messages.values())), 1, messages)
        self.assertNotIn(str(open_port), next(iter(messages.values())))

    def test_account_test_connection_one_message(self):
        errors = set()
        for port, security in ((self.closed_port, "none"), (self.garbage.server_address[1], "none"),
                               (self.garbage.server_address[1], "ssl")):
            self.foreign.sudo().write({"imap_port": port, "imap_security": security})
            with self.assertRaises(UserError) as caught:
                self.foreign.with_user(self.user_outsider).action_test_connection()
            errors.add(str(caught.exception))
        self.assertEqual(len(errors), 1, errors)

    def test_rate_limited_per_user(self):
        wizard = self.wizard(self.closed_port)
        for _attempt in range(TEST_LIMIT):
            wizard.action_test()
        with self.assertRaisesRegex(UserError, "Too many connection tests"):
            wizard.action_test()
        with self.assertRaisesRegex(UserError, "Too many connection tests"):
            self.private.with_user(self.user_owner).action_test_connection()
        # Another user has their own budget.
        self.env["maildesk.account.setup"].with_user(self.user_member).create({
            "email": "m@example.com", "password": "pw", "imap_host": "127.0.0.1",
            "imap_port": self.closed_port, "imap_security": "none"}).action_test()


@tagged("post_install", "-at_install", "maildesk")
class TestSyncNowProbing(ProbingCase):
    """Sync now is no port scanner either: one stored error for every refusal, rate-limited."""

    def probe(self, port, security):
        """What the owner learns after pointing their mailbox at ``port`` and pressing Sync now."""
        account = self.private.with_user(self.user_owner)
        # The write guard wants the password typed again to send it to a new place: the owner knows it.
        account.write({"imap_port": port, "imap_security": security, "imap_password": "secret"})
        self.env["maildesk.client"].with_user(self.user_owner).sync_now(self.private.id)
        status = account.read(["state", "sync_error", "error_count"])[0]
        logs = self.env["maildesk.sync.log"].with_user(self.user_owner).search(
            [("account_id", "=", self.private.id)], limit=1)
        return status["state"], status["sync_error"], logs.message

    def test_one_error_whatever_the_refusal(self):
        open_port = self.garbage.server_address[1]
        seen = {}
        for label, port, security in (("closed port", self.closed_port, "none"),
                                      ("not a mail server", open_port, "none"),
                                      ("no TLS there", open_port, "ssl"),
                                      ("STARTTLS refused", open_port, "starttls")):
            seen[label] = self.probe(port, security)
        self.assertEqual(len(set(seen.values())), 1, seen)
        state, error, log_line = seen["closed port"]
        self.assertEqual(state, "error")
        self.assertEqual(error, cannot_connect_message())
        self.assertEqual(log_line, cannot_connect_message())
        self.assertNotIn(str(open_port), error)

    def test_account_button_same_error(self):
        account = self.private.with_user(self.user_owner)
        errors = set()
        for port in (self.closed_port, self.garbage.server_address[1]):
            account.write({"imap_port": port, "imap_password": "secret"})
            account.action_sync()
            errors.add(account.sync_error)
        self.assertEqual(errors, {cannot_connect_message()})

    def test_sync_now_rate_limited_per_user(self):
        client = self.env["maildesk.client"].with_user(self.user_owner)
        self.private.sudo().write({"imap_port": self.closed_port})
        for _attempt in range(SYNC_LIMIT):
            client.sync_now(self.private.id)
        with self.assertRaisesRegex(UserError, "Too many syncs"):
            client.sync_now(self.private.id)
        # The account button and Load more history share the budget: no way around it.
        with self.assertRaisesRegex(UserError, "Too many syncs"):
            self.private.with_user(self.user_owner).action_sync()
        with self.assertRaisesRegex(UserError, "Too many syncs"):
            self.private.with_user(self.user_owner).action_backfill()
        # A crafted context key changes nothing.
        with self.assertRaisesRegex(UserError, "Too many syncs"):
            client.with_context(su=True, sudo=True).sync_now(self.private.id)
        # Another user has their own budget; the cron (server code) is never counted.
        self.env["maildesk.client"].with_user(self.user_outsider).sync_now(self.foreign.id)
        self.env["maildesk.account"]._cron_sync()


@tagged("post_install", "-at_install", "maildesk")
class TestJsonRpcAttacks(HttpCase):
    """The same attacks through Odoo's real JSON-RPC endpoint, as a browser session would send them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        group = "maildesk_mail_client.group_maildesk_user"
        cls.owner = new_test_user(cls.env, login="rpc_owner", groups=group)
        cls.member = new_test_user(cls.env, login="rpc_member", groups=group)
        cls.account = cls.env["maildesk.account"].create({
            "name": "Shared", "email": "shared@example.com", "owner_id": cls.owner.id, "is_shared": True,
            "user_ids": [(6, 0, [cls.member.id])], "imap_host": "127.0.0.1", "imap_password": "pw"})
        cls.message = create_message(cls.env, cls.account, subject="Shared")

    def call(self, model, method, args, kwargs=None, context=None):
        return self.make_jsonrpc_request(f"/web/dataset/call_kw/{model}/{method}", {
            "model": model, "method": method, "args": args,
            "kwargs": dict(kwargs or {}, context=dict(context or {}, maildesk_from_sync=True))})

    def test_rpc_writes_refused(self):
        compose_id = self.env["maildesk.compose"].with_user(self.owner).create({
            "account_id": self.account.id, "email_bcc": "hidden@example.com"}).id
        self.authenticate("rpc_member", "rpc_member")
        attacks = [
            ("maildesk.message", "write", [[self.message.id], {"body_html": HOSTILE}]),
            ("maildesk.message", "write", [[self.message.id], {"subject": "forged"}]),
            ("maildesk.compose", "read", [[compose_id], ["email_bcc"]]),
            ("maildesk.draft", "create", [{"account_id": self.account.id, "user_id": self.owner.id}]),
        ]
        for model, method, args in attacks:
            with self.subTest(model=model, method=method), self.assertRaises(Exception) as caught:
                self.call(model, method, args)
            self.assertIn("AccessError", type(caught.exception).__name__ + str(caught.exception))
        self.message.invalidate_recordset()
        self.assertEqual(self.message.subject, "Shared")
        self.assertNotIn("script", str(self.message.body_html))


    def test_rpc_cannot_reach_the_ingest_path(self):
        """The sync's trusted entry points (bodies stored unsanitized, vectors kept as given) are
        private methods; the search column is not a column users write (the guard refuses it)."""
        self.authenticate("rpc_member", "rpc_member")
        folder_id = self.message.folder_id.id
        vals = {"account_id": self.account.id, "folder_id": folder_id, "remote_id": "1:99",
                "message_id": "<injected@evil.test>", "subject": "Injected", "body_html": HOSTILE}
        attacks = [
            ("maildesk.message", "_create_ingested", [[vals]]),
            ("maildesk.message", "_ingest", [folder_id, []]),
            ("maildesk.message", "_apply_batch", [folder_id, {}]),
            ("maildesk.folder", "_run_sync", [[folder_id], None, None]),
        ]
        for model, method, args in attacks:
            with self.subTest(method=method), self.assertRaises(Exception) as caught:
                self.call(model, method, args)
            self.assertIn("AccessError", type(caught.exception).__name__ + str(caught.exception))
        with self.assertRaises(Exception) as caught:
            self.call("maildesk.message", "write", [[self.message.id], {"search_vector": "'forged':1"}])
        self.assertIn("AccessError", type(caught.exception).__name__ + str(caught.exception))
        self.assertFalse(self.env["maildesk.message"].sudo().search_count(
            [("message_id", "=", "<injected@evil.test>")]))
        self.env.cr.execute("SELECT search_vector::text FROM maildesk_message WHERE id = %s", (self.message.id,))
        self.assertNotIn("forged", self.env.cr.fetchone()[0] or "")

@tagged("post_install", "-at_install", "maildesk", "maildesk_tours")
class TestBackendBodySandbox(HttpCase):
    """Item 2, as a user sees it: the backend message form shows the body in the sandbox only."""

    def test_message_form_renders_body_in_sandbox(self):
        user = new_test_user(self.env, login="sandbox_user", groups="maildesk_mail_client.group_maildesk_user")
        account = self.env["maildesk.account"].create({"name": "Box", "email": "box@example.com",
                                                       "owner_id": user.id, "imap_host": "127.0.0.1"})
        message = create_message(self.env, account, subject="Sandbox", body_html="<p>Sandboxed body</p>")
        self.start_tour(f"/web#model=maildesk.message&id={message.id}&view_type=form",
                        "maildesk_tour_message_form_sandbox", login="sandbox_user")
