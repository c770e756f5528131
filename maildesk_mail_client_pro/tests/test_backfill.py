"""The one-off header backfill against a real IMAP server (Dovecot on loopback)."""
from odoo.addons.maildesk_mail_client.tests.common import ImapCase
from odoo.tests import tagged

from ..models.maildesk_message import HEADER_FIELDS, PARAM_DONE, PARAM_UPTO

RAW = (b"From: Alice <alice@x.example>\r\nTo: me@example.com\r\nSubject: Old mail\r\n"
       b"Message-ID: <backfill-1@x.example>\r\nDate: Mon, 02 Nov 2026 09:00:00 +0000\r\n"
       b"Authentication-Results: mx.example.com; spf=pass; dmarc=fail header.from=x.example\r\n"
       b"List-Id: Team list <team.x.example>\r\nPrecedence: list\r\nReturn-Path: <bounce@x.example>\r\n"
       b"\r\nHello\r\n")


@tagged("post_install", "-at_install", "maildesk")
class TestHeaderBackfill(ImapCase):
    def test_backfill_reads_headers_from_the_server(self):
        """Mail stored without the six headers gets them from the server, once; then the job stops."""
        self.append([RAW])
        self.account.action_sync()
        message = self.messages()
        self.assertEqual(len(message), 1)
        message.with_context(maildesk_from_sync=True).write(dict.fromkeys(HEADER_FIELDS, False))
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(PARAM_UPTO, "0")
        params.set_param(PARAM_DONE, "0")
        Message = self.env["maildesk.message"]
        while Message._backfill_headers():
            pass
        self.assertIn("dmarc=fail", message.authentication_results)
        self.assertEqual(message.precedence, "list")
        self.assertEqual(message.return_path, "bounce@x.example")
        self.assertTrue(message.list_id)
        self.assertEqual(Message._backfill_headers(), 0)
