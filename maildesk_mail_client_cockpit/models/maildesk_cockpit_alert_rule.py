"""Cockpit alert rules: a KPI watched over a scope, with a state per (rule, scope) and history.

A rule
    watches one cockpit KPI (``engine/kpi.py``) over a scope: the mailboxes its responsible user
    may read, narrowed to a team, a mailbox and / or a customer, optionally split into one alert
    per mailbox. It fires on a threshold (``value <operator> threshold``) or on an anomaly
    (incoming / outgoing of the last 24 hours against the same weekday of the previous weeks,
    ``engine/anomaly.py``). Message KPIs count the last *window* hours; response-time KPIs are
    the mean business minutes of the waits answered in the window; backlog KPIs are counted now.

States (``engine/alerts.py``)
    normal → pending (the condition holds, for less than the pending duration) → firing →
    (recovering, with *keep firing*) → normal. Notices: *firing* once, *repeat* at most every
    repeat interval while it keeps firing, *resolved* when it ends. One state record per rule and
    instance (``dedup_key``), created only once an instance leaves normal.

Evaluation
    ``_cron_evaluate`` (every 5 minutes) evaluates every active rule, then sends the queued
    deliveries. Rules of the same companies are evaluated together, one query per row source over
    the union of their owners' mailboxes, each rule adding up only its owner's mailboxes
    (``engine/alert_batch.py``). After ingest, the cheap rules (threshold on counts) touching the
    stored mailboxes are evaluated too, at most once a minute per rule; their deliveries are
    queued and sent by the delivery cron, so a sync never waits for a webhook.

Who may do what (every server method checks it, whatever the client sends)
    Viewer and Operator read the rules that concern them; a Manager creates and changes rules
    for themselves or for a team they lead or belong to, on mailboxes they may read; the
    Administrator tier on everything in their companies. A rule is evaluated with what its
    responsible user may see, never more.
"""
import json
import logging
from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..engine import alert_batch, alerts, anomaly, kpi

_logger = logging.getLogger(__name__)

KPI_LABELS = {"incoming": "Incoming messages", "outgoing": "Outgoing messages", "waiting": "Waiting conversations",
              "needs_reply": "Conversations needing a reply", "overdue": "Overdue conversations",
              "first_response": "First response time (minutes)", "response_time": "Response time (minutes)"}
OPERATORS = [(">", "above"), (">=", "at or above"), ("<", "below"), ("<=", "at or below"), ("=", "equal to"),
             ("!=", "different from")]
INGEST_MIN_INTERVAL = timedelta(seconds=60)
TEST_MIN_INTERVAL = timedelta(seconds=10)
MAX_WINDOW_HOURS = 24 * 31
SYSTEM_FIELDS = {"last_evaluated_at", "last_value", "last_test_at", "state_ids", "event_ids"}


