"""The search column kept by its trigger, and the sync's vectors made on a second connection."""
from unittest.mock import patch

from odoo.tests import tagged

from ..models import maildesk_search_vector
from ..models.maildesk_message import SEARCH_VECTORS
from ..models.maildesk_search_vector import SearchVectors
from .common import MaildeskCase


@tagged("post_install", "-at_install", "maildesk")
class TestSearchVector(MaildeskCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.make_account()
        cls.folder = cls.env["maildesk.folder"].create({"account_id": cls.account.id, "name": "INBOX",
                                                        "path": "INBOX", "role": "inbox"})

    def vals(self, i, **kwargs):
        return {"account_id": self.account.id, "company_id": self.account.company_id.id,
                "folder_id": self.folder.id, "remote_id": f"1:{i}",
                "message_id": f"<v{i}@example.org>", "subject": f"Zürich plan {i}",
                "email_from": f"Ann <ann{i}@example.org>", "email_to": "owner@example.com",
                "body_text": f"Quarterly numbers, part {i}.", **kwargs}

    def stored_vector(self, message):
        self.env.flush_all()
        self.env.cr.execute("SELECT search_vector::text FROM maildesk_message WHERE id = %s", (message.id,))
        return self.env.cr.fetchone()[0]

    def computed_vector(self, message):
        self.env.flush_all()
        self.env.cr.execute("""SELECT maildesk_search_vector(subject, email_from, email_to, email_cc, body_text)::text
                                 FROM maildesk_message WHERE id = %s""", (message.id,))
        return self.env.cr.fetchone()[0]

    def ingest(self, vals_list, vectors):
        token = SEARCH_VECTORS.set(vectors)
        try:
            return self.env["maildesk.message"].sudo()._create_ingested(vals_list)
        finally:
            SEARCH_VECTORS.reset(token)

    def test_second_connection_gives_the_triggers_vectors(self):
        """The vectors made on the second connection are the ones the trigger stores."""
        vals_list = [self.vals(i) for i in range(3)]
        vectors = SearchVectors(self.env.cr.dbname, vals_list)
        self.assertEqual(len(vectors.column(vals_list)), 3)
        for message in self.ingest(vals_list, vectors):
            self.assertEqual(self.stored_vector(message), self.computed_vector(message))
            self.assertIn("'zurich'", self.stored_vector(message))

    def test_insert_keeps_the_vectors_it_brings(self):
        """The sync's INSERT stores the vectors it was given (the trigger does not compute them again)."""
        vals_list = [self.vals(i) for i in range(2)]
        vectors = SearchVectors(self.env.cr.dbname, vals_list)
        vectors.column(vals_list)
        vectors._vectors = ["'given':1", "'given':2"]
        messages = self.ingest(vals_list, vectors)
        self.assertEqual([self.stored_vector(m) for m in messages], ["'given':1", "'given':2"])

    def test_changed_text_is_not_trusted(self):
        """A text changed after the vectors were asked for makes the whole batch use the trigger."""
        vals_list = [self.vals(i) for i in range(3)]
        vectors = SearchVectors(self.env.cr.dbname, vals_list)
        vals_list[1]["subject"] = "Invoice overdue"
        self.assertIsNone(vectors.column(vals_list))
        message = self.ingest(vals_list, vectors)[1]
        self.assertIn("'invoice'", self.stored_vector(message))
        self.assertEqual(self.stored_vector(message), self.computed_vector(message))

    def test_failed_second_connection_stores_the_batch(self):
        """No second connection: the batch is stored all the same, the trigger computes its vectors."""
        vals_list = [self.vals(i) for i in range(3)]
        with patch.object(maildesk_search_vector.sql_db, "db_connect", side_effect=OSError("no connection")):
            vectors = SearchVectors(self.env.cr.dbname, vals_list)
            self.assertIsNone(vectors.column(vals_list))
        messages = self.ingest(vals_list, vectors)
        self.assertEqual(len(messages), 3)
        for message in messages:
            self.assertEqual(self.stored_vector(message), self.computed_vector(message))

    def test_text_change_recomputes(self):
        """Writing the text computes the vector again; a forged vector does not stay."""
        message = self.ingest([self.vals(1)], None)
        message.with_context(maildesk_from_sync=True).write({"subject": "Budget review"})
        self.assertIn("'budget'", self.stored_vector(message))
        self.env.cr.execute("UPDATE maildesk_message SET search_vector = 'forged' WHERE id = %s", (message.id,))
        self.assertEqual(self.stored_vector(message), self.computed_vector(message))

    def test_flag_change_keeps_vector(self):
        """Flags do not touch the vector (the trigger does not fire for them)."""
        message = self.ingest([self.vals(1)], None)
        before = self.stored_vector(message)
        message.with_context(maildesk_from_sync=True).write({"is_read": True})
        self.assertEqual(self.stored_vector(message), before)
