"""Running rules: on each stored batch, by the time-trigger cron, and as a dry run.

Flow for a batch (``_run_on_stored``, called from ``maildesk.message._on_messages_stored``
after the base and the conversation state): split the batch into received / sent mail of
mailboxes with automation on, drop copies of mail already seen in the mailbox (another
folder or label of the same Message-ID), load the rules of the trigger in one search, build
``MessageFacts`` for the whole batch in a few queries, decide the domain conditions in one
query per condition, let the engine plan, then execute. Cheap actions (tags, flags, team,
assignee) are grouped and written once per batch; auto-replies, forwards, moves, records and
notifications run per message. Each matched rule runs in a savepoint: a failing rule is
logged with its error and never stops the sync or the other rules. Mail sent by actions
(auto-replies, forwards) goes through the base send path, whose hook comes back here: a
context variable (not an RPC-settable context key) makes that a no-op, so rules never
trigger rules. The run log gets one line per matched rule and message, in one ``create``.

Conditions see each message as it was stored: tags added by an earlier rule of the same
batch are not visible to later rules' tag conditions.
"""
import contextlib
import contextvars
import logging
import re
import time
from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup, escape
from odoo import _, api, fields, models
from odoo.addons.maildesk_mail_client.engine import compose
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
# Actions that only queue grouped writes (applied after the batch): no savepoint needed.
GROUPED_KINDS = frozenset({"add_tags", "remove_tags", "mark_read", "star", "set_team", "assign_user",
                           "assign_team"})


def _work_calendar(calendar):
    """A resource.calendar as engine values (first week of two-week calendars)."""
    if not calendar:
        return None
    attendance = defaultdict(list)
    for line in calendar.attendance_ids:
        if line.display_type or (calendar.two_weeks_calendar and line.week_type == "1"):
            continue
        attendance[int(line.dayofweek)].append((line.hour_from, line.hour_to))
    leaves = tuple((leave.date_from, leave.date_to) for leave in calendar.global_leave_ids)
    return hours.WorkCalendar(calendar.tz or "UTC", dict(attendance), leaves)


