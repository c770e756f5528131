"""PostgreSQL array literals (``'{1,NULL,"2026-03-02 09:00:00"}'``) for large bulk parameters.

psycopg2 sends a Python list as ``ARRAY[v1, v2, ...]``: every element is adapted on its own
(an adapter object, a failed ``prepare`` lookup raising AttributeError) and parsed by the
server as one expression each. The cockpit's SLA run sends 40,000 values a batch (automation's
tag rows thousands); as one text literal
cast with ``%s::int[]`` (or ``timestamp[]``, ``varchar[]``, ``float8[]``) they are one
parameter and one ``array_in`` call.
"""
from datetime import date


def _quoted(text):
    """One element as a double-quoted array string (backslash and quote escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _element(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int | float):
        return repr(value)
    return _quoted(str(value))  # str, datetime (ISO with a space: what PostgreSQL reads), date


def literal(values):
    """The array literal of ``values`` (None, bool, int, float, str, date, datetime: one kind)."""
    values = list(values)
    sample = next((v for v in values if v is not None), None)
    if type(sample) is int:  # the list's own repr, in C: "[1, None, 3]"
        return "{" + repr(values)[1:-1].replace("None", "NULL") + "}"
    if isinstance(sample, date):  # ISO text, nothing to escape
        return "{" + ",".join(["NULL" if v is None else f'"{v}"' for v in values]) + "}"
    if isinstance(sample, str):
        return "{" + ",".join(["NULL" if v is None else _quoted(v) for v in values]) + "}"
    return "{" + ",".join(map(_element, values)) + "}"
