"""Raw MIME bytes -> the stdlib's ``compat32`` ``Message`` tree, at C speed.

Why
---
The stdlib feed parser reads a message line by line in Python: a message with a 300 KB
base64 attachment is 5,000 lines, and parsing was most of the engine's time per message
(profile in tests/bench/bench_parse.py). Here header blocks are cut into lines and
``Name: value`` pairs as the feed parser does (unusual ones still go through the stdlib's
``HeaderParser``); bodies are cut at their boundaries with ``str.find`` and kept whole,
which is exactly what the feed parser stores as payload, preamble and epilogue.

Contract
--------
``split(raw)`` returns the same tree ``email.message_from_bytes(raw, policy=compat32)``
would build (same headers, payload strings, preambles, epilogues; no defects), or
``None`` when the message is not plain well-formed MIME: damaged headers, a multipart
without a usable boundary or closing delimiter, bare CR line ends, adjacent delimiters,
``message/*`` or ``multipart/digest`` parts. The caller then uses the stdlib parser, whose
defect reports the damaged-mail path relies on. tests/engine/test_mime.py checks the
equivalence on realistic and hostile corpora.
"""
import re
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32

_HEADERS = HeaderParser(policy=compat32)
_PASS_THROUGH_ENCODINGS = ("7bit", "8bit", "binary")
MAX_DEPTH = 20  # deeper nesting goes to the stdlib parser (and its own limits)
_HEADER_LINE = re.compile(r"[\041-\071\073-\176]+:")


class _NotPlain(Exception):
    """The message needs the stdlib parser."""


def split(raw):
    """The ``compat32`` tree of ``raw`` (bytes), or None; see the module docstring."""
    if b"\r" in raw and raw.count(b"\r") != raw.count(b"\r\n"):
        return None  # bare CR line ends: the feed parser's line model differs from ours
    # Exactly how BytesParser turns bytes into the text the feed parser works on.
    text = raw.decode("ascii", "surrogateescape")
    try:
        return _part(text, 0)
    except _NotPlain:
        return None


def _header_end(text):
    """Index where the body starts (after the blank line), or len(text) without one."""
    if text.startswith("\n"):
        return 1
    if text.startswith("\r\n"):
        return 2
    # Look for the other kind of blank line only before the first one found: a CRLF
    # message has no "\n\n", and scanning a 300 KB attachment for it costs more than the parse.
    crlf = text.find("\n\r\n")
    lf = text.find("\n\n", 0, crlf if crlf != -1 else len(text))
    if lf != -1:
        return lf + 2
    return crlf + 3 if crlf != -1 else len(text)


def _headers(block):
    """The header-only ``Message`` of a header block, as ``HeaderParser`` builds it.

    Plain blocks (``Name: value`` lines, folded lines, the blank line last) are cut here;
    anything the feed parser would treat in its own way (a ``From `` line, a line that is
    not a header, a leading continuation) goes to it. Bare CRs never get here (``split``).
    """
    lines = block.split("\n")
    if lines[-1] == "":
        lines.pop()
        ends = True
    else:
        ends = False
    msg = Message()
    current = None
    last = len(lines) - 1
    for index, line in enumerate(lines):
        if index < last or ends:
            line += "\n"
        if line == "\n" or line == "\r\n":
            if index != last:
                return _HEADERS.parsestr(block, headersonly=True)
            break
        if line[0] in " \t":
            if current is None:
                return _HEADERS.parsestr(block, headersonly=True)
            current.append(line)
            continue
        if not _HEADER_LINE.match(line):
            return _HEADERS.parsestr(block, headersonly=True)
        if current is not None:
            msg.set_raw(*compat32.header_source_parse(current))
        current = [line]
    if current is not None:
        msg.set_raw(*compat32.header_source_parse(current))
    msg.set_payload("")
    return msg


def _part(text, depth):
    end = _header_end(text)
    msg = _headers(text[:end])
    if msg.defects or msg._payload:  # a non-header line inside the header block, etc.
        raise _NotPlain
    body = text[end:]
    maintype = msg.get_content_maintype()
    if maintype == "message":
        raise _NotPlain  # the feed parser parses attached messages recursively
    if maintype != "multipart":
        msg._payload = body
        return msg
    boundary = msg.get_boundary()
    if (not boundary or depth >= MAX_DEPTH or msg.get_content_subtype() == "digest"
            or msg.get("content-transfer-encoding", "8bit").lower() not in _PASS_THROUGH_ENCODINGS):
        raise _NotPlain
    _split_multipart(msg, body, "--" + boundary, depth)
    return msg


def _delimiters(body, separator):
    """``(start, end_of_line, is_close)`` of every delimiter line, in order."""
    pos, size = 0, len(separator)
    while True:
        pos = body.find(separator, pos)
        if pos == -1:
            return
        if pos == 0 or body[pos - 1] == "\n":
            cursor = pos + size
            close = body.startswith("--", cursor)
            if close:
                cursor += 2
            while cursor < len(body) and body[cursor] in " \t":
                cursor += 1
            if cursor == len(body):
                yield pos, cursor, close
                return
            if body.startswith("\n", cursor) or body.startswith("\r\n", cursor):
                yield pos, body.index("\n", cursor) + 1, close
                if close:
                    return
                pos = cursor
                continue
        pos += 1


def _strip_eol(value):
    if value.endswith("\r\n"):
        return value[:-2]
    return value[:-1] if value.endswith("\n") else value


def _split_multipart(msg, body, separator, depth):
    delimiters = list(_delimiters(body, separator))
    if not delimiters or not delimiters[-1][2] or delimiters[0][2]:
        raise _NotPlain  # no start or no closing delimiter
    first = delimiters[0][0]
    if first:  # RFC 2046: the line break before a delimiter belongs to the delimiter
        msg.preamble = _strip_eol(body[:first])
    parts = []
    for (_start, line_end, _close), (next_start, _end, _next_close) in zip(delimiters, delimiters[1:]):
        if next_start == line_end:
            raise _NotPlain  # adjacent delimiters: the feed parser skips them its own way
        child = _part(body[line_end:next_start], depth + 1)
        if isinstance(child._payload, list):
            epilogue = child.epilogue
            child.epilogue = None if epilogue == "" else _strip_eol(epilogue)
        else:
            child._payload = _strip_eol(child._payload)
        parts.append(child)
    msg._payload = parts
    msg.epilogue = body[delimiters[-1][1]:]
