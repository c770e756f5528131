"""Rules planned before the sync's bulk INSERT: their flags go into the inserted rows.

Why
---
A rule that stars or marks read a new message used to UPDATE the row right after the
INSERT (the message table has many indexes, so no HOT update) and refresh the summary of
every touched conversation a second time. On the trusted bulk path
(``maildesk.message._create_ingested``) the rules are instead planned on the parsed values
(``_plan_at_insert``, from the ``_complete_vals`` hook) and the flags they set are folded
into the INSERT values. Everything else is executed after the insert exactly as before, on
the same decisions (``_run_planned``, from ``_run_on_stored``): tags, assignment, team,
notes, moves, mail, records, the run log (same lines, same texts: a folded flag is logged
as set by its rule); the folded flags are only pushed to the server then.

What is decided from the values
-------------------------------
The facts the stored path reads from the rows, taken from the values: the same first-copy
filter, the mailboxes' switches, the rules' activation; the conversation state the batch
will leave (``engine.convstate``, from the stored human messages plus the batch's), the
team a new conversation gets (``_default_teams``), its assignee and calendar; no tags (new
rows have none). Rules with conditions that need the stored row (domains, Pro's security
scan) leave the whole batch to the stored path, as does any error here. When a rule looks
at files, their names and types come from the parsed message (``_prepare_from_remote``); a
message whose stored files cannot be told exactly (a type ``ir.attachment`` may change) is
planned after the insert instead, in the same batch and order.

A flag is folded only when the rule setting it first has grouped actions only (tags,
flags, team, assignee: they cannot fail half-way); a rule with an immediate action sets
its flag after the insert, in its savepoint, as before. If pushing a folded flag to the
server fails, the message stays flagged locally (logged), where the write used to refuse it.
"""
import logging
from collections import defaultdict

from odoo import api, fields, models

from ..engine import convstate
from ..engine import rules as engine_rules
from .maildesk_message import INGEST_FILES, PLANNED_KEY
from .maildesk_rule_runner import _RUNNING, GROUPED_KINDS, SKIP_FOLDER_ROLES, _addresses, _body, _work_calendar

_logger = logging.getLogger(__name__)

# Condition kinds decided on the stored rows only (domain searches, Pro's scan).
STORED_ONLY_KINDS = frozenset({"message_domain", "partner_domain", "security_level"})
FILE_KINDS = frozenset({"has_attachment", "attachment_type"})
BODY_KINDS = frozenset({"body_contains", "body_regex"})
FLAG_FIELDS = {"star": "is_starred", "mark_read": "is_read"}
# Rules whose actions cannot fail after the insert: their flags may go into the INSERT.
FOLDABLE_KINDS = GROUPED_KINDS - {"assign_team"}


class _Planned:
    """The decisions planned for one bulk INSERT, bound to the new ids after it."""

    def __init__(self):
        self.ids = frozenset()
        self.triggers = {}              # trigger -> (rule ids, first copies of the trigger: vals indexes, then ids)
        self.compiled = {}              # trigger -> the rules compiled (``maildesk.rule._compiled``)
        self.items = {}                 # vals index, then id -> (fact, decisions, errors) (planned messages)
        self.flagged = {"is_read": set(), "is_starred": set()}  # field -> vals indexes, then ids, set before folding
        self.folded = defaultdict(set)  # field -> vals indexes, then message ids
        self.thread_user = {}           # thread id -> assignee

    def bind(self, ids):
        """Replace the values' indexes (facts' placeholder ids are ``-(index + 1)``) by the new ids."""
        self.ids = frozenset(ids)
        self.triggers = {trigger: (rule_ids, [ids[i] for i in indexes])
                         for trigger, (rule_ids, indexes) in self.triggers.items()}
        items = {}
        for index, (fact, decisions, errors) in self.items.items():
            placeholder, fact.id = fact.id, ids[index]
            # A bounded regex's timeout names the message it stopped on.
            errors = [(rule_id, text.replace(f"on message {placeholder}:", f"on message {fact.id}:"))
                      for rule_id, text in errors]
            items[fact.id] = (fact, decisions, errors)
        self.items = items
        self.flagged = {field: {ids[i] for i in indexes} for field, indexes in self.flagged.items()}
        self.folded = defaultdict(set, {field: {ids[i] for i in indexes} for field, indexes in self.folded.items()})


