"""The cockpit's AI panel (Cockpit Manager and Administrator): briefing, anomalies, rebalance, risk.

What the code computes (no AI, shown even without a provider)
    * the queue now (the cockpit's own cards for today, ``maildesk.cockpit.get_dashboard``);
    * anomalies of the last 30 complete days: incoming, outgoing, needs reply and overdue
      against the same weekday of the 8 weeks before (``engine/anomaly.py``), public
      holidays of the team calendars skipped;
    * the escalation risk of each open customer conversation (``engine/risk.py``): the
      cockpit's "needs reply" conversations, oldest wait first, up to ``RISK_CANDIDATES``;
    * a workload rebalance proposal (``engine/rebalance.py``) over the members of the teams
      in scope, with today's leaves from ``resource.calendar.leaves``.

What the AI does
    It words those facts (``engine/briefing.py``): a daily ``briefing`` and a ``rebalance``
    explanation, each through Pro's chokepoint ``maildesk.ai.service`` (feature switch,
    provider, daily limit by cockpit tier, usage log). Email bodies and subjects are never
    sent; customer names only when Settings ▸ Cockpit AI allows it. Every number of the
    answer must be a computed fact (``engine/grounding.py``); an answer that fails is not
    shown, the panel shows the plain template of the same facts and says so. The text of the
    day is cached per scope (``maildesk.cockpit.briefing``): the second manager of a team reads
    it for free; "Refresh" pays again.

Applying a rebalance
    Only on the manager's click (``apply_rebalance``), only the moves of the proposal as it
    is now (recomputed server-side), each through the cockpit's ``assign`` (tier, scope,
    audit trail, bus refresh), with the reason "Workload rebalance" added to the audit row.
"""
import hashlib
import json
import threading
from dataclasses import replace
from datetime import timedelta
from time import monotonic

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import anomaly, bizhours, briefing, kpi, periods, rebalance, risk

COCKPIT_FEATURES = ("briefing", "rebalance")
TIER_LIMIT_PARAM = "maildesk_mail_client_cockpit.ai_limit_%s_%s"  # feature, tier
DEFAULT_TIER_LIMITS = {"viewer": 0, "operator": 3, "manager": 20, "admin": -1}  # -1: unlimited
NAMES_PARAM = "maildesk_mail_client_cockpit.ai_customer_names"
CAPACITY_PARAM = "maildesk_mail_client_cockpit.ai_default_capacity"
ANOMALY_DAYS = 30
HISTORY_WEEKS = anomaly.DEFAULT_WEEKS
ANOMALY_KPIS = ("incoming", "outgoing", "needs_reply", "overdue")
RISK_CANDIDATES = 500
RISK_SHOWN = 10
ANOMALIES_SHOWN = 10  # in the panel; the AI gets briefing.ANOMALY_FACTS of them
REBALANCE_THREADS = 5000
TEXT_CHARS = 2000  # customer text read per message by the urgency-word check (code only)
REBALANCE_REASON = "Workload rebalance"
ROUND_THE_CLOCK = bizhours.Calendar.round_the_clock()
ANOMALY_TTL = 900  # seconds a worker reuses the anomalies of a scope (complete days only)
ANOMALY_CACHE_SIZE = 500
_ANOMALY_CACHE = {}  # (dbname, scope key, day) -> (monotonic time, anomalies)


def _is_testing():
    return getattr(threading.current_thread(), "testing", False)


