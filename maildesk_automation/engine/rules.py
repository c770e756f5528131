"""Rule evaluation: ordered rules, compiled conditions, actions planned as plain data.

How it works
------------
A rule (``RuleSpec``) is a trigger, a list of conditions (each a dict ``{"kind", "value",
"negate", ...}``), ``match`` ``"all"`` or ``"any"``, ordered actions (dicts, kept as they are)
and ``stop`` (stop processing further rules when it matched). ``compile_rules`` turns every
condition into a closure once (wildcards and regexes compiled, values split and lowered), so
evaluating a message is a few attribute reads and string tests per condition, no ORM.

``plan(rules, message, ctx)`` walks the rules of the message's trigger and mailbox in order
and returns one ``Decision`` per rule that matched: the rule, which conditions matched, and
its actions. A matched rule with ``stop`` ends the walk. ``plan_batch(rules, messages, ctx)``
gives the same decisions for a whole batch, walking it rule by rule (one pass of each rule's
compiled test over the messages still in the walk) instead of message by message: the
per-message, per-rule bookkeeping was most of the planning time of a batch.

Conditions the engine cannot decide from the message alone are decided by the caller in one
query per batch and passed in ``EvalContext.hits``: ``message_domain`` (a custom Odoo domain on
the message) and ``partner_domain`` (a domain on the sender's contact) map a condition key
``(rule_id, index)`` to the set of message ids that passed.

Regex bounds
------------
A user's pattern runs in the sync, so it must not hang it: patterns are limited to
``MAX_PATTERN`` characters, the text searched to ``MAX_TEXT`` characters, and each search runs
with the ``regex`` package's ``timeout=`` (``REGEX_TIMEOUT`` seconds). A pattern that times
out counts as *not matched* and is reported in ``EvalContext.errors``. Without the ``regex``
package, patterns with nested quantifiers (the catastrophic kind: ``(a+)+``) are refused.
"""
import fnmatch
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import hours

try:  # PyPI "regex": same syntax as re, plus a per-call timeout
    import regex as _regex
except ImportError:  # pragma: no cover - the addon lists it as a dependency
    _regex = None

MAX_PATTERN = 300
MAX_TEXT = 20000
REGEX_TIMEOUT = 0.05

TRIGGERS = ("received", "sent", "no_reply", "idle", "schedule")

CONDITION_KINDS = (
    "sender", "sender_domain", "to_contains", "cc_contains", "subject_contains", "subject_regex",
    "body_contains", "body_regex", "has_attachment", "attachment_type", "position", "state",
    "tags", "folder", "partner_domain", "message_domain", "business_hours", "security_level",
    "auto_generated",
)
ACTION_KINDS = (
    "add_tags", "remove_tags", "move", "mark_read", "star", "assign_user", "assign_team", "set_team",
    "auto_reply", "forward", "notify", "create_record", "ai_classify", "close",
)
SECURITY_LEVELS = ("low", "medium", "high")  # maildesk_mail_client_pro scan levels


class RuleError(ValueError):
    """A rule that cannot be compiled; the message says why in plain words."""


@dataclass(slots=True)
class MessageFacts:
    """One message as the rules see it (plain values, built by the caller in batch)."""
    id: int
    account_id: int = 0
    thread_id: int = 0
    folder_id: int = 0
    direction: str = "incoming"
    from_address: str = ""
    reply_to: str = ""
    to: tuple = ()          # bare lowercase addresses
    cc: tuple = ()
    subject: str = ""
    body: str = ""
    attachments: tuple = ()  # (filename, mimetype)
    is_reply: bool = False
    state: str = ""
    tag_ids: frozenset = frozenset()
    partner_id: int = 0
    team_id: int = 0
    calendar: object = None  # hours.WorkCalendar of the team, None = always working
    date: object = None
    security_level: str = ""
    is_auto_generated: bool = False
    auto_submitted: str = ""
    precedence: str = ""
    list_id: str = ""
    message_id: str = ""
    references: str = ""
    # Lower-cased subject / body (body cut at MAX_TEXT), made once per message on first use.
    subject_lc: str = None
    body_lc: str = None
    working: bool = None  # inside business hours (calendar and date), decided once per message


def _lowered_subject(message):
    """The lower-cased subject, cached on the message."""
    cached = message.subject_lc
    if cached is None:
        cached = message.subject_lc = message.subject[:MAX_TEXT].lower()
    return cached


def _lowered_body(message):
    """The lower-cased body (its first ``MAX_TEXT`` characters), cached on the message."""
    cached = message.body_lc
    if cached is None:
        cached = message.body_lc = message.body[:MAX_TEXT].lower()
    return cached


