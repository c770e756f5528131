"""The search column kept by its trigger, and the sync's vectors made on a second connection."""
from types import SimpleNamespace
from unittest.mock import patch

from odoo.tests import tagged

from ..engine.provider import RemoteMessage, SyncOptions
from ..models import maildesk_search_vector
from ..models.maildesk_message import SEARCH_VECTORS
from ..models.maildesk_search_vector import MIN_BATCH, SOURCES, SearchVectors, SearchVectorsAhead
from .common import ImapCase, MaildeskCase, mailgen


@tagged("post_install", "-at_install", "maildesk")
class TestSearchVector(MaildeskCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account = cls.make_account()
        cls.folder = cls.make_folder(cls.account, "INBOX", role="inbox")

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

    # -- the head start: vectors started from the provider's prefetch thread -----------------
    def parsed_remote(self, i):
        vals = self.vals(i)
        return RemoteMessage(remote_id=vals["remote_id"], raw=b"",
                             parsed=SimpleNamespace(**{name: vals.get(name, "") for name in SOURCES}))

    def test_head_start_vectors_are_found_by_remote_id(self):
        """Vectors started for a parsed batch serve the values made later, any subset in any order."""
        ahead = SearchVectorsAhead(self.env.cr.dbname)
        ahead.start([self.parsed_remote(i) for i in range(MIN_BATCH)])
        vals_list = [self.vals(i) for i in (7, 1, 3)]
        vectors = ahead.take([vals["remote_id"] for vals in vals_list])
        self.assertIsNotNone(vectors)
        self.assertIsNone(ahead.take([vals_list[0]["remote_id"]]), "taken once")
        self.assertEqual(len(vectors.column(vals_list)), 3)
        for message in self.ingest(vals_list, vectors):
            self.assertEqual(self.stored_vector(message), self.computed_vector(message))
            self.assertIn("'zurich'", self.stored_vector(message))

    def test_head_start_serves_only_its_own_batch(self):
        """Ids of another batch, unknown ids or a batch too small to start get no vectors; a batch
        taken drops the ones started before it (they held no new mail)."""
        ahead = SearchVectorsAhead(self.env.cr.dbname)
        first = [self.parsed_remote(i) for i in range(MIN_BATCH)]
        second = [self.parsed_remote(100 + i) for i in range(MIN_BATCH)]
        ahead.start(first)
        ahead.start(second)
        ahead.start([self.parsed_remote(200 + i) for i in range(MIN_BATCH - 1)])
        self.assertIsNone(ahead.take(["1:0", "1:100"]), "ids of two batches")
        self.assertIsNone(ahead.take(["9:9"]))
        self.assertIsNotNone(ahead.take(["1:100", "1:101"]))
        self.assertIsNone(ahead.take(["1:0"]), "an older batch is dropped")
        self.assertIsNone(ahead.take(["1:200"]), "too small: never started")
        ahead.close()

    def test_changed_text_after_head_start_uses_the_trigger(self):
        """An override that changes a subject after the head start: the trigger computes the vectors."""
        ahead = SearchVectorsAhead(self.env.cr.dbname)
        ahead.start([self.parsed_remote(i) for i in range(MIN_BATCH)])
        vals_list = [self.vals(i) for i in range(MIN_BATCH)]
        vals_list[4]["subject"] = "Invoice overdue"
        vectors = ahead.take([vals["remote_id"] for vals in vals_list])
        self.assertIsNone(vectors.column(vals_list))
        message = self.ingest(vals_list, vectors)[4]
        self.assertIn("'invoice'", self.stored_vector(message))


@tagged("post_install", "-at_install", "maildesk")
class TestSearchVectorHeadStart(ImapCase):
    def test_prefetched_sync_stores_the_vectors_started_ahead(self):
        """A first sync of several batches: each batch takes the vectors its prefetch started, and every
        stored vector is the trigger's."""
        self.append(mailgen.generate(60, seed=21))
        Account = type(self.env["maildesk.account"])
        taken = []
        take = SearchVectorsAhead.take

        def counting_take(ahead, remote_ids):
            vectors = take(ahead, remote_ids)
            taken.append(vectors is not None)
            return vectors

        with patch.object(Account, "_get_sync_options",
                          lambda acc: SyncOptions(bootstrap=acc.bootstrap_size, batch_size=20, parse_workers=0)), \
                patch.object(SearchVectorsAhead, "take", counting_take):
            self.account._sync()
        messages = self.messages()
        self.assertEqual(len(messages), 60)
        self.assertEqual(taken, [True, True, True])
        self.env.flush_all()
        self.env.cr.execute("""SELECT count(*) FROM maildesk_message
                                WHERE account_id = %s AND search_vector IS NOT DISTINCT FROM
                                      maildesk_search_vector(subject, email_from, email_to, email_cc, body_text)""",
                            (self.account.id,))
        self.assertEqual(self.env.cr.fetchone()[0], 60)
