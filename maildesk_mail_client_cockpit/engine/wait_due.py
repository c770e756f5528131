"""Each wait's SLA due time, in a narrow table beside the messages.

The SLA cron moves the due time of every open wait whenever a policy or calendar changes
(50,000 at 1M messages). As a column of ``maildesk_message`` each such write was a new
version of a wide row and an entry in each of its ~20 indexes (0.5 ms a wait: most of a 30 s
first run at 1M); here it is a 3-column row with two indexes.

A row exists for every wait that had a due time (open or answered: the history needs
both); it goes with its message (``ON DELETE CASCADE``). Readers join it by message id
(``kpi.py``, ``report_sql.py``, ``rollup.py``); the rollup's dirty marks for it are
statement triggers there (``rollup.DUE_TRIGGERS``).
"""

TABLE = "maildesk_cockpit_wait_due"

DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    message_id int PRIMARY KEY REFERENCES maildesk_message (id) ON DELETE CASCADE,
    account_id int NOT NULL,
    due_at timestamp NOT NULL
);
-- Waits by due time per mailbox (overdue events, breaches), read index-only.
CREATE INDEX IF NOT EXISTS {TABLE}_due_idx ON {TABLE} (account_id, due_at) INCLUDE (message_id);
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