class MaildeskCockpitAlertRule(models.Model):
    _name = "maildesk.cockpit.alert.rule"
    # The mixin: the activity channel's to-do lives on the rule when mail is installed.
    _inherit = ["maildesk.cockpit.activity.mixin"]
    _description = "Cockpit Alert Rule"
    _order = "name, id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    user_id = fields.Many2one("res.users", "Responsible", required=True, default=lambda self: self.env.user,
                              domain=[("share", "=", False)], ondelete="cascade",
                              help="The rule counts what this person may see; activities are theirs.")
    kpi = fields.Selection([(k, KPI_LABELS[k]) for k in kpi.KPIS], "KPI", required=True, default="overdue")
    mode = fields.Selection([("threshold", "Threshold"), ("anomaly", "Anomaly (same weekday, last 24 hours)")],
                            required=True, default="threshold")
    operator = fields.Selection(OPERATORS, required=True, default=">")
    threshold = fields.Float(help="Counts, or minutes for response times.")
    window_hours = fields.Integer("Window (hours)", default=1,
                                  help="Incoming / outgoing and response times: over the last N hours.")
    direction = fields.Selection([("up", "Rises only"), ("down", "Drops only"), ("both", "Both ways")],
                                 "Anomaly direction", default="up")
    scope_team_id = fields.Many2one("maildesk.team", "Team", ondelete="cascade")
    scope_account_id = fields.Many2one("maildesk.account", "Mailbox", ondelete="cascade")
    scope_partner_id = fields.Many2one("res.partner", "Customer", ondelete="cascade")
    split_by_account = fields.Boolean("One alert per mailbox")
    pending_minutes = fields.Integer("Pending (minutes)", default=0,
                                     help="The condition must hold this long before the alert fires.")
    keep_firing_minutes = fields.Integer("Keep firing (minutes)", default=0,
                                         help="A brief dip shorter than this does not resolve the alert.")
    repeat_minutes = fields.Integer("Repeat every (minutes)", default=240, help="0: never repeat.")
    notify_resolved = fields.Boolean("Resolved notice", default=True)
    no_data = fields.Selection(
        [("keep", "Keep the state"), ("ok", "Treat as normal"), ("alerting", "Treat as alerting")],
        "When there is no data", default="keep", required=True)
    channel_ids = fields.Many2many("maildesk.cockpit.alert.channel", string="Channels")
    state_ids = fields.One2many("maildesk.cockpit.alert.state", "rule_id", "Alert states", readonly=True)
    event_ids = fields.One2many("maildesk.cockpit.alert.event", "rule_id", "History", readonly=True)
    status = fields.Selection(
        [("normal", "Normal"), ("pending", "Pending"), ("firing", "Firing"), ("recovering", "Recovering")],
        compute="_compute_status")
    last_value = fields.Float(readonly=True, copy=False)
    last_evaluated_at = fields.Datetime(readonly=True, copy=False)
    last_test_at = fields.Datetime(readonly=True, copy=False)
    @api.depends("state_ids.status")
    def _compute_status(self):
        order = ("normal", "pending", "recovering", "firing")
        for rule in self:
            statuses = rule.state_ids.mapped("status") or ["normal"]
            rule.status = max(statuses, key=order.index)

    @api.constrains("mode", "kpi", "window_hours", "pending_minutes", "keep_firing_minutes", "repeat_minutes",
                    "operator")
    def _check_parameters(self):
        for rule in self:
            if rule.mode == "anomaly" and rule.kpi not in alert_batch.ANOMALY_KPIS:
                raise ValidationError(_("Anomaly alerts watch incoming or outgoing messages (daily counts)."))
            if kpi.rows_of(rule.kpi) != "threads" and not 1 <= rule.window_hours <= MAX_WINDOW_HOURS:
                raise ValidationError(_("The window is 1 to %s hours.", MAX_WINDOW_HOURS))
            try:
                rule._engine_rule()
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc

    # -- CRUD ----------------------------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_system_fields(vals)
        rules = super().create(vals_list)
        rules._check_editor()
        return rules

    def write(self, vals):
        self._check_system_fields(vals)
        self._check_editor()  # before: the rule as it is must be theirs
        result = super().write(vals)
        self._check_editor()  # after: and what it becomes
        return result

    def unlink(self):
        self._check_editor()
        return super().unlink()

    def _check_system_fields(self, vals):
        if not self.env.su and SYSTEM_FIELDS & set(vals):
            raise AccessError(_("The state and history of an alert rule are kept by the cockpit."))

    def _check_editor(self):
        """Managers change rules of their own scope, Administrators any of their companies'."""
        if self.env.su:
            return
        Cockpit = self.env["maildesk.cockpit"]
        tier = Cockpit._require("manager")
        user = self.env.user
        accounts, companies = Cockpit._accounts(tier)
        for rule in self:
            if rule.company_id not in user.company_ids:
                raise AccessError(_("You cannot make alert rules for the company %s.", rule.company_id.name))
            if rule.scope_account_id and rule.scope_account_id not in accounts:
                raise AccessError(_("You cannot watch this mailbox."))
            team = rule.scope_team_id.sudo()  # sudo: membership decides, the team itself may be hidden
            if team and tier != "admin" and user not in (team.member_ids | team.leader_id):
                raise AccessError(_("You can watch only the teams you lead or belong to."))
            if team and tier == "admin" and not self.env["maildesk.team"].search([("id", "=", team.id)]):
                raise AccessError(_("You cannot see this team."))
            owner = rule.user_id
            if owner != user:
                if tier != "admin" and (not team or owner not in (team.member_ids | team.leader_id)):
                    raise AccessError(_("A Manager makes a rule responsible only themselves or a member of the "
                                        "rule's team."))
                if not owner.has_group("maildesk_mail_client_cockpit.group_cockpit_viewer"):
                    raise UserError(_("%s has no cockpit access: the rule would count nothing.", owner.name))
            rule.channel_ids.check_access_rule("read")

    # -- engine glue ---------------------------------------------------------------------------------
    def _engine_rule(self):
        self.ensure_one()
        return alerts.Rule(
            id=self.id or 0, operator=self.operator or ">", threshold=self.threshold,
            pending=timedelta(minutes=self.pending_minutes), keep_firing=timedelta(minutes=self.keep_firing_minutes),
            repeat_interval=timedelta(minutes=self.repeat_minutes) if self.repeat_minutes else None,
            notify_resolved=self.notify_resolved, no_data=self.no_data)

    def _watch(self, accounts):
        """The batch's view of this rule within its owner's ``accounts`` (ids)."""
        self.ensure_one()
        split = ()
        if self.split_by_account:
            split = tuple(a for a in accounts if not self.scope_account_id or a == self.scope_account_id.id)
        return alert_batch.Watch(
            rule_id=self.id, kpi=self.kpi, mode=self.mode, window=timedelta(hours=max(self.window_hours, 1)),
            account_id=self.scope_account_id.id or None, team_id=self.scope_team_id.id or None,
            partner_id=self.scope_partner_id.id or None, split_accounts=split, accounts=frozenset(accounts),
            direction=self.direction or anomaly.KPI_DIRECTIONS.get(self.kpi, "both"))

    def _owner_scope(self, cache=None):
        """``(account_ids, company_ids)`` the responsible user may read for this rule's company, or None."""
        self.ensure_one()
        owner = self.user_id
        key = (owner.id, self.company_id.id)
        if cache is not None and key in cache:
            return cache[key]
        scope = None
        if owner.active and self.company_id in owner.company_ids:
            cockpit = self.env["maildesk.cockpit"].with_user(owner).with_context(
                allowed_company_ids=[self.company_id.id] + (owner.company_ids - self.company_id).ids)
            tier = cockpit._tier()
            if tier is not None:
                accounts, companies = cockpit._accounts(tier)
                scope = tuple(sorted(accounts.ids)), tuple(sorted(companies.ids))
        if cache is not None:
            cache[key] = scope
        return scope

    # -- evaluation ----------------------------------------------------------------------------------
    @api.model
    def _cron_evaluate(self, now=None):
        """Cron: evaluate every active rule, then send what it queued."""
        self = self.sudo()  # noqa: PLW0642 - sudo: the cron evaluates every rule, each with its owner's scope
        rules = self.search([])
        stats = rules._evaluate(now)
        if not self.env["maildesk.cockpit.alert.delivery"]._is_testing():
            self.env.cr.commit()  # keep the states even if a delivery below crashes the worker
        stats["sent"] = self.env["maildesk.cockpit.alert.delivery"]._send_queued()
        return stats

    def _evaluate(self, now=None):
        """Evaluate these rules (called as superuser), store their states and queue the notices.

        Returns ``{"rules", "queries", "notices"}``.
        """
        now = now or fields.Datetime.now()
        rules = self.filtered("active")
        observations, queries = rules._observe(now)
        notices = self._apply(rules, observations, now)
        return {"rules": len(rules), "queries": queries, "notices": len(notices)}

    def _observe(self, now):
        """``({(rule_id, instance_key): Observation}, queries)``: one query per row source and scope group."""
        self.env.flush_all()
        # Rules are grouped by companies: the group reads the union of their owners' mailboxes
        # once, and each rule only adds up the mailboxes of its own owner.
        groups = defaultdict(list)
        union = defaultdict(set)
        observations = {}
        scopes = {}
        for rule in self:
            scope = rule._owner_scope(scopes)
            if scope is None or not scope[0] or (rule.scope_account_id and rule.scope_account_id.id not in scope[0]):
                observations[rule.id, None] = alert_batch.Observation(None)  # the owner sees nothing here
                continue
            groups[scope[1]].append(rule._watch(scope[0]))
            union[scope[1]].update(scope[0])
        queries = 0
        for company_ids, watches in groups.items():
            account_ids = tuple(sorted(union[company_ids]))
            if not account_ids:
                for w in watches:
                    for key in (w.split_accounts or (None,)):
                        observations[w.rule_id, key] = alert_batch.Observation(None)
                continue
            scope = kpi.Scope(account_ids=account_ids, company_ids=company_ids)
            rows = {}
            for source, (sql, params) in alert_batch.queries(watches, scope, now).items():
                self.env.cr.execute(sql, params)
                rows[source] = self.env.cr.fetchall()
                queries += 1
            observations.update(alert_batch.fold(watches, rows))
        return observations, queries

    def _apply(self, rules, observations, now):
        """Feed each instance its observation; store changed states; queue the notices.

        A status change is an ORM write; the value and time of states that only moved their
        value are one UPDATE for all (a cron run must not cost a write per firing alert).
        """
        State = self.env["maildesk.cockpit.alert.state"]
        existing = {(s.rule_id.id, s.instance_key): s for s in State.search([("rule_id", "in", rules.ids)])}
        by_id = {r.id: r for r in rules}
        engine_rules = {r.id: r._engine_rule() for r in rules}
        events = []
        creates = []
        values = {}
        touched = []
        for (rule_id, key), obs in observations.items():
            rule = by_id[rule_id]
            record = existing.get((rule_id, key or 0))
            before = record._engine_state() if record else alerts.AlertState()
            after, notices = alerts.evaluate(engine_rules[rule_id], before, obs.feed, now, value=obs.value)
            if obs.value is not None and not rule.split_by_account:
                values[rule_id] = obs.value
            changed = (after.status, after.since, after.active_since, after.last_notified_at) != (
                before.status, before.since, before.active_since, before.last_notified_at)
            state_vals = {"status": after.status, "since": after.since, "active_since": after.active_since,
                          "last_notified_at": after.last_notified_at, "last_value": after.last_value or 0.0,
                          "last_evaluated_at": now}
            if record and changed:
                record.write(state_vals)
            elif record:
                touched.append((record.id, after.last_value or 0.0))
            elif after.status != "normal":
                creates.append(dict(state_vals, rule_id=rule_id, instance_key=key or 0,
                                    account_id=key or rule.scope_account_id.id or False,
                                    dedup_key=alerts.dedup_key(rule_id, rule._scope_labels(key))))
            for notice in notices:
                events.append((rule, key, notice, obs))
        if creates:
            for state in State.create(creates):
                existing[state.rule_id.id, state.instance_key] = state
        cr = self.env.cr
        if touched:
            cr.execute("""
                UPDATE maildesk_cockpit_alert_state s SET last_value = v.value, last_evaluated_at = %s
                  FROM unnest(%s::int[], %s::float[]) AS v(id, value) WHERE s.id = v.id""",
                       (now, [t[0] for t in touched], [t[1] for t in touched]))
            State.browse([t[0] for t in touched]).invalidate_recordset(["last_value", "last_evaluated_at"])
        if rules:
            # Likewise one statement for the list's "last value / last evaluated" of every rule.
            cr.execute("""
                UPDATE maildesk_cockpit_alert_rule r
                   SET last_evaluated_at = %s,
                       last_value = coalesce((v.value ->> r.id::text)::float, r.last_value)
                  FROM (SELECT %s::jsonb AS value) v
                 WHERE r.id = ANY(%s)""", (now, json.dumps({str(k): v for k, v in values.items()}), rules.ids))
            rules.invalidate_recordset(["last_evaluated_at", "last_value"])
        return self.env["maildesk.cockpit.alert.event"]._record_many(
            [(rule, existing.get((rule.id, key or 0)), notice.kind, notice.value, obs.facts)
             for rule, key, notice, obs in events], now)

    def _scope_labels(self, key=None):
        """The labels of one instance (what the dedup key and the notices name)."""
        self.ensure_one()
        labels = {"kpi": self.kpi}
        if self.scope_team_id:
            labels["team"] = self.scope_team_id.id
        if self.scope_account_id or key:
            labels["mailbox"] = key or self.scope_account_id.id
        if self.scope_partner_id:
            labels["customer"] = self.scope_partner_id.id
        return labels

    def _scope_text(self, key=None):
        self.ensure_one()
        sudo = self.sudo()  # sudo: names of a scope the rule's editor already proved they may see
        parts = []
        if sudo.scope_team_id:
            parts.append(_("team %s", sudo.scope_team_id.name))
        account = self.env["maildesk.account"].sudo().browse(key) if key else sudo.scope_account_id
        if account:
            parts.append(_("mailbox %s", account.name))
        if sudo.scope_partner_id:
            parts.append(_("customer %s", sudo.scope_partner_id.display_name))
        return ", ".join(parts) or _("all mailboxes of %s", sudo.user_id.name)

    @api.model
    def _evaluate_after_ingest(self, account_ids, now=None):
        """The cheap rules that may be touched by messages just stored in ``account_ids``."""
        now = now or fields.Datetime.now()
        rules = self.search([
            ("mode", "=", "threshold"), ("kpi", "in", list(kpi.THREAD_KPIS + kpi.MESSAGE_KPIS)),
            "|", ("scope_account_id", "=", False), ("scope_account_id", "in", list(account_ids)),
            "|", ("last_evaluated_at", "=", False), ("last_evaluated_at", "<=", now - INGEST_MIN_INTERVAL)])
        if not rules:
            return None
        events = rules._evaluate(now)
        if events["notices"]:
            self.env.ref("maildesk_mail_client_cockpit.ir_cron_cockpit_alert_deliveries")._trigger()
        return events

    # -- actions -------------------------------------------------------------------------------------
    def action_send_test(self):
        """Send a test notice on every channel of the rule now; the result is in the delivery log."""
        self.ensure_one()
        self.check_access_rule("write")
        self._check_editor()
        if not self.channel_ids:
            raise UserError(_("Add a channel to the rule first."))
        now = fields.Datetime.now()
        if self.last_test_at and now - self.last_test_at < TEST_MIN_INTERVAL:
            raise UserError(_("A test was sent a moment ago; wait a few seconds."))
        # sudo: the test is logged and sent by the alert system; the caller was checked above.
        rule = self.sudo()
        rule.last_test_at = now
        event = self.env["maildesk.cockpit.alert.event"].sudo()._record_many(
            [(rule, None, "test", rule.last_value, {})], now)
        deliveries = event.delivery_ids
        deliveries._send()
        summary = ", ".join(f"{d.channel_id.name}: {dict(d._fields['status'].selection)[d.status]}"
                            for d in deliveries)
        failed = any(d.status != "delivered" for d in deliveries)
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "title": _("Test sent") if not failed else _("Test sent, with problems"), "message": summary,
            "type": "warning" if failed else "success", "sticky": failed}}

    def action_view_deliveries(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "maildesk_mail_client_cockpit.maildesk_cockpit_alert_delivery_action")
        action["domain"] = [("rule_id", "=", self.id)]
        return action

