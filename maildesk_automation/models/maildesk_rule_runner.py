"""Running rules: on each stored batch, by the time-trigger cron, and as a dry run.

Flow for a batch (``_run_on_stored``, called from ``maildesk.message._on_messages_stored``
after the base and the conversation state): split the batch into received / sent mail of
mailboxes with automation on, drop copies of mail already seen in the mailbox (another
folder or label of the same Message-ID), load the rules of the trigger in one search, then:

- read the rules' actions once (``_ActionInfo``: kinds, targets, log texts translated once);
- build ``MessageFacts`` for the whole batch from one SQL query over message, thread and team
  (``_facts``), plus one query each for the inputs some condition needs: attachments, tags,
  team calendars, Pro's security levels (scanned now when never scanned);
- decide the domain conditions in one query per condition, let the engine plan the whole
  batch rule by rule (``engine.rules.plan_batch``: the same decisions as message by message);
- execute, message by message and each message's rules in order: cheap actions (tags,
  flags, team, assignee) only queue grouped changes, written once per batch (one statement
  for the tags, one write per flag, per identical thread values); a rule made only of tag
  and flag actions runs on plain ids (``_execute_local``); moves, records, notifications
  run per message; auto-replies and forwards are *queued* in
  ``maildesk.rule.mail`` and sent after the batch's commit (a rolled-back batch never sent
  anything, its retry queues once);
- write the run log in one COPY (text format, lines made from parts escaped once per rule
  and per message): one line per matched rule and message, except a match whose
  actions all found their work already done (the tag already there, the message already
  starred, the same assignee): a busy mailbox with broad rules would otherwise write a line
  per rule per message for nothing. Errors, dry runs and time triggers are always logged.

On the sync's bulk INSERT the rules are planned on the parsed values before the INSERT
(``maildesk_rule_insert``), so the flags they set are stored by it; ``_run_trigger`` then
executes those decisions (``planned``) with the others, as above.

Each matched rule with an immediate action runs in a savepoint: a failing rule is logged with
its error, its grouped changes are dropped, and it never stops the sync or the other rules.
Mail sent by rules comes back through the base hook: a context variable (not an RPC-settable
context key, see ``rules_disabled``) makes that a no-op, so rules never trigger rules.

Conditions see each message as it was stored: tags added by an earlier rule of the same
batch are not visible to later rules' tag conditions.
"""
import contextlib
import contextvars
import io
import logging
import re
import time
from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup, escape
from odoo import _, api, fields, models
from odoo.addons.maildesk_mail_client.engine import compose, pgarray
from odoo.tools.safe_eval import safe_eval

from ..engine import assign as engine_assign
from ..engine import autoreply, hours
from ..engine import rules as engine_rules
from .maildesk_rule import TIME_TRIGGERS

_logger = logging.getLogger(__name__)

_RUNNING = contextvars.ContextVar("maildesk_rules_running", default=False)
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_TAGS = re.compile(r"<[^>]+>")
SKIP_FOLDER_ROLES = ("sent", "drafts", "trash")  # "received" never runs on these copies
OPEN_STATES = ("waiting_for_us", "waiting_for_them")
TIME_TRIGGER_BATCH = 500  # conversations per rule per cron run
# Run-log columns, in the order of the lines ``_log_line`` builds (written by ``_insert_logs``): what is
# the same for a rule over a batch, then for a message, then the line's own values.
LOG_COLUMNS = ("rule_ref", "rule_name", "trigger", "dry_run", "dry_run_id", "state", "error", "trigger_key",
               "create_date", "account_ref", "thread_ref", "message_ref", "subject", "matched", "actions_done",
               "duration_ms")
# Actions that only queue grouped writes (applied after the batch): no savepoint needed.
GROUPED_KINDS = frozenset({"add_tags", "remove_tags", "mark_read", "star", "set_team", "assign_user",
                           "assign_team"})
# Grouped actions on the message alone (no conversation value, no record): a rule made only of
# them runs on plain ids (``_LocalRule``).
LOCAL_KINDS = frozenset({"add_tags", "remove_tags", "mark_read", "star"})
FLAG_FIELDS = {"star": "is_starred", "mark_read": "is_read"}
NEWLINE, ESCAPED_NEWLINE = "\n", "\\n"  # a line break in a log text, as is and as COPY reads it


def _copy_text(text):
    """``text`` as a field of COPY's text format: empty or None is NULL (``\\N``); backslash, tab,
    newline and carriage return escaped."""
    if not text:
        return "\\N"
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _copy_id(value):
    """An id (or None / 0 / False) as a field of COPY's text format."""
    return str(value) if value else "\\N"


def _id_arrays(groups):
    """``{tag id: message ids}`` as two ``int[]`` literals (message ids, tag ids: one pair per
    position) and the set of message ids; None when there is none (``pgarray``: one literal
    each, not a list psycopg2 quotes element by element)."""
    messages, tags = [], []
    for tag_id, ids in groups.items():
        if ids:
            messages.extend(ids)
            tags.extend([tag_id] * len(ids))
    if not messages:
        return None
    return pgarray.literal(messages), pgarray.literal(tags), set(messages)


def _addresses(text):
    """The bare lower-case addresses of a header value."""
    return tuple(a.lower() for a in _ADDRESS.findall(text or ""))


def _body(body_text, body_html):
    """The text body conditions search: the text part, else the HTML without its tags."""
    return body_text or _TAGS.sub(" ", body_html or "")


def _work_calendar(calendar):
    """A resource.calendar as engine values (both weeks of a two-week calendar)."""
    if not calendar:
        return None
    weeks = {"0": defaultdict(list), "1": defaultdict(list)}
    two_weeks = calendar.two_weeks_calendar
    for line in calendar.attendance_ids:
        if line.display_type or line.day_period == "lunch" or line.resource_id:
            continue  # section rows ("First week"), lunch breaks and one resource's own hours: not the team's
        week = weeks[line.week_type or "0"] if two_weeks else weeks["0"]
        week[int(line.dayofweek)].append((line.hour_from, line.hour_to))
    leaves = tuple((leave.date_from, leave.date_to) for leave in calendar.global_leave_ids)
    return hours.WorkCalendar(calendar.tz or "UTC", dict(weeks["0"]), leaves,
                              second_week=dict(weeks["1"]) if two_weeks else None)


class _ActionInfo:
    """One action as plain values for a batch: read once, its log texts translated once."""

    __slots__ = ("id", "kind", "record", "grouped", "tag_ids", "user_id", "team_id", "only_unassigned", "done",
                 "dry")

    def __init__(self, record, texts):
        self.id = record.id
        self.kind = record.kind
        self.record = record
        self.grouped = record.kind in GROUPED_KINDS
        self.tag_ids = tuple(record.tag_ids.ids)
        self.user_id = record.user_id.id
        self.team_id = record.team_id.id
        self.only_unassigned = record.only_unassigned
        self.done, self.dry = texts.get(record.kind, (None, None))