@dataclass
class RuleSpec:
    id: int
    name: str = ""
    trigger: str = "received"
    conditions: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    match: str = "all"
    stop: bool = False
    account_ids: frozenset = frozenset()
    sequence: int = 10


@dataclass
class EvalContext:
    trigger: str = "received"
    hits: dict = field(default_factory=dict)    # (rule_id, index) -> set of message ids
    errors: list = field(default_factory=list)  # (rule_id, message) of bounded failures


@dataclass(slots=True)
class Decision:
    rule_id: int
    matched: list   # labels of the conditions that matched (read-only: plan_batch shares decisions)
    actions: list   # the rule's action dicts, in order (read-only)
    eval_ms: float = 0.0  # plan_batch: the rule's evaluation time over the batch per message it matched


# -- compiling ---------------------------------------------------------------------------------
def _values(value):
    if isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        items = re.split(r"[,;\n]", str(value or ""))
    return [str(v).strip().lower() for v in items if str(v).strip()]


def _wildcards(patterns):
    """One case-insensitive regex for shell wildcards (``*@example.com``, ``*.example.*``)."""
    if not patterns:
        raise RuleError("Give at least one address or pattern.")
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns), re.IGNORECASE)


_NESTED_QUANTIFIER = re.compile(r"\([^)]*[+*][^)]*\)\s*[+*{]")
MIN_LITERAL = 3  # shorter required literals are too common in text to save a search
_NOT_PLAIN = re.compile(r"\(\?[^:]")
_BRACES = re.compile(r"\{[^}]*\}?")
_REPEAT = re.compile(r"\{\d*(?:,\d*)?\}")


def required_literals(pattern):
    """Strings one of which every match of ``pattern`` contains, or None when none is found.

    Read from the top level of the parsed pattern (a concatenation): a run of plain
    characters, or a group whose alternatives are all plain characters (``(order|invoice)``).
    The longest such requirement is kept. Patterns with inline flags or look-arounds
    (``(?i)``, ``(?=``...) and braces other than plain repeats (the ``regex`` package reads
    ``{e<=1}`` as fuzzy matching, ``re`` as text) get none.
    """
    if _NOT_PLAIN.search(pattern) or any(not _REPEAT.fullmatch(b) for b in _BRACES.findall(pattern)):
        return None
    try:
        import re._parser as parser  # noqa: PLC0415 - Python 3.11+
        constants = parser  # LITERAL, SUBPATTERN, BRANCH are re-exported there
        items = list(parser.parse(pattern))
    except Exception:  # noqa: BLE001 - the regex package's own syntax: no shortcut, the search decides
        return None

    def literal(seq):
        seq = list(seq)
        if seq and all(op is constants.LITERAL for op, _arg in seq):
            return "".join(chr(arg) for _op, arg in seq)
        return None
    candidates, run = [], []
    for op, arg in items + [(None, None)]:
        if op is constants.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            candidates.append(("".join(run),))
            run = []
        if op is constants.BRANCH:  # an alternation of a non-capturing group, or of the whole pattern
            options = [literal(branch) for branch in arg[1]]
            if all(options):
                candidates.append(tuple(options))
        elif op is constants.SUBPATTERN:
            inner = list(arg[-1])
            if len(inner) == 1 and inner[0][0] is constants.BRANCH:
                options = [literal(branch) for branch in inner[0][1][1]]
                if all(options):
                    candidates.append(tuple(options))
            elif literal(inner):
                candidates.append((literal(inner),))
    candidates = [c for c in candidates if min(map(len, c)) >= MIN_LITERAL]
    return max(candidates, key=lambda c: min(map(len, c))) if candidates else None


