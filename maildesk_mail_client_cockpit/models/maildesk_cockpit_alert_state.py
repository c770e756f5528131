"""Where one alert instance stands: one row per (rule, instance), the de-duplication unit.

``instance_key`` is 0 for a rule's single instance, else the mailbox id of a per-mailbox rule;
``dedup_key`` is ``engine.alerts.dedup_key(rule, scope labels)`` (the Alertmanager fingerprint),
sent with every notice so receivers can group them. Rows are written by the evaluation only.
"""
from odoo import fields, models

from ..engine import alerts

STATUSES = [("normal", "Normal"), ("pending", "Pending"), ("firing", "Firing"), ("recovering", "Recovering")]


class MaildeskCockpitAlertState(models.Model):
    _name = "maildesk.cockpit.alert.state"
    _description = "Cockpit Alert State"
    _order = "rule_id, instance_key"

    rule_id = fields.Many2one("maildesk.cockpit.alert.rule", required=True, ondelete="cascade", index=True,
                              readonly=True)
    company_id = fields.Many2one(related="rule_id.company_id", store=True)
    instance_key = fields.Integer(readonly=True, help="0: the rule's only instance; else the mailbox id.")
    account_id = fields.Many2one("maildesk.account", "Mailbox", readonly=True, ondelete="cascade")
    dedup_key = fields.Char(readonly=True, required=True)
    status = fields.Selection(STATUSES, required=True, default="normal", readonly=True)
    since = fields.Datetime(readonly=True, help="When this status was entered.")
    active_since = fields.Datetime("Incident started", readonly=True)
    last_notified_at = fields.Datetime(readonly=True)
    last_value = fields.Float(readonly=True)
    last_evaluated_at = fields.Datetime(readonly=True)

    _sql_constraints = [("one_per_instance", "unique(rule_id, instance_key)",
                         "One state per alert rule and instance.")]

    def _engine_state(self):
        self.ensure_one()
        return alerts.AlertState(status=self.status, since=self.since or None, active_since=self.active_since or None,
                                 last_notified_at=self.last_notified_at or None, last_value=self.last_value)
