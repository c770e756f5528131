"""Raw RFC 5322 bytes -> ``ParsedMessage``: headers, bodies, attachments, snippet.

``parse_message`` never raises: whatever goes wrong is written to ``ParsedMessage.error``
and everything that could be read is returned, so one bad message never blocks a sync
(the caller keeps the raw bytes of such mail).

Speed: the stdlib ``compat32`` policy parses ~4.5x faster than ``policy.default``
(research/sync_anchors.md 4.2), so we parse with it and decode headers ourselves
(RFC 2047 encoded words, RFC 2231 parameters, broken charsets), each access guarded:
real-world headers make the stdlib raise ``IndexError``/``LookupError``.

``message_id`` is the key the sync uses to re-bind records; mail without a usable
Message-ID gets a deterministic synthetic one from Date/From/To/Subject, and
``message_key_from_headers`` computes the same key from a header-only fetch.
"""
import dataclasses
import email
import hashlib
import re
from datetime import datetime, timezone
from email import policy as email_policy
from email.header import decode_header
from email.utils import getaddresses, parsedate_to_datetime

from .sanitize import html_to_text, sanitize_html, text_to_html

SNIPPET_LENGTH = 200
MAX_PARTS = 500  # parts walked per message: bounds pathological nesting
_MSGID = re.compile(r"<([^<>\s]+)>")
_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_KEY_HEADERS = ("date", "from", "to", "subject")
_STRUCTURE_DEFECTS = {"StartBoundaryNotFoundDefect", "CloseBoundaryNotFoundDefect",
                      "MultipartInvariantViolationDefect", "NoBoundaryInMultipartDefect"}


@dataclasses.dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str = None
    inline: bool = False

    @property
    def size(self):
        return len(self.data)


@dataclasses.dataclass
class ParsedMessage:
    message_id: str = ""
    in_reply_to: str = None
    references: list = dataclasses.field(default_factory=list)
    subject: str = ""
    email_from: str = ""
    email_to: str = ""
    email_cc: str = ""
    reply_to: str = ""
    date: datetime = None
    body_text: str = ""
    body_html: str = ""
    snippet: str = ""
    attachments: list = dataclasses.field(default_factory=list)
    has_remote_images: bool = False
    error: str = None
    headers_only: bool = False
    from_address: str = ""
    to_addresses: list = dataclasses.field(default_factory=list)
    cc_addresses: list = dataclasses.field(default_factory=list)


def _decode_bytes(data, charset=None):
    for candidate in (charset, "utf-8", "cp1252"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError, TypeError):
            continue
    return data.decode("latin-1", errors="replace")


