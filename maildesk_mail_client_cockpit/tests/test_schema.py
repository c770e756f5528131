"""The tables as every addon's ``init()`` leaves them when the cockpit sits on top: one
``init()`` runs per model (the class highest in the MRO), so each addon's must call the next."""
from odoo.tests import tagged

from ..engine import wait_due
from .common import CockpitCase


@tagged("post_install", "-at_install", "maildesk")
class TestCockpitSchema(CockpitCase):
    def indexes(self):
        self.env.cr.execute("SELECT indexname FROM pg_indexes WHERE tablename IN ('maildesk_message', "
                            "'maildesk_thread')")
        return {row[0] for row in self.env.cr.fetchall()}

    def test_init_runs_every_addons_part(self):
        cr = self.env.cr
        # The base's, the automation's and the cockpit's work, undone (rolled back with the test).
        cr.execute("DROP INDEX maildesk_message_folder_thread_idx, maildesk_thread_provider_thread_idx, "
                   "maildesk_thread_sla_running_idx")
        cr.execute("CREATE INDEX maildesk_thread__is_noise_index ON maildesk_thread (is_noise)")
        cr.execute("CREATE INDEX maildesk_message__is_auto_generated_index ON maildesk_message (is_auto_generated)")
        self.env["maildesk.message"].init()
        self.env["maildesk.thread"].init()
        names = self.indexes()
        for created in ("maildesk_message_folder_thread_idx", "maildesk_thread_provider_thread_idx",
                        "maildesk_thread_sla_running_idx", "maildesk_thread_is_noise_idx"):
            self.assertIn(created, names)
        for dropped in ("maildesk_thread__is_noise_index", "maildesk_message__is_auto_generated_index",
                        "maildesk_thread__sla_due_at_index"):
            self.assertNotIn(dropped, names)

    def test_due_times_have_no_foreign_key_and_go_with_their_message(self):
        cr = self.env.cr
        cr.execute("SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
                   (wait_due.TABLE,))
        self.assertEqual(cr.fetchone()[0], 0)
        message = self.store(self.thread(subject="Due"))
        self.env.flush_all()
        cr.execute(wait_due.upsert_sql(), ([message.id], ["2026-03-02 17:00:00"]))
        cr.execute(f"SELECT count(*) FROM {wait_due.TABLE} WHERE message_id = %s", (message.id,))
        self.assertEqual(cr.fetchone()[0], 1)
        cr.execute("DELETE FROM maildesk_message WHERE id = %s", (message.id,))  # whatever deletes it
        cr.execute(f"SELECT count(*) FROM {wait_due.TABLE} WHERE message_id = %s", (message.id,))
        self.assertEqual(cr.fetchone()[0], 0)