class _LocalRule:
    """A rule whose actions only tag, untag, star or mark read the message, for one batch.

    Executed by ``_execute_local`` on the fact alone: set lookups and ids queued for the
    batch's grouped writes, no record, no savepoint (nothing can fail half-way), no closure.
    """

    __slots__ = ("rule", "steps", "note", "prefix", "one_tag", "one_flag", "decision", "matched")

    def __init__(self, rule, infos, note, prefix):
        self.rule = rule
        # (kind, tag ids or flag field, log text as written by COPY) per action, in order
        self.steps = tuple((info.kind, FLAG_FIELDS.get(info.kind) or info.tag_ids, _copy_text(info.done))
                           for info in infos)
        self.note = note      # "Tagged by rule …", set on the conversation when it tags
        self.prefix = prefix  # the rule's part of its log lines (``_log_prefix``)
        # The usual rules, run without the general loop: one action adding one tag, or one flag.
        single = self.steps[0] if len(self.steps) == 1 else None
        self.one_tag = single[1][0] if single and single[0] == "add_tags" and len(single[1]) == 1 else None
        self.one_flag = single[1] if single and single[0] in FLAG_FIELDS else None
        self.decision = self.matched = None  # the last decision seen and its matched text (shared by plan_batch)


class _Batch:
    """Per-batch state of an execution: grouped writes, assigners, log rows, cached texts."""

    def __init__(self, env, dry_run):
        self.env = env
        self.dry_run = dry_run
        self.tag_add = defaultdict(set)     # tag id -> message ids
        self.tag_remove = defaultdict(set)
        self.flags = defaultdict(set)       # (field, value) -> message ids
        self.thread_vals = defaultdict(dict)  # thread id -> vals; ("team", id) -> team vals
        self.thread_user = {}               # thread id -> assignee when the batch started
        self.flagged = {"is_read": set(), "is_starred": set()}  # field -> ids of messages stored with it set
        self.folded = defaultdict(set)      # field -> message ids whose flag the INSERT already set
        self.assigners = {}
        self.logs = []                      # run-log lines in COPY's text format (``_log_line``)
        self.now = fields.Datetime.now()
        self.mail_queued = False
        self.actions = {}
        self.rule_actions = {}              # rule id -> (action infos, any immediate action)
        self.notes = {}
        self.user_names = {}
        self.local_rules = {}               # rule id -> _LocalRule, or None when it needs ``_execute``
        self.log_messages = {}              # message id -> the message's part of its log lines
        self.log_prefixes = {}              # (rule id, trigger) -> the rule's part of its log lines
        self.matched_texts = {}             # id(matched labels) -> (labels, text), see ``_log_matched``
        self._own = None
        self._calendars = {}
        self.pending = None  # grouped changes of the rule being executed, kept only if it succeeds

    def later(self, change):
        """Queue a grouped change; applied when the current rule finished without error."""
        if self.pending is None:
            change()
        else:
            self.pending.append(change)

    def own_addresses(self):
        if self._own is None:
            # sudo: every mailbox address of the database, only to never auto-answer ourselves.
            rows = self.env["maildesk.account"].sudo().with_context(active_test=False).search_read(
                [("email", "!=", False)], ["email"])
            self._own = {r["email"].strip().lower() for r in rows}
        return self._own

    def calendar(self, calendar):
        if calendar.id not in self._calendars:
            self._calendars[calendar.id] = _work_calendar(calendar)
        return self._calendars[calendar.id]

    def user_name(self, user_id):
        if user_id not in self.user_names:
            self.user_names[user_id] = self.env["res.users"].sudo().browse(user_id).name
        return self.user_names[user_id]


def rules_disabled():
    """Context manager: mail stored inside it (sent by rules) runs no rules."""
    return _disabled()


@contextlib.contextmanager
def _disabled():
    token = _RUNNING.set(True)
    try:
        yield
    finally:
        _RUNNING.reset(token)