def compile_pattern(pattern):
    """A bounded, case-insensitive search function ``search(text, lowered)`` for a user pattern.

    A pattern without any upper-case character (so no ``\\W``, ``\\S``, ``[A-Z]``...) is run
    case-sensitively on the lower-cased text, which is the same match and several times
    faster than full Unicode case folding; other patterns run with IGNORECASE on the text.
    """
    pattern = pattern or ""
    if not pattern:
        raise RuleError("The regular expression is empty.")
    if len(pattern) > MAX_PATTERN:
        raise RuleError(f"The regular expression is longer than {MAX_PATTERN} characters.")
    if _regex is not None:
        lower_only = pattern == pattern.lower()
        try:
            compiled = _regex.compile(pattern, _regex.V0 if lower_only else _regex.IGNORECASE | _regex.V0)
        except _regex.error as exc:
            raise RuleError(f"The regular expression is not valid: {exc}") from exc

        # Only for patterns run on the lower-cased text: a literal absent from it rules a match out.
        needles = required_literals(pattern) if lower_only else None

        def search(text, lowered):
            if needles is not None and not any(n in lowered for n in needles):
                return False
            subject = lowered if lower_only else text[:MAX_TEXT]
            return compiled.search(subject, timeout=REGEX_TIMEOUT) is not None
        return search
    if _NESTED_QUANTIFIER.search(pattern):  # pragma: no cover - fallback without "regex"
        raise RuleError("Nested repetitions like (a+)+ are not allowed in rules.")
    try:  # pragma: no cover
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:  # pragma: no cover
        raise RuleError(f"The regular expression is not valid: {exc}") from exc
    return lambda text, lowered: compiled.search(text[:MAX_TEXT]) is not None  # pragma: no cover


def _attachment_matcher(types):
    """Match attachments by extension (``pdf``, ``.docx``) or MIME type (``image/*``)."""
    exts = {t.lstrip(".") for t in types if "/" not in t}
    mimes = [t for t in types if "/" in t]
    mime_re = _wildcards(mimes) if mimes else None

    def test(attachments):
        for filename, mimetype in attachments:
            ext = (filename or "").rsplit(".", 1)[-1].lower() if "." in (filename or "") else ""
            if ext in exts or (mime_re and mime_re.match(mimetype or "")):
                return True
        return False
    return test


def _compile_condition(rule_id, index, cond):
    """A predicate ``(message, ctx) -> bool`` for one condition dict."""
    kind = cond.get("kind")
    value = cond.get("value")
    key = (rule_id, index)
    if kind == "sender":
        wild = _wildcards(_values(value))
        return lambda m, ctx: bool(wild.match(m.from_address))
    if kind == "sender_domain":
        wild = _wildcards([v.lstrip("@") for v in _values(value)])
        return lambda m, ctx: bool(wild.match(m.from_address.rpartition("@")[2]))
    if kind in ("to_contains", "cc_contains"):
        needles = _values(value)
        if not needles:
            raise RuleError("Give at least one address or part of one.")
        wild = _wildcards(needles) if any("*" in n or "?" in n for n in needles) else None
        attr = "to" if kind == "to_contains" else "cc"
        if wild is None and len(needles) == 1:
            needle = needles[0]
            if attr == "to":
                return lambda m, ctx: any(needle in address for address in m.to)
            return lambda m, ctx: any(needle in address for address in m.cc)

        def recipients(m, ctx):
            for address in getattr(m, attr):
                if wild is not None and wild.match(address):
                    return True
                if any(n in address for n in needles):
                    return True
            return False
        return recipients
    if kind in ("subject_contains", "body_contains"):
        needles = _values(value)
        if not needles:
            raise RuleError("Give at least one word to look for.")
        lowered = _lowered_subject if kind == "subject_contains" else _lowered_body
        if len(needles) == 1:  # the usual cases: no generator per message
            needle = needles[0]
            return lambda m, ctx: needle in lowered(m)
        if len(needles) == 2:
            first, second = needles
            return lambda m, ctx: first in (text := lowered(m)) or second in text
        return lambda m, ctx: any(n in lowered(m) for n in needles)
    if kind in ("subject_regex", "body_regex"):
        search = compile_pattern(value if isinstance(value, str) else "")
        attr = "subject" if kind == "subject_regex" else "body"
        lowered = _lowered_subject if kind == "subject_regex" else _lowered_body

        def bounded(m, ctx):
            try:
                return search(getattr(m, attr), lowered(m))
            except TimeoutError:
                ctx.errors.append((rule_id, f"regular expression timed out after {REGEX_TIMEOUT}s "
                                            f"on message {m.id}: counted as not matching"))
                return False
        return bounded
    if kind == "has_attachment":
        return lambda m, ctx: bool(m.attachments)
    if kind == "attachment_type":
        test = _attachment_matcher(_values(value))
        if not _values(value):
            raise RuleError("Give at least one file type (pdf, image/*).")
        return lambda m, ctx: test(m.attachments)
    if kind == "position":
        want_reply = value == "reply"
        if value not in ("first", "reply"):
            raise RuleError("Choose first message or reply.")
        return lambda m, ctx: m.is_reply == want_reply
    if kind == "state":
        states = set(_values(value))
        return lambda m, ctx: (m.state or "") in states
    if kind == "tags":
        tag_ids = frozenset(int(t) for t in (cond.get("ids") or ()))
        if not tag_ids:
            raise RuleError("Choose at least one tag.")
        return lambda m, ctx: bool(m.tag_ids & tag_ids)
    if kind == "folder":
        folder_ids = frozenset(int(f) for f in (cond.get("ids") or ()))
        if not folder_ids:
            raise RuleError("Choose at least one folder.")
        return lambda m, ctx: m.folder_id in folder_ids
    if kind in ("partner_domain", "message_domain"):
        return lambda m, ctx: m.id in ctx.hits.get(key, ())
    if kind == "business_hours":
        inside = value != "out"

        def in_hours(m, ctx):
            if m.date is None:
                return False
            if m.working is None:  # the same answer for every rule looking at this message
                m.working = hours.is_working(m.calendar, m.date)
            return m.working == inside
        return in_hours
    if kind == "security_level":
        levels = set(_values(value))
        if not levels or levels - set(SECURITY_LEVELS):
            raise RuleError(f"Choose security levels among {', '.join(SECURITY_LEVELS)}.")
        return lambda m, ctx: (m.security_level or "") in levels
    if kind == "auto_generated":
        return lambda m, ctx: m.is_auto_generated
    raise RuleError(f"Unknown condition '{kind}'.")


