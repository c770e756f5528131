"""The cockpit's KPI rollup (``engine/rollup.py``): its tables and triggers, the fold cron, and
the read plan ``maildesk.cockpit.get_dashboard`` asks for."""
from odoo import api, models

from ..engine import rollup


class MaildeskCockpitRollup(models.AbstractModel):
    _name = "maildesk.cockpit.rollup"
    _description = "MailDesk Cockpit KPI Rollup"

    def init(self):
        # Runs after maildesk_message / maildesk_thread exist with every column the triggers read.
        self.env.cr.execute(rollup.install_sql())

    @api.model
    def _wanted_tzs(self):
        """The time zones the cockpit's users read their days in (every tier implies Viewer)."""
        group = self.env.ref("maildesk_mail_client_cockpit.group_cockpit_viewer", raise_if_not_found=False)
        users = group.sudo().users if group else self.env["res.users"]  # sudo: time zones only
        return {user.tz or "UTC" for user in users}

    @api.model
    def _cron_fold(self):
        """Recompute the days marked dirty since the last fold; build new users' time zones."""
        self.env.flush_all()
        return rollup.fold(self.env.cr, self._wanted_tzs())

    @api.model
    def _plan(self, scope, period):
        """A ``rollup.Plan`` for this read, or None when the figures must come from the messages
        alone: a customer filter (not a rollup dimension) or a time zone not built yet (the fold
        cron is woken to build it)."""
        if scope.partner_id:
            return None
        cr = self.env.cr
        cr.execute("SELECT 1 FROM maildesk_cockpit_rollup_tz WHERE tz = %s", (period.tz,))
        if not cr.fetchone():
            cron = self.env.ref("maildesk_mail_client_cockpit.ir_cron_cockpit_rollup", raise_if_not_found=False)
            if cron:
                cron.sudo()._trigger()  # sudo: waking a system cron
            return None
        cr.execute("SELECT DISTINCT account_id, day FROM maildesk_cockpit_rollup_dirty WHERE account_id = ANY(%s)",
                   (list(scope.account_ids),))
        return rollup.Plan(period, scope.account_ids, cr.fetchall())
