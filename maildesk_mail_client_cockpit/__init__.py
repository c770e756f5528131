from . import models
from . import controllers


def uninstall_hook(env):
    """The rollup's triggers and the due times' delete trigger sit on the base addon's tables,
    which stay: remove them first; the due times' table is no Odoo model's (Odoo would keep it)."""
    from .engine import rollup, wait_due
    env.cr.execute(rollup.uninstall_sql())
    env.cr.execute(wait_due.UNINSTALL)