def label(cond):
    """A short readable form of a condition, for the run log."""
    text = cond.get("kind", "?")
    if cond.get("value") not in (None, "", False):
        text += f" {cond['value']}"
    if cond.get("ids"):
        text += f" {sorted(cond['ids'])}"
    return ("not " if cond.get("negate") else "") + text


def _all_of(predicates):
    """One callable testing every predicate in order (stops at the first false one).

    Rules have one to a few conditions: a closure per size avoids a loop and a generator
    per evaluation, which were most of the planning time of a batch.
    """
    if not predicates:
        return lambda m, ctx: True
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        return lambda m, ctx: first(m, ctx) and second(m, ctx)
    if len(predicates) == 3:
        first, second, third = predicates
        return lambda m, ctx: first(m, ctx) and second(m, ctx) and third(m, ctx)
    predicates = tuple(predicates)
    return lambda m, ctx: all(predicate(m, ctx) for predicate in predicates)


class CompiledRule:
    __slots__ = ("spec", "predicates", "labels", "match_all", "test_all", "chain")

    def __init__(self, spec):
        self.spec = spec
        self.predicates = []
        self.labels = []
        self.chain = []  # (predicate, negated) in order: ``plan_batch`` runs them condition by condition
        for index, cond in enumerate(spec.conditions):
            predicate = _compile_condition(spec.id, index, cond)
            self.chain.append((predicate, bool(cond.get("negate"))))
            if cond.get("negate"):
                predicate = (lambda p: lambda m, ctx: not p(m, ctx))(predicate)
            self.predicates.append(predicate)
            self.labels.append(label(cond))
        self.match_all = spec.match != "any" or not self.predicates
        # "all" (or no condition): one callable; the matched labels are then all of them.
        self.test_all = _all_of(self.predicates) if self.match_all else None

    def evaluate(self, message, ctx):
        """(matched, labels of the conditions that matched). No conditions = always."""
        if self.match_all:
            return (True, self.labels[:]) if self.test_all(message, ctx) else (False, [])
        for predicate, text in zip(self.predicates, self.labels):
            if predicate(message, ctx):
                return True, [text]
        return False, []


def compile_rules(specs):
    """Compiled rules in order (sequence, id). Raises RuleError naming the bad rule."""
    compiled = []
    for spec in sorted(specs, key=lambda s: (s.sequence, s.id)):
        try:
            compiled.append(CompiledRule(spec))
        except RuleError as exc:
            raise RuleError(f"Rule '{spec.name or spec.id}': {exc}") from exc
    return compiled


def plan(rules, message, ctx):
    """Decisions for one message: matched rules in order, up to the first that stops."""
    decisions = []
    trigger, account_id = ctx.trigger, message.account_id
    for rule in rules:
        spec = rule.spec
        if spec.trigger != trigger or (spec.account_ids and account_id not in spec.account_ids):
            continue
        try:
            test_all = rule.test_all
            if test_all is not None:
                if not test_all(message, ctx):
                    continue
                labels = rule.labels[:]
            else:
                matched, labels = rule.evaluate(message, ctx)
                if not matched:
                    continue
        except Exception as exc:  # noqa: BLE001 - one broken rule never stops the others
            ctx.errors.append((spec.id, f"{type(exc).__name__}: {exc}"))
            continue
        decisions.append(Decision(spec.id, labels, list(spec.actions)))
        if spec.stop:
            break
    return decisions


