from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import MaildeskCase


@tagged("post_install", "-at_install", "maildesk")
class TestSecrets(MaildeskCase):
    def test_password_is_stored_encrypted(self):
        """The IMAP password is stored as ciphertext, never as the plain value."""
        account = self.make_account(imap_password="hunter2-secret")
        account.flush_recordset()
        self.env.cr.execute("SELECT imap_password_encrypted FROM maildesk_account WHERE id = %s", (account.id,))
        stored = self.env.cr.fetchone()[0]
        self.assertTrue(stored.startswith("md1:"))
        self.assertNotIn("hunter2", stored)
        self.assertEqual(account._get_secret("imap_password_encrypted"), "hunter2-secret")

    def test_password_reads_back_empty(self):
        """Nobody, not even an admin, reads a password back through the ORM/RPC."""
        account = self.make_account(imap_password="hunter2-secret")
        for user in (self.user_owner, self.user_admin):
            values = account.with_user(user).read(["imap_password", "smtp_password", "has_password"])[0]
            self.assertFalse(values["imap_password"])
            self.assertTrue(values["has_password"])

    def test_write_then_read_does_not_echo_password(self):
        """Saving a form reads it back in the same request: the password is not echoed."""
        account = self.make_account()
        account.with_user(self.user_owner).write({"imap_password": "typed-now"})
        self.assertFalse(account.with_user(self.user_owner).read(["imap_password"])[0]["imap_password"])

    def test_ciphertext_column_is_admin_only(self):
        """The ciphertext column itself is not readable by a Mailbox User."""
        account = self.make_account()
        with self.assertRaises(AccessError):
            account.with_user(self.user_owner).read(["imap_password_encrypted"])

    def test_owner_can_set_password(self):
        """The owner may replace the password they cannot read."""
        account = self.make_account()
        account.with_user(self.user_owner).write({"imap_password": "new-one"})
        self.assertEqual(account._get_secret("imap_password_encrypted"), "new-one")

    def test_key_does_not_live_in_the_database(self):
        """No system parameter or column holds the encryption key."""
        key = self.env["maildesk.account"]._get_encryption_key()
        self.env.cr.execute("SELECT count(*) FROM ir_config_parameter WHERE value = %s", (key,))
        self.assertEqual(self.env.cr.fetchone()[0], 0)
