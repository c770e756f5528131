"""Scheduled cockpit reports: CSV / XLSX / PDF files mailed on a schedule, kept in a history.

What a report is
    A scope (team, mailbox, customer: the cockpit dashboard's filters), a period (the local
    days before the run, ``engine/report_schedule.py``), sections (KPI summary with trends,
    per mailbox / per person breakdown, SLA attainment and breaches, oldest waiting threads),
    a format, a schedule (daily / weekly / monthly at a local time of the owner's time zone,
    the next run stored) and recipients (internal users and free addresses).

Whose numbers
    Always the **owner's**: every figure is computed as the owner (``with_user``), through
    the cockpit's own scope checks (``maildesk.cockpit._scope``: the mailboxes the base
    addon's rules let the owner read, in the report's company), so a report never shows more
    than its owner's dashboard, whoever runs it (the cron runs as root). The owner must still
    hold the Manager tier when it runs, else the run fails with the reason. Managers create
    reports for themselves; only a Cockpit Administrator may set another owner.

Who gets what
    Internal users of the company in the recipients get the file with every chosen section;
    users of other companies count as outside it. Free addresses
    that are not an internal user of the company are **outside** it: they get what the owner
    chose for them (``external_content``): the same file, the KPI summary only (no names,
    subjects or addresses), or nothing. One message per recipient, so nobody sees the others.
    Mail goes through Odoo's outgoing mail servers (``ir.mail_server``, Settings ▸ Technical),
    not through a MailDesk mailbox: a report is not conversation mail and must not count in it.

Large scopes
    Lists are read in keyset chunks (``engine/report_sql.py``) and fed to the engine's
    streaming writers (``engine/reports.py``) through generators; the file goes to a temporary
    file, so a 50,000-row report holds one chunk of rows at a time
    (``tests/bench/bench_cockpit_reports_odoo.py`` measures it).

Cron
    ``_cron_send_due`` picks the due reports (``next_run_at <= now``), a batch at a time, runs
    each and commits after each one (cron only), so a failing report is logged on its run and
    never blocks the others; the next run is always moved on. It re-triggers itself while due
    reports remain.
"""
import logging
import re
import tempfile
import threading
import time
from datetime import timezone
from zoneinfo import ZoneInfo

from markupsafe import Markup
from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError

from ..engine import report_schedule, report_sql, reports, stats
from ..engine.reports import Column, Report, Section

_logger = logging.getLogger(__name__)

CRON_BATCH = 20  # reports per cron run before it re-triggers itself
CRON_TIME_BUDGET = 60  # seconds; past it the cron re-triggers itself (17.0 has no progress API)
CHUNK = 2000  # rows fetched per keyset page
MAX_ROWS = 100000  # a list section never exceeds this (a 0 "all rows" setting included)
MIMETYPES = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "pdf": "application/pdf"}
WEEKDAYS = [("0", "Monday"), ("1", "Tuesday"), ("2", "Wednesday"), ("3", "Thursday"), ("4", "Friday"),
            ("5", "Saturday"), ("6", "Sunday")]
PERIODS = [("previous_day", "Previous day"), ("previous_7_days", "Previous 7 days"),
           ("previous_week", "Previous week (Mon-Sun)"), ("previous_30_days", "Previous 30 days"),
           ("previous_month", "Previous month"), ("week_to_date", "Week to date"),
           ("month_to_date", "Month to date")]
SLA_LABELS = {"none": "No SLA", "on_track": "On track", "at_risk": "At risk", "breached": "Breached",
              "paused": "Waiting for customer", "met": "Met"}


def _is_testing():
    return getattr(threading.current_thread(), "testing", False)


def _slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "-", text or "report").strip("-").lower()[:60] or "report"


