"""Auto-replies by RFC 3834: when to answer, what to send.

``may_auto_reply`` says whether one message may get an automatic answer, with the reason
when not. It never answers:

- mail outside the action's date window (``window_start`` / ``window_end``, naive UTC);
- our own outgoing mail, and mail from one of our own mailbox addresses;
- auto-generated mail (``autogen``: Auto-Submitted other than ``no``, Precedence
  bulk/list/junk, List-Id, no-reply / mailer-daemon / bounce senders) - so two mailboxes
  that auto-reply to each other stop after one answer each;
- a sender answered by this action within ``once_per_days`` days (RFC 3834 §2: "the same
  response ... SHOULD NOT be sent more than once within a period of several days").

``build_auto_reply`` makes the answer: to the Reply-To or From address, ``Re:`` subject,
In-Reply-To / References for threading, and the headers ``Auto-Submitted: auto-replied``
(RFC 3834 §5) and ``X-Auto-Response-Suppress: All`` (Exchange does not answer it).
"""
import html
import re
from datetime import timedelta

from . import autogen

AUTO_REPLY_HEADERS = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
PLACEHOLDERS = ("sender_name", "sender_email", "subject", "mailbox", "date")


def may_auto_reply(message, *, now, own_addresses=(), window_start=None, window_end=None,
                   last_sent_at=None, once_per_days=4):
    """(True, "") or (False, reason) for ``message`` (a ``rules.MessageFacts``)."""
    if window_start and now < window_start:
        return False, "before the date window"
    if window_end and now > window_end:
        return False, "after the date window"
    if message.direction != "incoming":
        return False, "outgoing mail"
    sender = (message.reply_to or message.from_address or "").lower()
    if not sender:
        return False, "no sender address"
    own = {a.lower() for a in own_addresses if a}
    if sender in own or (message.from_address or "").lower() in own:
        return False, "sent from one of our mailboxes"
    if message.is_auto_generated or autogen.is_auto_generated(
            message.auto_submitted, message.precedence, message.list_id, message.from_address):
        return False, "auto-generated mail (RFC 3834)"
    if autogen.is_no_reply_address(sender):
        return False, "no-reply address"
    if last_sent_at and once_per_days and now - last_sent_at < timedelta(days=once_per_days):
        return False, f"already answered this sender within {once_per_days} days"
    return True, ""


def render(template, values, escape=True):
    """Replace ``{{ name }}`` placeholders; unknown names become empty. HTML-escaped by default."""
    def sub(match):
        value = str(values.get(match.group(1), "") or "")
        return html.escape(value) if escape else value
    return _PLACEHOLDER.sub(sub, template or "")


def reply_subject(subject):
    subject = (subject or "").strip()
    return subject if re.match(r"(?i)^re\s*:", subject) else f"Re: {subject}".strip()


def build_auto_reply(message, subject_template, body_template, values):
    """The answer as plain values: to, subject, body_html, in_reply_to, references, headers."""
    to = message.reply_to or message.from_address
    subject = render(subject_template, values, escape=False).strip() if subject_template else ""
    references = " ".join(x for x in [message.references, message.message_id] if x).strip()
    return {
        "to": to,
        "subject": subject or reply_subject(message.subject),
        "body_html": render(body_template, values),
        "in_reply_to": message.message_id or "",
        "references": references,
        "headers": dict(AUTO_REPLY_HEADERS),
    }
