"""Threading keys (JWZ / RFC 5256 REFERENCES) for grouping mail into conversations.

What it is
----------
Pure functions the Odoo layer uses to put each incoming message in a ``maildesk.thread``:

- ``thread_keys(parsed)`` -> ``ThreadKeys``: the message's own id, its parent ids
  (``References`` in order, then ``In-Reply-To``; de-duplicated, itself excluded, so a
  message can never be its own ancestor), its normalised subject, and whether it carries
  thread headers at all.
- ``group_batch(keys_list)`` -> one group index per message of a sync batch: messages
  linked by any shared Message-ID (own id or parent id) share a group. Ids nobody in
  the batch has ("phantom" parents, JWZ step 3) link too, so two replies to a message
  we never received still land together, and a reply that arrives before its parent
  threads once the parent comes (the Odoo layer looks stored ids up the same way).
- ``may_join_by_subject(keys, candidate_subject, candidate_date, date)``: the subject
  fallback, for mail *without* thread headers only (old clients, some mobile apps,
  mailing-list digests): its subject must look like a reply/forward ("Re:", "AW:",
  "Fwd:"...), normalise to the same text as the candidate's, and be within
  ``SUBJECT_WINDOW``. Two header-backed threads with the same subject never merge,
  and "Meeting" never joins an unrelated "Meeting" without a "Re:".

Provider thread ids (Gmail threadId, Graph conversationId) are hints kept by the Odoo
layer; the canonical grouping is computed here because one mailbox can mix providers
(research/sync_anchors.md 4.1).
"""
import dataclasses
import re
from datetime import datetime, timedelta, timezone

SUBJECT_WINDOW = timedelta(days=7)
# Reply / forward prefixes in the languages mail clients write them in: English, German
# (AW, WG), Nordic (SV, VS), Dutch (Antw), French (TR), Italian (R, RIF), Spanish (RV),
# Portuguese (ENC), Polish (Odp, PD), Turkish (YNT).
REPLY_PREFIXES = ("re", "aw", "sv", "vs", "antw", "antwort", "odp", "ynt", "r", "rif")
FORWARD_PREFIXES = ("fwd", "fw", "wg", "tr", "rv", "enc", "pd", "doorst")
_PREFIX = "(?:" + "|".join(sorted(REPLY_PREFIXES + FORWARD_PREFIXES, key=len, reverse=True)) + ")"
# One prefix: the word, an optional counter ("Re[2]:", "Re(3):", "Re^2:"), a colon
# (ASCII or full-width). A list tag is "[anything short]".
_TOKEN = rf"(?:{_PREFIX}(?:\s*[\[(]\d{{1,3}}[\])]|\^\d{{1,3}})?\s*[:\uff1a]|\[[^\[\]]{{0,60}}\])"
_LEADING = re.compile(rf"^(?:\s*{_TOKEN})+", re.I)
_REPLY = re.compile(rf"^(?:\s*\[[^\[\]]{{0,60}}\])*\s*{_PREFIX}(?:\s*[\[(]\d{{1,3}}[\])]|\^\d{{1,3}})?\s*[:\uff1a]",
                    re.I)


@dataclasses.dataclass
class ThreadKeys:
    """What threading needs to know about one message."""

    message_id: str
    parent_ids: list  # References in order, then In-Reply-To; no duplicates, never itself
    normalized_subject: str
    has_thread_headers: bool
    is_reply: bool = False  # the subject looks like a reply or forward


def normalize_subject(subject):
    """Subject without reply/forward prefixes and list tags, whitespace collapsed, casefolded.

    ``"Re: [list] AW: Fwd[2]:  Budget 2026"`` -> ``"budget 2026"``.
    """
    stripped = _LEADING.sub("", subject or "")
    return " ".join(stripped.split()).casefold()


def is_reply_subject(subject):
    """True when the subject starts (after list tags) with a reply or forward prefix."""
    return bool(_REPLY.match(subject or ""))


def thread_keys(parsed):
    """``ThreadKeys`` of a ``mime.ParsedMessage`` (or anything with the same attributes)."""
    own = parsed.message_id
    parents = []
    candidates = list(getattr(parsed, "references", None) or [])
    if getattr(parsed, "in_reply_to", None):
        candidates.append(parsed.in_reply_to)
    for mid in candidates:
        if mid and mid != own and mid not in parents:
            parents.append(mid)
    subject = getattr(parsed, "subject", "") or ""
    return ThreadKeys(message_id=own, parent_ids=parents, normalized_subject=normalize_subject(subject),
                      has_thread_headers=bool(parents), is_reply=is_reply_subject(subject))


def group_batch(keys_list):
    """Group index (0, 1, ... in order of first appearance) per message; see the module doc."""
    parent = list(range(len(keys_list)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]  # path halving keeps the trees flat
            i = parent[i]
        return i

    owner = {}
    for index, keys in enumerate(keys_list):
        for mid in [keys.message_id, *keys.parent_ids]:
            if not mid:
                continue
            first = owner.setdefault(mid, index)
            if first != index:
                a, b = find(first), find(index)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    roots, groups = {}, []
    for index in range(len(keys_list)):
        groups.append(roots.setdefault(find(index), len(roots)))
    return groups


def _utc_naive(value):
    if value is not None and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def may_join_by_subject(keys, candidate_subject, candidate_date, date):
    """Whether a message (``keys``, ``date``) may join a thread by subject alone.

    Only for messages without thread headers whose subject is a reply/forward subject,
    with the same normalised subject as the candidate, at most ``SUBJECT_WINDOW`` apart.
    Without both dates the window cannot be checked, so the answer is no.
    """
    if keys.has_thread_headers or not keys.normalized_subject or not keys.is_reply:
        return False
    if normalize_subject(candidate_subject) != keys.normalized_subject:
        return False
    if not isinstance(date, datetime) or not isinstance(candidate_date, datetime):
        return False
    return abs(_utc_naive(date) - _utc_naive(candidate_date)) <= SUBJECT_WINDOW
