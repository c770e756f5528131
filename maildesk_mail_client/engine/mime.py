"""Raw RFC 5322 bytes -> ``ParsedMessage``: headers, bodies, attachments, snippet.

What it is
----------
``parse_message(raw, headers_only=False)`` turns one raw message into plain values the
Odoo layer stores as is. It **never raises**: whatever goes wrong is written, readably, to
``ParsedMessage.error`` and everything that could be read is still returned (at least
the headers when the body is hopeless), so one bad message never blocks a sync. Keeping
the raw bytes of such mail is the caller's job.

How it works
------------
- Speed: the stdlib ``compat32`` policy parses ~4.5x faster than ``policy.default``
  (research/sync_anchors.md 4.2), so we parse with it and decode headers ourselves, and
  well-formed MIME is cut into that same tree by ``mimesplit`` without the stdlib's
  line-by-line feed parser. Every
  structured access is guarded: real-world headers make the stdlib raise ``IndexError``,
  ``LookupError`` or ``TypeError`` (8-bit header bytes come back as ``Header`` objects).
- Text: RFC 2047 encoded words and raw 8-bit bytes are decoded with a charset cascade
  (declared -> utf-8 -> cp1252 -> latin-1 with replacement; see ``_decode_bytes``). Output
  strings never contain NUL or lone surrogates (PostgreSQL refuses both).
- Addresses: ``email.utils.getaddresses`` (tolerates trailing commas, empty groups), then
  names are decoded; ``email_from``/``email_to``/... are ``Name <addr>`` lists joined with
  ", " and ``from_address``/``to_addresses``/``cc_addresses`` the bare lowercase addresses.
- Bodies: ``text/html`` parts feed ``body_html`` (sanitized by ``sanitize.sanitize_html``,
  remote images blocked), ``text/plain`` parts ``body_text`` (format=flowed undone). With
  only text, ``body_html`` is the escaped text; with only HTML, ``body_text`` is the HTML's
  text. A part is an attachment when it says so (Content-Disposition), is not
  text/plain or text/html, or carries a file name. ``message/*`` parts are one attachment
  each (``<subject>.eml``), never more body. An attachment is ``inline`` when the HTML
  refers to its Content-ID.
- Bounds: at most ``MAX_PARTS`` parts and ``MAX_DEPTH`` nesting levels are walked; a
  message too deep for the stdlib parser (~1,000 levels) is read headers-only.

Message key
-----------
``message_id`` is how the sync re-binds local records to server copies, so it must be
stable: the Message-ID normalised to ``<...>`` (whitespace removed), or, when it is
missing or unusable, ``<md-{sha1}@maildesk.invalid>`` from the raw Date, From, To and
Subject values. ``message_key_from_headers`` computes the same key from a header-only
fetch (IMAP ``BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM TO SUBJECT)]``): both read the
header block with the same small scanner (``_key_fields``), never with the parser, so
the two can not drift apart.
"""
import base64
import binascii
import codecs
import dataclasses
import email
import functools
import hashlib
import inspect
import mimetypes
import re
import unicodedata
from datetime import datetime, timezone
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from urllib.parse import unquote

from . import mimesplit
from .sanitize import html_to_text, sanitize_html, text_to_html

SNIPPET_LENGTH = 200
SUBJECT_LENGTH = 1000  # a 100 KB subject is an attack on list views, not a subject
HEADER_FIELD_LENGTH = 2000  # List-*, Precedence, Auto-Submitted: short by nature; capped like the subject
AUTH_RESULTS_LENGTH = 20000  # every Authentication-Results header together
FILENAME_LENGTH = 200
MAX_PARTS = 500  # parts walked per message
MAX_DEPTH = 100  # nesting levels walked (legitimate mail rarely exceeds 5)
MAX_REFERENCES = 100  # References kept: the first one (the root) and the last ones
MAX_MESSAGE_ID = 500
KEY_FIELDS = ("message-id", "date", "from", "to", "subject")
SYNTHETIC_DOMAIN = "maildesk.invalid"
BODY_TYPES = ("text/plain", "text/html")
# Damage worth telling the user about: parts of the message may be missing or mis-split.
STRUCTURE_DEFECTS = frozenset({
    "StartBoundaryNotFoundDefect", "CloseBoundaryNotFoundDefect", "MultipartInvariantViolationDefect",
    "NoBoundaryInMultipartDefect",
})
# Labels seen on real mail that name a superset, or a codec Python spells differently.
CHARSET_ALIASES = {
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "iso8859-1": "cp1252",
    "gb2312": "gbk", "gb_2312-80": "gbk", "ks_c_5601-1987": "cp949", "euc-kr": "cp949",
    "shift_jis": "cp932", "x-sjis": "cp932", "iso-8859-8-i": "iso-8859-8", "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7", "x-mac-roman": "mac-roman", "macintosh": "mac-roman",
}
# A declared ASCII (or no charset) tells nothing: the cascade decides.
_NO_CHARSET = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968", "646", "x-unknown", "unknown-8bit", "unknown",
                         "x-user-defined", "default", "charset"})
