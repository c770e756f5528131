"""What each stored message means for the cockpit, and the waiting gaps of a conversation.

The cockpit never counts raw messages. Each message gets a **kind** once, when it is stored
(like Front, business hours and exclusions are applied when mail is received or sent, so a
later settings change does not rewrite history):

``in``        counted incoming: a human message from outside (the "Incoming" card)
``out``       counted outgoing: a human message to at least one outside address ("Outgoing")
``auto``      auto-generated: ``Auto-Submitted`` other than ``no`` (RFC 3834), ``Precedence``
              bulk / list / junk / auto_reply, a ``List-Id``, or a mailer-daemon / no-reply
              sender. Never counted, never a reply, never starts a wait.
``internal``  between our own mailboxes: incoming from one of our mailbox addresses, or
              outgoing with every recipient one of our mailbox addresses
``spam``      stored in a spam folder
``draft``     stored in a drafts folder
``dup``       a second copy of the same Message-ID in the same conversation (Gmail labels,
              Sent + Inbox of a self-addressed mail): only the first copy counts

Noise is a property of the conversation (automation's ``is_noise``, triage can undo it), so
it is applied when counting, not here.

A **gap** (a wait) starts at the oldest unanswered counted incoming message and ends at the
next counted outgoing one: its length in business hours is one "response time" data point;
the first gap of a **segment** is the "first response time". A segment starts with the first
counted message, and again after ``INACTIVITY`` without counted mail (Front's 5 days) while
nothing is waiting. A segment we opened ourselves (outgoing first) has no first response: the
customer's answer opens a next-response gap.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import bizhours

INACTIVITY = timedelta(days=5)
AUTO_PRECEDENCE = {"bulk", "list", "junk", "auto_reply"}
AUTO_LOCALPARTS = {"mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply", "bounce",
                   "bounces"}
COUNTED = ("in", "out")


@dataclass
class Msg:
    """One stored message as the cockpit reads it (plain values from ``maildesk_message``)."""

    id: int
    date: datetime
    direction: str  # incoming / outgoing
    from_address: str = ""
    to: str = ""  # To + Cc, raw header text
    auto_submitted: str = ""
    precedence: str = ""
    list_id: str = ""
    folder_role: str = "inbox"
    message_id: str = ""
    partner_id: int | None = None
    # results
    kind: str = ""
    wait_start: bool = False
    first: bool = False
    answered_at: datetime | None = None
    reply_seconds: float | None = None


@dataclass
class ThreadFacts:
    messages: list = field(default_factory=list)
    wait_since: datetime | None = None  # start of the open gap (None: nothing waits for us)
    wait_message_id: int | None = None
    wait_first: bool = False  # the open gap is a first response
    segment_start: datetime | None = None
    segment_consumed: float = 0.0  # business seconds of the answered gaps of the current segment
    customer_id: int | None = None  # partner of the last counted incoming message


def addresses(text):
    """Lower-case addresses of a To/Cc header text ('A <a@x>, b@y' -> ['a@x', 'b@y'])."""
    result = []
    for part in (text or "").split(","):
        part = part.strip()
        if "<" in part:
            part = part.split("<", 1)[1].split(">", 1)[0]
        part = part.strip().strip('"').lower()
        if "@" in part:
            result.append(part)
    return result


def is_auto(msg):
    auto = (msg.auto_submitted or "").strip().lower()
    if auto and auto != "no":
        return True
    if (msg.precedence or "").strip().lower() in AUTO_PRECEDENCE:
        return True
    if msg.list_id:
        return True
    if msg.direction == "incoming":
        local = (msg.from_address or "").split("@", 1)[0].lower()
        return local in AUTO_LOCALPARTS
    return False


def classify(msg, own_addresses, seen_message_ids=None):
    """The kind of one message (see the module docstring); ``own_addresses`` lower-case."""
    if msg.folder_role == "drafts":
        return "draft"
    if msg.folder_role == "spam":
        return "spam"
    if seen_message_ids is not None and msg.message_id:
        if msg.message_id in seen_message_ids:
            return "dup"
        seen_message_ids.add(msg.message_id)
    if is_auto(msg):
        return "auto"
    if msg.direction == "incoming":
        return "internal" if (msg.from_address or "").lower() in own_addresses else "in"
    recipients = addresses(msg.to)
    if recipients and all(address in own_addresses for address in recipients):
        return "internal"
    return "out"


def thread_facts(messages, own_addresses, calendar, inactivity=INACTIVITY):
    """Classify a conversation's messages and walk its gaps; returns ``ThreadFacts``.

    ``messages``: every ``Msg`` of one conversation, any order. Results are written on them.
    """
    ordered = sorted(messages, key=lambda m: (m.date or datetime.min, m.id))
    facts = ThreadFacts(messages=ordered)
    seen = set()
    last = None
    open_gap = None
    first_done = False
    for msg in ordered:
        msg.kind = classify(msg, own_addresses, seen)
        msg.wait_start, msg.first, msg.answered_at, msg.reply_seconds = False, False, None, None
        if msg.kind not in COUNTED or msg.date is None:
            continue
        if open_gap is None and (last is None or msg.date - last.date >= inactivity):
            first_done = False
            facts.segment_start = msg.date
            facts.segment_consumed = 0.0
        if msg.kind == "in":
            facts.customer_id = msg.partner_id or facts.customer_id
            if open_gap is None:
                open_gap = msg
                msg.wait_start = True
                msg.first = not first_done
        else:
            if open_gap is not None:
                open_gap.answered_at = msg.date
                open_gap.reply_seconds = bizhours.business_seconds(calendar, open_gap.date, msg.date)
                facts.segment_consumed += open_gap.reply_seconds
                open_gap = None
            first_done = True
        last = msg
    if open_gap is not None:
        facts.wait_since = open_gap.date
        facts.wait_message_id = open_gap.id
        facts.wait_first = open_gap.first
    return facts
