"""Per-conversation cockpit state: the open wait, the customer, the SLA policy / due / status.

``_cockpit_refresh_facts`` reads the conversations' messages in one query, classifies them
and walks their gaps with ``engine.facts`` and writes messages and threads back in two
statements. ``_cockpit_refresh_sla`` matches the policies (``engine.sla``), writes policy,
due time and status in one statement and fires the escalation levels that came due (once
per conversation, gap and level: ``maildesk.cockpit.escalation``). Both run at ingest
(``maildesk.message._on_messages_stored``), after triage, and from the SLA cron.
"""
import logging
import threading
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.addons.maildesk_mail_client.engine import pgarray

from ..engine import bizhours, facts, sla, wait_due
from .res_config_settings import setting

_logger = logging.getLogger(__name__)

SLA_STATUS = [("none", "No SLA"), ("on_track", "On track"), ("at_risk", "At risk"), ("breached", "Breached"),
              ("paused", "Waiting for customer"), ("met", "Met")]
# Settings (res_config_settings.py): the cron's batch ("sla_batch") and time budget in seconds
# before it re-triggers itself ("sla_time_budget"; 17.0 has no progress API); a level whose
# moment passed longer ago than "escalation_grace_hours" when first seen is history (a new
# policy, a long cron outage): it is not fired, so a new policy does not flood everyone.
FULL_RUN_EVERY = timedelta(days=1)  # calendars' leaves may change without touching a policy
DIRTY_PARAM = "maildesk_mail_client_cockpit.sla_dirty"
FULL_RUN_PARAM = "maildesk_mail_client_cockpit.sla_full_run_at"
ROUND_THE_CLOCK = bizhours.Calendar.round_the_clock()


def _is_testing():
    return getattr(threading.current_thread(), "testing", False)


