"""Alert history: one row per notice (firing, repeat, resolved, test), with its deliveries.

Each event queues one delivery per channel of its rule (``maildesk.cockpit.alert.delivery``);
the in-app channel also lists the people it told, who then see the event under
MailDesk > Cockpit > Alerts.
"""
import json

from odoo import _, fields, models

KINDS = [("firing", "Firing"), ("repeat", "Still firing"), ("resolved", "Resolved"), ("test", "Test")]


class MaildeskCockpitAlertEvent(models.Model):
    _name = "maildesk.cockpit.alert.event"
    _description = "Cockpit Alert Event"
    _order = "at desc, id desc"
    _rec_name = "title"

    rule_id = fields.Many2one("maildesk.cockpit.alert.rule", required=True, ondelete="cascade", index=True,
                              readonly=True)
    state_id = fields.Many2one("maildesk.cockpit.alert.state", ondelete="set null", readonly=True)
    company_id = fields.Many2one(related="rule_id.company_id", store=True)
    account_id = fields.Many2one("maildesk.account", "Mailbox", readonly=True, ondelete="set null")
    kind = fields.Selection(KINDS, required=True, readonly=True)
    at = fields.Datetime(required=True, readonly=True)
    started_at = fields.Datetime("Incident started", readonly=True)
    value = fields.Float(readonly=True)
    title = fields.Char(readonly=True)
    text = fields.Text(readonly=True)
    dedup_key = fields.Char(readonly=True)
    facts = fields.Text(readonly=True, help="JSON: the anomaly baseline behind the verdict, if any.")
    notified_user_ids = fields.Many2many("res.users", string="Told in-app", readonly=True)
    delivery_ids = fields.One2many("maildesk.cockpit.alert.delivery", "event_id", "Deliveries", readonly=True)

    def _record_many(self, notices, now):
        """Create the events of ``[(rule, state, kind, value, facts)]`` and queue a delivery per
        channel of each (called as superuser); two INSERT batches whatever the number."""
        if not notices:
            return self.browse()
        events = self.create([self._prepare_event(*notice, now) for notice in notices])
        self.env["maildesk.cockpit.alert.delivery"].create([
            {"event_id": event.id, "channel_id": channel.id}
            for event in events for channel in event.rule_id.channel_ids.filtered("active")])
        return events

    def _prepare_event(self, rule, state, kind, value, facts, now):
        """The values of one event: its title and text name the KPI, the condition and the scope."""
        key = state.instance_key if state else 0
        threshold = dict(rule._fields["operator"].selection)[rule.operator]
        kpi_label = dict(rule._fields["kpi"].selection)[rule.kpi]
        scope = rule._scope_text(key or None)
        shown = f"{value:g}" if value is not None else _("no data")
        if rule.mode == "anomaly":
            condition = _("unusual against the same weekday of previous weeks")
        else:
            condition = f"{threshold} {rule.threshold:g}"
        if kind == "test":
            title = _("Test of the alert rule %s", rule.name)
            text = _("A test notice: the rule watches %(kpi)s %(condition)s for %(scope)s.",
                     kpi=kpi_label.lower(), condition=condition, scope=scope)
        elif kind == "resolved":
            title = f"{rule.name}: {kpi_label} {_('back to normal')} ({scope})"
            text = _("%(kpi)s is %(value)s again for %(scope)s.", kpi=kpi_label, value=shown, scope=scope)
        else:
            title = f"{rule.name}: {kpi_label} {condition} ({scope})"
            text = _("%(kpi)s is %(value)s (%(condition)s) for %(scope)s.", kpi=kpi_label, value=shown,
                     condition=condition, scope=scope)
        return {
            "rule_id": rule.id, "state_id": state.id if state else False, "account_id": key or False,
            "kind": kind, "at": now, "started_at": state.active_since if state else False,
            "value": value or 0.0, "title": title, "text": text,
            "dedup_key": state.dedup_key if state else False,
            "facts": json.dumps(facts, default=str) if facts else False}

    def _fields_list(self):
        self.ensure_one()
        rule = self.rule_id
        rows = [(_("Rule"), rule.name), (_("KPI"), dict(rule._fields["kpi"].selection)[rule.kpi]),
                (_("Value"), f"{self.value:g}"), (_("Scope"), rule._scope_text(self.account_id.id or None))]
        if rule.mode == "threshold":
            rows.append((_("Threshold"), f"{rule.operator} {rule.threshold:g}"))
        if self.started_at:
            rows.append((_("Since"), f"{fields.Datetime.to_string(self.started_at)} UTC"))
        return rows

    def _url(self):
        # sudo: the public address of this Odoo (a system parameter).
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "").rstrip("/")
        action = self.env.ref("maildesk_mail_client_cockpit.maildesk_cockpit_action", raise_if_not_found=False)
        return f"{base}/web#action={action.id}" if base and action else ""

    def _notice(self):
        """The engine's notice dict (``engine/webhooks.py`` payload builders)."""
        self.ensure_one()
        return {"title": self.title, "text": self.text,
                "status": "resolved" if self.kind == "resolved" else ("test" if self.kind == "test" else "firing"),
                "kind": self.kind, "url": self._url() or None, "fields": self._fields_list(),
                "dedup_key": self.dedup_key or None, "rule": self.rule_id.name,
                "scope": self.rule_id._scope_labels(self.account_id.id or None), "value": self.value,
                "at": fields.Datetime.to_string(self.at) + "Z"}
