"""PostgreSQL array literals (``'{1,NULL,"2026-03-02 09:00:00"}'``) for large bulk parameters.

psycopg2 sends a Python list as ``ARRAY[v1, v2, ...]``: every element is adapted on its own
(an adapter object, a failed ``prepare`` lookup raising AttributeError) and parsed by the
server as one expression each. The SLA run sends 40,000 values a batch; as one text literal
cast with ``%s::int[]`` (or ``timestamp[]``, ``varchar[]``, ``float8[]``) they are one
parameter and one ``array_in`` call.
"""


def _element(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)  # str, datetime (ISO with a space: what PostgreSQL reads), date
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(values):
    """The array literal of ``values`` (None, bool, int, float, str, date, datetime)."""
    return "{" + ",".join(map(_element, values)) + "}"
