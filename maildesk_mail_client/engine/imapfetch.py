"""IMAP FETCH responses -> ``{uid: {item: value}}``, the common case without a lexer.

What it is
----------
``parse_fetch(data)`` returns what ``imapclient``'s ``parse_fetch_response(data,
normalise_times=False, uid_is_key=True)`` returns for the untagged FETCH responses
imaplib collected (``data``). The sync's own fetches (sizes, then UID, FLAGS,
INTERNALDATE, RFC822.SIZE and one body literal per message) come back in a shape that
a few regular expressions read whole; anything else goes to imapclient unchanged.

Why
---
imapclient's lexer walks every response byte by byte in Python and makes an object per
token: about a third of the prefetch thread's time per message on a first sync, and
garbage for the collector of a process that also stores the mail.

Contract
--------
The fast path accepts only responses it reads exactly as imapclient does: a sequence
number, a UID, items among ``UID``, ``FLAGS`` (plain atoms), ``INTERNALDATE`` (a quoted
string without escapes), ``RFC822.SIZE``, and at most one ``BODY[]`` / ``BODY[HEADER]``
literal, last, whose length matches. Anything else in any response (another item, a
quoted flag, a FETCH without UID, an unsolicited flag update) sends the whole
response to imapclient. tests/engine/test_imapfetch.py checks both agree.
"""
import re

from imapclient.response_parser import _convert_INTERNALDATE, parse_fetch_response

# "<seq> (<items>[BODY[...] {<size>}]" before a literal, "<seq> (<items>)" without one.
_WITH_LITERAL = re.compile(rb"([1-9][0-9]*) \(([^{}]*?)(BODY\[(?:HEADER)?\]) \{([0-9]+)\}")
_WITHOUT_LITERAL = re.compile(rb"([1-9][0-9]*) \(([^{}]*)\)")
# One item and the space after it; values: a number, a parenthesised list, a quoted string.
_ITEM = re.compile(rb'(UID|RFC822\.SIZE|FLAGS|INTERNALDATE) '
                   rb'(?:([1-9][0-9]*|0)|\(([^()"{}%\[\]\r\n]*)\)|"([^"\\\r\n]*)") ')
_FLAG = re.compile(rb"[^\x00-\x20()\"%\[\]{}\x7f-\xff]+")


def parse_fetch(data):
    """``parse_fetch_response(data, False, True)`` as a dict (see the module docstring)."""
    if not data or data == [None]:
        return {}
    fast = _fast(data)
    return fast if fast is not None else parse_fetch_response(data, False, True)


def _fast(data):
    result = {}
    index, count = 0, len(data)
    while index < count:
        entry = data[index]
        if isinstance(entry, tuple):
            if len(entry) != 2 or index + 1 >= count or data[index + 1] != b")":
                return None
            head, literal = entry
            match = _WITH_LITERAL.fullmatch(head) if isinstance(head, bytes) else None
            if match is None or not isinstance(literal, bytes) or int(match[4]) != len(literal):
                return None
            items, body_key = match[2], match[3]
            index += 2
        elif isinstance(entry, bytes):
            match = _WITHOUT_LITERAL.fullmatch(entry)
            if match is None:
                return None
            items, body_key = match[2] + b" " if match[2] else b"", None
            index += 1
        else:
            return None
        message = _items(items)
        if message is None:
            return None
        uid = message.pop(b"UID", None)
        if uid is None:
            return None
        message = {b"SEQ": int(match[1]), **message}
        if body_key is not None:
            message[body_key] = literal
        result.setdefault(uid, {}).update(message)
    return result


def _items(text):
    """``{item: value}`` of ``'NAME value '`` items covering ``text`` exactly, or None."""
    values, position = {}, 0
    while position < len(text):
        match = _ITEM.match(text, position)
        if match is None:
            return None
        name, number, listed, quoted = match.groups()
        if name in (b"UID", b"RFC822.SIZE"):
            if number is None:
                return None
            values[name] = int(number)
        elif name == b"FLAGS":
            if listed is None:
                return None
            flags = tuple(listed.split(b" ")) if listed else ()
            if not all(_FLAG.fullmatch(flag) and flag != b"NIL" and not flag.isdigit() for flag in flags):
                return None
            values[name] = flags
        else:  # INTERNALDATE
            if quoted is None:
                return None
            values[name] = _convert_INTERNALDATE(quoted, False)
        position = match.end()
    return values
