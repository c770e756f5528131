"""17.0.1.1.0: the run log's references become plain integer columns without foreign keys.

``maildesk_rule_run`` had seven foreign keys (rule, mailbox, company, conversation,
message, create_uid, write_uid): checking them made its one INSERT per batch cost more
than the rules. Rename the reference columns to the new ``*_ref`` names (keeping the
lines), drop the keys and the indexes the new model does not declare, keep the rule's
name for grouping, and drop the columns the model no longer has. A database without the
old columns has nothing to do.
"""

RENAMED = {"rule_id": "rule_ref", "account_id": "account_ref", "thread_id": "thread_ref",
           "message_id": "message_ref"}


def migrate(cr, version):
    if not version:
        return
    cr.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'maildesk_rule_run'")
    present = {row[0] for row in cr.fetchall()}
    if "rule_id" not in present:
        return
    cr.execute("""SELECT conname FROM pg_constraint
                   WHERE conrelid = 'maildesk_rule_run'::regclass AND contype = 'f'""")
    for (name,) in cr.fetchall():
        cr.execute(f'ALTER TABLE maildesk_rule_run DROP CONSTRAINT IF EXISTS "{name}"')  # name from the catalog
    cr.execute("""DROP INDEX IF EXISTS maildesk_rule_run__rule_id_index, maildesk_rule_run__account_id_index,
                                       maildesk_rule_run__thread_id_index, maildesk_rule_run__message_id_index""")
    for old, new in RENAMED.items():
        if old in present and new not in present:
            cr.execute(f"ALTER TABLE maildesk_rule_run RENAME COLUMN {old} TO {new}")  # names from RENAMED
    cr.execute("ALTER TABLE maildesk_rule_run ADD COLUMN IF NOT EXISTS rule_name varchar")
    cr.execute("""UPDATE maildesk_rule_run l SET rule_name = r.name
                    FROM maildesk_rule r WHERE r.id = l.rule_ref AND l.rule_name IS NULL""")
    for column in ("company_id", "create_uid", "write_uid", "write_date"):
        cr.execute(f"ALTER TABLE maildesk_rule_run DROP COLUMN IF EXISTS {column}")  # fixed names
