"""Batched alert evaluation: the values of many alert rules from one scan per row source.

Why
    A cron run evaluates every active rule; 200 rules each running its own count over a
    million messages would take minutes. Rules whose owners see the same mailboxes form a
    *scope group*; per group, one query per row source folds every row into a few buckets keyed
    by (mailbox, team, customer), and Python adds up the buckets each rule matches. The
    predicates are the cockpit's own (``kpi.predicate``), so an alert counts exactly what the
    card of the same KPI counts.

Row sources and values
    ``threads``   waiting / needs_reply / overdue now: a count.
    ``messages``  incoming / outgoing over the rule's window (the last N hours): a count; one
                  ``FILTER`` column per distinct window of the group, one index range scan.
    ``gaps``      first_response / response_time over the window: the **mean** business minutes
                  of the gaps answered in it (sums and counts add up across buckets, a median
                  would not). No gap answered in the window: no data (None).
    ``anomaly``   incoming / outgoing in the last 24 hours against the same 24 hours 1..N weeks
                  before (same weekday, ``engine/anomaly.py``): the verdict and the count. Only
                  the N + 1 day-long ranges are read (one index range scan each), grouped by
                  how many weeks back they lie. A week in which the whole scope group has no
                  message at all is missing history (the mailbox did not exist yet), not a 0.

Buckets
    ``(account_id, team_id, customer)``: the customer is kept only when a rule of the group
    filters on it (``CASE WHEN ck_partner_id = ANY(partners)``), so a group has at most
    mailboxes x teams x (rule customers + 1) buckets whatever the number of messages.

Instances
    A rule has one instance (key None) or, split per mailbox, one per mailbox of its scope
    (key: the account id); each instance has its own state in the model.

Scope groups
    The caller may put rules of owners who see different mailboxes into one group (the union
    of their mailboxes, same companies): each ``Watch`` then carries its owner's ``accounts``
    and only adds up the buckets of those, so one query per source serves every owner.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from . import anomaly, kpi

ANOMALY_WINDOW = timedelta(hours=24)
ANOMALY_WEEKS = anomaly.DEFAULT_WEEKS
ANOMALY_KPIS = kpi.MESSAGE_KPIS
SOURCES = ("threads", "messages", "gaps", "anomaly")
_BUCKET = "t.account_id, t.team_id, CASE WHEN t.ck_partner_id = ANY(%(partners)s) THEN t.ck_partner_id END"


@dataclass(frozen=True)
class Watch:
    """One alert rule as the batch sees it (its scope within the owner's scope group)."""

    rule_id: int
    kpi: str
    mode: str = "threshold"  # threshold | anomaly
    window: timedelta = timedelta(hours=1)  # message and gap KPIs: the last ``window``
    account_id: int | None = None
    team_id: int | None = None
    partner_id: int | None = None
    split_accounts: tuple = ()  # one instance per mailbox: the mailboxes (empty: one instance)
    direction: str = "both"  # anomaly rules
    accounts: frozenset = frozenset()  # the owner's mailboxes within the group (empty: all of them)

    def __post_init__(self):
        kpi.rows_of(self.kpi)  # raises on an unknown KPI
        if self.mode not in ("threshold", "anomaly"):
            raise ValueError(f"Unknown alert mode {self.mode!r}: threshold or anomaly.")
        if self.mode == "anomaly" and self.kpi not in ANOMALY_KPIS:
            raise ValueError(f"Anomaly alerts watch daily counts: {', '.join(ANOMALY_KPIS)}.")
        if self.window <= timedelta(0):
            raise ValueError("The window of an alert rule must be positive.")

    @property
    def source(self):
        if self.mode == "anomaly":
            return "anomaly"
        return {"messages": "messages", "gaps": "gaps", "threads": "threads"}[kpi.rows_of(self.kpi)]

    def matches(self, account_id, team_id, partner_id):
        return ((not self.accounts or account_id in self.accounts)
                and (not self.account_id or account_id == self.account_id)
                and (not self.team_id or team_id == self.team_id)
                and (not self.partner_id or partner_id == self.partner_id))


@dataclass(frozen=True)
class Observation:
    """What one instance is fed: a number (or None: no data), and for anomalies the verdict."""

    value: float | None
    verdict: bool | None = None
    score: object = None  # anomaly.Score
    facts: dict = field(default_factory=dict)

    @property
    def feed(self):
        """What ``alerts.evaluate`` takes as the observation."""
        return self.verdict if self.verdict is not None else self.value


def windows_of(watches):
    """The distinct windows of the message and gap rules, in a stable order."""
    return sorted({w.window for w in watches if w.source in ("messages", "gaps")})


def _base(scope, partner_ids):
    where, params = kpi.scope_filter(kpi.Scope(account_ids=scope.account_ids, company_ids=scope.company_ids))
    params["partners"] = sorted(partner_ids)
    return where, params


def threads_sql(scope, partner_ids, now):
    """Rows ``(account, team, customer, waiting, needs_reply, overdue)``: the backlog now."""
    where, params = _base(scope, partner_ids)
    params["now"] = now
    aggs = ", ".join(f"count(*) FILTER (WHERE {kpi.predicate(k)})" for k in kpi.THREAD_KPIS)
    return (f"SELECT {_BUCKET}, {aggs} FROM maildesk_thread t WHERE {where} "
            f"AND t.conversation_state = 'waiting_for_us' GROUP BY 1, 2, 3"), params


def _per_window(predicate, index):
    return predicate.replace("%(start)s", f"%(start_{index})s")


def messages_sql(scope, partner_ids, windows, now):
    """Rows ``(account, team, customer, in_0, out_0, in_1, out_1, ...)``, one pair per window."""
    where, params = _base(scope, partner_ids)
    params.update(end=now, scan_start=now - max(windows))
    aggs = []
    for i, window in enumerate(windows):
        params[f"start_{i}"] = now - window
        aggs += [f"count(*) FILTER (WHERE {_per_window(kpi.predicate(k), i)})" for k in kpi.MESSAGE_KPIS]
    return (f"SELECT {_BUCKET}, {', '.join(aggs)} FROM maildesk_message m JOIN maildesk_thread t ON t.id = m.thread_id "
            f"WHERE {where} AND m.account_id = ANY(%(account_ids)s) AND m.ck_kind IN ('in', 'out') "
            f"AND m.date >= %(scan_start)s AND m.date < %(end)s GROUP BY 1, 2, 3"), params


def gaps_sql(scope, partner_ids, windows, now):
    """Rows ``(account, team, customer, first_sum_0, first_n_0, all_sum_0, all_n_0, ...)`` (seconds)."""
    where, params = _base(scope, partner_ids)
    params.update(end=now, scan_start=now - max(windows))
    aggs = []
    for i, window in enumerate(windows):
        params[f"start_{i}"] = now - window
        for k in kpi.GAP_KPIS:
            flt = _per_window(kpi.predicate(k), i)
            aggs += [f"sum(m.ck_reply_seconds) FILTER (WHERE {flt})", f"count(m.ck_reply_seconds) FILTER (WHERE {flt})"]
    return (f"SELECT {_BUCKET}, {', '.join(aggs)} FROM maildesk_message m JOIN maildesk_thread t ON t.id = m.thread_id "
            f"WHERE {where} AND m.account_id = ANY(%(account_ids)s) AND m.ck_wait_start "
            f"AND m.ck_answered_at >= %(scan_start)s AND m.ck_answered_at < %(end)s GROUP BY 1, 2, 3"), params


def anomaly_ranges(now, weeks=ANOMALY_WEEKS, window=ANOMALY_WINDOW):
    """``[(start, end)]``: the last ``window`` and the same span 1..``weeks`` weeks before."""
    return [(now - timedelta(weeks=k) - window, now - timedelta(weeks=k)) for k in range(weeks + 1)]


def anomaly_sql(scope, partner_ids, now, weeks=ANOMALY_WEEKS):
    """Rows ``(account, team, customer, weeks_back, incoming, outgoing)`` over the anomaly ranges.

    The ranges are joined as a list (``unnest``), so each is one index range scan of
    ``(account_id, date)``; an ``OR`` of ranges would read every entry of the mailboxes.
    """
    where, params = _base(scope, partner_ids)
    ranges = anomaly_ranges(now, weeks)
    params.update(a_starts=[start for start, _end in ranges], a_ends=[end for _start, end in ranges])
    return (f"SELECT {_BUCKET}, r.k - 1, "
            f"count(*) FILTER (WHERE m.ck_kind = 'in'), count(*) FILTER (WHERE m.ck_kind = 'out') "
            f"FROM unnest(%(a_starts)s::timestamp[], %(a_ends)s::timestamp[]) WITH ORDINALITY AS r(s, e, k) "
            f"JOIN maildesk_message m ON m.date >= r.s AND m.date < r.e "
            f"JOIN maildesk_thread t ON t.id = m.thread_id "
            f"WHERE {where} AND m.account_id = ANY(%(account_ids)s) AND m.ck_kind IN ('in', 'out') "
            f"GROUP BY 1, 2, 3, 4"), params


def queries(watches, scope, now):
    """``{source: (sql, params)}`` for the sources these watches need (one query each)."""
    partner_ids = {w.partner_id for w in watches if w.partner_id}
    needed = {w.source for w in watches}
    windows = windows_of(watches)
    result = {}
    if "threads" in needed:
        result["threads"] = threads_sql(scope, partner_ids, now)
    if "messages" in needed:
        result["messages"] = messages_sql(scope, partner_ids, windows, now)
    if "gaps" in needed:
        result["gaps"] = gaps_sql(scope, partner_ids, windows, now)
    if "anomaly" in needed:
        result["anomaly"] = anomaly_sql(scope, partner_ids, now)
    return result


def _instance_keys(watch):
    return list(watch.split_accounts) if watch.split_accounts else [None]


def _value(watch, source, row, windows):
    if source == "threads":
        return row[3 + kpi.THREAD_KPIS.index(watch.kpi)]
    i = windows.index(watch.window)
    if source == "messages":
        return row[3 + 2 * i + kpi.MESSAGE_KPIS.index(watch.kpi)]
    offset = 3 + 4 * i + 2 * kpi.GAP_KPIS.index(watch.kpi)
    return (row[offset] or 0.0, row[offset + 1] or 0)


def _rows_of(watch, by_account):
    """The rows of ``by_account`` (mailbox -> rows) this watch may add up, mailbox first."""
    if watch.account_id:
        accounts = [watch.account_id] if not watch.accounts or watch.account_id in watch.accounts else []
    elif watch.accounts:
        accounts = [a for a in by_account if a in watch.accounts]
    else:
        accounts = list(by_account)
    for account in accounts:
        for row in by_account.get(account, ()):
            if (not watch.team_id or row[1] == watch.team_id) and (not watch.partner_id or row[2] == watch.partner_id):
                yield row


def fold(watches, rows, weeks=ANOMALY_WEEKS):
    """``{(rule_id, instance_key): Observation}`` from the rows of ``queries`` (``{source: rows}``)."""
    windows = windows_of(watches)
    result = {}
    weeks_seen = {row[3] for row in rows.get("anomaly", ()) if (row[4] or row[5])}
    indexed = {}
    for source, source_rows in rows.items():
        by_account = indexed[source] = defaultdict(list)
        for row in source_rows:
            by_account[row[0]].append(row)
    for watch in watches:
        source = watch.source
        by_account = indexed.get(source, {})
        keys = _instance_keys(watch)
        if source == "anomaly":
            counts = {key: defaultdict(int) for key in keys}
            column = 4 + ANOMALY_KPIS.index(watch.kpi)
            for row in _rows_of(watch, by_account):
                key = row[0] if watch.split_accounts else None
                if key in counts:
                    counts[key][row[3]] += row[column]
            for key in keys:
                value = counts[key][0]
                history = [counts[key][k] for k in range(1, weeks + 1) if k in weeks_seen]
                score = anomaly.score(value, history, watch.direction)
                result[watch.rule_id, key] = Observation(value, score.flagged, score, {
                    "median": score.median, "z": score.z, "level": score.level, "history": score.history})
            continue
        totals = {key: (0.0, 0) if source == "gaps" else 0 for key in keys}
        for row in _rows_of(watch, by_account):
            key = row[0] if watch.split_accounts else None
            if key not in totals:
                continue
            value = _value(watch, source, row, windows)
            if source == "gaps":
                totals[key] = (totals[key][0] + value[0], totals[key][1] + value[1])
            else:
                totals[key] += value
        for key, total in totals.items():
            if source == "gaps":
                seconds, count = total
                value = round(seconds / count / 60.0, 2) if count else None
                result[watch.rule_id, key] = Observation(value, facts={"answered": count})
            else:
                result[watch.rule_id, key] = Observation(total)
    return result
