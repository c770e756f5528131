from . import models
from . import controllers


def uninstall_hook(env):
    """The rollup's triggers sit on the base addon's tables, which stay: remove them first; the
    waits' due times reference the messages (not an Odoo model's table: Odoo would keep it)."""
    from .engine import rollup, wait_due
    env.cr.execute(rollup.uninstall_sql())
    env.cr.execute(f"DROP TABLE IF EXISTS {wait_due.TABLE}")