class MaildeskCockpitAi(models.AbstractModel):
    _name = "maildesk.cockpit.ai"
    _description = "MailDesk Cockpit AI panel"

    # -- settings --------------------------------------------------------------------------------
    @api.model
    def _tier_limit(self, feature):
        """Calls per day of ``feature`` for the caller's cockpit tier: -1 unlimited, 0 none."""
        tier = self.env["maildesk.cockpit"]._tier()
        if tier is None:
            return 0
        # sudo: the limits are admin-set parameters every caller is measured against.
        value = self.env["ir.config_parameter"].sudo().get_param(TIER_LIMIT_PARAM % (feature, tier))
        try:
            return int(value) if value not in (None, False, "") else DEFAULT_TIER_LIMITS[tier]
        except ValueError:
            return DEFAULT_TIER_LIMITS[tier]

    @api.model
    def _names_allowed(self):
        # sudo: an admin-set parameter.
        return self.env["ir.config_parameter"].sudo().get_param(NAMES_PARAM) in ("1", "True", "true")

    @api.model
    def _default_capacity(self):
        value = self.env["ir.config_parameter"].sudo().get_param(CAPACITY_PARAM)  # sudo: an admin-set parameter
        try:
            return max(1, int(value)) if value else rebalance.DEFAULT_LIMIT
        except ValueError:
            return rebalance.DEFAULT_LIMIT

    # -- scope -----------------------------------------------------------------------------------
    @api.model
    def _panel_scope(self, filters):
        """``(tier, scope, now, filters)``: Manager tier and the cockpit's own scope checks."""
        cockpit = self.env["maildesk.cockpit"]
        cockpit._require("manager")
        if filters is not None and not isinstance(filters, dict):
            raise UserError(_("Filters are a set of named values."))
        filters = {k: v for k, v in (filters or {}).items()
                   if k in ("team_id", "account_id", "user_id", "partner_id")}
        tier, scope, _period, now = cockpit._scope(dict(filters, period="today"))
        return tier, scope, now, filters

    @api.model
    def _scope_key(self, kind, scope, names):
        raw = json.dumps([kind, sorted(scope.account_ids), sorted(scope.company_ids), scope.team_id, scope.user_id,
                          scope.partner_id, bool(names)])
        return hashlib.sha256(raw.encode()).hexdigest()

    @api.model
    def _scope_label(self, scope):
        parts = []
        if scope.team_id:
            parts.append(self.env["maildesk.team"].sudo().browse(scope.team_id).name)  # sudo: checked in _scope
        if len(scope.account_ids) == 1:
            parts.append(self.env["maildesk.account"].sudo().browse(scope.account_ids[0]).name)  # sudo: as above
        return " / ".join(parts) or _("All my mailboxes")

    @api.model
    def _teams(self, scope):
        """The teams the proposal balances: the filtered team, else the teams of the scope's mailboxes."""
        Team = self.env["maildesk.team"].with_context(allowed_company_ids=list(scope.company_ids))
        if scope.team_id:
            return Team.search([("id", "=", scope.team_id)])
        return Team.search([("account_ids", "in", list(scope.account_ids))])

    # -- computing the facts ---------------------------------------------------------------------
    @api.model
    def _compute(self, filters):
        """Everything the panel shows, computed by code: a dict of plain values (see module doc)."""
        tier, scope, now, filters = self._panel_scope(filters)
        cockpit = self.env["maildesk.cockpit"]
        tz = self.env.user.tz or "UTC"
        today = bizhours.to_local_date(tz, now)
        dashboard = cockpit.get_dashboard(dict(filters, period="today"), options=False)
        cards = {key: dashboard["cards"][key]["value"] for key, _label, _unit in briefing.QUEUE}
        first_response = dashboard["cards"]["first_response"]["median"]
        teams = self._teams(scope)
        anomalies = self._anomalies(scope, now, today, teams)
        risks = self._risks(scope, now)
        proposal, names, threads = self._proposal(scope, now, today, teams)
        shown_risks = risks[:RISK_SHOWN]
        names_ok = self._names_allowed()
        risk_refs = [(f"R{i}", item["risk"], item["customer"] if names_ok else None)
                     for i, item in enumerate(shown_risks, 1)]
        facts = briefing.build_facts(today, cards, first_response, anomalies=anomalies, risks=risk_refs,
                                     proposal=proposal, names=names)
        return {"tier": tier, "scope": scope, "now": now, "today": today, "filters": filters, "facts": facts,
                "anomalies": anomalies, "risks": shown_risks, "proposal": proposal, "names": names,
                "threads": threads, "names_ok": names_ok}

    @api.model
    def _holidays(self, teams, first, last):
        """Local dates of the team calendars' public holidays (global leaves) between two dates."""
        days = set()
        # sudo: calendars and their global leaves are not secret; users may lack resource rights.
        for calendar in teams.sudo().resource_calendar_id:  # sudo: see above
            tz = calendar.tz or "UTC"
            for leave in calendar.leave_ids.filtered(lambda lv: not lv.resource_id):
                day = bizhours.to_local_date(tz, leave.date_from)
                end = bizhours.to_local_date(tz, leave.date_to)
                while day <= end:
                    if first <= day <= last:
                        days.add(day)
                    day += timedelta(days=1)
        return days

    @api.model
    def _daily_series(self, scope, now, first, last):
        """``(days, {kpi: {day: value}})`` of the anomaly KPIs, from the cockpit's own SQL (``engine/kpi.py``).

        Only the two scans the daily series need (counted messages, gap history): the
        dashboard's other scans (response times, breakdowns) would triple the time over the
        86 days of history.
        """
        try:
            period = periods.resolve("custom", now, self.env.user.tz or "UTC", first, last)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        days = list(period.days)
        cr = self.env.cr
        incoming, outgoing = dict.fromkeys(days, 0), dict.fromkeys(days, 0)
        cr.execute(*kpi.messages_summary_sql(scope, period))
        for grouping, bucket, _account, _user, inc, out, _prev_inc, _prev_out in cr.fetchall():
            day = kpi.day_of(period, bucket)
            if kpi.MESSAGE_SETS.get(grouping) == "day" and day in incoming:
                incoming[day], outgoing[day] = inc, out
        cr.execute(*kpi.backlog_history_sql(scope, period))
        open_series, due_series, _open_before, _due_before = kpi.backlog_series(
            [(event, kpi.day_of(period, bucket), n) for event, bucket, n in cr.fetchall()], days)
        return days, {"incoming": incoming, "outgoing": outgoing, "needs_reply": dict(zip(days, open_series)),
                      "overdue": dict(zip(days, due_series))}

    @api.model
    def _anomalies(self, scope, now, today, teams):
        """``[(kpi, day, Score)]`` over the last ``ANOMALY_DAYS`` complete days, anomalies first, recent first.

        Complete days only, so the result holds for the day: kept per worker for
        ``ANOMALY_TTL`` seconds per scope (a panel refresh or a briefing does not rescan).
        """
        key = (self.env.cr.dbname, self._scope_key("anomalies", scope, False), today)
        cached = _ANOMALY_CACHE.get(key)
        if cached and monotonic() - cached[0] < ANOMALY_TTL and not _is_testing():
            return cached[1]
        first = today - timedelta(days=ANOMALY_DAYS + 7 * HISTORY_WEEKS)
        last = today - timedelta(days=1)
        self.env.flush_all()
        days, series = self._daily_series(scope, now, first, last)
        skip = self._holidays(teams, first, last)
        window = [d for d in days if d > last - timedelta(days=ANOMALY_DAYS)]
        found = []
        for key_kpi in ANOMALY_KPIS:
            values = {d: v for d, v in series[key_kpi].items() if v is not None}
            found += [(key_kpi, day, result) for day, result in anomaly.detect(values, window, kpi=key_kpi, skip=skip)]
        found.sort(key=lambda item: (item[2].level != "anomaly", -item[1].toordinal(), ANOMALY_KPIS.index(item[0])))
        if len(_ANOMALY_CACHE) > ANOMALY_CACHE_SIZE:
            _ANOMALY_CACHE.clear()
        _ANOMALY_CACHE[key] = (monotonic(), found)
        return found

    @api.model
    def _risks(self, scope, now):
        """Ranked risks of the open customer conversations in scope: ``[{risk, thread_id, ...}]``."""
        cr = self.env.cr
        cr.execute(*kpi.page_sql("needs_reply", scope, now, now, now, RISK_CANDIDATES, 0))
        ids = [row[0] for row in cr.fetchall()]
        if not ids:
            return []
        # One read of the signals; text is read by code for the urgency words and never leaves the server.
        cr.execute("""
            SELECT t.id, t.team_id, t.ck_wait_since, t.sla_due_at, coalesce(t.subject, ''),
                   (SELECT min(m.date) FROM maildesk_message m WHERE m.thread_id = t.id),
                   (SELECT count(*) FROM maildesk_message m WHERE m.thread_id = t.id AND m.ck_kind = 'in'
                       AND m.date >= t.ck_wait_since),
                   (SELECT count(*) FROM maildesk_message m
                     WHERE m.thread_id = t.id AND m.ck_wait_start AND m.ck_first),
                   (SELECT count(*) FROM maildesk_cockpit_audit a WHERE a.thread_id = t.id AND a.action = 'assign'),
                   (SELECT string_agg(left(coalesce(m.body_text, ''), %s), ' ') FROM maildesk_message m
                     WHERE m.thread_id = t.id AND m.ck_kind = 'in' AND m.date >= t.ck_wait_since)
              FROM maildesk_thread t WHERE t.id = ANY(%s)
        """, (TEXT_CHARS, ids))
        rows = cr.fetchall()
        calendars = self._team_calendars({r[1] for r in rows})
        inputs = []
        for tid, team_id, since, due, subject, first_at, unanswered, firsts, handoffs, text in rows:
            calendar = calendars.get(team_id, ROUND_THE_CLOCK)
            elapsed = None
            if due and since:
                allowed = bizhours.business_seconds(calendar, since, due)
                used = bizhours.business_seconds(calendar, since, now)
                elapsed = used / allowed if allowed > 0 else 1.0
            age = (now - first_at).total_seconds() / 86400.0 if first_at else 0.0
            inputs.append(risk.RiskInput(tid, elapsed, max(0, unanswered - 1), max(0, firsts - 1), handoffs,
                                         max(0.0, age), f"{subject}\n{text or ''}"))
        ranked = risk.rank(inputs)
        info = self.env["maildesk.cockpit"]._thread_rows([r.thread_id for r in ranked[:RISK_SHOWN]], now)
        result = []
        for item in ranked:
            row = info.get(item.thread_id, {})
            result.append({"risk": item, "thread_id": item.thread_id, "subject": row.get("subject", ""),
                           "customer": row.get("customer") or "", "user": row.get("user") or "",
                           "sla": row.get("sla")})
        return result

    @api.model
    def _team_calendars(self, team_ids):
        """``{team id: bizhours.Calendar}`` (round the clock without), as ``maildesk.thread._cockpit_calendars``."""
        teams = self.env["maildesk.team"].sudo().browse([t for t in team_ids if t])  # sudo: working hours only
        data = self.env["maildesk.sla.policy"]._calendar_data(teams.resource_calendar_id)
        return {team.id: data.get(team.resource_calendar_id.id, ROUND_THE_CLOCK) for team in teams}

    @api.model
    def _work_window(self, teams, today):
        """UTC (start, end) of today's working hours of the first team calendar (the whole day without)."""
        calendar = teams.sudo().resource_calendar_id[:1]  # sudo: as in _holidays
        if not calendar:
            tz = self.env.user.tz or "UTC"
            return bizhours.local_day_bounds(tz, today), None
        data = self.env["maildesk.sla.policy"]._calendar_data(calendar)[calendar.id]
        plain = bizhours.Calendar(tz=data.tz, attendance=data.attendance)  # leaves count as leaves, not hours
        start, end = bizhours.local_day_bounds(data.tz, today)
        working = bizhours.business_seconds(plain, start, end)
        if working <= 0:
            return (start, end), calendar
        first = bizhours.add(plain, start, 1) - timedelta(seconds=1)
        return (first, bizhours.add(plain, start, working)), calendar

    @api.model
    def _proposal(self, scope, now, today, teams):
        """``(Proposal, {user_id: name}, {thread_id: (subject, team_id)})`` for the teams in scope."""
        team_scope = replace(scope, user_id=None, partner_id=None)
        members = {}
        default = self._default_capacity()
        for team in teams.sudo():  # sudo: membership and limits decide; the teams were found as the caller
            for user in team.member_ids.filtered("active"):
                current = members.get(user.id)
                limit = team.max_open_per_user or default
                members[user.id] = rebalance.Member(
                    user.id, user.name, min(limit, current.limit) if current else limit,
                    tuple(sorted(set((current.team_ids if current else ()) + (team.id,)))))
        if not members:
            return rebalance.Proposal(), {}, {}
        cr = self.env.cr
        cr.execute(*kpi.page_sql("needs_reply", team_scope, now, now, now, REBALANCE_THREADS, 0))
        ids = [row[0] for row in cr.fetchall()]
        cr.execute("SELECT id, user_id, team_id, sla_due_at, coalesce(subject, ''), account_id FROM maildesk_thread "
                   "WHERE id = ANY(%s) AND user_id = ANY(%s)", (ids, list(members)))
        rows = cr.fetchall()
        calendars = self._team_calendars({r[2] for r in rows})
        # Who may be assigned a conversation: who reads its mailbox (automation's assignee constraint);
        # sudo: membership decides, the caller may not read every member's groups.
        admins = set(self.env.ref("maildesk_mail_client.group_maildesk_admin").sudo().users.ids)
        readers = {a.id: tuple(sorted(set((a.owner_id | a.user_ids).ids) | admins))
                   for a in self.env["maildesk.account"].sudo().browse({r[5] for r in rows})}
        threads, info = [], {}
        for tid, user_id, team_id, due, subject, account_id in rows:
            calendar = calendars.get(team_id, ROUND_THE_CLOCK)
            urgent = bool(due) and (due <= now or bizhours.business_seconds(calendar, now, due)
                                    <= rebalance.URGENT_WITHIN.total_seconds())
            threads.append(rebalance.OpenThread(tid, user_id, team_id, due, urgent, readers.get(account_id)))
            info[tid] = subject or _("(no subject)")
        window, calendar = self._work_window(teams, today)
        leaves = []
        Leave = self.env["resource.calendar.leaves"].sudo()  # sudo: only who is away and when, not why
        domain = [("date_from", "<", window[1]), ("date_to", ">", window[0])]
        for leave in Leave.search(domain + [("resource_id.user_id", "in", list(members))]):
            leaves.append(rebalance.Leave(leave.resource_id.user_id.id, leave.date_from, leave.date_to))
        if calendar:
            for leave in Leave.search(domain + [("resource_id", "=", False), ("calendar_id", "=", calendar.id)]):
                leaves.append(rebalance.Leave(None, leave.date_from, leave.date_to))
        proposal = rebalance.propose(list(members.values()), threads, leaves, window)
        return proposal, {uid: m.name for uid, m in members.items()}, info

    # -- the panel -------------------------------------------------------------------------------
    @api.model
    def get_panel(self, filters=None):
        """The statistical parts, the cached AI texts of the day, and whether AI can run."""
        data = self._compute(filters)
        cached = {}
        for kind in COCKPIT_FEATURES:
            row = self._cached(kind, data)
            cached[kind] = {"text": row.text, "source": "cache", "at": fields.Datetime.to_string(row.write_date),
                            "note": ""} if row else False
        return {
            "tier": data["tier"],
            "day": data["today"].isoformat(),
            "ai": self._ai_status(data["scope"]),
            "limits": {kind: self._limit_info(kind) for kind in COCKPIT_FEATURES},
            "anomalies": [{"ref": f"A{i}", "kpi": key, "label": briefing.KPI_LABELS.get(key, key),
                           "day": day.isoformat(), "value": res.value, "median": res.median, "z": res.z,
                           "level": res.level, "direction": res.direction}
                          for i, (key, day, res) in enumerate(data["anomalies"][:ANOMALIES_SHOWN], 1)],
            "anomalies_more": max(0, len(data["anomalies"]) - ANOMALIES_SHOWN),
            "risks": [{"ref": f"R{i}", "thread_id": item["thread_id"], "subject": item["subject"],
                       "customer": item["customer"], "user": item["user"], "sla": item["sla"],
                       "score": item["risk"].score, "level": item["risk"].level,
                       "components": item["risk"].components, "words": list(item["risk"].words)}
                      for i, item in enumerate(data["risks"], 1)],
            "rebalance": self._proposal_payload(data),
            "cached": cached,
            "customer_names": data["names_ok"],
        }

    @api.model
    def _proposal_payload(self, data):
        proposal, names, threads = data["proposal"], data["names"], data["threads"]

        def pct(value):
            return None if value == float("inf") else round(value)

        return {
            "people": [{"user_id": p.user_id, "name": p.name, "limit": p.limit, "availability": p.availability,
                        "on_leave": p.on_leave, "before": p.threads_before, "after": p.threads_after,
                        "percent_before": pct(p.percent_before), "percent_after": pct(p.percent_after)}
                       for p in proposal.people],
            "moves": [{"ref": f"M{i}", "thread_id": m.thread_id, "subject": threads.get(m.thread_id, ""),
                       "from_id": m.from_user_id, "from": names.get(m.from_user_id, ""), "to_id": m.to_user_id,
                       "to": names.get(m.to_user_id, ""), "reason": m.reason, "urgent": m.urgent}
                      for i, m in enumerate(proposal.moves, 1)],
            "spread_before": pct(proposal.spread_before), "spread_after": pct(proposal.spread_after),
        }

    @api.model
    def _limit_info(self, kind):
        service = self.env["maildesk.ai.service"]
        limit = self._tier_limit(kind)
        effective = service._get_daily_limit(kind) if limit != 0 else 0
        today = service._user_today()[0]
        # sudo: counting the caller's own usage rows.
        used = self.env["maildesk.ai.usage"].sudo().search_count(
            [("user_id", "=", self.env.uid), ("feature", "=", kind), ("day", "=", today),
             ("outcome", "!=", "cancelled")])
        return {"limit": None if limit != 0 and effective == 0 else effective, "used": used,
                "allowed": limit != 0}

    @api.model
    def _ai_status(self, scope, kind="briefing"):
        """``{"available": bool, "note": str}``: can the AI word the facts for this scope now?"""
        service = self.env["maildesk.ai.service"]
        if not service._get_provider():
            return {"available": False, "note": _("No AI provider is set up: the panel shows the figures the "
                                                  "cockpit computed. An administrator can add one in Settings ▸ "
                                                  "MailDesk ▸ AI.")}
        if not service._feature_enabled(kind):
            return {"available": False, "note": _("AI briefings are switched off in this database.")}
        # sudo: the mailbox AI switch is admin-set; the mailboxes are the caller's scope.
        off = self.env["maildesk.account"].sudo().browse(list(scope.account_ids)).filtered(lambda a: not a.ai_enabled)
        if off:
            return {"available": False, "note": _("AI is switched off for the mailbox(es) %s: choose a scope "
                                                  "without them for an AI briefing.", ", ".join(off.mapped("name")))}
        return {"available": True, "note": ""}

    @api.model
    def _cached(self, kind, data, key=None):
        key = key or self._cache_key(kind, data)
        # sudo: the cache is read only here, for a scope the caller was checked against.
        return self.env["maildesk.cockpit.briefing"].sudo().search(
            [("kind", "=", kind), ("scope_key", "=", key), ("day", "=", data["today"])], limit=1)

    @api.model
    def _cache_key(self, kind, data):
        key = self._scope_key(kind, data["scope"], data["names_ok"])
        if kind == "rebalance":  # the explanation belongs to one proposal
            moves = [(m.thread_id, m.from_user_id, m.to_user_id) for m in data["proposal"].moves]
            key = hashlib.sha256((key + json.dumps(moves)).encode()).hexdigest()
        return key

    @api.model
    def _plan(self, kind, filters, refresh=False):
        """What one AI request needs, checked: ``{kind, data, key, messages, cached, blocked}``."""
        if kind not in COCKPIT_FEATURES:
            raise UserError(_("Unknown AI panel operation."))
        data = self._compute(filters)
        key = self._cache_key(kind, data)
        cached = False if refresh else self._cached(kind, data, key)
        status = self._ai_status(data["scope"], kind)
        blocked = "" if status["available"] else status["note"]
        if kind == "rebalance" and not data["proposal"].moves and not blocked:
            blocked = _("The workload is balanced: there is nothing to explain.")
        messages = briefing.messages(kind, data["facts"], self._scope_label(data["scope"]), data["today"])
        return {"kind": kind, "data": data, "key": key, "messages": messages, "cached": cached, "blocked": blocked}

    @api.model
    def _fallback(self, plan, note):
        return {"text": briefing.template(plan["kind"], plan["data"]["facts"], note=note), "source": "template",
                "note": note, "facts": plan["data"]["facts"]}

    @api.model
    def _grounding_note(self, bad):
        return _("The AI text was not shown: it contained figures the cockpit did not compute (%s). These are "
                 "the computed figures.", ", ".join(bad[:5]))

    @api.model
    def _store(self, plan, text, usage_id):
        """Cache a grounded AI text for the scope and day (replacing an earlier one on refresh)."""
        data = plan["data"]
        vals = {"kind": plan["kind"], "scope_key": plan["key"], "day": data["today"], "text": text,
                "scope_label": self._scope_label(data["scope"]), "user_id": self.env.uid,
                "company_id": self.env.company.id, "usage_id": usage_id,
                "facts_json": json.dumps(data["facts"], ensure_ascii=False)}
        Cache = self.env["maildesk.cockpit.briefing"].sudo()  # sudo: written only here
        row = Cache.search([("kind", "=", vals["kind"]), ("scope_key", "=", vals["scope_key"]),
                            ("day", "=", vals["day"])], limit=1)
        if row:
            row.write(vals)
        else:
            Cache.create(vals)

    @api.model
    def _answer(self, kind, filters, refresh=False):
        plan = self._plan(kind, filters, refresh)
        if plan["cached"]:
            return {"text": plan["cached"].text, "source": "cache", "note": "", "facts": plan["data"]["facts"]}
        if plan["blocked"]:
            return self._fallback(plan, plan["blocked"])
        try:
            result = self.env["maildesk.ai.service"].run(kind, messages=plan["messages"])
        except UserError as exc:  # refused (limit, switch) or the provider failed: the figures stay
            return self._fallback(plan, exc.args[0] if exc.args else str(exc))
        ok, bad = briefing.gate_text(result["text"], plan["data"]["facts"])
        if not ok:
            return self._fallback(plan, self._grounding_note(bad))
        self._store(plan, result["text"], result["usage_id"])
        return {"text": result["text"], "source": "ai", "note": "", "facts": plan["data"]["facts"]}

    @api.model
    def get_briefing(self, filters=None, refresh=False):
        """The daily briefing: cached, AI (grounded) or the template with a note (not streamed)."""
        return self._answer("briefing", filters, bool(refresh))

    @api.model
    def explain_rebalance(self, filters=None, refresh=False):
        """The AI's explanation of the current proposal (grounded), or the template with a note."""
        return self._answer("rebalance", filters, bool(refresh))

    @api.model
    def apply_rebalance(self, filters, moves):
        """Apply the moves the manager confirmed, each still in the current proposal, via ``assign``."""
        if not isinstance(moves, list) or not moves or not all(
                isinstance(m, (list, tuple)) and len(m) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                      for v in m) for m in moves):
            raise UserError(_("Moves are pairs of a conversation id and a user id."))
        data = self._compute(filters)
        current = {m.thread_id: m.to_user_id for m in data["proposal"].moves}
        for thread_id, user_id in moves:
            if current.get(thread_id) != user_id:
                raise UserError(_("The proposal changed meanwhile (a conversation was answered or reassigned). "
                                  "Look at the new proposal and apply it again."))
        cockpit = self.env["maildesk.cockpit"]
        Audit = self.env["maildesk.cockpit.audit"].sudo()  # sudo: the audit trail is written by the cockpit only
        last = Audit.search([], order="id desc", limit=1).id or 0
        for thread_id, user_id in moves:
            cockpit.assign([thread_id], user_id)  # tier, scope, team and audit checks of the triage path
        Audit.search([("id", ">", last), ("thread_id", "in", [m[0] for m in moves]), ("action", "=", "assign"),
                      ("user_id", "=", self.env.uid)]).write({"reason": REBALANCE_REASON})
        return {"applied": len(moves)}

    @api.model
    def _check_stream(self, kind, filters, refresh):
        """The streaming controller's entry: the same checks, then the plan (raises AccessError / UserError)."""
        if not self.env.user.has_group("maildesk_mail_client_cockpit.group_cockpit_manager"):
            raise AccessError(_("The AI panel needs the cockpit tier Manager."))
        return self._plan(kind, filters, refresh)
