"""A conversation's state from its human message dates: the Python twin of the SQL.

``maildesk.thread._refresh_conversation_state`` computes the state in one statement per
stored batch; the rules planned before the INSERT (``maildesk.rule._plan_at_insert``) need
the state the batch will leave, before its messages exist. Same definitions (addon README,
"Conversation state"); the Odoo tier checks both agree.
"""


def conversation_state(is_closed, closed_at, last_in, last_out):
    """``closed``, ``waiting_for_us``, ``waiting_for_them`` or "" (no human message).

    ``last_in`` / ``last_out``: newest human incoming / outgoing date (None when none). A
    closed conversation reopens when a human message is dated after ``closed_at``.
    """
    latest = max((d for d in (last_in, last_out) if d is not None), default=None)
    if is_closed and not (latest is not None and closed_at is not None and latest > closed_at):
        return "closed"
    if last_in is not None and (last_out is None or last_in > last_out):
        return "waiting_for_us"
    if last_out is not None:
        return "waiting_for_them"
    return ""