class MaildeskRule(models.Model):
    _inherit = "maildesk.rule"

    # -- entry points -------------------------------------------------------------------------
    @api.model
    def _run_on_stored(self, messages):
        """Run the received / sent rules on a stored batch (never raises)."""
        if _RUNNING.get() or not messages:
            return
        token = _RUNNING.set(True)
        try:
            messages = messages.sudo()  # sudo: rules act for the mailbox on its own mail
            incoming = messages.filtered(lambda m: m.direction == "incoming"
                                         and m.account_id.automation_incoming
                                         and m.folder_id.role not in SKIP_FOLDER_ROLES)
            outgoing = messages.filtered(lambda m: m.direction == "outgoing" and m.account_id.automation_outgoing)
            for trigger, batch in (("received", incoming), ("sent", outgoing)):
                batch = self._first_copies(batch)
                if batch:
                    self._run_trigger(trigger, batch)
        except Exception:  # noqa: BLE001 - automation never blocks the sync that stored the mail
            _logger.exception("MailDesk automation: rules failed on a batch of %d messages", len(messages))
        finally:
            _RUNNING.reset(token)

    def _first_copies(self, messages):
        """Messages whose Message-ID the mailbox has not stored before (Gmail labels, moves)."""
        mids = [m for m in messages.mapped("message_id") if m]
        if not mids:
            return messages
        seen = set()
        for row in self.env["maildesk.message"].sudo().search_read(
                [("message_id", "in", mids), ("id", "not in", messages.ids)], ["account_id", "message_id"]):
            seen.add((row["account_id"][0], row["message_id"]))
        keep, batch_seen = [], set()
        for message in messages:
            key = (message.account_id.id, message.message_id)
            if message.message_id and (key in seen or key in batch_seen):
                continue
            batch_seen.add(key)
            keep.append(message.id)
        return self.env["maildesk.message"].sudo().browse(keep)

    def _run_trigger(self, trigger, messages, rules=None, dry_run=None, trigger_keys=None, planned=None,
                     compiled=None):
        """Plan and execute ``rules`` (default: the active rules of ``trigger``) on ``messages``.

        ``planned``: the plan made before the INSERT (``maildesk_rule_insert._Planned``): its
        messages' decisions are taken from it, the others' are made here; all are executed
        in the order of ``messages``, in one batch. ``compiled``: ``rules._compiled()`` when
        the caller has it (the same transaction, a moment earlier).
        """
        Rule = self.sudo()
        if rules is None:
            rules = Rule.search([("trigger", "=", trigger), ("account_ids", "in", messages.account_id.ids)])
        if not rules:
            return self.env["maildesk.rule.run"]
        try:
            compiled = compiled or rules._compiled()
        except engine_rules.RuleError as exc:
            _logger.warning("MailDesk automation: %s", exc)
            return self.env["maildesk.rule.run"]
        batch = _Batch(self.env, dry_run)
        batch.actions = self._action_infos(rules)
        kinds = {cond["kind"] for c in compiled for cond in c.spec.conditions}
        if any(info.kind in ("add_tags", "remove_tags") for info in batch.actions.values()):
            kinds.add("tags")  # the stored tags tell which tag changes are no-ops
        rest = messages
        if planned is not None:
            for field, ids in planned.flagged.items():
                batch.flagged[field] |= ids
            batch.folded = planned.folded
            batch.thread_user.update(planned.thread_user)
            rest = messages.browse([i for i in messages.ids if i not in planned.items])
        facts = self._facts(rest, batch, kinds)
        domains = rest and kinds & {"message_domain", "partner_domain"}
        ctx = engine_rules.EvalContext(trigger=trigger, hits=self._domain_hits(rules, rest) if domains else {})
        check_activation = not dry_run and trigger not in TIME_TRIGGERS
        items = self._plan_facts(rules, compiled, facts, ctx, check_activation, batch.now)
        if planned is not None:
            made = {item[0].id: item for item in items}  # (fact, decisions, errors)
            items = [planned.items.get(i) or made[i] for i in messages.ids if i in planned.items or i in made]
        return self._execute_planned(rules, batch, trigger, items, trigger_keys or {})

    def _plan_facts(self, rules, compiled, facts, ctx, check_activation, now):
        """[(fact, decisions, errors)] for each fact, in order (``engine.rules.plan_batch``).

        A rule acts on mail dated from its activation (``active_from``) unless it is a dry run
        or a time trigger. Used on stored mail and before the INSERT (``_plan_at_insert``).
        """
        active_from = {r.id: r.active_from for r in rules if r.active_from} if check_activation else None
        decisions, errors = engine_rules.plan_batch(compiled, facts, ctx, active_from=active_from, now=now)
        return list(zip(facts, decisions, errors))

    def _execute_planned(self, rules, batch, trigger, planned, keys):
        """Execute the decisions of ``planned`` (see ``_plan_facts``), log, write the batch.

        Message by message, each message's rules in order (a tag added by one rule is there
        for the next; the last rule to note a conversation wins). Rules that only tag, untag,
        star or mark read go through ``_execute_local``; the others through ``_execute``.
        """
        by_id = {r.id: r for r in rules}
        local_rules = batch.local_rules
        for fact, decisions, errors in planned:
            key = keys.get(fact.id)
            for decision in decisions:
                rule_id = decision.rule_id
                local = local_rules.get(rule_id, False)
                if local is False:
                    local = local_rules[rule_id] = self._local_rule(by_id[rule_id], decision, batch, trigger)
                if local is not None and not key:
                    self._execute_local(local, decision, fact, batch, trigger)
                else:
                    self._execute(by_id[rule_id], decision, fact, batch, trigger, key)
            for rule_id, error in errors:
                batch.logs.append(self._log_line(by_id[rule_id], fact, trigger, [], [], 0.0, batch, error=error))
        return self._flush_batch(batch)

    # -- batch inputs ---------------------------------------------------------------------------
    def _action_infos(self, rules):
        """{action id: _ActionInfo} of the rules' actions, read and translated once per batch.

        Texts are translated once per kind and name: many rules tag with the same tags, and
        a translation lookup cost more than the rest of reading an action.
        """
        texts = {
            "mark_read": (_("marked read"), _("would mark read")),
            "star": (_("starred"), _("would star")),
        }
        translate = {
            "add_tags": lambda name: (_("tagged: %s", name), _("would tag: %s", name)),
            "remove_tags": lambda name: (_("untagged: %s", name), _("would untag: %s", name)),
            "set_team": lambda name: (_("team: %s", name), _("would set team %s", name)),
            "assign_user": lambda name: (_("assigned %s", name), _("would assign %s", name)),
        }
        translated = {}
        result = {}
        for action in rules.action_ids:
            kind = action.kind
            kind_texts = texts
            if kind in translate:
                if kind in ("add_tags", "remove_tags"):
                    name = ", ".join(action.tag_ids.mapped("name"))
                else:
                    name = (action.team_id if kind == "set_team" else action.user_id).name
                if (kind, name) not in translated:
                    translated[(kind, name)] = translate[kind](name)
                kind_texts = {**texts, kind: translated[(kind, name)]}
            result[action.id] = _ActionInfo(action, kind_texts)
        return result

    def _facts(self, messages, batch, kinds):
        """``MessageFacts`` for a whole batch: one query for message and thread values.

        Only the inputs some condition uses are read (bodies, attachments, tags, calendars,
        security levels). Raw SQL: the ORM's per-record field access cost more than the rules'
        evaluation; the runner works as the system on the mailboxes' own mail, so no record
        rule applies here (domain conditions are searched with the rule owner's rights).
        """
        if not messages:
            return []
        Message = self.env["maildesk.message"]
        for model in ("maildesk.message", "maildesk.thread", "maildesk.team"):
            self.env[model].flush_model()
        need_body = bool(kinds & {"body_contains", "body_regex"})
        body_sql = ("m.body_text, CASE WHEN coalesce(m.body_text, '') = '' THEN m.body_html END"
                    if need_body else "NULL, NULL")
        self.env.cr.execute(f"""
            SELECT m.id, m.account_id, m.thread_id, m.folder_id, m.direction, m.from_address, m.reply_to,
                   m.email_to, m.email_cc, m.subject, {body_sql}, m.has_attachments,
                   (m.in_reply_to IS NOT NULL OR m."references" IS NOT NULL), t.conversation_state,
                   m.partner_id, t.team_id, team.resource_calendar_id, m.date, m.is_auto_generated,
                   m.auto_submitted, m.precedence, m.list_id, m.message_id, m."references", t.user_id,
                   m.is_read, m.is_starred
              FROM maildesk_message m
              LEFT JOIN maildesk_thread t ON t.id = m.thread_id
              LEFT JOIN maildesk_team team ON team.id = t.team_id
             WHERE m.id = ANY(%s)""", [messages.ids])  # noqa: S608 - the f-string picks fixed column lists
        rows = {row[0]: row for row in self.env.cr.fetchall()}
        attachments = defaultdict(list)
        if kinds & {"has_attachment", "attachment_type"}:
            with_files = [i for i, row in rows.items() if row[12]]  # has_attachments
            if with_files:
                for att in self.env["ir.attachment"].sudo().search_read(
                        [("res_model", "=", "maildesk.message"), ("res_id", "in", with_files)],
                        ["res_id", "name", "mimetype"]):
                    attachments[att["res_id"]].append((att["name"] or "", att["mimetype"] or ""))
        tags = defaultdict(set)
        if "tags" in kinds:
            field = Message._fields["tag_ids"]
            self.env.cr.execute(
                f'SELECT "{field.column1}", "{field.column2}" FROM "{field.relation}" '  # noqa: S608 - field metadata
                f'WHERE "{field.column1}" = ANY(%s)', [messages.ids])
            for message_id, tag_id in self.env.cr.fetchall():
                tags[message_id].add(tag_id)
        levels = {}
        if "security_level" in kinds:
            # Pro's code scan, run (and stored) now for messages never scanned; a dry run stores nothing.
            levels = messages._security_levels(store=not batch.dry_run)
        calendars = {}
        if "business_hours" in kinds:
            Calendar = self.env["resource.calendar"].sudo()
            for calendar_id in {row[17] for row in rows.values() if row[17]}:  # the team's calendar
                calendars[calendar_id] = batch.calendar(Calendar.browse(calendar_id))
        result = []
        for message_id in messages.ids:
            row = rows.get(message_id)
            if row is None:
                continue
            (mid, account_id, thread_id, folder_id, direction, from_address, reply_to, email_to, email_cc, subject,
             body_text, body_html, _has_files, is_reply, state, partner_id, team_id, calendar_id, date, auto_gen,
             auto_submitted, precedence, list_id, rfc_id, references, user_id, is_read, is_starred) = row
            if thread_id:
                batch.thread_user[thread_id] = user_id or False
            if is_read:
                batch.flagged["is_read"].add(mid)
            if is_starred:
                batch.flagged["is_starred"].add(mid)
            result.append(engine_rules.MessageFacts(
                id=mid, account_id=account_id, thread_id=thread_id or 0, folder_id=folder_id or 0,
                direction=direction or "incoming", from_address=(from_address or "").lower(),
                reply_to=(_addresses(reply_to) or ("",))[0], to=_addresses(email_to), cc=_addresses(email_cc),
                subject=subject or "", body=_body(body_text, body_html) if need_body else "",
                attachments=tuple(attachments.get(mid, ())), is_reply=is_reply, state=state or "",
                tag_ids=frozenset(tags.get(mid, ())), partner_id=partner_id or 0, team_id=team_id or 0,
                calendar=calendars.get(calendar_id), date=date, security_level=levels.get(mid) or "",
                is_auto_generated=bool(auto_gen), auto_submitted=auto_submitted or "", precedence=precedence or "",
                list_id=list_id or "", message_id=rfc_id or "", references=references or ""))
        return result

    def _domain_hits(self, rules, messages):
        """{(rule id, index): message ids} for the domain conditions, one query each.

        Searched with the rule owner's rights, so a domain never reads what its owner cannot.
        """
        hits = {}
        for rule in rules:
            owner = rule.user_id
            for index, cond in enumerate(rule.condition_ids.sorted(lambda c: (c.sequence, c.id))):
                if cond.kind not in ("message_domain", "partner_domain"):
                    continue
                try:
                    domain = safe_eval(cond.domain or "[]")
                    if cond.kind == "message_domain":
                        found = self.env["maildesk.message"].with_user(owner).search(
                            [("id", "in", messages.ids)] + domain)
                        hits[(rule.id, index)] = set(found.ids)
                    else:
                        partners = set(self.env["res.partner"].with_user(owner).search(
                            [("id", "in", messages.partner_id.ids)] + domain).ids)
                        hits[(rule.id, index)] = {m.id for m in messages if m.partner_id.id in partners}
                except Exception as exc:  # noqa: BLE001 - a bad domain only fails its own condition
                    _logger.warning("MailDesk automation: rule %s domain failed: %s", rule.name, exc)
                    hits[(rule.id, index)] = set()
        return hits

    # -- execution -------------------------------------------------------------------------------
    def _rule_infos(self, rule, decision, batch):
        """(the rule's ``_ActionInfo`` in order, whether one of them acts at once), once per batch."""
        cached = batch.rule_actions.get(rule.id)
        if cached is None:
            infos = [batch.actions[a["id"]] for a in decision.actions if a["id"] in batch.actions]
            cached = batch.rule_actions[rule.id] = (infos, any(not info.grouped for info in infos))
        return cached

    def _local_rule(self, rule, decision, batch, trigger):
        """The ``_LocalRule`` of ``rule`` when its actions allow it (and not a dry run), else None."""
        infos, _immediate = self._rule_infos(rule, decision, batch)
        if batch.dry_run or not infos or any(info.kind not in LOCAL_KINDS for info in infos):
            return None
        note = None
        if any(info.kind == "add_tags" for info in infos):
            note = self._note_text(rule, batch, self._verb(batch, "tagged"))
        return _LocalRule(rule, infos, note, self._log_prefix(rule, trigger, batch))

    def _execute_local(self, local, decision, fact, batch, trigger):
        """``_execute`` for a ``_LocalRule``: the same checks, changes, note and log line.

        Every action is checked against the message as the earlier rules left it, then the
        rule's changes are applied together (as ``_execute`` applies a rule's queued changes
        once it finished); a rule that had nothing to do writes no line.
        """
        start = time.perf_counter()
        mid = fact.id
        if local.one_tag is not None:
            tag_id = local.one_tag
            added, removed = batch.tag_add.get(tag_id), batch.tag_remove.get(tag_id)
            if (added is not None and mid in added) or (
                    tag_id in fact.tag_ids and not (removed is not None and mid in removed)):
                return  # already tagged: no line
            batch.tag_add[tag_id].add(mid)
            if removed is not None:
                removed.discard(mid)
            if fact.thread_id:
                batch.thread_vals[fact.thread_id]["rule_note"] = local.note
            self._log_local(local, decision, fact, batch, local.steps[0][2], start)
            return
        if local.one_flag is not None:
            field = local.one_flag
            done = batch.flags[(field, True)]
            if mid in batch.flagged[field] or mid in done:
                return  # already set: no line
            done.add(mid)
            self._log_local(local, decision, fact, batch, local.steps[0][2], start)
            return
        texts, changes = [], []
        for kind, arg, text in local.steps:
            if kind == "add_tags" or kind == "remove_tags":
                want = kind == "add_tags"
                todo = [t for t in arg if self._has_tag(fact, batch, t) != want]
                if not todo:
                    continue
                changes.append((want, todo))
            elif mid in batch.flagged[arg] or mid in batch.flags.get((arg, True), ()):
                continue
            else:
                changes.append((arg, None))
            texts.append(text)
        if not changes:
            return  # every action found its work already done: no line
        noted = False
        tag_add, tag_remove = batch.tag_add, batch.tag_remove
        for what, tag_ids in changes:
            if what is True:
                for tag_id in tag_ids:
                    tag_add[tag_id].add(mid)
                    tag_remove[tag_id].discard(mid)
                noted = True
            elif what is False:
                for tag_id in tag_ids:
                    tag_remove[tag_id].add(mid)
                    tag_add[tag_id].discard(mid)
            else:
                batch.flags[(what, True)].add(mid)
        if noted and fact.thread_id:
            batch.thread_vals[fact.thread_id]["rule_note"] = local.note
        self._log_local(local, decision, fact, batch, texts[0] if len(texts) == 1 else ESCAPED_NEWLINE.join(texts),
                        start)

    def _log_local(self, local, decision, fact, batch, actions, start):
        """The log line of a ``_LocalRule`` that acted: ``actions`` is the escaped text of what it did."""
        if decision is not local.decision:
            local.decision, local.matched = decision, self._log_matched(decision.matched, batch)
        message = batch.log_messages.get(fact.id) or self._log_message(fact, batch)
        duration = decision.eval_ms + (time.perf_counter() - start) * 1000
        batch.logs.append(f"{local.prefix}\t{message}\t{local.matched}\t{actions}\t{duration:.3f}\n")

    def _execute(self, rule, decision, fact, batch, trigger, trigger_key):
        start = time.perf_counter()
        done, error = [], False
        infos, immediate = self._rule_infos(rule, decision, batch)
        # Grouped-only rules never touch the message record: no browse for them.
        message = self.env["maildesk.message"].sudo().browse(fact.id) if immediate else None
        batch.pending = []
        # A savepoint (which flushes) only when an action writes at once; grouped-only rules
        # write nothing until the batch ends, and their queued changes are dropped on error.
        try:
            with self.env.cr.savepoint() if immediate else contextlib.nullcontext():
                for info in infos:
                    done.append(self._do_action(rule, info, message, fact, batch))
            for change in batch.pending:
                change()
        except Exception as exc:  # noqa: BLE001 - a failing rule is logged, the others go on
            error = f"{type(exc).__name__}: {exc}"
            _logger.warning("MailDesk automation: rule %s failed on message %s: %s", rule.name, fact.id, error)
        finally:
            batch.pending = None
        if not (error or batch.dry_run or trigger_key) and infos and all(d is None for d in done):
            return  # every action found its work already done (tag there, starred, assigned): no line
        duration = decision.eval_ms + (time.perf_counter() - start) * 1000
        batch.logs.append(self._log_line(rule, fact, trigger, decision.matched, done, duration, batch,
                                         error=error, trigger_key=trigger_key))

    def _log_line(self, rule, fact, trigger, matched, done, duration, batch, error=False, trigger_key=False):
        """One run-log line in COPY's text format, columns in ``LOG_COLUMNS`` order."""
        message = batch.log_messages.get(fact.id) or self._log_message(fact, batch)
        return (f"{self._log_prefix(rule, trigger, batch, error, trigger_key)}\t{message}\t"
                f"{self._log_matched(matched, batch)}\t{_copy_text(NEWLINE.join(d for d in done if d))}\t"
                f"{duration:.3f}\n")

    def _log_prefix(self, rule, trigger, batch, error=False, trigger_key=False):
        """The columns of a log line that are the same for a rule over a batch (made once)."""
        key = (rule.id, trigger) if not (error or trigger_key) else None
        prefix = batch.log_prefixes.get(key)
        if prefix is None:
            prefix = "\t".join((
                str(rule.id), _copy_text(rule.name), _copy_text(trigger), "t" if batch.dry_run else "f",
                _copy_id(batch.dry_run), "error" if error else "done", _copy_text(error or ""),
                _copy_text(trigger_key or ""), fields.Datetime.to_string(batch.now)))
            if key is not None:
                batch.log_prefixes[key] = prefix
        return prefix

    def _log_message(self, fact, batch):
        """The columns of a log line that are the same for a message (made once per message)."""
        text = batch.log_messages[fact.id] = "\t".join((
            _copy_id(fact.account_id), _copy_id(fact.thread_id), _copy_id(fact.id), _copy_text(fact.subject)))
        return text

    def _log_matched(self, matched, batch):
        """The matched conditions as logged, made once per labels list: ``plan_batch`` shares one
        list among the decisions of an all-conditions rule (the list is kept with its text, so its
        id cannot be reused while the batch runs)."""
        cached = batch.matched_texts.get(id(matched))
        if cached is None or cached[0] is not matched:
            cached = batch.matched_texts[id(matched)] = (matched, _copy_text("\n".join(matched) or "(no conditions)"))
        return cached[1]

    def _do_action(self, rule, action, message, fact, batch):
        """Execute (or, in a dry run, describe) one action; returns what was done, or None
        when there was nothing to do (the tag is already there, the message already starred...).

        ``action`` is the batch's ``_ActionInfo`` (``action.record`` is the record);
        ``message`` is the message record, None for rules whose actions are all grouped
        (``GROUPED_KINDS`` handlers work on ``fact`` alone).
        """
        handler = getattr(self, f"_action_{action.kind}")
        return handler(rule, action, message, fact, batch)

    def _note(self, rule, batch, thread_id, verb):
        if thread_id and not batch.dry_run:
            note = self._note_text(rule, batch, verb)
            batch.later(lambda: batch.thread_vals[thread_id].update(rule_note=note))

    def _note_text(self, rule, batch, verb):
        """"Tagged by rule “X”": the conversation's note, translated once per rule and verb."""
        key = (rule.id, verb)
        note = batch.notes.get(key)
        if note is None:
            note = batch.notes[key] = _("%(verb)s by rule “%(rule)s”", verb=verb, rule=rule.name)
        return note

    def _verb(self, batch, verb):
        """The translated verb of a rule note, once per batch."""
        key = ("verb", verb)
        if key not in batch.notes:
            batch.notes[key] = {"tagged": _("Tagged"), "moved": _("Moved"), "assigned": _("Assigned")}[verb]
        return batch.notes[key]

    @staticmethod
    def _has_tag(fact, batch, tag_id):
        """The tag as this batch leaves it: stored, or added / removed by an earlier rule."""
        mid = fact.id
        if mid in batch.tag_add.get(tag_id, ()):
            return True
        return tag_id in fact.tag_ids and mid not in batch.tag_remove.get(tag_id, ())

    def _action_add_tags(self, rule, action, message, fact, batch):
        if batch.dry_run:
            return action.dry
        mid = fact.id
        missing = [t for t in action.tag_ids if not self._has_tag(fact, batch, t)]
        if not missing:
            return None
        for tag_id in missing:
            batch.later(lambda t=tag_id: (batch.tag_add[t].add(mid), batch.tag_remove[t].discard(mid)))
        self._note(rule, batch, fact.thread_id, self._verb(batch, "tagged"))
        return action.done

    def _action_remove_tags(self, rule, action, message, fact, batch):
        if batch.dry_run:
            return action.dry
        mid = fact.id
        present = [t for t in action.tag_ids if self._has_tag(fact, batch, t)]
        if not present:
            return None
        for tag_id in present:
            batch.later(lambda t=tag_id: (batch.tag_remove[t].add(mid), batch.tag_add[t].discard(mid)))
        return action.done

    def _set_flag(self, action, fact, batch, field):
        if batch.dry_run:
            return action.dry
        if fact.id in batch.flagged[field] or fact.id in batch.flags.get((field, True), ()):
            return None
        batch.later(lambda: batch.flags[(field, True)].add(fact.id))
        return action.done

    def _action_mark_read(self, rule, action, message, fact, batch):
        return self._set_flag(action, fact, batch, "is_read")

    def _action_star(self, rule, action, message, fact, batch):
        return self._set_flag(action, fact, batch, "is_starred")

    def _action_move(self, rule, action, message, fact, batch):
        folder = action.record.folder_id
        if folder.account_id.id != fact.account_id:
            return _("not moved: %s is a folder of another mailbox", folder.name)
        if batch.dry_run:
            return _("would move to %s", folder.name)
        # Pushed to the server like a user's move (not in sync context).
        message.with_context(maildesk_from_sync=False)._move_to(folder)
        self._note(rule, batch, fact.thread_id, self._verb(batch, "moved"))
        return _("moved to %s", folder.name)

    def _action_set_team(self, rule, action, message, fact, batch):
        if batch.dry_run:
            return action.dry
        if not fact.thread_id or batch.thread_vals[fact.thread_id].get("team_id", fact.team_id) == action.team_id:
            return None
        team_id, thread_id = action.team_id, fact.thread_id
        batch.later(lambda: batch.thread_vals[thread_id].update(team_id=team_id))
        return action.done

    def _action_close(self, rule, action, message, fact, batch):
        if batch.dry_run:
            return _("would mark done")
        message.thread_id.sudo().action_close()
        return _("marked done")

    def _assigned(self, action, fact, batch):
        """True when ``only_unassigned`` leaves this conversation alone."""
        return action.only_unassigned and bool(batch.thread_user.get(fact.thread_id)
                                               or batch.thread_vals[fact.thread_id].get("user_id"))

    def _action_assign_user(self, rule, action, message, fact, batch):
        current = batch.thread_vals[fact.thread_id].get("user_id", batch.thread_user.get(fact.thread_id))
        if current == action.user_id and not batch.dry_run:
            return None
        if self._assigned(action, fact, batch):
            return _("already assigned")
        if batch.dry_run:
            return action.dry
        user_id, thread_id = action.user_id, fact.thread_id
        batch.later(lambda: batch.thread_vals[thread_id].update(user_id=user_id))
        self._note(rule, batch, thread_id, self._verb(batch, "assigned"))
        return action.done

    def _action_assign_team(self, rule, action, message, fact, batch):
        if self._assigned(action, fact, batch):
            return _("already assigned")
        team = self.env["maildesk.team"].sudo().browse(action.team_id or fact.team_id)
        if not team:
            return _("not assigned: the conversation has no team")
        method = action.record.assign_method
        assigner = self._assigner(team, method, batch, self.env["maildesk.account"].sudo().browse(fact.account_id))
        user_id = assigner.pick()
        if not user_id:
            return _("not assigned: no member of %s is available", team.name)
        name = batch.user_name(user_id)
        if batch.dry_run:
            return _("would assign %s", name)
        team_id, thread_id = team.id, fact.thread_id
        batch.later(lambda: batch.thread_vals[thread_id].update(user_id=user_id, team_id=team_id))
        batch.later(lambda: batch.thread_vals.setdefault(("team", team_id), {}).update(last_assigned_user_id=user_id))
        self._note(rule, batch, thread_id, self._verb(batch, "assigned"))
        return _("assigned %(user)s (%(method)s)", user=name, method=method)

    def _assigner(self, team, method, batch, account):
        key = (team.id, method, account.id)
        if key not in batch.assigners:
            team = team.sudo()
            admins = self.env.ref("maildesk_mail_client.group_maildesk_admin").users
            members = team.member_ids.filtered(
                lambda u: u.active and (u in admins or u == account.owner_id or u in account.user_ids))
            loads = dict(self.env["maildesk.thread"].sudo()._read_group(
                [("user_id", "in", members.ids), ("conversation_state", "in", OPEN_STATES)],
                ["user_id"], ["__count"]))
            candidates = []
            for user in members:
                calendar = user.resource_calendar_id
                working = hours.is_working(batch.calendar(calendar), batch.now) if calendar else True
                candidates.append(engine_assign.Candidate(user.id, True, working, loads.get(user, 0)))
            batch.assigners[key] = engine_assign.Assigner(candidates, method, team.max_open_per_user,
                                                          team.last_assigned_user_id.id)
        return batch.assigners[key]

    def _action_auto_reply(self, rule, action, message, fact, batch):
        record = action.record
        address = (fact.reply_to or fact.from_address).lower()
        memory = self.env["maildesk.rule.reply"].sudo().search(
            [("action_id", "=", record.id), ("address", "=", address)], limit=1)
        ok, reason = autoreply.may_auto_reply(
            fact, now=batch.now, own_addresses=batch.own_addresses(), window_start=record.window_start,
            window_end=record.window_end, last_sent_at=memory.sent_at, once_per_days=record.once_per_days)
        if not ok:
            return _("no auto-reply: %s", reason)
        if batch.dry_run:
            return _("would auto-reply to %s", address)
        if not self._claim_auto_reply(record, address, batch.now):
            # Another transaction answered this sender meanwhile (the claim is atomic).
            return _("no auto-reply: already answered this sender within %s days", record.once_per_days)
        account = message.account_id.sudo()
        name = (message.email_from or "").split("<")[0].strip(' "') or address
        values = {"sender_name": name, "sender_email": address, "subject": fact.subject,
                  "mailbox": account.name, "date": fields.Datetime.to_string(fact.date) or ""}
        reply = autoreply.build_auto_reply(fact, record.reply_subject, str(record.reply_body or ""), values)
        self.env["maildesk.rule.mail"].sudo().create({
            "rule_id": rule.id, "action_id": record.id, "kind": "auto_reply", "account_id": account.id,
            "message_id": fact.id, "email_to": reply["to"], "subject": reply["subject"],
            "body_html": reply["body_html"], "headers": reply["headers"], "thread_reply": True})
        batch.mail_queued = True
        return _("auto-reply to %s queued", address)

    def _claim_auto_reply(self, action, address, now):
        """Take the once-per-sender slot of ``action`` for ``address``; False when it is taken.

        One statement, so two transactions answering the same sender cannot both win: the
        second waits for the first's row and then sees a recent ``sent_at``. Rolled back with
        the batch, so a retried batch claims it again.
        """
        threshold = now - timedelta(days=max(action.once_per_days, 0))
        self.env["maildesk.rule.reply"].flush_model()
        self.env.cr.execute("""
            INSERT INTO maildesk_rule_reply (action_id, address, sent_at,
                                             create_uid, create_date, write_uid, write_date)
            VALUES (%(action)s, %(address)s, %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s)
            ON CONFLICT (action_id, address) DO UPDATE
               SET sent_at = EXCLUDED.sent_at, write_uid = EXCLUDED.write_uid, write_date = EXCLUDED.write_date
             WHERE maildesk_rule_reply.sent_at <= %(threshold)s
            RETURNING id""", {"action": action.id, "address": address, "now": now, "uid": self.env.uid,
                              "threshold": threshold})
        claimed = bool(self.env.cr.fetchone())
        self.env["maildesk.rule.reply"].invalidate_model(["sent_at"])
        return claimed

    def _action_forward(self, rule, action, message, fact, batch):
        to = (action.record.forward_to or "").strip()
        if fact.auto_submitted and fact.from_address in batch.own_addresses():
            return _("not forwarded: sent by automation of one of our mailboxes")
        if batch.dry_run:
            return _("would forward to %s", to)
        header = Markup("<p>---------- Forwarded message ----------<br/>From: %s<br/>Subject: %s</p>") % (
            message.email_from or "", message.subject or "")
        files = message.attachment_ids.sudo().filtered(lambda a: a.name != "original.eml")
        self.env["maildesk.rule.mail"].sudo().create({
            "rule_id": rule.id, "action_id": action.id, "kind": "forward", "account_id": fact.account_id,
            "message_id": fact.id, "email_to": to, "subject": compose.forward_subject(message.subject or ""),
            "body_html": header + Markup(message.body_html or ""), "headers": {"Auto-Submitted": "auto-generated"},
            "attachment_ids": [(6, 0, files.ids)], "thread_reply": False})
        batch.mail_queued = True
        return _("forward to %s queued", to)

    def _action_notify(self, rule, action, message, fact, batch):
        record = action.record
        text = record.notify_text or _("%(rule)s: “%(subject)s” from %(sender)s", rule=rule.name,
                                       subject=message.subject or "", sender=message.email_from or "")
        users = record.notify_user_ids.filtered("active")
        channel = record.notify_channel
        names = ", ".join(users.mapped("name") + ([channel.display_name] if channel else []))
        if batch.dry_run:
            return _("would notify %s", names)
        if users:
            self.env["bus.bus"].sudo()._sendmany([
                (user.partner_id, "simple_notification", {"title": _("MailDesk"), "message": text, "sticky": False,
                                                          "type": "info"}) for user in users])
            if record.notify_inbox and "mail.thread" in self.env:
                self._notify_inbox(users, message, text)
        if channel and channel.exists():
            # Discuss is optional (`mail` installed): post as the system to the chosen channel.
            channel.sudo().message_post(body=escape(text), message_type="comment", subtype_xmlid="mail.mt_comment")
        return _("notified %s", names)

    def _notify_inbox(self, users, message, text):
        """A Discuss inbox notification per user about the conversation (``mail`` installed).

        Pop-ups (bus) are lost for users who are not online; the inbox keeps it. The
        conversation is not a ``mail.thread`` (the base does not depend on ``mail``), so the
        notification is attached by model and id, as ``message_notify`` allows.
        """
        # sudo: a system notification to the chosen users; nothing of the mail body is copied.
        self.env["mail.thread"].sudo().message_notify(
            model="maildesk.thread", res_id=message.thread_id.id, partner_ids=users.partner_id.ids,
            body=escape(text), subject=message.subject or "", subtype_xmlid="mail.mt_note")

    def _action_create_record(self, rule, action, message, fact, batch):
        record = action.record
        model = record._target_model()
        thread = message.thread_id
        Link = self.env["maildesk.thread.record"].sudo()
        existing = Link.search([("thread_id", "=", thread.id), ("res_model", "=", model)], limit=1)
        if existing:
            return _("%(model)s already linked (%(id)s)", model=model, id=existing.res_id)
        if batch.dry_run:
            return _("would create a %s", model)
        sources = {"subject": message.subject or _("(no subject)"), "body": message.body_html or "",
                   "body_text": message.body_text or "", "sender_email": fact.from_address,
                   "sender_name": (message.email_from or "").split("<")[0].strip(' "'),
                   "partner": message.partner_id.id or False, "snippet": message.snippet or "",
                   "mailbox": message.account_id.name, "date": message.date}
        vals = {}
        for field_name, source in record._mapping().items():
            vals[field_name] = source[1] if isinstance(source, tuple) else sources[source]
        # The rule's owner creates it: their access rights and record rules apply.
        created = self.env[model].with_user(rule.user_id).create(vals)
        Link.create({"thread_id": thread.id, "res_model": model, "res_id": created.id, "rule_id": rule.id})
        return _("created %(model)s %(name)s", model=model, name=created.sudo().display_name)

    def _action_ai_classify(self, rule, action, message, fact, batch):
        record = action.record
        service = self.env.get("maildesk.ai.service")
        if service is None or not hasattr(service, "_classify_tags"):
            return _("AI classification skipped: no AI service is installed")
        if batch.dry_run:
            return _("would classify with AI into %s", ", ".join(record.tag_ids.mapped("name")))
        # Pro's chokepoint decides (feature switch, mailbox switch, limits) and may return nothing.
        tags = service._classify_tags(message, record.tag_ids) or self.env["maildesk.tag"]
        for tag_id in (tags & record.tag_ids).ids:
            batch.later(lambda t=tag_id: batch.tag_add[t].add(fact.id))
        return _("AI tags: %s", ", ".join(tags.mapped("name")) or _("none"))

    # -- grouped writes ----------------------------------------------------------------------------
    def _flush_batch(self, batch):
        Message = self.env["maildesk.message"].sudo()
        if not batch.dry_run:
            self._write_tags(batch.tag_add, batch.tag_remove)
            for (field, value), ids in batch.flags.items():
                folded = ids & batch.folded[field]
                try:
                    if folded:
                        # Stored by the INSERT (``_plan_at_insert``): only the server is still to hear of it.
                        Message.browse(sorted(folded)).with_context(maildesk_from_sync=False)._push_flags(
                            **{field: value})
                    if ids - folded:
                        # Not in sync context: the flag goes to the server like a user's click.
                        Message.browse(sorted(ids - folded)).exists().with_context(
                            maildesk_from_sync=False).write({field: value})
                except Exception as exc:  # noqa: BLE001 - a refused flag never blocks the batch
                    _logger.warning("MailDesk automation: setting %s failed: %s", field, exc)
            grouped = defaultdict(list)
            for key, vals in batch.thread_vals.items():
                if isinstance(key, tuple):
                    self.env["maildesk.team"].sudo().browse(key[1]).write(vals)
                elif vals:
                    grouped[tuple(sorted(vals.items()))].append(key)
            for vals, ids in grouped.items():
                self.env["maildesk.thread"].sudo().browse(ids).write(dict(vals))
            if batch.mail_queued:
                # Part of this transaction: a rolled-back batch wakes nobody and queued nothing.
                self.env.ref("maildesk_automation.ir_cron_maildesk_rule_mail").sudo()._trigger()
        self._insert_logs(batch.logs)
        Run = self.env["maildesk.rule.run"]
        # The dry-run wizard shows its lines (it deleted its earlier ones before running).
        return Run.search([("dry_run_id", "=", batch.dry_run)]) if batch.dry_run else Run

    def _write_tags(self, add, remove):
        """Add / remove tags on messages, ``{tag id: message ids}``: one statement each way.

        Raw SQL on the relation table: the ORM's many2many write reads every message's
        current tags first and cost more than all the rules' evaluation on a large batch. Tags
        on messages are local data (nothing goes to the server, as for the ORM write in sync
        context); the caches of both sides are invalidated and dependents marked modified.
        """
        field = self.env["maildesk.message"]._fields["tag_ids"]
        adds, removes = _id_arrays(add), _id_arrays(remove)
        if not adds and not removes:
            return
        self.env["maildesk.message"].flush_model(["tag_ids"])
        rel, col1, col2 = field.relation, field.column1, field.column2
        if adds:
            self.env.cr.execute(f"""
                INSERT INTO "{rel}" ("{col1}", "{col2}")
                SELECT v.m, v.t FROM unnest(%s::int[], %s::int[]) AS v(m, t)
                  JOIN maildesk_tag tag ON tag.id = v.t
                ON CONFLICT DO NOTHING""", adds[:2])  # noqa: S608 - field metadata
        if removes:
            self.env.cr.execute(f"""
                DELETE FROM "{rel}" r USING unnest(%s::int[], %s::int[]) AS v(m, t)
                 WHERE r."{col1}" = v.m AND r."{col2}" = v.t""", removes[:2])  # noqa: S608
        touched = self.env["maildesk.message"].browse(sorted((adds[2] if adds else set())
                                                             | (removes[2] if removes else set())))
        touched.invalidate_recordset(["tag_ids"])
        Tag = self.env["maildesk.tag"]
        inverse = [name for name, f in Tag._fields.items() if f.type == "many2many" and f.relation == rel]
        if inverse:
            Tag.invalidate_model(inverse)
        touched.modified(["tag_ids"])

    def _insert_logs(self, lines):
        """Write the batch's run-log lines (COPY text format, ``LOG_COLUMNS`` order) with one COPY.

        Raw SQL: the ORM's ``create`` cost about 0.6 ms per line (defaults, cache), several
        times the rules' own cost on a busy mailbox, and an INSERT of the rows as arrays
        spent most of its time quoting and parsing them. The lines are made as text from
        parts escaped once per rule and per message (``_log_prefix``, ``_log_message``):
        ``csv`` took several microseconds a line to quote sixteen fields. Lines are system
        data, written only here; users read them through the ORM and its record rules. The
        table has no foreign key (see ``maildesk.rule.run``). Empty texts are NULL, as before.
        """
        if not lines:
            return
        self.env["maildesk.rule.run"].flush_model()
        self.env.cr.copy_expert(f"COPY maildesk_rule_run ({', '.join(LOG_COLUMNS)}) FROM STDIN",
                                io.StringIO("".join(lines)))

    # -- time triggers ---------------------------------------------------------------------------
    @api.model
    def _cron_time_triggers(self):
        """No-reply, idle and scheduled rules; each rule in its own savepoint."""
        now = fields.Datetime.now()
        for rule in self.sudo().search([("trigger", "in", TIME_TRIGGERS)]):
            try:
                with self.env.cr.savepoint():
                    rule._run_time_trigger(now)
            except Exception:  # noqa: BLE001 - one broken rule never stops the others
                _logger.exception("MailDesk automation: time rule %s failed", rule.name)

    def _time_candidates(self, now, dry_run=None):
        """(messages, trigger keys) the time trigger of this rule is due for."""
        self.ensure_one()
        Thread = self.env["maildesk.thread"].sudo()
        accounts = self.account_ids.filtered("automation_incoming")
        domain = [("account_id", "in", accounts.ids)]
        if self.trigger == "no_reply":
            threads = Thread.search(domain + [("conversation_state", "=", "waiting_for_us"),
                                              ("last_incoming_at", "<=", now - timedelta(hours=self.delay_hours))],
                                    order="last_incoming_at", limit=TIME_TRIGGER_BATCH)
            due = {}
            for thread in threads:
                calendar = thread.team_id.resource_calendar_id if self.use_business_hours else None
                deadline = hours.add_business_hours(_work_calendar(calendar) if calendar else None,
                                                    thread.last_incoming_at, self.delay_hours)
                if deadline and deadline <= now:
                    due[thread] = f"no_reply:{fields.Datetime.to_string(thread.last_incoming_at)}"
        elif self.trigger == "idle":
            threads = Thread.search(domain + [("conversation_state", "in", OPEN_STATES),
                                              ("last_message_at", "<=", now - timedelta(days=self.idle_days))],
                                    order="last_message_at", limit=TIME_TRIGGER_BATCH)
            due = {t: f"idle:{fields.Datetime.to_string(t.last_message_at)}" for t in threads}
        else:
            if self.next_run_at and self.next_run_at > now:
                return self.env["maildesk.message"], {}
            if not dry_run:
                self.next_run_at = self._next_schedule(now)
            threads = Thread.search(domain + [("conversation_state", "in", OPEN_STATES)],
                                    order="last_message_at desc", limit=TIME_TRIGGER_BATCH)
            due = {t: False for t in threads}
        keyed = {k for k in due.values() if k}
        if keyed:
            fired = {(r["thread_ref"], r["trigger_key"]) for r in self.env["maildesk.rule.run"].sudo().search_read(
                [("rule_ref", "=", self.id), ("dry_run", "=", False), ("trigger_key", "in", list(keyed)),
                 ("thread_ref", "in", [t.id for t in due])], ["thread_ref", "trigger_key"])}
            due = {t: k for t, k in due.items() if (t.id, k) not in fired}
        return self._latest_messages(due)

    def _latest_messages(self, due):
        """The newest human incoming message (else the newest message) of each due thread."""
        if not due:
            return self.env["maildesk.message"], {}
        rows = self.env["maildesk.message"].sudo().search(
            [("thread_id", "in", [t.id for t in due])], order="is_auto_generated, direction, date desc, id desc")
        pick = {}
        for message in rows:  # incoming human first (the ordering puts them first per thread)
            pick.setdefault(message.thread_id, message)
        messages = self.env["maildesk.message"].sudo().browse([m.id for m in pick.values()])
        keys = {m.id: due[m.thread_id] for m in messages}
        return messages, keys

    def _run_time_trigger(self, now, dry_run=None):
        messages, keys = self._time_candidates(now, dry_run)
        if not messages:
            return self.env["maildesk.rule.run"]
        token = _RUNNING.set(True)  # mail sent by these actions does not run rules either
        try:
            return self._run_trigger(self.trigger, messages, rules=self, dry_run=dry_run, trigger_keys=keys)
        finally:
            _RUNNING.reset(token)
