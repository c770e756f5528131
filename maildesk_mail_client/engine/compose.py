"""Outgoing MIME: new mail, replies (In-Reply-To / References) and forwards.

What it is
----------
``build_message(...) -> (raw_bytes, message_id)`` builds the bytes handed to SMTP, the
Gmail API or Graph, and returns the Message-ID that went out (the caller stores it so the
copy filed in Sent and later replies thread with it).

Shape of the message::

    multipart/mixed                      only when there are attachments
      multipart/alternative
        text/plain                       ``body_text``, or the text of ``body_html``
        multipart/related                only when there are inline images
          text/html
          image/...  (Content-ID)        ``(filename, data, mimetype, content_id)``
      application/... (attachment)       ``(filename, data, mimetype)``

Rules
-----
- Bcc recipients never appear in the headers; ``recipients(to, cc, bcc)`` gives the SMTP
  envelope (bare, de-duplicated addresses).
- Header injection is refused: a CR or LF in any header value (addresses, subject,
  ids, extra headers, file names) raises ``ValueError`` naming the field.
- Bodies are 7-bit clean (quoted-printable/base64), so relays without 8BITMIME and
  API uploads take them as they are; non-ASCII names and file names are RFC 2047 /
  RFC 2231 encoded by the stdlib ``SMTP`` policy.
- Replies and forwards: ``reply_headers`` keeps References to ``MAX_REFERENCES`` ids (the root plus
  the most recent ones, as RFC 5322 3.6.4 suggests), ``reply_subject`` / ``forward_subject``
  add "Re: " / "Fwd: " once. A forward carries In-Reply-To / References of the original
  too, so both sides' clients keep it in the conversation.
- ``format_sender(name, address)``: never ``"addr" <addr>``; an empty Cc never becomes an
  empty ``Cc:`` header.
"""
import html
import re
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, make_msgid

from .sanitize import html_to_text

MAX_REFERENCES = 20
# 7-bit bodies: qp/base64 instead of 8bit, see the module docstring.
POLICY = SMTP.clone(cte_type="7bit")
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|vs|antw|odp|ynt|r)(?:\s*[\[(]\d{1,3}[\])])?\s*[:：]", re.I)
_FORWARD_PREFIX = re.compile(r"^\s*(?:fwd?|wg|tr|rv|enc|pd|doorst)(?:\s*[\[(]\d{1,3}[\])])?\s*[:：]", re.I)
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 ftext: printable ASCII except ':'
_NAME_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')  # RFC 5322 specials: such a name is quoted
_RESERVED_HEADERS = frozenset({"from", "to", "cc", "bcc", "subject", "date", "message-id", "in-reply-to",
                               "references", "mime-version", "content-type", "content-transfer-encoding"})


def _check(value, name):
    """Refuse CR/LF in a header value (header injection); returns the value."""
    if value and isinstance(value, str) and ("\r" in value or "\n" in value):
        raise ValueError(f"The {name} must not contain line breaks (CR or LF).")
    return value


def _as_list(value):
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [v for v in value if v]


def split_addresses(value):
    """``'A <a@x>, b@y'`` -> ``['A <a@x>', 'b@y']`` (entries without an address dropped)."""
    if not value:
        return []
    if isinstance(value, (list, tuple)):
        return [v for v in value if v]
    result = []
    for name, address in getaddresses([value]):
        if address and "@" in address:
            if name:
                quoted = name.replace("\\", "\\\\").replace('"', '\\"')
                result.append(f'"{quoted}" <{address}>')
            else:
                result.append(address)
    return result


def recipients(to, cc=(), bcc=()):
    """Bare, de-duplicated (case-insensitively) addresses for the SMTP envelope."""
    entries = _as_list(to) + _as_list(cc) + _as_list(bcc)
    for entry in entries:
        _check(entry, "recipient list")
    seen, result = set(), []
    for _name, address in getaddresses(entries):
        address = address.strip()
        key = address.lower()
        if "@" in address.strip("@") and key not in seen:
            seen.add(key)
            result.append(address)
    return result


def reply_subject(subject):
    """``subject`` with one "Re: " in front (kept as is when it already is a reply)."""
    subject = " ".join((subject or "").split())
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def forward_subject(subject):
    """``subject`` with one "Fwd: " in front (kept as is when it already is a forward)."""
    subject = " ".join((subject or "").split())
    return subject if _FORWARD_PREFIX.match(subject) else f"Fwd: {subject}"


def reply_headers(parent_message_id, parent_references=()):
    """``(In-Reply-To, References)`` for a reply to the given parent.

    References = the parent's References + the parent's Message-ID, de-duplicated, trimmed
    to the root and the last ``MAX_REFERENCES - 1`` ids. ``parent_references`` may be a
    list or the header text.
    """
    if isinstance(parent_references, str):
        parent_references = parent_references.split()
    refs = []
    for mid in list(parent_references or ()) + [parent_message_id]:
        if mid and mid not in refs:
            refs.append(mid)
    if len(refs) > MAX_REFERENCES:
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1):]
    return parent_message_id or None, refs


