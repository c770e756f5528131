"""The cockpit's server API (static/src/cockpit): KPIs, drill-down, drawer, triage, boards.

Security, in every method, whatever the caller sends:

- the caller's tier comes from their groups (``_tier``), never from the context;
- the scope is the mailboxes the base addon's record rules let the caller read (an ORM
  search as the caller), within the caller's companies (the Administrator tier: all of their
  allowed companies). A filter naming a mailbox or team outside it raises ``AccessError``;
- the KPI SQL (``engine/kpi.py``) only ever sees those mailbox ids, so a cockpit tier never
  widens what the base addon lets a user read;
- triage checks the tier, the base read rule on each conversation (mailbox membership) and
  the "own thread" rule of the Operator tier before it changes anything.

Tiers: Viewer reads; Operator triages their own conversations (assigned to them, or
unassigned in a team they belong to) and assigns them to themselves; Manager triages any
conversation of the teams they lead or belong to, reassigns, saves boards, edits SLA
policies; Administrator does all of that on every conversation they may read, across
companies.
"""
import logging
from datetime import datetime

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import bizhours, kpi, periods, rollup, stats
from .res_config_settings import setting

_logger = logging.getLogger(__name__)

TIERS = ("viewer", "operator", "manager", "admin")
GROUPS = {
    "admin": "maildesk_mail_client_cockpit.group_cockpit_admin",
    "manager": "maildesk_mail_client_cockpit.group_cockpit_manager",
    "operator": "maildesk_mail_client_cockpit.group_cockpit_operator",
    "viewer": "maildesk_mail_client_cockpit.group_cockpit_viewer",
}
PAGE_LIMIT = 50
MAX_PAGE = 200
DRAWER_MESSAGES = 20
RECENT_THREADS = 8
RELATED_LIMIT = 5
# Related Odoo records of a customer: (model, label, partner field, extra domain). Shown only
# when the app is installed and the user may read the model; record rules filter the rows.
RELATED = [
    ("sale.order", "Quotations / Sales Orders", "partner_id", []),
    ("account.move", "Invoices", "partner_id", [("move_type", "in", ("out_invoice", "out_refund"))]),
    ("project.project", "Projects", "partner_id", []),
    ("project.task", "Tasks", "partner_id", []),
    ("crm.lead", "CRM Leads", "partner_id", []),
    ("helpdesk.ticket", "Tickets", "partner_id", []),
]


def user_notifications(users, title, message, kind="info"):
    """Bus notifications (``simple_notification``: an in-app toast) for the active ``users``."""
    payload = {"type": kind, "title": title, "message": message, "sticky": kind in ("warning", "danger")}
    return [(user.partner_id, "simple_notification", payload) for user in users.filtered("active")]


def notify_users(env, users, title, message, kind="info", thread_id=None):
    """In-app toast on the Odoo bus for each user."""
    send_notifications(env, user_notifications(users, title, message, kind))


def send_notifications(env, notifications):
    """One bus write for many notifications: each ``_sendmany`` call is a create and, after the
    commit, a new database connection for its NOTIFY (2,000 escalations took 25 s one by one)."""
    if notifications:
        # sudo: bus.bus is a technical model; the recipients were chosen by the caller's rules.
        env["bus.bus"].sudo()._sendmany(notifications)


def _dt(value):
    return fields.Datetime.to_string(value) if value else False


