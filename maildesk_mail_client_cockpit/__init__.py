from . import models
from . import controllers


def uninstall_hook(env):
    """The rollup's triggers sit on the base addon's tables, which stay: remove them first."""
    from .engine import rollup
    env.cr.execute(rollup.uninstall_sql())