class MaildeskThread(models.Model):
    # The mixin: SLA escalation to-dos on the conversation when mail is installed.
    _name = "maildesk.thread"
    _inherit = ["maildesk.thread", "maildesk.cockpit.activity.mixin"]

    ck_wait_since = fields.Datetime("Waiting Since", readonly=True, copy=False,
                                    help="The oldest unanswered customer message (empty: nothing waits for us).")
    ck_wait_first = fields.Boolean("Waiting for First Response", readonly=True, copy=False)
    ck_wait_message_id = fields.Integer(readonly=True, copy=False)
    ck_segment_consumed = fields.Float(readonly=True, copy=False)
    ck_partner_id = fields.Many2one("res.partner", "Customer", readonly=True, index=True, ondelete="set null")
    ck_marked_noise = fields.Boolean("Marked as Noise", readonly=True, copy=False,  # partial index: init()
                                     help="Marked as noise from the cockpit (undo clears it).")
    sla_policy_id = fields.Many2one("maildesk.sla.policy", "SLA Policy", readonly=True, ondelete="set null")
    sla_due_at = fields.Datetime("SLA Due", readonly=True, copy=False)  # indexed while running: init()
    sla_status = fields.Selection(SLA_STATUS, "SLA", readonly=True, copy=False, default="none")
    sla_target_kind = fields.Char(readonly=True, copy=False)
    sla_risk_at = fields.Datetime(readonly=True, copy=False, help="When the status turns 'at risk'.")
    sla_escalate_at = fields.Datetime(readonly=True, copy=False,  # partial index: init()
                                      help="The next escalation level's moment (the cron looks at these only).")
    sla_override_due = fields.Datetime("SLA Override", readonly=True, copy=False)
    sla_override_gap = fields.Integer(readonly=True, copy=False,
                                      help="The wait the override was set on; a new wait drops it.")

    def init(self):
        super().init()  # one init() per model: the class highest in the MRO runs, it calls the rest
        # Every SLA write is a new version of the conversation's row with an entry in each of its
        # indexes (the SLA columns are in some: no HOT update); a first run after a new policy
        # writes 55,000 rows at 1M. So the SLA and noise indexes hold only the rows their
        # readers look for: noise marked (rare), a running clock (the routine cron's status
        # moves: sla_due_at <= now or sla_risk_at <= now), a pending escalation moment.
        self.env.cr.execute("DROP INDEX IF EXISTS maildesk_thread__ck_marked_noise_index, "
                            "maildesk_thread__sla_due_at_index, maildesk_thread__sla_escalate_at_index")
        self.env.cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_thread_ck_marked_noise_idx ON maildesk_thread (id)
                                   WHERE ck_marked_noise""")
        self.env.cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_thread_sla_running_idx ON maildesk_thread
                                   (sla_due_at) INCLUDE (sla_risk_at) WHERE sla_status IN ('on_track', 'at_risk')""")
        self.env.cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_thread_sla_escalate_idx ON maildesk_thread
                                   (sla_escalate_at) WHERE sla_escalate_at IS NOT NULL""")
        # The backlog now (kpi.threads_summary_sql) read index-only: every scope column and the
        # predicate of scope_filter plus the waiting state (the old one read 55,000 rows at 1M).
        self.env.cr.execute("DROP INDEX IF EXISTS maildesk_thread_ck_waiting_idx")
        self.env.cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_thread_ck_waiting2_idx ON maildesk_thread
                                   (account_id) INCLUDE (company_id, team_id, user_id, ck_partner_id, ck_wait_since,
                                                         sla_due_at, conversation_state)
                                   WHERE conversation_state = 'waiting_for_us' AND NOT coalesce(is_noise, false)
                                         AND NOT coalesce(ck_marked_noise, false)""")
        # Drill-down pages of the thread KPIs (kpi.page_sql, oldest wait first) in index order and
        # index-only: every scope column and the due time (overdue) included. Without them a page
        # read and sorted all 51,000 overdue rows at 1M (75-340 ms instead of 1).
        self.env.cr.execute("DROP INDEX IF EXISTS maildesk_thread_ck_page_idx")
        self.env.cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_thread_ck_page2_idx ON maildesk_thread
                                   (ck_wait_since, id) INCLUDE (account_id, company_id, team_id, user_id, ck_partner_id,
                                                                is_noise, ck_marked_noise, sla_due_at)
                                   WHERE conversation_state = 'waiting_for_us'""")
        # The conversation side of every KPI join (engine/kpi.py scope_filter): the scope columns of
        # the non-noise conversations, read index-only instead of the wide rows (the predicate is
        # scope_filter's own, so the planner matches it).
        self.env.cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_thread_ck_scope_idx ON maildesk_thread
                                   (id) INCLUDE (account_id, company_id, team_id, user_id, ck_partner_id)
                                   WHERE NOT coalesce(is_noise, false) AND NOT coalesce(ck_marked_noise, false)""")

    # -- facts ----------------------------------------------------------------------------------
    @api.model
    def _cockpit_own_addresses(self):
        """Addresses of every mailbox we run (any company): mail between them is internal."""
        self.env.cr.execute("SELECT DISTINCT lower(trim(email)) FROM maildesk_account WHERE coalesce(email, '') != ''")
        return {row[0] for row in self.env.cr.fetchall()}

    def _cockpit_calendars(self):
        """``{thread id: bizhours.Calendar}`` of each conversation's team (round the clock without)."""
        teams = self.sudo().team_id  # sudo: calendars are not secret; derived data only
        data = self.env["maildesk.sla.policy"]._calendar_data(teams.resource_calendar_id)
        by_team = {team.id: data.get(team.resource_calendar_id.id, ROUND_THE_CLOCK) for team in teams}
        return {thread.id: by_team.get(thread.team_id.id, ROUND_THE_CLOCK) for thread in self}

    def _cockpit_refresh_facts(self):
        """Classify the messages of these conversations and keep their gaps (see module doc)."""
        ids = [i for i in self.ids if i]
        if not ids:
            return
        self.env["maildesk.message"].flush_model()
        self.flush_recordset()
        cr = self.env.cr
        cr.execute("""
            SELECT m.id, m.thread_id, m.date, m.direction, coalesce(m.from_address, ''),
                   concat_ws(',', m.email_to, m.email_cc), coalesce(m.auto_submitted, ''),
                   coalesce(m.precedence, ''), coalesce(m.list_id, ''), m.is_auto_generated,
                   coalesce(f.role, 'inbox'), coalesce(m.message_id, ''), m.partner_id
              FROM maildesk_message m LEFT JOIN maildesk_folder f ON f.id = m.folder_id
             WHERE m.thread_id = ANY(%s)
        """, (ids,))
        by_thread = {i: [] for i in ids}
        for row in cr.fetchall():
            msg = facts.Msg(id=row[0], date=row[2], direction=row[3], from_address=row[4], to=row[5],
                            auto_submitted=row[6], precedence=row[7], list_id=row[8], folder_role=row[10],
                            message_id=row[11], partner_id=row[12])
            if row[9]:
                msg.auto_submitted = msg.auto_submitted or "auto-generated"  # automation's one definition
            by_thread[row[1]].append(msg)
        own = self._cockpit_own_addresses()
        calendars = self.browse(ids)._cockpit_calendars()
        m_cols = ([], [], [], [], [], [])
        t_cols = ([], [], [], [], [], [])
        for thread_id, messages in by_thread.items():
            result = facts.thread_facts(messages, own, calendars.get(thread_id, ROUND_THE_CLOCK))
            for msg in result.messages:
                for col, value in zip(m_cols, (msg.id, msg.kind, msg.wait_start, msg.first, msg.answered_at,
                                               msg.reply_seconds)):
                    col.append(value)
            for col, value in zip(t_cols, (thread_id, result.wait_since, result.wait_first, result.wait_message_id,
                                           result.segment_consumed, result.customer_id)):
                col.append(value)
        if m_cols[0]:
            cr.execute("""
                UPDATE maildesk_message m
                   SET ck_kind = v.kind, ck_wait_start = v.ws, ck_first = v.first, ck_answered_at = v.ans,
                       ck_reply_seconds = v.secs
                  FROM unnest(%s::int[], %s::varchar[], %s::bool[], %s::bool[], %s::timestamp[], %s::float8[])
                       AS v(id, kind, ws, first, ans, secs)
                 WHERE m.id = v.id
                   AND (m.ck_kind, m.ck_wait_start, m.ck_first, m.ck_answered_at, m.ck_reply_seconds)
                       IS DISTINCT FROM (v.kind, v.ws, v.first, v.ans, v.secs)
            """, m_cols)
        cr.execute("""
            UPDATE maildesk_thread t
               SET ck_wait_since = v.since, ck_wait_first = v.first, ck_wait_message_id = v.mid,
                   ck_segment_consumed = v.consumed, ck_partner_id = coalesce(v.partner, t.ck_partner_id)
              FROM unnest(%s::int[], %s::timestamp[], %s::bool[], %s::int[], %s::float8[], %s::int[])
                   AS v(id, since, first, mid, consumed, partner)
             WHERE t.id = v.id
        """, t_cols)
        self.env["maildesk.message"].invalidate_model(["ck_kind", "ck_wait_start", "ck_first", "ck_answered_at",
                                                       "ck_reply_seconds"])
        self.invalidate_recordset(["ck_wait_since", "ck_wait_first", "ck_wait_message_id", "ck_segment_consumed",
                                   "ck_partner_id"])

    # -- SLA ------------------------------------------------------------------------------------
    @api.model
    def _cockpit_sla_setup(self):
        """What every SLA evaluation needs, read once per run: policies (engine form, per company,
        in matching order), their levels, the calendars of policies and teams, the default SLA
        calendar (settings) and the escalation grace."""
        Policy = self.env["maildesk.sla.policy"].sudo()  # sudo: policies apply whoever stored the mail
        policies = Policy.search([])
        default_id = setting(self.env, "sla_calendar_id")
        default = self.env["resource.calendar"].sudo().browse(default_id).exists() if default_id else None
        calendars = Policy._calendar_data(
            policies.resource_calendar_id | (default or self.env["resource.calendar"]) |
            self.env["maildesk.team"].sudo().search([("resource_calendar_id", "!=", False)]).resource_calendar_id)
        by_company = {}
        for policy in policies:
            by_company.setdefault(policy.company_id.id, []).append(policy._to_engine(calendars))
        for company_policies in by_company.values():
            company_policies.sort(key=lambda p: (p.sequence, p.id))
        return {
            "by_company": by_company,
            "levels": {policy.id: [lv._to_engine() for lv in policy.level_ids] for policy in policies},
            "calendars": calendars,
            "default": calendars[default.id] if default else ROUND_THE_CLOCK,
            "grace": timedelta(hours=setting(self.env, "escalation_grace_hours")),
        }

    def _cockpit_refresh_sla(self, now=None, setup=None):
        """Match policies, write due time and status, fire due escalation levels; returns counts.
        ``setup``: ``_cockpit_sla_setup()`` when the caller evaluates several batches."""
        ids = [i for i in self.ids if i]
        if not ids:
            return {"threads": 0, "escalations": 0}
        now = now or fields.Datetime.now()
        self.flush_recordset()
        cr = self.env.cr
        setup = setup or self._cockpit_sla_setup()
        by_company, levels, calendars = setup["by_company"], setup["levels"], setup["calendars"]
        default_calendar, not_before = setup["default"], now - setup["grace"]
        ids.sort()
        # "id BETWEEN" beside "id = ANY": a cron batch's ids are sorted and close together; the range
        # narrows what the planner reads when it prefers a scan to thousands of index probes.
        span = {"ids": pgarray.literal(ids), "lo": ids[0], "hi": ids[-1]}
        cr.execute(f"""
            SELECT t.id, t.account_id, t.team_id, t.company_id, t.ck_partner_id, t.conversation_state,
                   t.ck_wait_since, t.ck_wait_first, t.ck_segment_consumed, t.ck_wait_message_id,
                   t.sla_override_due, t.sla_override_gap, t.sla_status, team.resource_calendar_id, t.user_id,
                   team.leader_id, t.sla_policy_id, t.sla_due_at, t.sla_target_kind, t.sla_risk_at,
                   t.sla_escalate_at, wd.due_at
              FROM maildesk_thread t
              LEFT JOIN maildesk_team team ON team.id = t.team_id
              LEFT JOIN {wait_due.TABLE} wd ON wd.message_id = t.ck_wait_message_id
             WHERE t.id = ANY(%(ids)s::int[]) AND t.id BETWEEN %(lo)s AND %(hi)s
        """, span)
        rows = cr.fetchall()
        partner_ids = list({r[4] for r in rows if r[4]})
        categories = {}
        if partner_ids:
            cr.execute("SELECT partner_id, category_id FROM res_partner_res_partner_category_rel "
                       "WHERE partner_id = ANY(%s)", (partner_ids,))
            for partner_id, category_id in cr.fetchall():
                categories.setdefault(partner_id, set()).add(category_id)
        fired = {}
        cr.execute("SELECT thread_id, gap_message_id, level_id FROM maildesk_cockpit_escalation "
                   "WHERE thread_id = ANY(%(ids)s::int[]) AND thread_id BETWEEN %(lo)s AND %(hi)s", span)
        for thread_id, gap_id, level_id in cr.fetchall():
            fired.setdefault((thread_id, gap_id), set()).add(level_id)
        changed = ([], [], [], [], [], [], [])  # only the conversations whose SLA columns move
        gaps = ([], [])
        due_escalations = []
        for row in rows:
            (thread_id, account_id, team_id, company_id, partner_id, state, since, first, consumed, gap_id,
             override_due, override_gap, previous, calendar_id, user_id, leader_id) = row[:16]
            state_in = sla.ThreadState(
                id=thread_id, team_id=team_id, account_id=account_id, partner_id=partner_id,
                category_ids=frozenset(categories.get(partner_id, ())), conversation_state=state or "",
                wait_since=since, wait_first=bool(first), segment_consumed=consumed or 0.0,
                override_due=override_due if override_gap and override_gap == gap_id else None,
                previous_status=previous or "none")
            policy = sla.match(by_company.get(company_id, []), state_in)
            team_calendar = calendars.get(calendar_id, default_calendar) if calendar_id else default_calendar
            result = sla.evaluate(policy, state_in, now, team_calendar)
            if gap_id and result.due and row[21] != result.due:
                gaps[0].append(gap_id)
                gaps[1].append(result.due)
            risk_at = escalate_at = None
            if policy and result.due:
                calendar = policy.calendar or team_calendar
                risk_at = bizhours.add(calendar, result.start,
                                       (result.allowed or 0.0) * policy.at_risk_percent / 100.0)
                policy_levels = levels.get(policy.id, [])
                fired_now = sla.due_levels(policy_levels, result, now, calendar, not_before=not_before)
                for level in fired_now:
                    due_escalations.append((thread_id, gap_id, policy.id, level.id, user_id, leader_id))
                if policy_levels:
                    done = fired.get((thread_id, gap_id or 0), set()) | {lv.id for lv in fired_now}
                    pending = [sla.level_moment(lv, result, calendar) for lv in policy_levels if lv.id not in done]
                    pending = [m for m in pending if m is not None and m > not_before]
                    escalate_at = min(pending) if pending else None
            new = (result.policy_id, result.due, result.status, result.target_kind, risk_at, escalate_at)
            if new != (row[16], row[17], previous, row[18], row[19], row[20]):
                for col, value in zip(changed, (thread_id,) + new):
                    col.append(value)
        if changed[0]:
            # One UPDATE per batch (unnest: one array per column), the changed rows only: compared in
            # Python with the values read above, so a routine batch writes a handful of rows and
            # the planner joins them by index (joining all 5,000 made it hash every conversation
            # of the table per batch: most of a full run's time at 1M before).
            cr.execute("""
                UPDATE maildesk_thread t
                   SET sla_policy_id = v.policy, sla_due_at = v.due, sla_status = v.status,
                       sla_target_kind = v.kind, sla_risk_at = v.risk, sla_escalate_at = v.esc
                  FROM unnest(%s::int[], %s::int[], %s::timestamp[], %s::varchar[], %s::varchar[],
                              %s::timestamp[], %s::timestamp[])
                       AS v(id, policy, due, status, kind, risk, esc)
                 WHERE t.id = v.id AND t.id = ANY(%s::int[]) AND t.id BETWEEN %s AND %s
            """, [pgarray.literal(col) for col in changed] +  # one text parameter per column (pgarray.py)
                [pgarray.literal(changed[0]), min(changed[0]), max(changed[0])])  # rows come in the plan's order
        if gaps[0]:
            cr.execute(wait_due.upsert_sql(), [pgarray.literal(col) for col in gaps])
        self.invalidate_recordset(["sla_policy_id", "sla_due_at", "sla_status", "sla_target_kind", "sla_risk_at",
                                   "sla_escalate_at"])
        fired = self.env["maildesk.cockpit.escalation"].sudo()._fire(due_escalations, now)
        return {"threads": len(rows), "escalations": fired}

    @api.model
    def _cron_cockpit_sla(self, now=None, batch=None, time_budget=None, full=None):
        """SLA cron. Routine run: statuses move on by comparing stored moments (one UPDATE),
        and only conversations whose next escalation moment has come are evaluated again.
        Full run (policies or calendars changed, ``full=True``, or at least once a day):
        every conversation whose clock runs, in batches.

        In cron context each batch is committed and the cron re-triggers itself when the time
        budget is spent (17.0 has no progress API); a re-run is harmless (same results, each
        escalation fires once).
        """
        now = now or fields.Datetime.now()
        started = time.monotonic()
        batch = batch or setting(self.env, "sla_batch")
        time_budget = time_budget or setting(self.env, "sla_time_budget")
        params = self.env["ir.config_parameter"].sudo()  # sudo: the cron's own bookkeeping
        last_full = params.get_param(FULL_RUN_PARAM)
        if full is None:
            full = bool(params.get_param(DIRTY_PARAM)) or not last_full or \
                fields.Datetime.to_datetime(last_full) < now - FULL_RUN_EVERY
        cr = self.env.cr
        self.flush_model()
        totals = {"threads": 0, "escalations": 0, "statuses": 0, "full": full}
        if full:
            cr.execute("""
                SELECT id FROM maildesk_thread
                 WHERE conversation_state = 'waiting_for_us' OR sla_status IN ('on_track', 'at_risk')
                 ORDER BY id
            """)
        else:
            cr.execute("""
                UPDATE maildesk_thread
                   SET sla_status = CASE WHEN sla_due_at <= %(now)s THEN 'breached'
                                         WHEN sla_risk_at <= %(now)s THEN 'at_risk' ELSE 'on_track' END
                 WHERE sla_status IN ('on_track', 'at_risk') AND sla_due_at IS NOT NULL
                   AND (sla_due_at <= %(now)s OR (sla_status = 'on_track' AND sla_risk_at <= %(now)s))
            """, {"now": now})
            totals["statuses"] = cr.rowcount
            self.invalidate_model(["sla_status"])
            cr.execute("SELECT id FROM maildesk_thread WHERE sla_escalate_at <= %s ORDER BY id", (now,))
        ids = [row[0] for row in cr.fetchall()]
        finished = True
        setup = self._cockpit_sla_setup() if ids else None
        for start in range(0, len(ids), batch):
            result = self.browse(ids[start:start + batch])._cockpit_refresh_sla(now=now, setup=setup)
            totals["threads"] += result["threads"]
            totals["escalations"] += result["escalations"]
            if not _is_testing():
                self.env.cr.commit()  # cron only: keep each finished batch if a later one fails
            if time.monotonic() - started > time_budget and start + batch < len(ids):
                self.env.ref("maildesk_mail_client_cockpit.ir_cron_cockpit_sla")._trigger()
                finished = False
                break
        if full and finished:
            params.set_param(FULL_RUN_PARAM, fields.Datetime.to_string(now))
            params.set_param(DIRTY_PARAM, "")
        _logger.info("MailDesk cockpit SLA (%s run): %s conversations evaluated, %s statuses moved, %s escalations",
                     "full" if full else "routine", totals["threads"], totals["statuses"], totals["escalations"])
        return totals
