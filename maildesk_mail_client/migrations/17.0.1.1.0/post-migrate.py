"""17.0.1.1.0: push subscription state moves from maildesk_account to maildesk_account_push.

Gmail watch and Graph subscription columns were on the account row, which a sync writes
in a long transaction (see models/maildesk_realtime.py). Copy what the old columns hold
so live mailboxes stay live across the upgrade, then drop the old columns (one held the
encrypted clientState: it should not linger on the account). A database without them
has nothing to copy.
"""

COLUMNS = ("gmail_watch_expires_at", "gmail_watch_renewed_at", "graph_subscription_id",
           "graph_subscription_expires_at", "graph_client_state_encrypted")


def migrate(cr, version):
    if not version:
        return
    cr.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'maildesk_account' "
               "AND column_name IN %s", (COLUMNS,))
    present = [row[0] for row in cr.fetchall()]
    if len(present) != len(COLUMNS):
        return
    cr.execute("""
        INSERT INTO maildesk_account_push (account_id, gmail_watch_expires_at, gmail_watch_renewed_at,
                                           graph_subscription_id, graph_subscription_expires_at,
                                           graph_client_state_encrypted)
             SELECT id, gmail_watch_expires_at, gmail_watch_renewed_at, graph_subscription_id,
                    graph_subscription_expires_at, graph_client_state_encrypted
               FROM maildesk_account
              WHERE gmail_watch_expires_at IS NOT NULL OR graph_subscription_id IS NOT NULL
        ON CONFLICT (account_id) DO NOTHING""")
    for column in COLUMNS:
        cr.execute(f"ALTER TABLE maildesk_account DROP COLUMN IF EXISTS {column}")  # names from COLUMNS above