_UNSAFE_CODECS = frozenset({"raw_unicode_escape", "unicode_escape", "punycode", "idna", "undefined"})
_EXTENSIONS = {
    "message/rfc822": ".eml", "message/global": ".eml", "text/plain": ".txt", "text/html": ".html",
    "text/calendar": ".ics", "text/csv": ".csv", "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif",
    "application/pdf": ".pdf", "application/octet-stream": ".bin", "application/ms-tnef": ".dat",
    "application/pgp-signature": ".asc", "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s", "message/delivery-status": ".txt",
    "text/rfc822-headers": ".txt",
}

# A key header line and its continuation lines (header names are case-insensitive).
_KEY_LINE = re.compile(rb"^(message-id|date|from|to|subject)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.I | re.M)
_BRACKETED = re.compile(r"<([^<>]*)>")
_SURROGATES = re.compile("[\ud800-\udfff]")
# C0/C1 controls other than tab and line breaks (noise from binary or mis-decoded bodies)
# and lone surrogates.
_BODY_JUNK = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_C0_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
_C1_UTF8 = re.compile(rb"\xc2[\x80-\x9f]")
_CHARSET = re.compile(r"""(?i)[;\s]charset\s*=\s*["']?([^"';\s]+)""")
_HEADER_CONTROL = re.compile("[\x00-\x1f\x7f]")
_CONTROLS_TO_SPACE = {code: " " for code in [*range(0x20), 0x7f]}
_ADDRESS_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')
_FILENAME_RESERVED = re.compile(r'[:*?"<>|]')
_CID_IN_HTML = re.compile(r"""cid:([^"'\s>)]+)""", re.I)
# A plain address item of a header (see _simple_addresses); whitespace is the parser's
# (space, tab, CR, LF), atoms stop at its special characters, addresses are ASCII dot-atoms.
_FWS = "[ \t\r\n]"
_WORD = r'(?:[^ \t\r\n()<>@,:;"\[\]\\]+|"[^"\\\r\n]*")'
_ADDR_SPEC = (r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
              r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_SIMPLE_ADDRESS = re.compile(
    f"{_FWS}*(?:({_WORD}(?:{_FWS}+{_WORD})*)?{_FWS}*<({_ADDR_SPEC})>|({_ADDR_SPEC})){_FWS}*")
_PHRASE_WORD = re.compile(_WORD)
_GETADDRESSES_KW = {"strict": False} if "strict" in inspect.signature(getaddresses).parameters else {}


@dataclasses.dataclass
class ParsedAttachment:
    """One attachment (or inline image) of a message; ``content_id`` without brackets."""

    filename: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False

    @property
    def size(self):
        return len(self.data)


@dataclasses.dataclass
class ParsedMessage:
    """Everything the mailbox stores about one message, as plain values (see the module doc)."""

    message_id: str = ""
    in_reply_to: str | None = None
    references: list = dataclasses.field(default_factory=list)
    subject: str = ""
    email_from: str = ""
    email_to: str = ""
    email_cc: str = ""
    reply_to: str = ""
    date: datetime | None = None  # naive UTC
    body_text: str = ""
    body_html: str = ""  # already sanitized
    snippet: str = ""
    attachments: list = dataclasses.field(default_factory=list)
    has_remote_images: bool = False
    error: str | None = None
    headers_only: bool = False
    from_address: str = ""
    to_addresses: list = dataclasses.field(default_factory=list)
    cc_addresses: list = dataclasses.field(default_factory=list)
    # Headers the upper addons read (automation: auto-generated mail; pro: security scan).
    auto_submitted: str = ""
    precedence: str = ""
    list_id: str = ""
    list_unsubscribe: str = ""
    authentication_results: str = ""  # every instance, newest (topmost) first, one per line
    return_path: str = ""  # bare address; "" for the null sender <>


# -- text decoding --------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _codec(charset):
    """Python codec name for a declared charset, or None when it tells nothing usable."""
    if not charset:
        return None
    name = str(charset).strip().strip("\"'").lower().split("*", 1)[0]  # RFC 2231 ``utf-8*en``
    name = CHARSET_ALIASES.get(name, name)
    if name in _NO_CHARSET:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    if info.name in _UNSAFE_CODECS or not getattr(info, "_is_text_encoding", True):
        return None  # escape codecs would let a sender inject arbitrary code points
    return info.name


def _decode_bytes(data, charset=None):
    """Bytes -> text: declared charset, utf-8, the declared one lossily, cp1252, latin-1."""
    codec = _codec(charset)
    if codec:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass
    if codec != "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if codec:
        # Mostly right is better than cp1252 mojibake of a whole body for one bad byte.
        try:
            return data.decode(codec, errors="replace")
        except (LookupError, ValueError):
            pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1", errors="replace")


def _clean(text):
    """No NUL, no lone surrogates: both make PostgreSQL refuse the row."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii() and _SURROGATES.search(text):
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _clean_body(text):
    """``_clean`` plus no control characters (binary noise)."""
    # The regex walks every character; encode + translate run in C at memory speed and
    # prove most bodies clean without it.
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return _BODY_JUNK.sub(_body_junk, text)
    if len(data.translate(None, _C0_BYTES)) == len(data) and (text.isascii() or b"\xc2" not in data
                                                              or not _C1_UTF8.search(data)):
        return text
    return _BODY_JUNK.sub(_body_junk, text)


def _body_junk(match):
    return "\ufffd" if match.group(0) >= "\ud800" else ""


def _unescape_8bit(value):
    """compat32 keeps raw 8-bit header bytes as surrogate escapes: decode them properly."""
    if not _SURROGATES.search(value):
        return value
    return _decode_bytes(value.encode("utf-8", "surrogateescape"))


# An RFC 2047 encoded word: =?charset[*language]?B|Q?text?=
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_Q_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")


def _encoded_word_bytes(encoding, text):
    """The bytes of one encoded word's text (B: base64, Q: RFC 2047 4.2); None if broken."""
    if encoding in "bB":
        text = "".join(text.split())
        try:
            return base64.b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return None
    data = text.replace("_", " ").encode("ascii", "surrogateescape")
    return _Q_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def decode_header_value(value):
    """One header value as single-line text: encoded words and 8-bit bytes decoded.

    RFC 5322 2.2.3 unfolding removes only the line break of a folded line, never the
    space after it; RFC 2047 6.2 then drops whitespace *between two adjacent encoded
    words* only ("=?..?= =?..?=" joins, "=?..?= refund" keeps its space). Adjacent
    words in one charset are joined as bytes first, so a character split across two
    base64 words survives. A malformed word stays as it was written.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    if value.isascii() and "=?" not in value:
        # Nothing to decode: what the steps below leave of it (controls and folding are
        # blanks, blanks collapse), in one pass.
        return " ".join(value.translate(_CONTROLS_TO_SPACE).split())
    value = _unescape_8bit(_FOLD.sub("", value))
    if "=?" in value:
        parts = []
        pending, pending_charset = b"", None  # bytes of adjacent encoded words, one charset

        def flush():
            nonlocal pending, pending_charset
            if pending_charset is not None:
                parts.append(_decode_bytes(pending, pending_charset))
            pending, pending_charset = b"", None

        position, previous_encoded = 0, False
        for match in _ENCODED_WORD.finditer(value):
            between = value[position:match.start()]
            data = _encoded_word_bytes(match.group(2), match.group(3))
            if data is None:  # broken word: kept as text
                continue
            if between and not (previous_encoded and not between.strip(" \t\r\n")):
                flush()
                parts.append(between)
            charset = match.group(1)
            if pending_charset is not None and (_codec(charset) or charset.lower()) != \
                    (_codec(pending_charset) or pending_charset.lower()):
                flush()
            pending += data
            pending_charset = charset
            position, previous_encoded = match.end(), True
        flush()
        parts.append(value[position:])
        value = "".join(parts)
    value = _HEADER_CONTROL.sub(" ", value)
    return _clean(" ".join(value.split()))


# -- headers --------------------------------------------------------------------------------------
def _header_map(msg):
    """``{lowercase name: [raw values]}`` of a compat32 message, read once."""
    headers = {}
    for name, value in msg.raw_items():
        headers.setdefault(str(name).strip().lower(), []).append(value if isinstance(value, str) else str(value))
    return headers


def _first(headers, name):
    values = headers.get(name)
    return values[0] if values else None


def normalize_message_id(value):
    """``'<a@b>'`` form of a Message-ID header value (whitespace removed), or None."""
    if not value:
        return None
    if not isinstance(value, str):
        value = str(value)
    value = _unescape_8bit(value)
    for inner in _BRACKETED.findall(value):
        inner = "".join(inner.split())
        if inner:
            return f"<{inner}>" if len(inner) <= MAX_MESSAGE_ID and not _HEADER_CONTROL.search(inner) else None
    tokens = value.replace("<", " ").replace(">", " ").split()
    if not tokens:
        return None
    inner = tokens[0]
    return f"<{inner}>" if len(inner) <= MAX_MESSAGE_ID and not _HEADER_CONTROL.search(inner) else None


def _references(value):
    """Message-IDs of a References header in order, de-duplicated, root kept when trimmed."""
    if not value:
        return []
    value = _unescape_8bit(value)
    found = ["".join(inner.split()) for inner in _BRACKETED.findall(value)]
    if not found:  # some old mailers write bare ids separated by spaces
        found = [token for token in value.split() if "@" in token]
    ids, seen = [], set()
    for inner in found:
        mid = f"<{inner}>"
        if inner and mid not in seen and len(inner) <= MAX_MESSAGE_ID and not _HEADER_CONTROL.search(inner):
            seen.add(mid)
            ids.append(mid)
    if len(ids) > MAX_REFERENCES:
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1):]
    return ids


def _format_address(name, address):
    if not name or name == address:
        return address or name
    if not address:
        return name
    if _ADDRESS_SPECIALS.search(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def _simple_addresses(text):
    """``getaddresses`` of a list of plain addresses, without its character-by-character parser; else None.

    Most address headers are ``addr`` or ``Name <addr>`` items (names in atoms, encoded words
    or one plain quoted string). For those, the stdlib's legacy parser returns the address
    as written and the name's words joined by single spaces; that is all this does. Anything
    else (comments, groups, escapes, route addresses, odd spacing) gets the stdlib parser.
    """
    pairs, position = [], 0
    while True:
        match = _SIMPLE_ADDRESS.match(text, position)
        if match is None:
            return None
        phrase, angled, bare = match.groups()
        if bare is not None:
            pairs.append(("", bare))
        else:
            words = _PHRASE_WORD.findall(phrase or "")
            pairs.append((" ".join(w[1:-1] if w[:1] == '"' else w for w in words), angled))
        position = match.end()
        if position == len(text):
            return pairs
        if text[position] != ",":
            return None
        position += 1


def _addresses(values):
    """Raw header values -> (``'Name <addr>, ...'``, [bare lowercase addresses])."""
    if not values:
        return "", []
    texts = [_unescape_8bit(v) for v in values]
    pairs = _simple_addresses(", ".join(texts))
    if pairs is None:
        try:
            pairs = getaddresses(texts, **_GETADDRESSES_KW)
        except Exception:  # noqa: BLE001 - unparseable list: show it, extract nothing
            return decode_header_value(", ".join(texts)), []
    display, bare = [], []
    for name, address in pairs:
        name = decode_header_value(name)
        address = "".join(decode_header_value(address).split())
        if not name and not address:
            continue
        display.append(_format_address(name, address))
        if "@" in address.strip("@"):
            address = address.lower()
            if address not in bare:
                bare.append(address)
    return ", ".join(display), bare


def _parse_date(value):
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(_unescape_8bit(value).strip())
    except Exception:  # noqa: BLE001 - unparseable dates are common; the caller uses the server's date
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        except (OverflowError, ValueError):
            return None
    return parsed


# -- message key ----------------------------------------------------------------------------------
def _header_block(raw):
    """The header block of a raw message (up to and including the blank line)."""
    if raw[:1] == b"\n" or raw[:2] == b"\r\n":
        return b""
    # A blank line is "\n\n" or "\n\r\n" whatever the line endings; find() beats a regex.
    # Look for the other kind of blank line only before the first one found (see mimesplit).
    crlf = raw.find(b"\n\r\n")
    lf = raw.find(b"\n\n", 0, crlf if crlf != -1 else len(raw))
    if lf != -1:
        return raw[:lf + 2]
    return raw[:crlf + 3] if crlf != -1 else raw


def _key_fields(block):
    """``{field: raw value bytes}`` for ``KEY_FIELDS``: first occurrence, unfolded, spaces collapsed."""
    fields = {}
    for name, value in _KEY_LINE.findall(block):
        fields.setdefault(name.lower().decode(), value)
    return {name: b" ".join(value.split()) for name, value in fields.items()}


def _key(fields):
    mid = normalize_message_id(_decode_bytes(fields["message-id"])) if fields.get("message-id") else None
    if mid:
        return mid
    material = b"\n".join(fields.get(name, b"") for name in ("date", "from", "to", "subject"))
    return f"<md-{hashlib.sha1(material).hexdigest()}@{SYNTHETIC_DOMAIN}>"


def message_key_from_headers(raw_header_bytes):
    """The message key (see the module doc) of a header block, or of a whole raw message."""
    try:
        return _key(_key_fields(_header_block(bytes(raw_header_bytes or b""))))
    except Exception:  # noqa: BLE001 - the key must always exist
        return f"<md-{hashlib.sha1(bytes(raw_header_bytes or b'')).hexdigest()}@{SYNTHETIC_DOMAIN}>"


def message_key(header_bytes_or_message):
    """``message_key_from_headers`` for raw bytes, or the same key for a parsed ``Message``."""
    if not isinstance(header_bytes_or_message, Message):
        return message_key_from_headers(header_bytes_or_message)
    fields = {}
    for name, value in header_bytes_or_message.raw_items():
        name = str(name).strip().lower()
        if name in KEY_FIELDS and name not in fields:
            fields[name] = b" ".join(str(value).encode("utf-8", "surrogateescape").split())
    return _key(fields)


# -- parts ----------------------------------------------------------------------------------------
def _part_header(part, name):
    for key, value in part.raw_items():
        if key.lower() == name:
            return _unescape_8bit(value if isinstance(value, str) else str(value))
    return None


def _content_headers(part):
    """``(content-type, content-disposition, content-id)`` raw values of a part, one pass."""
    found = {}
    for key, value in part.raw_items():
        key = key.lower()
        if key in ("content-type", "content-disposition", "content-id") and key not in found:
            found[key] = _unescape_8bit(value if isinstance(value, str) else str(value))
    return found.get("content-type", ""), found.get("content-disposition", ""), found.get("content-id", "")


def _shadow(part):
    """A copy of ``part``'s content headers with 8-bit bytes decoded, for compat32's param parser."""
    shadow = Message()
    for name in ("content-type", "content-disposition"):
        value = _part_header(part, name)
        if value is not None:
            shadow[name] = value
    return shadow


def _param(part, name, header="content-type"):
    try:
        value = part.get_param(name, header=header)
    except Exception:  # noqa: BLE001 - 8-bit params make compat32 raise TypeError
        try:
            value = _shadow(part).get_param(name, header=header)
        except Exception:  # noqa: BLE001
            return None
    if isinstance(value, tuple):  # RFC 2231
        value = email.utils.collapse_rfc2231_value(value)
    return value


def _raw_filename(part):
    try:
        return part.get_filename()
    except Exception:  # noqa: BLE001 - 8-bit or malformed parameters
        try:
            return _shadow(part).get_filename()
        except Exception:  # noqa: BLE001
            return None


def _extension(content_type):
    return _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type, strict=False) or ".bin"


def safe_filename(name, index=1, content_type="application/octet-stream"):
    """A file name safe to store and offer for download; never empty.

    Decoded (RFC 2047/2231), reduced to its last path component, without control or
    bidi-override characters (``invoice\\u202efdp.exe``), at most ``FILENAME_LENGTH`` long.
    """
    name = decode_header_value(name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    name = _FILENAME_RESERVED.sub("_", name)
    name = " ".join(name.split()).strip(" .")
    if not name:
        return f"attachment-{index}{_extension(content_type)}"
    if len(name) > FILENAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        ext = f".{ext}" if dot and len(ext) <= 10 else ""
        name = (stem if ext else name)[:FILENAME_LENGTH - len(ext)].rstrip(" .") + ext
    return name


def _payload_bytes(part):
    """Decoded bytes of a leaf part; an attached message as its RFC 822 bytes."""
    payload = part.get_payload()
    if isinstance(payload, list):
        chunks = []
        for inner in payload:
            try:
                chunks.append(inner.as_bytes())
            except Exception:  # noqa: BLE001 - the generator chokes on some damaged inner mail
                chunks.append(b"")
        return b"\n".join(chunks)
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        data = None
    if data is None:
        data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    return data


def _unflow(text, delsp):
    """Undo RFC 3676 format=flowed: soft line breaks (trailing space) rejoin, quotes respected."""
    lines, out, buffer, depth = text.split("\n"), [], None, 0
    for line in lines:
        line = line.rstrip("\r")
        quote = len(line) - len(line.lstrip(">"))
        content = line[quote:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if buffer is not None and quote != depth:
            out.append(buffer)
            buffer = None
        prefix = ">" * quote + (" " if quote else "")
        soft = content.endswith(" ") and content != "-- "
        if soft and delsp:
            content = content[:-1]
        buffer = (buffer if buffer is not None else prefix) + content
        depth = quote
        if not soft:
            out.append(buffer)
            buffer = None
    if buffer is not None:
        out.append(buffer)
    return "\n".join(out)


def _walk(msg, notes):
    """Parts depth-first in document order; ``message/*`` parts are leaves. Bounded."""
    stack, count = [(msg, 0)], 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > MAX_PARTS:
            notes.add(f"only the first {MAX_PARTS} MIME parts were read")
            return
        yield part
        payload = part.get_payload()
        if not isinstance(payload, list) or part.get_content_type().startswith("message/"):
            continue
        if depth >= MAX_DEPTH:
            notes.add(f"MIME parts nested deeper than {MAX_DEPTH} levels were not read")
            continue
        stack.extend((child, depth + 1) for child in reversed(payload))


# -- parsing --------------------------------------------------------------------------------------
def _describe(exc):
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:300]


def parse_message(raw, headers_only=False):
    """Parse raw message bytes into a ``ParsedMessage``; never raises (see the module doc)."""
    result = ParsedMessage(headers_only=headers_only)
    errors = []
    try:
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        raw = bytes(raw or b"")
        block = _header_block(raw)
        result.message_id = _key(_key_fields(block))
    except Exception as exc:  # noqa: BLE001 - not bytes at all
        result.message_id = message_key_from_headers(b"")
        result.error = f"The message could not be read ({_describe(exc)})."
        return result

    msg, body_readable = None, not headers_only
    try:
        # The fast splitter handles well-formed MIME; anything else gets the stdlib parser.
        msg = None if headers_only else mimesplit.split(raw)
        if msg is None:
            msg = email.message_from_bytes(block if headers_only else raw, policy=compat32)
    except Exception as exc:  # noqa: BLE001 - RecursionError on absurd nesting, MemoryError...
        body_readable = False
        errors.append(f"The message body could not be parsed ({_describe(exc)}); only its headers were read.")
        try:
            msg = email.message_from_bytes(block, policy=compat32)
        except Exception as exc2:  # noqa: BLE001
            errors.append(f"The headers could not be parsed either ({_describe(exc2)}).")
    if msg is not None:
        try:
            _read_headers(msg, result)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"Some headers could not be read ({_describe(exc)}).")
        if not msg.keys():
            errors.append("The message has no headers: it is not an e-mail or it is damaged.")
        if body_readable:
            notes = set()
            try:
                _read_body(msg, result, notes)
            except Exception as exc:  # noqa: BLE001
                errors.append(f"The message body could not be read completely ({_describe(exc)}).")
            if notes:
                errors.append("The MIME structure is damaged (" + "; ".join(sorted(notes))
                              + "); the original is kept.")
    if errors:
        result.error = " ".join(errors)
    return result


def _read_headers(msg, result):
    headers = _header_map(msg)
    result.in_reply_to = normalize_message_id(_first(headers, "in-reply-to"))
    result.references = _references(" ".join(headers.get("references", ())))
    result.subject = decode_header_value(_first(headers, "subject"))[:SUBJECT_LENGTH]
    result.email_from, from_list = _addresses(headers.get("from"))
    result.from_address = from_list[0] if from_list else ""
    result.email_to, result.to_addresses = _addresses(headers.get("to"))
    result.email_cc, result.cc_addresses = _addresses(headers.get("cc"))
    result.reply_to = _addresses(headers.get("reply-to"))[0]
    result.date = _parse_date(_first(headers, "date"))
    result.auto_submitted = decode_header_value(_first(headers, "auto-submitted"))[:HEADER_FIELD_LENGTH]
    result.precedence = decode_header_value(_first(headers, "precedence"))[:HEADER_FIELD_LENGTH]
    result.list_id = decode_header_value(_first(headers, "list-id"))[:HEADER_FIELD_LENGTH]
    result.list_unsubscribe = decode_header_value(_first(headers, "list-unsubscribe"))[:HEADER_FIELD_LENGTH]
    result.authentication_results = "\n".join(
        decode_header_value(v) for v in headers.get("authentication-results", ()))[:AUTH_RESULTS_LENGTH]
    return_path = _first(headers, "return-path")
    result.return_path = (_addresses([return_path])[1] or [""])[0] if return_path else ""


def _body_text(part, ctype, raw_type):
    if "charset*" in raw_type.lower():  # RFC 2231 charset: rare, let the stdlib decode it
        charset = _param(part, "charset")
    else:
        match = _CHARSET.search(raw_type)
        charset = match.group(1) if match else None
    text = _decode_bytes(_payload_bytes(part), charset)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if ctype == "text/plain" and "flowed" in raw_type.lower() and str(_param(part, "format")).lower() == "flowed":
        text = _unflow(text, str(_param(part, "delsp") or "").lower() == "yes")
    return _clean_body(text)


def _read_body(msg, result, notes):
    html_parts, text_parts, leaves = [], [], []
    for part in _walk(msg, notes):
        for defect in part.defects:
            name = type(defect).__name__
            if name in STRUCTURE_DEFECTS:
                notes.add(name)
        ctype = part.get_content_type()
        maintype = ctype.partition("/")[0]
        if maintype != "message" and isinstance(part.get_payload(), list):
            continue  # a container
        raw_type, raw_disposition, raw_cid = _content_headers(part)
        # Only parse parameters when a name can be there: get_filename() is costly.
        named = "name" in raw_type.lower() or "name" in raw_disposition.lower()
        filename = _raw_filename(part) if named else None
        # A multipart whose boundary never shows up is one blob of text: show it.
        is_text = ctype in BODY_TYPES or maintype == "multipart"
        if is_text and not filename and raw_disposition.partition(";")[0].strip().lower() != "attachment":
            (html_parts if ctype == "text/html" else text_parts).append(_body_text(part, ctype, raw_type))
        else:
            leaves.append((part, ctype, filename, raw_cid))

    raw_html = "\n".join(html_parts)
    referenced = set()
    if leaves and ("cid:" in raw_html or "CID:" in raw_html or "Cid:" in raw_html):
        referenced = {unquote(cid).strip("<>").lower() for cid in _CID_IN_HTML.findall(raw_html)}
    for index, (part, ctype, filename, raw_cid) in enumerate(leaves, 1):
        cid = "".join(raw_cid.split()).strip("<>") or None
        if ctype.startswith("message/"):
            filename = _attached_message_name(part, filename, index)
        else:
            filename = safe_filename(filename, index, ctype)
        result.attachments.append(ParsedAttachment(
            filename=filename, content_type=ctype, data=_payload_bytes(part), content_id=cid,
            inline=bool(cid) and cid.lower() in referenced))

    if html_parts:
        result.body_html, result.has_remote_images = sanitize_html(raw_html)
        result.body_text = "\n".join(text_parts) if text_parts else html_to_text(result.body_html)
    else:
        result.body_text = "\n".join(text_parts)
        result.body_html = text_to_html(result.body_text)
    source = result.body_text if result.body_text.strip() else html_to_text(result.body_html)
    result.snippet = " ".join(source[:SNIPPET_LENGTH * 10].split())[:SNIPPET_LENGTH]


def _attached_message_name(part, declared, index):
    """``<subject>.eml`` for an attached message, else its declared name, else a generic one."""
    inner = part.get_payload()
    subject = ""
    if isinstance(inner, list) and inner:
        subject = decode_header_value(_first(_header_map(inner[0]), "subject"))
    name = safe_filename(subject[:FILENAME_LENGTH - 4], index) if subject else ""
    if name and not name.startswith("attachment-"):
        return name if name.lower().endswith(".eml") else f"{name}.eml"
    return safe_filename(declared, index, "message/rfc822")
