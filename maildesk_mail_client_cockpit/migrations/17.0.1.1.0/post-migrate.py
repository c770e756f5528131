"""17.0.1.1.0: each wait's SLA due time moved from ``maildesk_message.ck_due_at`` to its own
narrow table (engine/wait_due.py; created by the message model's init before this runs)."""
from odoo.addons.maildesk_mail_client_cockpit.engine import wait_due


def migrate(cr, version):
    cr.execute("SELECT 1 FROM information_schema.columns "
               "WHERE table_name = 'maildesk_message' AND column_name = 'ck_due_at'")
    if not cr.fetchone():
        return
    cr.execute(f"""INSERT INTO {wait_due.TABLE} (message_id, account_id, due_at)
                   SELECT id, account_id, ck_due_at FROM maildesk_message
                    WHERE ck_due_at IS NOT NULL AND account_id IS NOT NULL
                   ON CONFLICT (message_id) DO NOTHING""")
    cr.execute("ALTER TABLE maildesk_message DROP COLUMN ck_due_at")