def quote_html(intro, body_html, headers=()):
    """The quoted part of a reply or forward, as HTML.

    ``intro`` ("On <date>, <sender> wrote:") and the ``(label, value)`` header lines are
    text taken from the mail: escaped here, so a display name like ``<img src=...>`` stays
    text. ``body_html`` is the parent's stored body, sanitized at ingest.
    """
    lines = [f"<p>{html.escape(str(intro))}</p>"] if intro else []
    if headers:
        rows = "<br/>".join(f"{html.escape(str(label))}: {html.escape(str(value or ''))}"
                            for label, value in headers)
        lines.append(f"<p>{rows}</p>")
    return "<p><br/></p>" + "".join(lines) + f"<blockquote>{body_html or ''}</blockquote>"


def _domain(address):
    pairs = getaddresses([address or ""])
    bare = pairs[0][1] if pairs else ""
    domain = bare.rpartition("@")[2].strip()
    return domain or None


def _date_header(date):
    if date is None:
        date = datetime.now(timezone.utc)  # "+0000": formatdate()'s "-0000" means "zone unknown"
    if isinstance(date, datetime):
        if date.tzinfo is None:
            date = date.replace(tzinfo=timezone.utc)  # naive datetimes are UTC throughout
        return format_datetime(date)
    return _check(str(date), "date")


def format_sender(name, address):
    """The From value: ``Name <address>``, or the bare address when the name adds nothing.

    A name that is empty or only repeats the address would give ``"a@x" <a@x>``, which
    some clients show as a spoofing warning.
    """
    name = " ".join((name or "").split())
    address = (address or "").strip()
    if not name or name.strip('"').lower() == address.lower():
        return address
    if _NAME_SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def _set_address_header(msg, name, values):
    # Entries without an address ("", " ", ", ") would give an empty "Cc:" header.
    values = [v for v in values if any("@" in a for _n, a in getaddresses([v]))]
    if not values:
        return
    try:
        msg[name] = ", ".join(values)
    except Exception as exc:  # noqa: BLE001 - the header registry raises IndexError & co on junk
        raise ValueError(f"The {name} header has an address that cannot be used: {', '.join(values)}") from exc


def build_message(*, from_addr, to, cc=(), bcc=(), subject, body_html, body_text=None, attachments=(),
                  in_reply_to=None, references=(), message_id=None, date=None, headers=None):
    """Return ``(raw_bytes, message_id)`` for SMTP (no Bcc header); see the module doc.

    ``attachments`` items are ``(filename, data, mimetype)`` or, for an inline image the
    HTML shows as ``cid:<content_id>``, ``(filename, data, mimetype, content_id)``.
    ``headers`` adds extra headers (e.g. ``Auto-Submitted``); it cannot replace the ones
    built here.
    """
    to, cc, bcc = _as_list(to), _as_list(cc), _as_list(bcc)
    references = references.split() if isinstance(references, str) else list(references or ())
    _check(from_addr, "sender")
    _check(subject, "subject")
    _check(in_reply_to, "In-Reply-To")
    _check(message_id, "Message-ID")
    for value in to + cc + bcc:
        _check(value, "recipient list")
    for value in references:
        _check(value, "References")
    extra = dict(headers or {})
    for key, value in extra.items():
        if not isinstance(key, str) or not _HEADER_NAME.match(key) or key.lower() in _RESERVED_HEADERS:
            raise ValueError(f"{key!r} cannot be used as an extra header name.")
        _check(str(value), f"{key} header")
    inline, files = [], []
    for attachment in attachments or ():
        filename = attachment[0]
        _check(filename, "attachment file name")
        content_id = attachment[3] if len(attachment) > 3 else None
        _check(content_id, "attachment Content-ID")
        (inline if content_id else files).append(attachment)

    msg = EmailMessage(policy=POLICY)
    try:
        msg["From"] = from_addr
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"The sender address cannot be used: {from_addr}") from exc
    _set_address_header(msg, "To", to)
    _set_address_header(msg, "Cc", cc)
    msg["Subject"] = subject or ""
    msg["Date"] = _date_header(date)
    if message_id:
        message_id = f"<{message_id.strip().strip('<>')}>"
    else:
        message_id = make_msgid(domain=_domain(from_addr))
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    for key, value in extra.items():
        msg[key] = str(value)
    msg["MIME-Version"] = "1.0"

    body_html = body_html or ""
    msg.set_content(body_text if body_text is not None else html_to_text(body_html))
    msg.add_alternative(body_html, subtype="html")
    if inline:
        html_part = msg.get_payload()[-1]
        for filename, data, mimetype, content_id in (tuple(a[:4]) for a in inline):
            maintype, subtype = _split_type(mimetype)
            if isinstance(data, str):
                data = data.encode("utf-8")
            html_part.add_related(data, maintype=maintype, subtype=subtype, cid=f"<{content_id.strip('<>')}>",
                                  filename=filename, disposition="inline")
    for attachment in files:
        filename, data, mimetype = attachment[:3]
        maintype, subtype = _split_type(mimetype)
        if isinstance(data, str):
            data = data.encode("utf-8")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]  # the stdlib adds it to every sub-part; it belongs on top only
    try:
        raw = msg.as_bytes()
    except Exception as exc:  # noqa: BLE001 - e.g. a non-ASCII address the SMTP policy cannot encode
        raise ValueError(f"The message cannot be encoded: {exc}") from exc
    return raw, message_id


def _split_type(mimetype):
    maintype, _, subtype = (mimetype or "application/octet-stream").lower().partition("/")
    if not maintype or not subtype or maintype in ("multipart", "message"):
        return "application", "octet-stream"
    return maintype, subtype
