"""The ingest's bulk INSERT: ``create`` for the sync's own rows, without the ORM's per-record work.

What it is
----------
``bulk_create(model, vals_list)`` stores new rows of a MailDesk model the way ``create``
does (same columns, defaults, audit columns, cache, inverse one2many caches, recomputation
triggers, constraints) in parameterised multi-row ``INSERT ... RETURNING id`` statements. The ORM's
``create`` spends much of its Python time per record: a ``default_get`` and some thirty
cache writes for each, value conversion through its SQL builder. Here defaults are asked
once per batch and the cache is filled per field; the INSERTs are the same (100 rows each).

Where it is used
----------------
Only on the sync's privileged paths (superuser or ``trusted_ingest()``): new messages of a
synced batch and their new conversations. Values come from the engine (parsed, sanitized);
the callers complete them first (``maildesk.message._complete_vals``), which is where the
upper addons add their create-side logic. A ``create`` override of these models does not see
synced rows: override the completion hook instead.

Caveats
-------
Whatever the fast path cannot do the way the ORM does falls back to ``model.create``: values
for fields that are not plain stored columns (x2many, translated, company-dependent,
inverse), a stored computed field left for the ORM to compute, ``_inherits`` and
``_parent_store`` models.
"""
from collections import defaultdict

from odoo import _
from odoo.exceptions import AccessError
from odoo.models import INSERT_BATCH_SIZE, LOG_ACCESS_COLUMNS

from .maildesk_guard import is_trusted_ingest

_SKIPPED = frozenset(["id", *LOG_ACCESS_COLUMNS])
_UNCHANGED = {"char": str, "text": str, "boolean": bool, "integer": int, "many2one": int, "selection": str}


def _plain_column(field):
    return (field.store and field.column_type and not field.translate and not field.company_dependent
            and not field.inverse and field.type != "properties" and not getattr(field, "attachment", False))


def _unchanged(model, field):
    """A test for the values ``field`` both stores and caches as they are (plain str, int, bool).

    The ORM's conversions return those values unchanged (``convert_to_column`` and
    ``convert_to_cache`` of untranslated Char without size and Text, Boolean, Integer, a
    Many2one given a non-zero id, a Selection given one of its values) but cost a few
    calls each; with ~45 columns a row they were most of the INSERT's Python time.
    Any other value, or field, goes through the ORM's conversion.
    """
    kind = _UNCHANGED.get(field.type)
    if kind is None or field.translate or getattr(field, "size", None) or getattr(field, "delegate", False):
        return _never
    if field.type == "selection":
        allowed = frozenset(value for value in field.get_values(model.env) if isinstance(value, str))
        return lambda value: type(value) is str and value in allowed
    if field.type == "many2one":
        return lambda value: type(value) is int and value != 0
    return lambda value: type(value) is kind


def _never(value):
    return False


def bulk_create(model, vals_list, raw_columns=None):
    """Create ``model`` records from ``vals_list`` with multi-row INSERTs; returns them (see the module docstring).

    ``raw_columns``: ``{column: [value per row]}`` for table columns that are not fields (the
    message's search vector), stored as given; dropped when the rows go through ``create``.
    """
    if not vals_list:
        return model.browse()
    if not (model.env.su or is_trusted_ingest()):
        raise AccessError(_("Only the sync stores rows in bulk."))
    fields_ = model._fields
    given = set().union(*vals_list)
    if (model._inherits or model._parent_store or not given.isdisjoint(_SKIPPED)
            or not all(name in fields_ and _plain_column(fields_[name]) for name in given)):
        return model.create(vals_list)
    columns = [name for name, field in fields_.items() if field.store and field.column_type and name not in _SKIPPED]
    missing = {name for name in columns if any(name not in vals for vals in vals_list)}
    if any(fields_[name].compute for name in missing) or not all(_plain_column(fields_[name]) for name in missing):
        return model.create(vals_list)  # the ORM computes or stores those its own way
    defaults = model.default_get(sorted(missing)) if missing else {}
    if model._log_access:
        now = model.env.cr.now()
        audit = {"create_uid": model.env.uid, "create_date": now, "write_uid": model.env.uid, "write_date": now}
        columns += LOG_ACCESS_COLUMNS
    else:
        audit = {}
    rows = [{**defaults, **vals, **audit} for vals in vals_list]
    raw_columns = {name: values for name, values in (raw_columns or {}).items()
                   if name not in fields_ and len(values) == len(rows)}
    plain = [_unchanged(model, fields_[name]) for name in columns]
    params = []
    raw = list(raw_columns.values())
    for index, row in enumerate(rows):
        for name, unchanged in zip(columns, plain):
            value = row.get(name)
            if value is None or unchanged(value):
                params.append(value)
            else:
                params.append(fields_[name].convert_to_column(value, model, row))
        params.extend(values[index] for values in raw)
    cr = model.env.cr
    width = len(columns) + len(raw)
    names = ", ".join(f'"{name}"' for name in [*columns, *raw_columns])
    ids = []
    # Statements of INSERT_BATCH_SIZE rows, as the ORM's: the server's work is the same.
    for start in range(0, len(rows), INSERT_BATCH_SIZE):
        count = min(INSERT_BATCH_SIZE, len(rows) - start)
        values = ", ".join(["(%s)" % ", ".join(["%s"] * width)] * count)
        # Trusted values only (see the caller); the identifiers are the model's own.
        cr.execute('INSERT INTO "%s" (%s) VALUES %s RETURNING id' % (  # noqa: S608
            model._table, names, values),
            params[start * width:(start + count) * width])
        ids.extend(row_id for row_id, in cr.fetchall())
    records = model.browse(ids)
    cache = model.env.cache
    for name, unchanged in zip(columns, plain):
        field = fields_[name]
        values = [value if unchanged(value) else field.convert_to_cache(value, records)
                  for value in (row.get(name, False) for row in rows)]
        cache.update(records, field, values)
        if field.type in ("many2one", "many2one_reference") and model.pool.field_inverses[field]:
            by_value = defaultdict(list)
            for record_id, value in zip(records._ids, values):
                by_value[value].append(record_id)
            for value, ids in by_value.items():
                field._update_inverses(model.browse(ids), value)
    # As create does: stored computed fields given a value (company_id) are not recomputed.
    protected = set()
    for name in given:
        field = fields_[name]
        if field.compute and (not field.readonly or field.precompute):
            protected.update(model.pool.field_computed.get(field, [field]))
    with model.env.protecting(protected, records):
        records.modified(columns, create=True)
    records._validate_fields(columns)
    records.check_access_rule("create")
    return records