def plan_batch(rules, messages, ctx, active_from=None, now=None):
    """``plan`` for every message of a batch: ``(decisions, errors)``, one list each per message.

    ``decisions[i]`` is what ``plan(rules, messages[i], ctx)`` returns; ``errors[i]`` the
    ``(rule_id, text)`` that call would have added to ``ctx.errors`` (left empty here; an empty
    tuple for a message without error). The
    batch is walked rule by rule: each rule's test runs over the messages it applies to that
    no earlier matched rule stopped. ``active_from``: ``{rule_id: datetime}``; a rule then
    applies only to messages dated (``now`` when undated) from that moment.

    A rule pass that raised or reported an error (a regex timeout) is run again message by
    message, so every error is charged to its message and a raising condition fails its rule
    for that message only, as ``plan`` does. Each ``Decision.eval_ms`` is the time of its
    rule's pass divided by the messages it matched. The messages a rule matched share one
    ``Decision`` (one per first matching condition for an any-condition rule): few objects
    for the collector to track on a large batch. Read decisions, never change them.
    """
    count = len(messages)
    decisions = [[] for _ in range(count)]
    errors = [()] * count
    alive = list(range(count))
    trigger = ctx.trigger
    now = now if now is not None else datetime.now(timezone.utc).replace(tzinfo=None)
    # Usually one mailbox and mail newer than every rule: then no rule needs a filter pass.
    batch_accounts = {m.account_id for m in messages}
    oldest = min((m.date or now for m in messages), default=None)
    for rule in rules:
        spec = rule.spec
        if spec.trigger != trigger or not alive:
            continue
        started = time.perf_counter()
        todo = alive
        if spec.account_ids and not batch_accounts <= spec.account_ids:
            accounts = spec.account_ids
            todo = [i for i in todo if messages[i].account_id in accounts]
        since = active_from.get(spec.id) if active_from else None
        if since and oldest < since:
            todo = [i for i in todo if (messages[i].date or now) >= since]
        hits, matched = _rule_pass(rule, messages, todo, ctx, errors)
        if hits:
            share = (time.perf_counter() - started) * 1000 / len(hits)
            actions = list(spec.actions)
            if matched is None:  # all conditions: one decision, the same for every message matched
                decision = Decision(spec.id, rule.labels[:], actions, share)
                for i in hits:
                    decisions[i].append(decision)
            else:  # any condition: one decision per condition that matched first
                shared = {}
                for i, labels in zip(hits, matched):
                    key = labels[0] if labels else None
                    decision = shared.get(key)
                    if decision is None:
                        decision = shared[key] = Decision(spec.id, labels, actions, share)
                    decisions[i].append(decision)
            if spec.stop:
                stopped = set(hits)
                alive = [i for i in alive if i not in stopped]
    return decisions, errors


def _rule_pass(rule, messages, todo, ctx, errors):
    """(indexes of ``todo`` the rule matches, their matched labels or None when all conditions)."""
    mark = len(ctx.errors)
    try:
        if rule.test_all is not None:
            # Condition by condition over the messages still matching: each message meets the
            # same conditions, in the same order, as in ``test_all`` (which stops at the first
            # false one), without a wrapper call per message and condition.
            hits = todo
            for predicate, negated in rule.chain:
                if negated:
                    hits = [i for i in hits if not predicate(messages[i], ctx)]
                else:
                    hits = [i for i in hits if predicate(messages[i], ctx)]
                if not hits:
                    break
            if len(ctx.errors) == mark:
                return hits, None
        else:
            evaluate = rule.evaluate
            found = [(i, labels) for i in todo for ok, labels in (evaluate(messages[i], ctx),) if ok]
            if len(ctx.errors) == mark:
                return [i for i, _labels in found], [labels for _i, labels in found]
    except Exception:  # noqa: BLE001 - decided again message by message below
        pass
    del ctx.errors[mark:]
    hits, matched = [], []
    spec_id = rule.spec.id
    for i in todo:  # as ``plan``: one message at a time, each error charged to its message
        try:
            ok, labels = rule.evaluate(messages[i], ctx)
        except Exception as exc:  # noqa: BLE001 - one broken rule never stops the others
            ok = False
            ctx.errors.append((spec_id, f"{type(exc).__name__}: {exc}"))
        if len(ctx.errors) > mark:
            errors[i] = [*errors[i], *ctx.errors[mark:]]
            del ctx.errors[mark:]
        if ok:
            hits.append(i)
            matched.append(labels)
    return hits, matched
