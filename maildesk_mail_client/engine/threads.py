"""Threading keys (JWZ / RFC 5256 REFERENCES) for grouping mail into conversations.

A message's parents are its ``References`` (in order) then ``In-Reply-To``; any shared
Message-ID links two messages, including ids of "phantom" parents nobody has stored
yet, so a reply that arrives before its parent still threads. The normalised subject
is only a fallback for mail *without* thread headers whose subject looks like a reply,
within ``SUBJECT_WINDOW``: two header-backed threads with the same subject never merge.
"""
import dataclasses
import re
from datetime import timedelta

SUBJECT_WINDOW = timedelta(days=7)
_PREFIX = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)*(?:(?:re|fwd?|aw|wg|sv|vs|antw|tr|rif|r|odp|ynt)(?:\s*[\[(]\d+[\])])?\s*[:：]\s*"
    r"(?:\[[^\]]{0,40}\]\s*)*)+", re.I)
_REPLY = re.compile(r"^\s*(?:\[[^\]]{0,40}\]\s*)*(?:re|fwd?|aw|wg|sv|vs|antw|tr|rif|r|odp|ynt)"
                    r"(?:\s*[\[(]\d+[\])])?\s*[:：]", re.I)


@dataclasses.dataclass
class ThreadKeys:
    message_id: str
    parent_ids: list
    normalized_subject: str
    has_thread_headers: bool


def normalize_subject(subject):
    """Subject without reply/forward prefixes and list tags, whitespace collapsed, casefolded."""
    stripped = _PREFIX.sub("", subject or "")
    return " ".join(stripped.split()).casefold()


def is_reply_subject(subject):
    return bool(_REPLY.match(subject or ""))


def thread_keys(parsed):
    parents = []
    for mid in list(parsed.references or []) + ([parsed.in_reply_to] if parsed.in_reply_to else []):
        if mid and mid != parsed.message_id and mid not in parents:
            parents.append(mid)
    return ThreadKeys(message_id=parsed.message_id, parent_ids=parents,
                      normalized_subject=normalize_subject(parsed.subject),
                      has_thread_headers=bool(parents))


def group_batch(keys_list):
    """Group index per message: messages linked by any shared Message-ID share a group."""
    parent = list(range(len(keys_list)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner = {}
    for index, keys in enumerate(keys_list):
        for mid in [keys.message_id] + list(keys.parent_ids):
            if not mid:
                continue
            if mid in owner:
                a, b = find(owner[mid]), find(index)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[mid] = index
    roots, result = {}, []
    for index in range(len(keys_list)):
        result.append(roots.setdefault(find(index), len(roots)))
    return result


def may_join_by_subject(keys, candidate_subject, candidate_date, date):
    """Subject fallback rule: header-less reply-looking mail, same subject, within the window."""
    if keys.has_thread_headers or not keys.normalized_subject:
        return False
    if normalize_subject(candidate_subject) != keys.normalized_subject:
        return False
    if date and candidate_date and abs(date - candidate_date) > SUBJECT_WINDOW:
        return False
    return True
