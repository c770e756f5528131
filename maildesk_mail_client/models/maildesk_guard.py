"""What a user may write: the one check every MailDesk model's ``create`` / ``write`` runs.

Record rules decide which rows a user reaches; this decides which values may go into them.
A model inherits ``maildesk.guard.mixin`` and declares its policy with the class attributes
below; the mixin's own ``create`` / ``write`` apply it. For every caller except the
superuser (``sudo()``, reachable from code only) and the sync's own ingest
(``trusted_ingest()``), whatever the context:

- ``_md_system_fields``: set by the sync, the server or the code (ids, headers, sync state,
  owners of private rows): refused. A model may instead list the only fields users write
  (``_md_user_fields``, a whitelist: everything else is refused, creation included).
- ``_md_owner_field``: the user a private row belongs to (drafts, tags, trusted senders) is
  always the caller: a user cannot plant a row in someone else's space.
- every many2one / many2many value must name records the caller may read: a link to a
  foreign record would otherwise show its name through the link (``display_name`` of a
  many2one is read as superuser).

``trusted_ingest()`` is a marker of this Python call stack, not a context key: an RPC caller
cannot set it. The sync sets it around the writes of values the engine already sanitized.

Where it runs: the mixin comes after the model in the method resolution order, so the check
runs right before the ORM stores the values, after the ``create`` / ``write`` code of the
model and of the addons extending it. Code there may only prepare values or refuse; code with
an effect outside the transaction (a flag pushed to the mail server) calls ``_md_guard`` itself
first, as ``maildesk.message.write`` does.
"""
import contextvars
from contextlib import contextmanager

from odoo import _, api, models
from odoo.exceptions import AccessError, UserError

_TRUSTED = contextvars.ContextVar("maildesk_trusted_ingest", default=False)


@contextmanager
def trusted_ingest():
    """Writes inside this block come from the sync's own code (values sanitized by the engine)."""
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def is_trusted_ingest():
    return _TRUSTED.get()


def _linked_ids(field, value):
    """Ids a many2one / many2many value links to (creations and updates are the comodel's own check)."""
    if field.type == "many2one":
        if isinstance(value, models.BaseModel):
            return set(value.ids)
        return {int(value)} if value else set()
    ids = set()
    for command in value or ():
        if isinstance(command, int):
            ids.add(command)
        elif isinstance(command, (list, tuple)) and command:
            if command[0] == 4:
                ids.add(int(command[1]))
            elif command[0] == 6:
                ids.update(int(i) for i in command[2] or ())
    return ids


class MaildeskGuard(models.AbstractModel):
    _name = "maildesk.guard.mixin"
    _description = "MailDesk write guard"

    _md_system_fields = ()
    _md_user_fields = None
    _md_owner_field = None

    @api.model_create_multi
    def create(self, vals_list):
        self._md_guard(vals_list)
        return super().create(vals_list)

    def write(self, vals):
        self._md_guard([vals])
        return super().write(vals)

    def _md_privileged(self):
        return self.env.su or is_trusted_ingest()

    def _md_guard(self, vals_list):
        """Refuse values the caller may not write (see the module docstring)."""
        if self._md_privileged():
            return
        for vals in vals_list:
            names = set(vals) - {self._md_owner_field}
            if self._md_user_fields is not None:
                forbidden = names - set(self._md_user_fields)
            else:
                forbidden = names & set(self._md_system_fields)
            if forbidden:
                labels = ", ".join(sorted(self._fields[n].string if n in self._fields else n for n in forbidden))
                raise AccessError(_("%(fields)s of %(model)s are set by MailDesk itself and cannot be changed.",
                                    fields=labels, model=self._description))
            owner = self._md_owner_field
            if owner and owner in vals and _linked_ids(self._fields[owner], vals[owner]) != {self.env.uid}:
                raise AccessError(_("A %(model)s can only belong to yourself.", model=self._description))
            self._md_check_links(vals)

    def _md_check_links(self, vals):
        for name, value in vals.items():
            field = self._fields.get(name)
            if not field or field.type not in ("many2one", "many2many") or name == self._md_owner_field:
                continue
            ids = _linked_ids(field, value)
            if not ids:
                continue
            targets = self.env[field.comodel_name].browse(ids)
            if len(targets.exists()) != len(ids):
                raise UserError(_("%(field)s: that record no longer exists.", field=field.string))
            if targets._name == "ir.attachment":
                targets.check("read")
            else:
                targets.check_access_rights("read")
                targets.check_access_rule("read")
