"""Outgoing MIME: new mail, replies (In-Reply-To / References) and forwards.

``build_message`` returns the bytes to hand to SMTP / an API and the Message-ID that
went out. Bcc recipients are only ever in the envelope (``recipients``), never in the
headers. Header injection (CR/LF in a value) is refused with ``ValueError``.
"""
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, getaddresses, make_msgid

from .sanitize import html_to_text

MAX_REFERENCES = 20
_PREFIX_RE = ("re:", "aw:", "sv:", "antw:")
_FWD_RE = ("fwd:", "fw:", "wg:", "tr:")


def _check(value, name):
    if value and ("\r" in value or "\n" in value):
        raise ValueError(f"The {name} must not contain line breaks.")
    return value


def split_addresses(value):
    """``'A <a@x>, b@y'`` -> ``['A <a@x>', 'b@y']`` (empty entries dropped)."""
    if not value:
        return []
    if isinstance(value, (list, tuple)):
        return [v for v in value if v]
    result = []
    for name, address in getaddresses([value]):
        if address and "@" in address:
            result.append(f'"{name}" <{address}>' if name else address)
    return result


def recipients(to, cc=(), bcc=()):
    """Bare, de-duplicated addresses for the SMTP envelope."""
    seen, result = set(), []
    for _name, address in getaddresses([", ".join(list(to) + list(cc) + list(bcc))]):
        key = address.lower()
        if address and "@" in address and key not in seen:
            seen.add(key)
            result.append(address)
    return result


def reply_subject(subject):
    subject = (subject or "").strip()
    return subject if subject.lower().startswith(_PREFIX_RE) else f"Re: {subject}"


def forward_subject(subject):
    subject = (subject or "").strip()
    return subject if subject.lower().startswith(_FWD_RE) else f"Fwd: {subject}"


def reply_headers(parent_message_id, parent_references=()):
    """``(In-Reply-To, References)`` for a reply; References keeps the root and the last ids."""
    refs = [r for r in parent_references if r]
    if parent_message_id and parent_message_id not in refs:
        refs.append(parent_message_id)
    if len(refs) > MAX_REFERENCES:
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1):]
    return parent_message_id, refs


def build_message(*, from_addr, to, cc=(), bcc=(), subject, body_html, body_text=None, attachments=(),
                  in_reply_to=None, references=(), message_id=None, date=None, headers=None):
    """Return ``(raw_bytes, message_id)``; ``attachments`` are (name, data, mimetype[, content_id])."""
    for name, value in (("sender", from_addr), ("subject", subject), ("In-Reply-To", in_reply_to)):
        _check(value, name)
    for value in list(to) + list(cc) + list(bcc) + list(references or ()):
        _check(value, "recipient list")
    msg = EmailMessage(policy=SMTP)
    msg["From"] = from_addr
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject or ""
    msg["Date"] = date or formatdate(localtime=False)
    domain = from_addr.rsplit("@", 1)[-1].strip(" >") if "@" in from_addr else None
    message_id = message_id or make_msgid(domain=domain or None)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    for key, value in (headers or {}).items():
        msg[key] = _check(value, key)
    msg.set_content(body_text if body_text is not None else html_to_text(body_html or ""))
    msg.add_alternative(body_html or "", subtype="html")
    for attachment in attachments:
        filename, data, mimetype = attachment[:3]
        content_id = attachment[3] if len(attachment) > 3 else None
        maintype, _, subtype = (mimetype or "application/octet-stream").partition("/")
        if content_id:
            html_part = msg.get_payload()[-1]
            html_part.add_related(data, maintype=maintype, subtype=subtype or "octet-stream",
                                  cid=f"<{content_id.strip('<>')}>", filename=filename, disposition="inline")
        else:
            msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return msg.as_bytes(), message_id