class MaildeskRule(models.Model):
    _inherit = "maildesk.rule"

    @api.model
    def _plan_at_insert(self, vals_list):
        """Plan the rules on the values of a bulk INSERT and fold their flags in; the plan or None.

        None (nothing changed in the values) when rules are disabled here, need the stored
        rows, or planning failed: the stored path then runs them as it always did.
        """
        if _RUNNING.get() or not vals_list:
            return None
        try:
            planned = self._plan_values(vals_list)
        except Exception:  # noqa: BLE001 - the stored path runs the rules instead
            _logger.exception("MailDesk automation: planning rules before the insert failed")
            return None
        if planned is not None:
            for field, indexes in planned.folded.items():
                for index in indexes:
                    vals_list[index][field] = True
        return planned

    def _plan_values(self, vals_list):
        Account = self.env["maildesk.account"].sudo()
        accounts = {a.id: a for a in Account.browse({v["account_id"] for v in vals_list})}
        roles = {f.id: f.role for f in self.env["maildesk.folder"].sudo().browse(
            {v["folder_id"] for v in vals_list if v.get("folder_id")})}
        batches = {"received": [], "sent": []}
        for index, vals in enumerate(vals_list):
            account = accounts[vals["account_id"]]
            direction = vals.get("direction")
            if direction == "incoming" and account.automation_incoming \
                    and roles.get(vals.get("folder_id")) not in SKIP_FOLDER_ROLES:
                batches["received"].append(index)
            elif direction == "outgoing" and account.automation_outgoing:
                batches["sent"].append(index)
        Rule = self.sudo()
        planned = _Planned()
        todo = {}
        for trigger, indexes in batches.items():
            indexes = self._first_copy_indexes(vals_list, indexes)
            if not indexes:
                continue
            rules = Rule.search([("trigger", "=", trigger),
                                 ("account_ids", "in", list({vals_list[i]["account_id"] for i in indexes}))])
            if not rules:
                continue
            try:
                compiled = rules._compiled()
            except engine_rules.RuleError:
                return None  # the stored path logs it
            kinds = {cond["kind"] for c in compiled for cond in c.spec.conditions}
            if kinds & STORED_ONLY_KINDS:
                return None
            planned.triggers[trigger] = (rules.ids, indexes)
            planned.compiled[trigger] = compiled
            todo[trigger] = (rules, compiled, kinds, indexes)
        if not todo:
            return planned
        threads = self._thread_facts(vals_list)
        now = fields.Datetime.now()
        calendars = {}
        files = INGEST_FILES.get() or {}
        for trigger, (rules, compiled, kinds, indexes) in todo.items():
            facts = []
            for index in indexes:
                vals = vals_list[index]
                attachments = ()
                if kinds & FILE_KINDS and vals.get("has_attachments"):
                    attachments = self._stored_files(vals, files)
                    if attachments is None:
                        continue  # planned after the insert, on its stored files
                thread = threads.get(vals.get("thread_id")) or {}
                calendar_id = thread.get("calendar_id")
                if "business_hours" in kinds and calendar_id and calendar_id not in calendars:
                    calendars[calendar_id] = _work_calendar(self.env["resource.calendar"].sudo().browse(calendar_id))
                for field, indexes in planned.flagged.items():
                    if vals.get(field):
                        indexes.add(index)
                facts.append(self._values_fact(-(index + 1), vals, thread, calendars.get(calendar_id), attachments,
                                               bool(kinds & BODY_KINDS)))
            ctx = engine_rules.EvalContext(trigger=trigger)
            flag_rules = {}
            for fact, decisions, errors in self._plan_facts(rules, compiled, facts, ctx, True, now):
                index = -fact.id - 1
                planned.items[index] = (fact, decisions, errors)
                self._fold_flags(index, decisions, planned, flag_rules)
        planned.thread_user = {tid: t["user_id"] for tid, t in threads.items()}
        return planned

    def _first_copy_indexes(self, vals_list, indexes):
        """``indexes`` without copies of mail the mailbox stored before or earlier in the batch
        (the filter ``_first_copies`` applies to stored mail)."""
        mids = [vals_list[i].get("message_id") for i in indexes if vals_list[i].get("message_id")]
        seen = set()
        if mids:
            for row in self.env["maildesk.message"].sudo().search_read([("message_id", "in", mids)],
                                                                       ["account_id", "message_id"]):
                seen.add((row["account_id"][0], row["message_id"]))
        keep = []
        for index in indexes:
            vals = vals_list[index]
            key = (vals["account_id"], vals.get("message_id"))
            if key[1] and key in seen:
                continue
            seen.add(key)
            keep.append(index)
        return keep

    def _thread_facts(self, vals_list):
        """{thread id: values} as the batch will leave its conversations (state, team, assignee)."""
        ids = list({v["thread_id"] for v in vals_list if v.get("thread_id")})
        if not ids:
            return {}
        self.env["maildesk.message"].flush_model()
        self.env["maildesk.thread"].flush_model()
        self.env.cr.execute("""
            SELECT t.id, t.account_id, t.is_closed, t.closed_at, t.team_id, t.user_id,
                   max(m.date) FILTER (WHERE NOT m.is_auto_generated AND m.direction = 'incoming'),
                   max(m.date) FILTER (WHERE NOT m.is_auto_generated AND m.direction = 'outgoing')
              FROM maildesk_thread t
              LEFT JOIN maildesk_message m ON m.thread_id = t.id
             WHERE t.id = ANY(%s)
             GROUP BY t.id""", [ids])
        rows = self.env.cr.fetchall()
        last = {row[0]: [row[6], row[7]] for row in rows}
        for vals in vals_list:  # every new message counts, copies and mail without rules too
            dates = last.get(vals.get("thread_id"))
            date = fields.Datetime.to_datetime(vals.get("date"))
            if dates is None or date is None or vals.get("is_auto_generated"):
                continue
            slot = 0 if vals.get("direction") == "incoming" else 1 if vals.get("direction") == "outgoing" else None
            if slot is not None and (dates[slot] is None or date > dates[slot]):
                dates[slot] = date
        default_teams = self.env["maildesk.thread"]._default_teams({row[1] for row in rows if not row[4]})
        teams = {}
        result = {}
        for thread_id, account_id, is_closed, closed_at, team_id, user_id, _in, _out in rows:
            team_id = team_id or default_teams.get(account_id)
            if team_id and team_id not in teams:
                teams[team_id] = self.env["maildesk.team"].sudo().browse(team_id).resource_calendar_id.id
            last_in, last_out = last[thread_id]
            result[thread_id] = {"state": convstate.conversation_state(is_closed, closed_at, last_in, last_out),
                                 "team_id": team_id or 0, "user_id": user_id or False,
                                 "calendar_id": teams.get(team_id) or False}
        return result

    @staticmethod
    def _stored_files(vals, files):
        """(name, type) of the files ``_create_attachments`` will store for ``vals``; None when
        that cannot be told now: unknown values, a file without a name, or a type ``ir.attachment``
        may change (guessed for none or octet-stream; HTML / XML made text/plain for some users)."""
        entry = files.get(id(vals))
        if entry is None or entry[0] is not vals:
            return None
        result = []
        for name, mimetype in entry[1]:
            if not name or not mimetype or mimetype == "application/octet-stream" or "ht" in mimetype \
                    or ("xml" in mimetype and "openxmlformats" not in mimetype):
                return None
            result.append((name, mimetype))
        return tuple(result)

    @staticmethod
    def _values_fact(placeholder, vals, thread, calendar, attachments, need_body):
        """``MessageFacts`` of new message values, as ``_facts`` reads them from the stored row."""
        def text(name):
            value = vals.get(name)
            return "" if value is None or value is False else str(value)

        def stored(name):  # NULL in the row for None / False (see ``bulk_create``)
            return vals.get(name) is not None and vals.get(name) is not False
        return engine_rules.MessageFacts(
            id=placeholder, account_id=vals["account_id"], thread_id=vals.get("thread_id") or 0,
            folder_id=vals.get("folder_id") or 0, direction=vals.get("direction") or "incoming",
            from_address=text("from_address").lower(), reply_to=(_addresses(text("reply_to")) or ("",))[0],
            to=_addresses(text("email_to")), cc=_addresses(text("email_cc")), subject=text("subject"),
            body=_body(text("body_text"), text("body_html")) if need_body else "", attachments=attachments,
            is_reply=stored("in_reply_to") or stored("references"), state=thread.get("state") or "",
            tag_ids=frozenset(), partner_id=vals.get("partner_id") or 0, team_id=thread.get("team_id") or 0,
            calendar=calendar, date=fields.Datetime.to_datetime(vals.get("date")),
            is_auto_generated=bool(vals.get("is_auto_generated")), auto_submitted=text("auto_submitted"),
            precedence=text("precedence"), list_id=text("list_id"), message_id=text("message_id"),
            references=text("references"))

    @staticmethod
    def _fold_flags(index, decisions, planned, flag_rules):
        """Fold the flags the decisions set, walking them as ``_set_flag`` will after the insert:
        the first rule setting a flag the message lacks sets it; folded when that rule's
        actions are all grouped (it cannot fail and so keep the flag from being set).
        ``flag_rules``: {rule id: (flag fields its actions set, foldable)}, filled here."""
        done = None
        for decision in decisions:
            info = flag_rules.get(decision.rule_id)
            if info is None:
                fields_ = tuple(FLAG_FIELDS[a["kind"]] for a in decision.actions if a["kind"] in FLAG_FIELDS)
                info = flag_rules[decision.rule_id] = (
                    fields_, all(action["kind"] in FOLDABLE_KINDS for action in decision.actions))
            fields_, foldable = info
            for field in fields_:
                if index in planned.flagged[field] or (done is not None and field in done):
                    continue
                done = (done or set()) | {field}
                if foldable:
                    planned.folded[field].add(index)

    # -- after the insert ------------------------------------------------------------------------
    @api.model
    def _run_on_stored(self, messages):
        """The batch of the last bulk INSERT runs on its plan; any other batch runs as before."""
        planned = self.env.cr.cache.pop(PLANNED_KEY, None)
        if planned is None or _RUNNING.get() or planned.ids != frozenset(messages.ids):
            return super()._run_on_stored(messages)
        token = _RUNNING.set(True)
        try:
            Message = self.env["maildesk.message"].sudo()
            for trigger, (rule_ids, ids) in planned.triggers.items():
                self._run_trigger(trigger, Message.browse(ids), rules=self.sudo().browse(rule_ids), planned=planned,
                                  compiled=planned.compiled.get(trigger))
        except Exception:  # noqa: BLE001 - automation never blocks the sync that stored the mail
            _logger.exception("MailDesk automation: rules failed on a batch of %d messages", len(messages))
        finally:
            _RUNNING.reset(token)
        return None
