"""The sync's bulk INSERT stores and caches what ``create`` does, plain values and others alike."""
from datetime import datetime

from markupsafe import Markup
from odoo.tests import tagged

from ..models.maildesk_bulk import bulk_create
from .common import MaildeskCase


@tagged("post_install", "-at_install", "maildesk")
class TestBulkCreateIsCreate(MaildeskCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.make_account()
        cls.folder = cls.make_folder(cls.account, "INBOX", role="inbox")
        cls.thread = cls.env["maildesk.thread"].create({"account_id": cls.account.id, "subject": "Hi"})

    def vals(self, index):
        return {
            "account_id": self.account.id, "company_id": self.account.company_id.id, "folder_id": self.folder.id,
            "thread_id": self.thread.id if index % 2 else False, "remote_id": f"1:{index}",
            "message_id": f"<m{index}@example.com>", "in_reply_to": False, "subject": "Grüße" if index else "",
            "email_from": "Anna <anna@example.com>", "from_address": "anna@example.com", "email_to": "",
            "date": datetime(2026, 1, 2, 3, 4, 5) if index % 2 else False, "size": index * 1000,
            "body_html": Markup("<p>Hello</p>") if index % 2 else "<p>Hi</p>", "body_text": "Hello",
            "is_read": bool(index % 2), "is_starred": 0 if index % 3 else 1, "direction": "outgoing" if index else
            "incoming", "body_state": "full", "has_attachments": False, "partner_id": False,
        }

    def stored(self, records):
        names = [name for name, field in records._fields.items() if field.store and field.column_type
                 and name not in ("id", "create_date", "write_date", "remote_id", "message_id", "search_vector")]
        cached = [[record[name] for name in names] for record in records]
        records.invalidate_recordset()
        return cached, [[record[name] for name in names] for record in records]

    def test_same_rows_and_cache_as_create(self):
        Message = self.env["maildesk.message"].sudo()
        by_orm = Message.create([self.vals(i) for i in range(4)])
        by_bulk = bulk_create(Message, [{**self.vals(i), "remote_id": f"2:{i}", "message_id": f"<b{i}@x>"}
                                         for i in range(4)])
        orm_cache, orm_rows = self.stored(by_orm)
        bulk_cache, bulk_rows = self.stored(by_bulk)
        self.assertEqual(bulk_rows, orm_rows)
        self.assertEqual(bulk_cache, orm_cache)
        self.assertEqual(bulk_cache, bulk_rows)