def decode_header_value(value):
    """An RFC 2047 header value as text, whatever its charsets."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    try:
        chunks = decode_header(value)
    except Exception:  # noqa: BLE001 - malformed encoded words: keep the raw text
        return " ".join(value.split())
    out = []
    for chunk, charset in chunks:
        out.append(_decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    text = "".join(out) if any(isinstance(c, bytes) for c, _ in chunks) else " ".join(out)
    return " ".join(text.replace("\x00", "").split())


def _addresses(msg, name):
    values = [v for v in (msg.get_all(name) or []) if v is not None]
    if not values:
        return "", []
    try:
        pairs = getaddresses([decode_header_value(v) for v in values])
    except Exception:  # noqa: BLE001
        text = decode_header_value(", ".join(str(v) for v in values))
        return text, []
    display, bare = [], []
    for real, address in pairs:
        if not address and not real:
            continue
        display.append(f"{real} <{address}>" if real and address else (address or real))
        if address and "@" in address:
            bare.append(address.strip().lower())
    return ", ".join(display), bare


def _msgid(value):
    if not value:
        return None
    match = _MSGID.search(str(value))
    if match:
        return f"<{match.group(1)}>"
    value = str(value).strip()
    return f"<{value}>" if value and " " not in value else None


def _header(msg, name):
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001
        return None
    return None if value is None else str(value)


def _synthetic_id(msg):
    material = "\n".join((_header(msg, h) or "").strip() for h in _KEY_HEADERS)
    return f"<md-{hashlib.sha1(material.encode('utf-8', 'replace')).hexdigest()}@maildesk.invalid>"


def _key(msg):
    return _msgid(_header(msg, "message-id")) or _synthetic_id(msg)


def message_key_from_headers(raw):
    """The message key of raw headers (or a whole message): Message-ID or a synthetic one."""
    try:
        msg = email.message_from_bytes(_header_block(raw), policy=email_policy.compat32)
    except Exception:  # noqa: BLE001
        return f"<md-{hashlib.sha1(raw or b'').hexdigest()}@maildesk.invalid>"
    return _key(msg)


def _header_block(raw):
    raw = raw or b""
    for sep in (b"\r\n\r\n", b"\n\n"):
        index = raw.find(sep)
        if index != -1:
            return raw[:index + len(sep)]
    return raw


def _date(msg):
    value = _header(msg, "date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except Exception:  # noqa: BLE001
        return None
    if parsed is None:
        return None
    if parsed.tzinfo:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _filename(part, index):
    name = None
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        name = None
    if name:
        name = decode_header_value(name)
        name = _UNSAFE_FILENAME.sub("_", name).strip(" ._") or None
    if not name:
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            return f"attachment-{index}.eml"
        import mimetypes
        ext = mimetypes.guess_extension(ctype) or ".bin"
        name = f"attachment-{index}{ext}"
    return name[:200]


def _payload_bytes(part):
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        data = None
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, list):  # message/rfc822 container
            try:
                return payload[0].as_bytes() if payload else b""
            except Exception:  # noqa: BLE001
                return b""
        data = payload.encode("utf-8", "replace") if isinstance(payload, str) else b""
    return data


def _walk(msg):
    stack, seen = [msg], 0
    while stack and seen < MAX_PARTS:
        part = stack.pop()
        seen += 1
        yield part
        if part.get_content_type() == "message/rfc822":
            continue  # an attached mail is one attachment, not more body parts
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack.extend(reversed(payload))


def parse_message(raw, headers_only=False):
    """Parse ``raw`` bytes; never raises (see the module docstring)."""
    result = ParsedMessage(headers_only=headers_only)
    errors = []
    try:
        source = _header_block(raw) if headers_only else (raw or b"")
        msg = email.message_from_bytes(source, policy=email_policy.compat32)
    except Exception as exc:  # noqa: BLE001
        result.message_id = f"<md-{hashlib.sha1(raw or b'').hexdigest()}@maildesk.invalid>"
        result.error = f"Unreadable message: {exc}"
        return result
    try:
        _parse_headers(msg, result)
    except Exception as exc:  # noqa: BLE001
        errors.append(f"headers: {exc}")
        result.message_id = result.message_id or _key(msg)
    if not headers_only:
        try:
            _parse_body(msg, result)
        except RecursionError:
            errors.append("body: nesting too deep")
        except Exception as exc:  # noqa: BLE001
            errors.append(f"body: {exc}")
        damaged = [type(d).__name__ for part in _walk(msg) for d in part.defects
                   if type(d).__name__ in _STRUCTURE_DEFECTS]
        if damaged:
            errors.append("MIME structure damaged (" + ", ".join(sorted(set(damaged))) + "); the original is kept")
    if errors:
        result.error = "; ".join(errors)
    return result


def _parse_headers(msg, result):
    result.message_id = _key(msg)
    result.in_reply_to = _msgid(_header(msg, "in-reply-to"))
    refs = _header(msg, "references") or ""
    result.references = [f"<{m}>" for m in _MSGID.findall(refs)]
    result.subject = decode_header_value(_header(msg, "subject"))[:1000]
    result.email_from, from_list = _addresses(msg, "from")
    result.from_address = from_list[0] if from_list else ""
    result.email_to, result.to_addresses = _addresses(msg, "to")
    result.email_cc, result.cc_addresses = _addresses(msg, "cc")
    result.reply_to = _addresses(msg, "reply-to")[0]
    result.date = _date(msg)


def _parse_body(msg, result):
    html_parts, text_parts = [], []
    for index, part in enumerate(_walk(msg), 1):
        if part.is_multipart() and part.get_content_type() != "message/rfc822":
            continue
        ctype = part.get_content_type()
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        has_name = bool(part.get_param("name") or part.get_param("filename", header="content-disposition"))
        is_body = ctype in ("text/plain", "text/html") and disposition != "attachment" and not has_name
        if is_body:
            text = _decode_bytes(_payload_bytes(part), part.get_content_charset())
            (html_parts if ctype == "text/html" else text_parts).append(text)
            continue
        cid = part.get("Content-ID")
        cid = cid.strip().strip("<>") if cid else None
        inline = bool(cid) and disposition != "attachment" and ctype.startswith("image/")
        filename = _filename(part, index)
        if ctype == "message/rfc822" and filename.startswith("attachment-"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                subject = decode_header_value(inner[0].get("subject")) or "message"
                filename = _UNSAFE_FILENAME.sub("_", subject)[:150] + ".eml"
        result.attachments.append(ParsedAttachment(filename=filename, content_type=ctype,
                                                   data=_payload_bytes(part), content_id=cid, inline=inline))
    if html_parts:
        result.body_html, result.has_remote_images = sanitize_html("\n".join(html_parts))
        result.body_text = "\n".join(text_parts) if text_parts else html_to_text(result.body_html)
    else:
        result.body_text = "\n".join(text_parts)
        result.body_html = text_to_html(result.body_text)
    result.body_text = result.body_text.replace("\x00", "")
    source = result.body_text
    result.snippet = " ".join(source.split())[:SNIPPET_LENGTH]