class _Batch:
    """Per-batch state of an execution: grouped writes, assigners, log lines."""

    def __init__(self, env, dry_run):
        self.env = env
        self.dry_run = dry_run
        self.tag_add = defaultdict(set)     # tag id -> message ids
        self.tag_remove = defaultdict(set)
        self.flags = defaultdict(set)       # (field, value) -> message ids
        self.thread_vals = defaultdict(dict)  # thread id -> vals
        self.assigners = {}
        self.logs = []
        self.now = fields.Datetime.now()
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
        result, batch_seen = self.env["maildesk.message"].sudo(), set()
        for message in messages:
            key = (message.account_id.id, message.message_id)
            if message.message_id and (key in seen or key in batch_seen):
                continue
            batch_seen.add(key)
            result |= message
        return result

    def _run_trigger(self, trigger, messages, rules=None, dry_run=None, trigger_keys=None):
        """Plan and execute ``rules`` (default: the active rules of ``trigger``) on ``messages``."""
        Rule = self.sudo()
        if rules is None:
            rules = Rule.search([("trigger", "=", trigger), ("account_ids", "in", messages.account_id.ids)])
        if not rules:
            return self.env["maildesk.rule.run"]
        try:
            compiled = rules._compiled()
        except engine_rules.RuleError as exc:
            _logger.warning("MailDesk automation: %s", exc)
            return self.env["maildesk.rule.run"]
        batch = _Batch(self.env, dry_run)
        facts = self._facts(messages, batch)
        ctx = engine_rules.EvalContext(trigger=trigger, hits=self._domain_hits(rules, messages))
        active_from = {r.id: r.active_from for r in rules}
        by_id = {r.id: r for r in rules}
        all_rules = compiled
        for message, fact in zip(messages, facts):
            when = message.date or batch.now
            if dry_run or trigger in TIME_TRIGGERS:
                usable = all_rules
            else:
                usable = [c for c in all_rules if not active_from[c.spec.id] or active_from[c.spec.id] <= when]
            start = time.perf_counter()
            decisions = engine_rules.plan(usable, fact, ctx)
            spent = (time.perf_counter() - start) * 1000
            for decision in decisions:
                rule = by_id[decision.rule_id]
                self._execute(rule, decision, message, fact, batch, trigger,
                              (trigger_keys or {}).get(message.id), spent / max(len(decisions), 1))
            for rule_id, error in ctx.errors:
                batch.logs.append(self._log_vals(by_id[rule_id], message, trigger, [], [], 0.0, batch, error=error))
            ctx.errors.clear()
        return self._flush_batch(batch)

    # -- facts ----------------------------------------------------------------------------------
    def _facts(self, messages, batch):
        """``MessageFacts`` for a whole batch (a few queries, no ORM per condition)."""
        attachments = defaultdict(list)
        with_files = messages.filtered("has_attachments")
        if with_files:
            for row in self.env["ir.attachment"].sudo().search_read(
                    [("res_model", "=", "maildesk.message"), ("res_id", "in", with_files.ids)],
                    ["res_id", "name", "mimetype"]):
                attachments[row["res_id"]].append((row["name"] or "", row["mimetype"] or ""))
        has_level = "security_level" in messages._fields
        result = []
        for m in messages:
            thread = m.thread_id
            team = thread.team_id
            body = m.body_text or _TAGS.sub(" ", str(m.body_html or ""))
            result.append(engine_rules.MessageFacts(
                id=m.id, account_id=m.account_id.id, thread_id=thread.id, folder_id=m.folder_id.id,
                direction=m.direction, from_address=(m.from_address or "").lower(),
                reply_to=(_ADDRESS.findall(m.reply_to or "") or [""])[0].lower(),
                to=tuple(a.lower() for a in _ADDRESS.findall(m.email_to or "")),
                cc=tuple(a.lower() for a in _ADDRESS.findall(m.email_cc or "")),
                subject=m.subject or "", body=body, attachments=tuple(attachments.get(m.id, ())),
                is_reply=bool(m.in_reply_to or m.references), state=thread.conversation_state or "",
                tag_ids=frozenset(m.tag_ids.ids), partner_id=m.partner_id.id, team_id=team.id,
                calendar=batch.calendar(team.resource_calendar_id) if team.resource_calendar_id else None,
                date=m.date, security_level=(m.security_level or "") if has_level else "",
                is_auto_generated=m.is_auto_generated, auto_submitted=m.auto_submitted or "",
                precedence=m.precedence or "", list_id=m.list_id or "", message_id=m.message_id or "",
                references=m.references or ""))
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
    def _execute(self, rule, decision, message, fact, batch, trigger, trigger_key, eval_ms):
        start = time.perf_counter()
        done, error = [], False
        actions = self.env["maildesk.rule.action"].sudo().browse([a["id"] for a in decision.actions])
        batch.pending = []
        # A savepoint (which flushes) only when an action writes at once; grouped-only rules
        # write nothing until the batch ends, and their queued changes are dropped on error.
        immediate = any(a.kind not in GROUPED_KINDS for a in actions)
        try:
            with self.env.cr.savepoint() if immediate else contextlib.nullcontext():
                for action in actions:
                    done.append(self._do_action(rule, action, message, fact, batch))
            for change in batch.pending:
                change()
        except Exception as exc:  # noqa: BLE001 - a failing rule is logged, the others go on
            error = f"{type(exc).__name__}: {exc}"
            _logger.warning("MailDesk automation: rule %s failed on message %s: %s", rule.name, message.id, error)
        finally:
            batch.pending = None
        duration = eval_ms + (time.perf_counter() - start) * 1000
        batch.logs.append(self._log_vals(rule, message, trigger, decision.matched, done, duration, batch,
                                         error=error, trigger_key=trigger_key))

    def _log_vals(self, rule, message, trigger, matched, done, duration, batch, error=False, trigger_key=False):
        return {"rule_id": rule.id, "trigger": trigger, "account_id": message.account_id.id,
                "thread_id": message.thread_id.id, "message_id": message.id, "subject": message.subject,
                "matched": "\n".join(matched) or _("(no conditions)"), "actions_done": "\n".join(d for d in done if d),
                "duration_ms": duration, "dry_run": bool(batch.dry_run), "dry_run_id": batch.dry_run or False,
                "state": "error" if error else "done", "error": error or False, "trigger_key": trigger_key or False}

    def _do_action(self, rule, action, message, fact, batch):
        """Execute (or, in a dry run, describe) one action; returns what was done."""
        handler = getattr(self, f"_action_{action.kind}")
        return handler(rule, action, message, fact, batch)

    def _note(self, rule, batch, thread, verb):
        if thread and not batch.dry_run:
            note = _("%(verb)s by rule “%(rule)s”", verb=verb, rule=rule.name)
            batch.later(lambda: batch.thread_vals[thread.id].update(rule_note=note))

    def _action_add_tags(self, rule, action, message, fact, batch):
        names = ", ".join(action.tag_ids.mapped("name"))
        if batch.dry_run:
            return _("would tag: %s", names)
        for tag_id in action.tag_ids.ids:
            batch.later(lambda t=tag_id: (batch.tag_add[t].add(message.id), batch.tag_remove[t].discard(message.id)))
        self._note(rule, batch, message.thread_id, _("Tagged"))
        return _("tagged: %s", names)

    def _action_remove_tags(self, rule, action, message, fact, batch):
        names = ", ".join(action.tag_ids.mapped("name"))
        if batch.dry_run:
            return _("would untag: %s", names)
        for tag_id in action.tag_ids.ids:
            batch.later(lambda t=tag_id: (batch.tag_remove[t].add(message.id), batch.tag_add[t].discard(message.id)))
        return _("untagged: %s", names)

    def _action_mark_read(self, rule, action, message, fact, batch):
        if not batch.dry_run:
            batch.later(lambda: batch.flags[("is_read", True)].add(message.id))
        return _("would mark read") if batch.dry_run else _("marked read")

    def _action_star(self, rule, action, message, fact, batch):
        if not batch.dry_run:
            batch.later(lambda: batch.flags[("is_starred", True)].add(message.id))
        return _("would star") if batch.dry_run else _("starred")

    def _action_move(self, rule, action, message, fact, batch):
        folder = action.folder_id
        if folder.account_id != message.account_id:
            return _("not moved: %s is a folder of another mailbox", folder.name)
        if batch.dry_run:
            return _("would move to %s", folder.name)
        # Pushed to the server like a user's move (not in sync context).
        message.with_context(maildesk_from_sync=False)._move_to(folder)
        self._note(rule, batch, message.thread_id, _("Moved"))
        return _("moved to %s", folder.name)

    def _action_set_team(self, rule, action, message, fact, batch):
        if batch.dry_run:
            return _("would set team %s", action.team_id.name)
        if message.thread_id:
            team_id, thread_id = action.team_id.id, message.thread_id.id
            batch.later(lambda: batch.thread_vals[thread_id].update(team_id=team_id))
        return _("team: %s", action.team_id.name)

    def _action_close(self, rule, action, message, fact, batch):
        if batch.dry_run:
            return _("would mark done")
        message.thread_id.sudo().action_close()
        return _("marked done")

    def _action_assign_user(self, rule, action, message, fact, batch):
        thread = message.thread_id
        if action.only_unassigned and (thread.user_id or batch.thread_vals[thread.id].get("user_id")):
            return _("already assigned")
        if batch.dry_run:
            return _("would assign %s", action.user_id.name)
        user_id = action.user_id.id
        batch.later(lambda: batch.thread_vals[thread.id].update(user_id=user_id))
        self._note(rule, batch, thread, _("Assigned"))
        return _("assigned %s", action.user_id.name)

    def _action_assign_team(self, rule, action, message, fact, batch):
        thread = message.thread_id
        if action.only_unassigned and (thread.user_id or batch.thread_vals[thread.id].get("user_id")):
            return _("already assigned")
        team = action.team_id or thread.team_id
        if not team:
            return _("not assigned: the conversation has no team")
        assigner = self._assigner(team, action.assign_method, batch, thread.account_id)
        user_id = assigner.pick()
        if not user_id:
            return _("not assigned: no member of %s is available", team.name)
        name = self.env["res.users"].browse(user_id).name
        if batch.dry_run:
            return _("would assign %s", name)
        team_id = team.id
        batch.later(lambda: batch.thread_vals[thread.id].update(user_id=user_id, team_id=team_id))
        batch.later(lambda: batch.thread_vals.setdefault(("team", team_id), {}).update(last_assigned_user_id=user_id))
        self._note(rule, batch, thread, _("Assigned"))
        return _("assigned %(user)s (%(method)s)", user=name, method=action.assign_method)

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
        address = (fact.reply_to or fact.from_address).lower()
        memory = self.env["maildesk.rule.reply"].sudo().search(
            [("action_id", "=", action.id), ("address", "=", address)], limit=1)
        ok, reason = autoreply.may_auto_reply(
            fact, now=batch.now, own_addresses=batch.own_addresses(), window_start=action.window_start,
            window_end=action.window_end, last_sent_at=memory.sent_at, once_per_days=action.once_per_days)
        if not ok:
            return _("no auto-reply: %s", reason)
        if batch.dry_run:
            return _("would auto-reply to %s", address)
        account = message.account_id.sudo()
        name = (message.email_from or "").split("<")[0].strip(' "') or address
        values = {"sender_name": name, "sender_email": address, "subject": message.subject or "",
                  "mailbox": account.name, "date": fields.Datetime.to_string(message.date) or ""}
        reply = autoreply.build_auto_reply(fact, action.reply_subject, str(action.reply_body or ""), values)
        account._send_mail(reply["to"], "", "", reply["subject"], Markup(reply["body_html"]), parent=message,
                           headers=reply["headers"])
        if memory:
            memory.sent_at = batch.now
        else:
            memory.create({"action_id": action.id, "address": address, "sent_at": batch.now})
        return _("auto-replied to %s", address)

    def _action_forward(self, rule, action, message, fact, batch):
        to = (action.forward_to or "").strip()
        if fact.auto_submitted and fact.from_address in batch.own_addresses():
            return _("not forwarded: sent by automation of one of our mailboxes")
        if batch.dry_run:
            return _("would forward to %s", to)
        header = Markup("<p>---------- Forwarded message ----------<br/>From: %s<br/>Subject: %s</p>") % (
            message.email_from or "", message.subject or "")
        files = [(a.name, a.raw, a.mimetype) for a in message.attachment_ids.sudo() if a.name != "original.eml"]
        message.account_id.sudo()._send_mail(
            to, "", "", compose.forward_subject(message.subject or ""), header + Markup(message.body_html or ""),
            attachments=files, headers={"Auto-Submitted": "auto-generated"})
        return _("forwarded to %s", to)

    def _action_notify(self, rule, action, message, fact, batch):
        text = action.notify_text or _("%(rule)s: “%(subject)s” from %(sender)s", rule=rule.name,
                                       subject=message.subject or "", sender=message.email_from or "")
        users = action.notify_user_ids.filtered("active")
        channel = action.notify_channel
        if batch.dry_run:
            return _("would notify %s", ", ".join(users.mapped("name") + ([channel.display_name] if channel else [])))
        if users:
            self.env["bus.bus"].sudo()._sendmany([
                (user.partner_id, "simple_notification", {"title": _("MailDesk"), "message": text, "sticky": False,
                                                          "type": "info"}) for user in users])
        if channel and channel.exists():
            # Discuss is optional (`mail` installed): post as the system to the chosen channel.
            channel.sudo().message_post(body=escape(text), message_type="comment", subtype_xmlid="mail.mt_comment")
        return _("notified %s", ", ".join(users.mapped("name") + ([channel.display_name] if channel else [])))

    def _action_create_record(self, rule, action, message, fact, batch):
        model = action._target_model()
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
        for field_name, source in action._mapping().items():
            vals[field_name] = source[1] if isinstance(source, tuple) else sources[source]
        # The rule's owner creates it: their access rights and record rules apply.
        record = self.env[model].with_user(rule.user_id).create(vals)
        Link.create({"thread_id": thread.id, "res_model": model, "res_id": record.id, "rule_id": rule.id})
        return _("created %(model)s %(name)s", model=model, name=record.sudo().display_name)

    def _action_ai_classify(self, rule, action, message, fact, batch):
        service = self.env.get("maildesk.ai.service")
        if service is None or not hasattr(service, "_classify_tags"):
            return _("AI classification skipped: no AI service is installed")
        if batch.dry_run:
            return _("would classify with AI into %s", ", ".join(action.tag_ids.mapped("name")))
        # Pro's chokepoint decides (feature switch, mailbox switch, limits) and may return nothing.
        tags = service._classify_tags(message, action.tag_ids) or self.env["maildesk.tag"]
        for tag_id in (tags & action.tag_ids).ids:
            batch.later(lambda t=tag_id: batch.tag_add[t].add(message.id))
        return _("AI tags: %s", ", ".join(tags.mapped("name")) or _("none"))

    # -- grouped writes ----------------------------------------------------------------------------
    def _flush_batch(self, batch):
        Message = self.env["maildesk.message"].sudo()
        if not batch.dry_run:
            for tag_id, ids in batch.tag_add.items():
                if ids:
                    Message.browse(sorted(ids)).with_context(maildesk_from_sync=True).write(
                        {"tag_ids": [(4, tag_id)]})
            for tag_id, ids in batch.tag_remove.items():
                if ids:
                    Message.browse(sorted(ids)).with_context(maildesk_from_sync=True).write(
                        {"tag_ids": [(3, tag_id)]})
            for (field, value), ids in batch.flags.items():
                try:
                    # Not in sync context: the flag goes to the server like a user's click.
                    Message.browse(sorted(ids)).exists().with_context(maildesk_from_sync=False).write({field: value})
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
        return self.env["maildesk.rule.run"].sudo().create(batch.logs)

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
            fired = {(r["thread_id"][0], r["trigger_key"]) for r in self.env["maildesk.rule.run"].sudo().search_read(
                [("rule_id", "=", self.id), ("dry_run", "=", False), ("trigger_key", "in", list(keyed)),
                 ("thread_id", "in", [t.id for t in due])], ["thread_id", "trigger_key"])}
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