def _int_or_none(value, label):
    if value in (None, False, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(_("%s must be a record id.", label))
    return value


class MaildeskCockpit(models.AbstractModel):
    _name = "maildesk.cockpit"
    _description = "MailDesk Cockpit API"

    # -- who and what -----------------------------------------------------------------------------
    @api.model
    def _tier(self):
        """The caller's highest cockpit tier, or None."""
        user = self.env.user
        for tier in reversed(TIERS):
            if user.has_group(GROUPS[tier]):
                return tier
        return None

    @api.model
    def _require(self, tier):
        current = self._tier()
        if current is None or TIERS.index(current) < TIERS.index(tier):
            raise AccessError(_("This needs the cockpit tier %s.", tier.capitalize()))
        return current

    @api.model
    def _companies(self, tier):
        """Administrators see all their allowed companies; others the companies selected."""
        return self.env.user.company_ids if tier == "admin" else self.env.companies

    @api.model
    def _accounts(self, tier):
        """Mailboxes the caller may read under the base addon's rules, within the cockpit companies."""
        companies = self._companies(tier)
        Account = self.env["maildesk.account"].with_context(allowed_company_ids=companies.ids)
        return Account.search([("company_id", "in", companies.ids + [False])]), companies

    @api.model
    def _scope(self, filters=None):
        """``(tier, kpi.Scope, Period, now)`` of a request; foreign ids raise AccessError."""
        tier = self._require("viewer")
        filters = dict(filters or {})
        accounts, companies = self._accounts(tier)
        account_ids = accounts.ids
        account_id = _int_or_none(filters.get("account_id"), _("The mailbox"))
        if account_id:
            if account_id not in account_ids:
                raise AccessError(_("You cannot see this mailbox."))
            account_ids = [account_id]
        team_id = _int_or_none(filters.get("team_id"), _("The team"))
        if team_id:
            team = self.env["maildesk.team"].with_context(allowed_company_ids=companies.ids).search(
                [("id", "=", team_id)])
            if not team:
                raise AccessError(_("You cannot see this team."))
        user_id = filters.get("user_id")
        if user_id != kpi.UNASSIGNED:
            user_id = _int_or_none(user_id, _("The assignee"))
        partner_id = _int_or_none(filters.get("partner_id"), _("The customer"))
        scope = kpi.Scope(account_ids=tuple(account_ids), company_ids=tuple(companies.ids), team_id=team_id,
                          user_id=user_id, partner_id=partner_id)
        now = fields.Datetime.now()
        try:
            period = periods.resolve(filters.get("period") or setting(self.env, "default_period"), now,
                                     self.env.user.tz or "UTC",
                                     filters.get("date_from"), filters.get("date_to"))
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        return tier, scope, period, now

    def _sql(self, query):
        sql, params = query
        self.env.cr.execute(sql, params)
        return self.env.cr.fetchall()

    # -- dashboard ---------------------------------------------------------------------------------
    @api.model
    def get_dashboard(self, filters=None, options=True):
        """All cards (value, previous value, trend, daily series), the breakdowns, the options.

        Four scans whatever the period (``engine/kpi.py``): counted messages, answered gaps,
        waiting conversations, gap history; each also yields the per-mailbox and per-person
        breakdown (GROUPING SETS). Whole clean days come from the KPI rollup
        (``engine/rollup.py``), the rest from the messages, with the same predicates.
        ``options=False`` skips the filter choices (refreshes).
        """
        tier, scope, period, now = self._scope(filters)
        self.env.flush_all()
        plan = self.env["maildesk.cockpit.rollup"]._plan(scope, period)
        days = list(period.days)
        cards = {}
        lines = {"account": {}, "user": {}}

        def line(group, key):
            return lines[group].setdefault(key, {
                "key": key or False, "incoming": 0, "outgoing": 0, "waiting": 0, "needs_reply": 0, "overdue": 0,
                "first_response": None})

        # incoming / outgoing
        daily = {d: (0, 0) for d in days}
        prev = [0, 0]
        for grouping, day, account_id, user_id, inc, out, prev_inc, prev_out in self._sql(
                rollup.messages_summary_sql(scope, plan) if plan else kpi.messages_summary_sql(scope, period)):
            kind = kpi.MESSAGE_SETS.get(grouping)
            day = kpi.day_of(period, day)
            if kind == "day":
                if day in daily:
                    daily[day] = (inc, out)
                prev[0] += prev_inc
                prev[1] += prev_out
            elif kind:
                line(kind, account_id if kind == "account" else user_id).update(incoming=inc, outgoing=out)
        for index, name in enumerate(("incoming", "outgoing")):
            series = [daily[d][index] for d in days]
            cards[name] = self._card(sum(series), prev[index], series)
        # response times
        totals, by_day = {}, {}
        rows = rollup.duration_rows(self.env.cr, scope, plan) if plan else self._sql(kpi.durations_sql(scope, period))
        for row in rows:
            kind = kpi.DURATION_SETS.get(row[0])
            values = row[5:]
            if kind == "total":
                totals[row[1]] = values
            elif kind == "day" and row[1]:
                by_day[kpi.day_of(period, row[2])] = values
            elif kind in ("account", "user"):
                line(kind, row[3] if kind == "account" else row[4])["first_response"] = values[8]
        empty = (None,) * 12
        for offset, name in ((0, "first_response"), (4, "response_time")):
            current = totals.get(True, empty)[offset:offset + 4]
            previous = totals.get(False, empty)[offset:offset + 4]
            series = [by_day.get(d, empty)[offset] for d in days]
            card = self._card(current[0], previous[0], series)
            card.update(unit="seconds", median=current[0], p90=current[1], mean=current[2], count=current[3] or 0)
            cards[name] = card
        # backlog now and its history
        now_totals = (0, 0, 0)
        for grouping, account_id, user_id, waiting, needs_reply, overdue in self._sql(
                kpi.threads_summary_sql(scope, now)):
            kind = kpi.THREAD_SETS.get(grouping)
            if kind == "total":
                now_totals = (waiting, needs_reply, overdue)
            elif kind:
                line(kind, account_id if kind == "account" else user_id).update(
                    waiting=waiting, needs_reply=needs_reply, overdue=overdue)
        if plan:
            history = rollup.backlog_events(self._sql(rollup.backlog_history_sql(scope, plan)))
        else:
            history = self._sql(kpi.backlog_history_sql(scope, period))
        open_series, due_series, open_before, due_before = kpi.backlog_series(
            [(event, kpi.day_of(period, day), n) for event, day, n in history], days)
        cards["waiting"] = self._card(now_totals[0], open_before, open_series, snapshot=True)
        cards["needs_reply"] = self._card(now_totals[1], open_before, open_series, snapshot=True)
        cards["overdue"] = self._card(now_totals[2], due_before, due_series, snapshot=True)
        return {
            "tier": tier,
            "can": self._capabilities(tier),
            "period": {"kind": (filters or {}).get("period") or setting(self.env, "default_period"),
                       "start": _dt(period.start),
                       "end": _dt(period.end), "days": [d.isoformat() for d in days], "tz": period.tz},
            "cards": cards,
            "breakdown": self._breakdown(lines),
            "options": self._options(tier, scope) if options else False,
            "now": _dt(now),
        }

    @staticmethod
    def _card(value, previous, series, snapshot=False):
        return {"value": value, "previous": previous, "trend": stats.trend(value, previous), "series": series,
                "snapshot": snapshot}

    @api.model
    def _breakdown(self, lines):
        """Per mailbox and per person, busiest first (needs reply, then incoming)."""
        result = {}
        for group, rows in lines.items():
            keys = [k for k in rows if k]
            names = {}
            if keys:
                table = "maildesk_account" if group == "account" else \
                    "res_users u JOIN res_partner p ON p.id = u.partner_id"
                column = "name" if group == "account" else "p.name"
                alias = "id" if group == "account" else "u.id"
                # Display names of mailboxes / people already counted in the caller's scope.
                self.env.cr.execute(f"SELECT {alias}, {column} FROM {table} WHERE {alias} = ANY(%s)", (keys,))
                names = dict(self.env.cr.fetchall())
            out = []
            for key, row in rows.items():
                row["name"] = names.get(key) or (_("Unassigned") if group == "user" else _("(none)"))
                out.append(row)
            out.sort(key=lambda row: (-row["needs_reply"], -row["incoming"], row["name"]))
            result[group] = out
        return result

    @api.model
    def _capabilities(self, tier):
        level = TIERS.index(tier)
        return {"triage": level >= 1, "reassign": level >= 2, "boards": level >= 2, "sla": level >= 2,
                "settings": level >= 3}

    @api.model
    def _options(self, tier, scope):
        accounts, companies = self._accounts(tier)
        teams = self.env["maildesk.team"].with_context(allowed_company_ids=companies.ids).search([])
        users = (teams.member_ids | teams.leader_id | self.env.user).sorted("name")
        boards = self.env["maildesk.cockpit.board"].search([])
        return {
            "accounts": [{"id": a.id, "name": a.name} for a in accounts],
            "teams": [{"id": t.id, "name": t.name} for t in teams],
            "users": [{"id": u.id, "name": u.name} for u in users],
            "boards": [{"id": b.id, "name": b.name, "filters": b.filters or {}, "layout": b.layout or [],
                        "shared": bool(b.share_team_id), "team": b.share_team_id.name or False,
                        "mine": b.user_id == self.env.user} for b in boards],
            "kpis": list(kpi.KPIS),
        }

    # -- drill-down --------------------------------------------------------------------------------
    @api.model
    def get_drilldown(self, kpi_name, filters=None, offset=0, limit=PAGE_LIMIT):
        """The rows behind a card (same predicate as the card): one page and the total."""
        _tier, scope, period, now = self._scope(filters)
        if kpi_name not in kpi.KPIS:
            raise UserError(_("Unknown figure %s.", kpi_name))
        if not isinstance(offset, int) or not isinstance(limit, int) or offset < 0 or not 0 < limit <= MAX_PAGE:
            raise UserError(_("A page is an offset from 0 and a size from 1 to %s.", MAX_PAGE))
        self.env.flush_all()
        order = "at" if kpi_name in kpi.THREAD_KPIS else "recent"
        rows = self._sql(kpi.page_sql(kpi_name, scope, period.start, period.end, now, limit, offset, order))
        plan = kpi_name not in kpi.THREAD_KPIS and self.env["maildesk.cockpit.rollup"]._plan(scope, period)
        count = rollup.count_sql(kpi_name, scope, plan) if plan else kpi.count_sql(
            kpi_name, scope, period.start, period.end, now)
        total = self._sql(count)[0][0]  # the card's number, from where the card took it
        thread_rows = self._thread_rows([r[0] for r in rows], now)
        result = []
        for thread_id, message_id, at, seconds in rows:
            line = dict(thread_rows[thread_id])
            line.update(row_id=f"{thread_id}-{message_id or 0}", message_id=message_id or False, at=_dt(at),
                        reply_seconds=seconds)
            result.append(line)
        return {"kpi": kpi_name, "total": total, "offset": offset, "limit": limit, "rows": result}

    @api.model
    def _thread_rows(self, thread_ids, now):
        """Display values of conversations already known to be in scope (one read)."""
        if not thread_ids:
            return {}
        self.env.cr.execute("""
            SELECT t.id, t.subject, t.account_id, a.name, t.user_id, p.name, t.ck_partner_id, cp.name,
                   cp.email, t.ck_wait_since, t.sla_status, t.sla_due_at, t.conversation_state,
                   coalesce(t.is_noise, false), coalesce(t.ck_marked_noise, false), t.team_id,
                   t.last_message_at, t.participants
              FROM maildesk_thread t
              JOIN maildesk_account a ON a.id = t.account_id
              LEFT JOIN res_users u ON u.id = t.user_id
              LEFT JOIN res_partner p ON p.id = u.partner_id
              LEFT JOIN res_partner cp ON cp.id = t.ck_partner_id
             WHERE t.id = ANY(%s)
        """, (list(set(thread_ids)),))
        result = {}
        for (tid, subject, account_id, account, user_id, user, partner_id, partner, email, since, status, due,
             state, auto_noise, marked_noise, team_id, last_at, participants) in self.env.cr.fetchall():
            result[tid] = {
                "thread_id": tid, "subject": subject or _("(no subject)"), "account_id": account_id,
                "account": account, "user_id": user_id or False, "user": user or False,
                "customer_id": partner_id or False, "customer": partner or email or participants or "",
                "wait_since": _dt(since), "wait_seconds": (now - since).total_seconds() if since else None,
                "sla": self._sla_chip(status, due, now), "state": state or False,
                # noise: out of every figure. auto_noise: automation's is_noise (only auto-generated
                # mail, recomputed at ingest); marked_noise: the cockpit's triage mark (kept across
                # ingest, undone only by "not noise").
                "noise": auto_noise or marked_noise, "auto_noise": auto_noise, "marked_noise": marked_noise,
                "team_id": team_id or False, "last_message_at": _dt(last_at),
            }
        return result

    @api.model
    def _sla_chip(self, status, due, now, calendar=None):
        """``{status, due, seconds_left}``: the live status (breached as soon as due passes)."""
        status = status or "none"
        left = None
        if due:
            calendar = calendar or bizhours.Calendar.round_the_clock()
            left = bizhours.business_seconds(calendar, now, due) if due > now else \
                -bizhours.business_seconds(calendar, due, now)
            if due <= now and status in ("on_track", "at_risk"):
                status = "breached"
        return {"status": status, "due": _dt(due), "seconds_left": left}

    # -- drawer ------------------------------------------------------------------------------------
    @api.model
    def _threads_in_scope(self, thread_ids, tier=None):
        """The conversations as the caller's records, checked against the base read rule and scope."""
        tier = tier or self._require("viewer")
        if not isinstance(thread_ids, (list, tuple)) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in thread_ids):
            raise UserError(_("Conversations are given by their ids."))
        accounts, companies = self._accounts(tier)
        threads = self.env["maildesk.thread"].with_context(allowed_company_ids=companies.ids).browse(thread_ids)
        if len(threads.exists()) != len(set(thread_ids)):
            raise UserError(_("A conversation was deleted meanwhile."))
        threads.check_access_rights("read")
        threads.check_access_rule("read")  # the base addon's rules, as the caller
        if any(t.account_id not in accounts for t in threads):
            raise AccessError(_("This conversation is outside your cockpit scope."))
        return threads

    @api.model
    def get_thread(self, thread_id):
        """Drawer data: messages (sanitized bodies), attachments, SLA, history, related records."""
        tier = self._require("viewer")
        thread = self._threads_in_scope([thread_id], tier)
        now = fields.Datetime.now()
        # The SLA's calendar, as the SLA evaluation chooses it: the policy's, the team's, the default.
        # sudo: the calendars' hours only.
        calendar = self.env["maildesk.sla.policy"].sudo()._calendar_data(
            thread.sla_policy_id.sudo().resource_calendar_id or thread.sudo().team_id.resource_calendar_id or
            self.env["resource.calendar"].sudo().browse(setting(self.env, "sla_calendar_id")).exists())
        calendar = next(iter(calendar.values()), None)
        messages = self.env["maildesk.message"].search([("thread_id", "=", thread.id)], order="date desc, id desc",
                                                       limit=DRAWER_MESSAGES)
        attachments = self.env["ir.attachment"].search_read(
            [("res_model", "=", "maildesk.message"), ("res_id", "in", messages.ids),
             ("description", "not like", "cid:")], ["name", "mimetype", "file_size", "res_id"])
        files = {}
        for att in attachments:
            files.setdefault(att["res_id"], []).append({
                "id": att["id"], "name": att["name"], "mimetype": att["mimetype"], "size": att["file_size"],
                "url": f"/web/content/{att['id']}?download=true"})
        partner = thread.ck_partner_id
        recent = []
        if partner:
            accounts, _companies = self._accounts(tier)
            others = self.env["maildesk.thread"].search(
                [("ck_partner_id", "=", partner.id), ("id", "!=", thread.id), ("account_id", "in", accounts.ids)],
                order="last_message_at desc", limit=RECENT_THREADS)
            recent = [{"id": t.id, "subject": t.subject or _("(no subject)"), "date": _dt(t.last_message_at),
                       "state": t.conversation_state or False, "account": t.account_id.name} for t in others]
        # sudo: the audit / escalation rows of a conversation the caller may read (checked above).
        audit = self.env["maildesk.cockpit.audit"].sudo().search([("thread_id", "=", thread.id)], limit=20)
        escalations = self.env["maildesk.cockpit.escalation"].sudo().search([("thread_id", "=", thread.id)],
                                                                            limit=20)
        row = self._thread_rows([thread.id], now)[thread.id]
        row["sla"] = self._sla_chip(thread.sla_status, thread.sla_due_at, now, calendar)
        row["sla"]["policy"] = thread.sla_policy_id.sudo().name or False
        row["sla"]["target"] = thread.sla_target_kind or False
        return {
            "thread": row,
            "messages": [{
                "id": m.id, "subject": m.subject or "", "from": m.email_from or "", "to": m.email_to or "",
                "date": _dt(m.date), "direction": m.direction, "kind": m.ck_kind or False,
                # body_html was sanitized at ingest (engine/sanitize.py); shown in a sandboxed iframe.
                "body_html": str(m.body_html or ""), "body_text": m.body_text or "",
                "attachments": files.get(m.id, []),
            } for m in messages],
            "customer": {"id": partner.id, "name": partner.display_name, "email": partner.email or ""}
            if partner else False,
            "recent": recent,
            "related": self._related(partner) if partner else [],
            "audit": [{"date": _dt(a.create_date), "user": a.user_id.name, "action": a.action,
                       "old": a.old_value or "", "new": a.new_value or "", "reason": a.reason or ""} for a in audit],
            "escalations": [{"date": _dt(e.fired_at), "level": e.level_id.sequence, "policy": e.policy_id.name or "",
                             "users": ", ".join(e.user_ids.mapped("name"))} for e in escalations],
            "can": self._can_triage(thread, tier),
            "client_action": {"type": "ir.actions.client", "tag": "maildesk.client", "name": _("Mailbox"),
                              "context": {"maildesk_account_id": thread.account_id.id,
                                          "maildesk_thread_id": thread.id}},
        }

    @api.model
    def _related(self, partner):
        """Records of the customer in installed apps the caller may read (their rules apply)."""
        result = []
        commercial = partner.commercial_partner_id
        for model, label, field, domain in RELATED:
            if model not in self.env:
                continue
            Model = self.env[model]
            if not Model.check_access_rights("read", raise_exception=False):
                continue
            records = Model.search([(field, "child_of", commercial.id)] + domain, limit=RELATED_LIMIT,
                                   order="id desc")
            if records:
                result.append({"model": model, "label": label, "records": [
                    {"id": r.id, "name": r.display_name, "url": f"/web#model={model}&id={r.id}&view_type=form"}
                    for r in records]})
        return result

    # -- triage ------------------------------------------------------------------------------------
    @api.model
    def _own(self, thread):
        user = self.env.user
        if thread.user_id == user:
            return True
        team = thread.sudo().team_id  # sudo: membership is what decides, the team itself may be hidden
        return not thread.user_id and (user in team.member_ids or user == team.leader_id)

    @api.model
    def _in_my_teams(self, thread):
        team = thread.sudo().team_id  # sudo: as in _own
        user = self.env.user
        return bool(team) and (user in team.member_ids or user == team.leader_id)

    @api.model
    def _can_triage(self, thread, tier):
        if tier == "admin":
            allowed = True
        elif tier == "manager":
            allowed = self._own(thread) or self._in_my_teams(thread)
        elif tier == "operator":
            allowed = self._own(thread)
        else:
            allowed = False
        return {"triage": allowed, "reassign": allowed and tier in ("manager", "admin")}

    @api.model
    def _triage_threads(self, thread_ids, reassign=False):
        tier = self._require("operator")
        # The base read rule (inside _threads_in_scope) is the mailbox membership; users have no
        # write access on conversations (derived data), triage is the cockpit tier's right.
        threads = self._threads_in_scope(list(thread_ids), tier)
        for thread in threads:
            can = self._can_triage(thread, tier)
            if not can["reassign" if reassign else "triage"]:
                raise AccessError(_("You may not change the conversation '%s' from the cockpit.", thread.subject))
        return threads

    @api.model
    def assign(self, thread_ids, user_id):
        """Assign to ``user_id`` (False: unassign). Others than oneself need the Manager tier."""
        user_id = _int_or_none(user_id, _("The assignee"))
        to_self = user_id == self.env.uid
        threads = self._triage_threads(thread_ids, reassign=not to_self)
        if user_id:
            user = self.env["res.users"].browse(user_id).exists()
            if not user or user.share:
                raise UserError(_("Conversations are assigned to internal users only."))
        audit = [{"thread_id": t.id, "action": "assign", "old_value": t.user_id.name or "",
                  "new_value": self.env["res.users"].browse(user_id).name if user_id else ""} for t in threads]
        threads.action_assign(user_id or False)
        self._after_triage(threads, audit)
        return True

    @api.model
    def assign_to_me(self, thread_ids):
        return self.assign(thread_ids, self.env.uid)

    @api.model
    def mark_noise(self, thread_ids, noise=True):
        """Mark as noise (out of every figure) or undo it; kept in the audit trail."""
        threads = self._triage_threads(thread_ids)
        noise = bool(noise)
        changed = threads.filtered(lambda t: t.ck_marked_noise != noise)
        audit = [{"thread_id": t.id, "action": "noise" if noise else "unnoise"} for t in changed]
        changed.sudo().write({"ck_marked_noise": noise})  # sudo: readonly cockpit column; checks above
        self._after_triage(threads, audit)
        return True

    @api.model
    def override_sla(self, thread_id, due, reason):
        """A new due time for the current wait of one conversation, with a reason (audited)."""
        threads = self._triage_threads([thread_id])
        reason = (reason or "").strip()
        if not reason:
            raise UserError(_("Say why the SLA is overridden: the reason is kept in the audit trail."))
        try:
            due_at = fields.Datetime.to_datetime(due)
        except ValueError as exc:
            raise UserError(_("The new due time is not a date and time (YYYY-MM-DD HH:MM:SS, UTC).")) from exc
        if not isinstance(due_at, datetime):
            raise UserError(_("The new due time is not a date and time (YYYY-MM-DD HH:MM:SS, UTC)."))
        thread = threads
        if not thread.ck_wait_message_id:
            raise UserError(_("Nothing is waiting for an answer in this conversation: there is no SLA to override."))
        audit = [{"thread_id": thread.id, "action": "sla_override", "old_value": _dt(thread.sla_due_at) or "",
                  "new_value": _dt(due_at), "reason": reason}]
        # sudo: readonly cockpit columns; the tier and the base read rule were checked above.
        thread.sudo().write({"sla_override_due": due_at, "sla_override_gap": thread.ck_wait_message_id})
        self._after_triage(threads, audit)
        return True

    @api.model
    def _after_triage(self, threads, audit):
        if audit:
            # sudo: the audit trail is read-only for everyone; the change itself was checked.
            self.env["maildesk.cockpit.audit"].sudo().create(audit)
        threads.sudo()._cockpit_refresh_sla()  # sudo: derived SLA columns
        for account in threads.account_id:
            self._notify_changed(account, threads.filtered(lambda t, a=account: t.account_id == a))

    @api.model
    def _notify_changed(self, account, threads):
        """Tell every open mailbox client and cockpit of this mailbox (bus ``maildesk.update``)."""
        account = account.sudo()  # sudo: who sees the mailbox decides who is told, not the caller
        admins = self.env.ref("maildesk_mail_client.group_maildesk_admin").sudo().users
        users = (account.owner_id | account.user_ids | admins).filtered("active")
        payload = {"account_id": account.id, "thread_ids": threads.ids, "source": "cockpit"}
        self.env["bus.bus"].sudo()._sendmany([(u.partner_id, "maildesk.update", payload) for u in users])

    # -- boards ------------------------------------------------------------------------------------
    @api.model
    def save_board(self, values):
        """Create or update a board (Manager tier): name, filters, layout, share_team_id."""
        self._require("manager")
        if not isinstance(values, dict):
            raise UserError(_("A board is a set of named values."))
        vals = {k: values[k] for k in ("name", "filters", "layout", "share_team_id") if k in values}
        if vals.get("share_team_id"):
            team_id = _int_or_none(vals["share_team_id"], _("The team"))
            if not self.env["maildesk.team"].search([("id", "=", team_id)]):
                raise AccessError(_("You cannot share a board with this team."))
        if vals.get("filters"):
            self._scope(vals["filters"])  # the preset itself must be in the caller's scope
        board_id = _int_or_none(values.get("id"), _("The board"))
        Board = self.env["maildesk.cockpit.board"]
        if board_id:
            board = Board.browse(board_id)
            board.check_access_rule("write")
            board.write(vals)
        else:
            board = Board.create(vals)
        return board.id

    @api.model
    def delete_board(self, board_id):
        self._require("manager")
        board = self.env["maildesk.cockpit.board"].browse(_int_or_none(board_id, _("The board")))
        board.check_access_rule("unlink")
        board.unlink()
        return True
