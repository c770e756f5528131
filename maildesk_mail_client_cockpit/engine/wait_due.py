"""Each wait's SLA due time, in a narrow table beside the messages.

The SLA cron moves the due time of every open wait whenever a policy or calendar changes
(50,000 at 1M messages). As a column of ``maildesk_message`` each such write was a new
version of a wide row and an entry in each of its ~20 indexes (0.5 ms a wait: most of a 30 s
first run at 1M); here it is a 3-column row with two indexes.

A row exists for every wait that had a due time (open or answered: the history needs
both); it goes with its message (a row trigger on the message's delete: what ``ON DELETE
CASCADE`` did). There is no foreign key: its check locked the message row of every inserted
due time (``SELECT ... FOR KEY SHARE``, a write to the wide message's page), 40 % of the
first SLA run's due writes at 1M. ``upsert_sql`` joins the message instead, so a due time is
written only for a stored message; a row left by a message deleted while the SLA run wrote
it is never read (every reader joins the message). Readers join it by message id
(``kpi.py``, ``report_sql.py``, ``rollup.py``); the rollup's dirty marks for it are
statement triggers there (``rollup.DUE_TRIGGERS``).
"""

TABLE = "maildesk_cockpit_wait_due"

GONE_TRIGGER = "maildesk_ck_wait_due_gone"  # trigger and function on maildesk_message

DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    message_id int PRIMARY KEY,
    account_id int NOT NULL,
    due_at timestamp NOT NULL
);
ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {TABLE}_message_id_fkey;  -- before 17.0.1.2.0
-- Waits by due time per mailbox (overdue events, breaches), read index-only.
CREATE INDEX IF NOT EXISTS {TABLE}_due_idx ON {TABLE} (account_id, due_at) INCLUDE (message_id);
CREATE OR REPLACE FUNCTION {GONE_TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {TABLE} WHERE message_id = OLD.id;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS {GONE_TRIGGER} ON maildesk_message;
CREATE TRIGGER {GONE_TRIGGER} AFTER DELETE ON maildesk_message FOR EACH ROW EXECUTE FUNCTION {GONE_TRIGGER}();
"""

UNINSTALL = f"""
DROP TRIGGER IF EXISTS {GONE_TRIGGER} ON maildesk_message;
DROP FUNCTION IF EXISTS {GONE_TRIGGER}();
DROP TABLE IF EXISTS {TABLE};
"""


def join(message="m", alias="d"):
    """``LEFT JOIN`` giving ``{alias}.due_at`` for the message ``{message}`` (NULL: no due time)."""
    return f" LEFT JOIN {TABLE} {alias} ON {alias}.message_id = {message}.id"


def upsert_sql():
    """Write due times: ``%s`` message ids, ``%s`` due times (arrays of the same length). The
    mailbox is the message's own; an unchanged due time writes nothing."""
    return f"""
        INSERT INTO {TABLE} (message_id, account_id, due_at)
        SELECT m.id, m.account_id, v.due
          FROM unnest(%s::int[], %s::timestamp[]) AS v(id, due)
          JOIN maildesk_message m ON m.id = v.id
         WHERE m.account_id IS NOT NULL
        ON CONFLICT (message_id) DO UPDATE SET due_at = EXCLUDED.due_at, account_id = EXCLUDED.account_id
         WHERE ({TABLE}.due_at, {TABLE}.account_id) IS DISTINCT FROM (EXCLUDED.due_at, EXCLUDED.account_id)
    """