class MaildeskCockpitReport(models.Model):
    _name = "maildesk.cockpit.report"
    _description = "MailDesk Cockpit Scheduled Report"
    _order = "name, id"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    owner_id = fields.Many2one("res.users", "Owner", required=True, index=True, default=lambda self: self.env.user,
                               domain=[("share", "=", False)],
                               help="The report shows what this user may see in the cockpit, nothing more.")
    tz = fields.Selection(related="owner_id.tz", string="Time Zone", readonly=True,
                          help="The owner's time zone: the schedule and the report's days are local to it.")
    # Scope: the cockpit dashboard's filters.
    team_id = fields.Many2one("maildesk.team", "Team", help="Empty: every team in the owner's scope.")
    account_id = fields.Many2one("maildesk.account", "Mailbox", help="Empty: every mailbox the owner may read.")
    partner_id = fields.Many2one("res.partner", "Customer", help="Empty: every customer.")
    period = fields.Selection(PERIODS, required=True, default="previous_7_days")
    # Sections
    section_summary = fields.Boolean("KPI Summary", default=True, help="Every card with its trend.")
    section_breakdown = fields.Boolean("Per Mailbox / Person", default=True)
    section_sla = fields.Boolean("SLA Attainment and Breaches", default=True)
    section_oldest = fields.Boolean("Oldest Waiting Threads", default=True)
    row_limit = fields.Integer("Rows per List", default=500,
                               help="Rows of the breaches and oldest-threads lists; 0: all (at most 100,000).")
    report_format = fields.Selection([("csv", "CSV"), ("xlsx", "Excel (XLSX)"), ("pdf", "PDF")], "Format",
                                     required=True, default="xlsx")
    # Schedule
    frequency = fields.Selection([("daily", "Daily"), ("weekly", "Weekly"), ("monthly", "Monthly")],
                                 required=True, default="weekly")
    run_hour = fields.Float("At (local time)", default=8.0)
    weekday = fields.Selection(WEEKDAYS, default="0")
    monthday = fields.Integer("Day of Month", default=1, help="31: the last day of every month.")
    next_run_at = fields.Datetime("Next Run", readonly=True, copy=False, index=True)
    last_run_at = fields.Datetime("Last Run", readonly=True, copy=False)
    # Recipients
    recipient_user_ids = fields.Many2many("res.users", string="Users", domain=[("share", "=", False)],
                                          help="Internal users: they get every chosen section and see the history.")
    recipient_emails = fields.Char("Other Addresses", help="Comma-separated addresses.")
    external_content = fields.Selection(
        [("full", "The same file"), ("summary", "KPI summary only (no names, subjects or addresses)"),
         ("none", "Nothing")], "Outside the Company Get", required=True, default="summary",
        help="What addresses that are not internal users of the company receive.")
    run_ids = fields.One2many("maildesk.cockpit.report.run", "report_id", "History")
    run_count = fields.Integer(compute="_compute_run_count")

    _sql_constraints = [
        ("row_limit_positive", "CHECK (row_limit >= 0)", "Rows per list cannot be negative."),
    ]

    def _compute_run_count(self):
        data = dict(self.env["maildesk.cockpit.report.run"]._read_group(
            [("report_id", "in", self.ids)], ["report_id"], ["__count"]))
        for report in self:
            report.run_count = data.get(report, 0)

    # -- checks ------------------------------------------------------------------------------------
    @api.constrains("frequency", "run_hour", "weekday", "monthday")
    def _check_schedule(self):
        for report in self:
            try:
                report._next_after(fields.Datetime.now())
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc

    @api.constrains("recipient_emails")
    def _check_recipient_emails(self):
        for report in self:
            for address in report._free_addresses():
                if not tools.single_email_re.match(address):
                    raise ValidationError(_("'%s' is not an email address.", address))

    @api.constrains("recipient_user_ids", "owner_id")
    def _check_internal_users(self):
        for report in self:
            if (report.recipient_user_ids | report.owner_id).filtered("share"):
                raise ValidationError(_("Reports go to internal users; add other people by address."))

    @api.constrains("owner_id", "company_id", "team_id", "account_id", "partner_id")
    def _check_owner_scope(self):
        """The scope must be within the owner's cockpit scope (checked as the owner)."""
        for report in self:
            report._owner_cockpit()._scope(report._filters())

    # -- CRUD --------------------------------------------------------------------------------------
    @api.model
    def _check_owner_value(self, vals):
        """Only a Cockpit Administrator names another owner (a manager would borrow their scope)."""
        owner = vals.get("owner_id")
        if owner and owner != self.env.uid and not self.env.su and \
                self.env["maildesk.cockpit"]._tier() != "admin":
            raise AccessError(_("Only a Cockpit Administrator may create or give a report for someone else."))

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            self.env["maildesk.cockpit"]._require("manager")
        for vals in vals_list:
            self._check_owner_value(vals)
        reports_ = super().create(vals_list)
        reports_._reschedule()
        return reports_

    def write(self, vals):
        if not self.env.su:
            self.env["maildesk.cockpit"]._require("manager")
        self._check_owner_value(vals)
        result = super().write(vals)
        if {"frequency", "run_hour", "weekday", "monthday", "owner_id", "active"} & set(vals):
            self._reschedule()
        return result

    def unlink(self):
        # Through the ORM, so each run's files go with it (a database cascade would orphan them).
        # sudo: the runs follow their report, which the caller may delete (checked by the rules).
        self.check_access_rule("unlink")
        self.env["maildesk.cockpit.report.run"].sudo().search([("report_id", "in", self.ids)]).unlink()
        return super().unlink()

    def copy(self, default=None):
        default = dict(default or {}, name=_("%s (copy)", self.name), owner_id=self.env.uid)
        return super().copy(default)

    # -- schedule ----------------------------------------------------------------------------------
    def _owner_tz(self):
        return self.owner_id.tz or "UTC"

    def _next_after(self, moment):
        self.ensure_one()
        return report_schedule.next_run(self.frequency, self.run_hour, self._owner_tz(), moment,
                                        weekday=int(self.weekday or 0), monthday=self.monthday or 1)

    def _reschedule(self, after=None):
        now = after or fields.Datetime.now()
        for report in self:
            # sudo: next_run_at is the cron's bookkeeping, readonly for users.
            report.sudo().next_run_at = report._next_after(now) if report.active else False

    # -- whose numbers -----------------------------------------------------------------------------
    def _owner_cockpit(self):
        """The cockpit API as the owner, in the report's company (AccessError when they left it)."""
        self.ensure_one()
        # sudo: the owner's company membership decides, whoever asks.
        if self.company_id not in self.owner_id.sudo().company_ids:
            raise AccessError(_("The report's owner %s no longer belongs to the company %s.",
                                self.owner_id.name, self.company_id.name))
        return self.env["maildesk.cockpit"].with_user(self.owner_id).with_context(
            allowed_company_ids=[self.company_id.id], tz=self._owner_tz())

    def _filters(self, date_from=None, date_to=None):
        filters = {"account_id": self.account_id.id or None, "team_id": self.team_id.id or None,
                   "partner_id": self.partner_id.id or None}
        if date_from:
            filters.update(period="custom", date_from=date_from.isoformat(), date_to=date_to.isoformat())
        return filters

    def _free_addresses(self):
        return [a.strip() for a in re.split(r"[,;\s]+", self.recipient_emails or "") if a.strip()]

    def _recipients(self):
        """``[(address, internal)]``: users first (internal when they belong to the report's
        company), then free addresses (internal when an internal user of the company has that
        address), each address once."""
        self.ensure_one()
        seen, result = set(), []
        # sudo: company membership decides what a user receives, not the caller's read rights.
        for user in self.recipient_user_ids.sudo().filtered(lambda u: u.active and u.email):
            key = user.email.strip().lower()
            if key not in seen:
                seen.add(key)
                result.append((user.email.strip(), self.company_id in user.company_ids))
        addresses = self._free_addresses()
        internal = set()
        if addresses:
            # sudo: which internal user has an address decides what it receives, not the caller's read rights.
            users = self.env["res.users"].sudo().search([("share", "=", False),
                                                          ("company_ids", "in", self.company_id.id)])
            internal = {(u.email or "").strip().lower() for u in users if u.email}
        for address in addresses:
            key = address.lower()
            if key not in seen:
                seen.add(key)
                result.append((address, key in internal))
        return result

    # -- building the report -----------------------------------------------------------------------
    def _local_converter(self):
        """A function: naive UTC -> naive local time of the owner (looked up once, used per row)."""
        zone = ZoneInfo(self._owner_tz())

        def local(moment):
            return moment.replace(tzinfo=timezone.utc).astimezone(zone).replace(tzinfo=None) if moment else None
        return local

    def _collect(self, now):
        """Everything computed as the owner, except the lists (generators, read later)."""
        self.ensure_one()
        cockpit = self._owner_cockpit()
        tier = cockpit._tier()
        if tier not in ("manager", "admin"):
            raise AccessError(_("The report's owner %s no longer has the Cockpit Manager tier.", self.owner_id.name))
        first, last = report_schedule.period_dates(self.period, report_schedule.local_date(self._owner_tz(), now))
        filters = self._filters(first, last)
        dashboard = cockpit.get_dashboard(filters, options=False)
        _tier, scope, period, scope_now = cockpit._scope(filters)
        sla = {"total": {}, "account": {}, "user": {}}
        if self.section_sla or self.section_summary:
            cockpit.env.flush_all()
            for grouping, current, account_id, user_id, met, late, open_ in cockpit._sql(
                    report_sql.sla_sql(scope, period)):
                kind = report_sql.SLA_SETS.get(grouping)
                key = {"total": None, "account": account_id, "user": user_id}.get(kind)
                if kind:
                    sla[kind].setdefault(key, {})[bool(current)] = (met, late + open_)
        days = first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"
        return {"cockpit": cockpit, "dashboard": dashboard, "scope": scope, "period": period, "now": scope_now,
                "first": first, "last": last, "days": days, "sla": sla}

    def _scope_label(self):
        parts = [self.team_id.sudo().name, self.account_id.sudo().name, self.partner_id.sudo().name]
        return ", ".join(p for p in parts if p) or _("every mailbox of %s", self.owner_id.name)

    @staticmethod
    def _change(value, previous, unit=""):
        trend = stats.trend(value, previous)
        if trend["delta"] is None:
            return ""
        delta = trend["delta"]
        text = f"{delta:+,.1f}{unit}" if isinstance(delta, float) else f"{delta:+,d}{unit}"
        if trend["percent"] is not None:
            text += f" ({trend['percent']:+.1f} %)"
        return text

    def _summary_rows(self, data):
        """``(label, value, previous, change)`` for every card and the SLA attainment."""
        cards = data["dashboard"]["cards"]
        rows = []
        for key, label in (("incoming", _("Incoming messages")), ("outgoing", _("Outgoing messages")),
                           ("waiting", _("Waiting for us (now)")), ("needs_reply", _("Needs reply (now)")),
                           ("overdue", _("Overdue (now)"))):
            card = cards[key]
            rows.append((label, card["value"], card["previous"], self._change(card["value"], card["previous"])))
        for key, label in (("first_response", _("First response, median (business hours)")),
                           ("response_time", _("Response time, median (business hours)"))):
            card = cards[key]
            value = round(card["value"] / 3600.0, 1) if card["value"] is not None else None
            previous = round(card["previous"] / 3600.0, 1) if card["previous"] is not None else None
            rows.append((label, value, previous, self._change(value, previous, " h")))
        total = data["sla"]["total"].get(None, {})
        current = report_sql.attainment(*total.get(True, (0, 0)))
        previous = report_sql.attainment(*total.get(False, (0, 0)))
        pct = round(100 * current, 1) if current is not None else None
        prev_pct = round(100 * previous, 1) if previous is not None else None
        rows.append((_("SLA attainment (%)"), pct, prev_pct, self._change(pct, prev_pct, " pt")))
        met, breached = total.get(True, (0, 0))
        rows.append((_("SLA met / breached"), f"{met} / {breached}", "", ""))
        return rows

    def _breakdown_rows(self, data, group):
        sla = data["sla"][group]
        for line in data["dashboard"]["breakdown"][group]:
            met, breached = sla.get(line["key"] or None, {}).get(True, (0, 0))
            first = line.get("first_response")
            row = {"name": line["name"], "incoming": line["incoming"], "outgoing": line["outgoing"],
                   "waiting": line["waiting"], "needs_reply": line["needs_reply"], "overdue": line["overdue"],
                   "first_response": first / 3600.0 if first is not None else None}
            if self.section_sla:
                row.update(met=met, breached=breached, attainment=report_sql.attainment(met, breached))
            yield row

    def _breakdown_columns(self, name_label):
        columns = [Column("name", name_label, "text", 28), Column("incoming", _("Incoming"), "int", 10),
                   Column("outgoing", _("Outgoing"), "int", 10), Column("waiting", _("Waiting"), "int", 10),
                   Column("needs_reply", _("Needs reply"), "int", 11), Column("overdue", _("Overdue"), "int", 10),
                   Column("first_response", _("First response (median)"), "hours", 14)]
        if self.section_sla:
            columns += [Column("met", _("SLA met"), "int", 9), Column("breached", _("SLA breached"), "int", 11),
                        Column("attainment", _("SLA attainment"), "percent", 12)]
        return columns

    def _limit(self):
        return min(self.row_limit, MAX_ROWS) if self.row_limit else MAX_ROWS

    def _waiting_rows(self, data):
        cockpit, scope, now = data["cockpit"], data["scope"], data["now"]
        rows = report_sql.chunks(cockpit._sql, lambda after, size: report_sql.waiting_page_sql(
            scope, now, after, size), self._limit(), CHUNK)
        local, no_subject, unassigned = self._local_converter(), _("(no subject)"), _("Unassigned")
        for since, _tid, subject, mailbox, team, assignee, customer, status, due in rows:
            yield (local(since), (now - since).total_seconds() / 3600.0, subject or no_subject, mailbox,
                   team, assignee or unassigned, customer, SLA_LABELS.get(status or "none", status), local(due))

    def _breach_rows(self, data):
        cockpit, scope, period = data["cockpit"], data["scope"], data["period"]
        rows = report_sql.chunks(cockpit._sql, lambda after, size: report_sql.breaches_page_sql(
            scope, period, after, size), self._limit(), CHUNK)
        local, no_subject, unassigned = self._local_converter(), _("(no subject)"), _("Unassigned")
        for due, _mid, subject, mailbox, team, assignee, customer, since, answered in rows:
            late = ((answered or period.end) - due).total_seconds() / 3600.0
            yield (local(due), subject or no_subject, mailbox, team, assignee or unassigned, customer, local(since),
                   local(answered), late)

    def _build(self, data, external=False):
        """The engine ``Report`` (rows as generators); ``external``: the summary-only variant."""
        self.ensure_one()
        subtitle = _("%(scope)s · %(days)s · times in %(tz)s", scope=self._scope_label() if not external else
                     self.company_id.name, days=data["days"], tz=self._owner_tz())
        cards = data["dashboard"]["cards"]
        report = Report(title=self.name, subtitle=subtitle, trend_label=_("Incoming messages per day"),
                        trend=list(zip(data["dashboard"]["period"]["days"], cards["incoming"]["series"])))
        summary_rows = self._summary_rows(data)
        if self.section_summary or external:
            report.summary = [(label, value if value is not None else "", change)
                              for label, value, _prev, change in summary_rows]
            report.sections.append(Section(_("KPI summary"), [
                Column("kpi", _("KPI"), "text", 40), Column("value", _("Value"), "text", 14),
                Column("previous", _("Previous period"), "text", 16), Column("change", _("Change"), "text", 20)],
                iter(summary_rows)))
        if external:
            return report
        if self.section_breakdown:
            report.sections.append(Section(_("Per mailbox"), self._breakdown_columns(_("Mailbox")),
                                           self._breakdown_rows(data, "account")))
            report.sections.append(Section(_("Per person"), self._breakdown_columns(_("Person")),
                                           self._breakdown_rows(data, "user")))
        if self.section_sla:
            report.sections.append(Section(_("SLA breaches"), [
                Column("due", _("Due"), "datetime", 16), Column("subject", _("Subject"), "text", 36),
                Column("mailbox", _("Mailbox"), "text", 16), Column("team", _("Team"), "text", 14),
                Column("assignee", _("Assignee"), "text", 16), Column("customer", _("Customer"), "text", 22),
                Column("since", _("Waiting since"), "datetime", 16),
                Column("answered", _("Answered"), "datetime", 16), Column("late", _("Late by"), "hours", 10)],
                self._breach_rows(data)))
        if self.section_oldest:
            report.sections.append(Section(_("Oldest waiting threads"), [
                Column("since", _("Waiting since"), "datetime", 16), Column("waiting", _("Waiting"), "hours", 10),
                Column("subject", _("Subject"), "text", 36), Column("mailbox", _("Mailbox"), "text", 16),
                Column("team", _("Team"), "text", 14), Column("assignee", _("Assignee"), "text", 16),
                Column("customer", _("Customer"), "text", 22), Column("sla", _("SLA"), "text", 12),
                Column("due", _("SLA due"), "datetime", 16)],
                self._waiting_rows(data)))
        return report

    def _render(self, report, data, suffix=""):
        """``[(filename, bytes, mimetype)]`` and ``{section: rows}``; rows stream into a temp file."""
        self.ensure_one()
        base = f"{_slug(self.name)}-{data['first'].isoformat()}-{data['last'].isoformat()}{suffix}"
        files, counts = [], {}
        fmt = self.report_format
        if fmt == "csv":
            for section in report.sections:
                with tempfile.TemporaryFile() as out:
                    counts[section.title] = reports.write_csv(section, out)
                    out.seek(0)
                    files.append((f"{base}-{_slug(section.title)}.csv", out.read(), MIMETYPES["csv"]))
            return files, counts
        with tempfile.TemporaryFile() as out:
            if fmt == "xlsx":
                counts = reports.write_xlsx(report, out)
            else:
                counts = reports.write_pdf(report, out)["rows"]
            out.seek(0)
            files.append((f"{base}.{fmt}", out.read(), MIMETYPES[fmt]))
        return files, counts

    # -- running -----------------------------------------------------------------------------------
    def action_run_now(self):
        """Build and send the report now (the schedule does not move); returns the run's form."""
        self.ensure_one()
        self.env["maildesk.cockpit"]._require("manager")
        self.check_access_rights("write")
        self.check_access_rule("write")  # only the owner (or an administrator) runs a report
        run = self.sudo()._run("manual")  # sudo: the run computes as the owner; the mail is a system mail
        return {"type": "ir.actions.act_window", "res_model": "maildesk.cockpit.report.run", "res_id": run.id,
                "view_mode": "form", "target": "current"}

    def action_view_runs(self):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "name": _("History"), "res_model": "maildesk.cockpit.report.run",
                "view_mode": "tree,form", "domain": [("report_id", "=", self.id)],
                "context": {"default_report_id": self.id}}

    def _run(self, trigger):
        """One run: build, store, mail. Errors are recorded on the run, never raised."""
        self.ensure_one()
        Run = self.env["maildesk.cockpit.report.run"].sudo()
        now = fields.Datetime.now()
        run = Run.create({"report_id": self.id, "trigger": trigger, "started_at": now, "state": "running",
                          "company_id": self.company_id.id})
        try:
            with self.env.cr.savepoint():
                self._run_into(run, now)
        except Exception as exc:  # noqa: BLE001 - one report's failure is data: logged on its run
            _logger.warning("MailDesk report %s (id %s) failed: %s", self.name, self.id, exc)
            run.write({"state": "failed", "error": str(exc) or exc.__class__.__name__,
                       "finished_at": fields.Datetime.now()})
        self.sudo().last_run_at = now
        return run

    def _run_into(self, run, now):
        data = self._collect(now)
        files, counts = self._render(self._build(data), data)
        attachments = run._attach(files)
        recipients = self._recipients()
        external_files = None
        if any(not internal for _a, internal in recipients) and self.external_content == "summary":
            external_files, _counts = self._render(self._build(data, external=True), data, "-summary")
            attachments |= run._attach(external_files, external=True)
        run.write({"period_start": data["first"], "period_end": data["last"],
                   "row_count": sum(counts.values()), "section_rows": ", ".join(
                       f"{title}: {n}" for title, n in counts.items())})
        sent, skipped, failed = [], [], []
        for address, internal in recipients:
            if internal or self.external_content == "full":
                payload = files
            elif self.external_content == "summary":
                payload = external_files
            else:
                skipped.append(address)  # outside the company, and the owner chose to send them nothing
                continue
            try:
                self._send(address, payload, data, internal, run)
                sent.append(address)
            except Exception as exc:  # noqa: BLE001 - one address failing does not stop the others
                failed.append(f"{address}: {exc}")
        state = ("failed" if not sent else "partial") if failed else "done"
        run.write({"state": state, "sent_to": ", ".join(sent), "skipped_to": ", ".join(skipped),
                   "error": "\n".join(failed) or False, "finished_at": fields.Datetime.now()})
        _logger.info("MailDesk report %s (id %s): %s rows, %s files, sent to %s address(es)",
                     self.name, self.id, sum(counts.values()), len(attachments), len(sent))

    def _mail_from(self):
        """The sender of report mail: Odoo's default sender, else the company's, else the owner's."""
        address = self.env["ir.mail_server"]._get_default_from_address() or self.company_id.email or \
            self.owner_id.email
        if not address:
            raise UserError(_("No sender address: set the company's email or Odoo's default sender (email_from)."))
        return address

    def _send(self, address, files, data, internal, run):
        days = data["days"]
        subject = f"{self.name} ({days})"
        lines = [Markup("<p>%s</p>") % _("The report %(name)s for %(days)s is attached.", name=self.name, days=days)]
        if self.section_summary or not internal:
            rows = Markup("").join(Markup("<tr><td>%s</td><td style='text-align:right'>%s</td><td>%s</td></tr>") % (
                label, "" if value is None else value, change) for label, value, _p, change in self._summary_rows(data))
            lines.append(Markup("<table cellpadding='4'>%s</table>") % rows)
        if internal:
            base_url = self.get_base_url()
            lines.append(Markup("<p><a href='%s/web#model=maildesk.cockpit.report.run&amp;id=%s&amp;view_type=form'>"
                                "%s</a></p>") % (base_url, run.id, _("Open the report's history")))
        body = Markup("").join(lines) + Markup("<p style='color:#777'>%s</p>") % _(
            "Sent by MailDesk on behalf of %s.", self.owner_id.name)
        IrMail = self.env["ir.mail_server"].sudo()  # sudo: outgoing servers are system configuration
        message = IrMail.build_email(
            email_from=self._mail_from(), email_to=[address], subject=subject, body=str(body),
            subtype="html", attachments=files,
            headers={"Auto-Submitted": "auto-generated", "X-MailDesk-Report": str(self.id)})
        IrMail.send_email(message)

    @api.model
    def _cron_send_due(self, batch=CRON_BATCH):
        """Run the reports that are due, one commit each (see the module doc)."""
        now = fields.Datetime.now()
        started = time.monotonic()
        due = self.sudo().search([("active", "=", True), ("next_run_at", "<=", now)], order="next_run_at, id",
                                 limit=batch + 1)
        done = 0
        for report in due[:batch]:
            try:
                report._run("cron")
            except Exception:  # noqa: BLE001 - _run records its own errors; this guards the bookkeeping
                _logger.exception("MailDesk report %s could not be run", report.id)
                if not _is_testing():
                    self.env.cr.rollback()  # cron only: a broken transaction must not stop the others
            # The next slot after now: a report late by several periods runs once, not once per missed slot.
            report._reschedule(now)
            done += 1
            if not _is_testing():
                self.env.cr.commit()  # cron only: each report is kept whatever happens to the next
            if time.monotonic() - started > CRON_TIME_BUDGET:
                break
        if len(due) > done:
            self.env.ref("maildesk_mail_client_cockpit.ir_cron_cockpit_reports")._trigger()
        return done
