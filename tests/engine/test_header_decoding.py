"""Engine tier: RFC 2047 / RFC 5322 header decoding on a corpus of folded encoded words.

Rules (RFC 5322 2.2.3, RFC 2047 6.2): unfolding removes the line break only; whitespace
between two adjacent encoded words is dropped; any other whitespace is kept.
"""
import random

import pytest

from maildesk_mail_client.engine import mime

CORPUS = [
    # (raw header value, decoded text)
    ("=?utf-8?q?caf=C3=A9?=\r\n refund", "café refund"),
    ("=?utf-8?q?caf=C3=A9?=\n refund", "café refund"),
    ("=?utf-8?q?caf=C3=A9?=\r\n\trefund", "café refund"),
    ("Order\r\n =?utf-8?q?caf=C3=A9?=\r\n refund", "Order café refund"),
    ("=?utf-8?q?caf=C3=A9?= refund", "café refund"),
    ("=?utf-8?q?caf=C3=A9?=\r\n =?utf-8?q?_refund?=", "café refund"),
    ("=?utf-8?q?caf=C3=A9?=\r\n =?utf-8?q?refund?=", "caférefund"),  # adjacent words join
    ("=?utf-8?q?a?=  b  =?utf-8?q?c?=", "a b c"),
    ("Re: =?ISO-8859-1?Q?Z=FCrich?= office", "Re: Zürich office"),
    ("=?utf-8?b?w6k=?==?utf-8?b?w6k=?=", "éé"),
    # One character split across two base64 words (the bytes are joined first).
    ("=?UTF-8?B?8J+Y?=\r\n =?UTF-8?B?gA==?=", "\U0001f600"),
    ("=?utf-8?q?a?= =?iso-8859-1?q?=FC?=", "aü"),
    ("=?UTF-8*en?Q?Hello_World?=", "Hello World"),
    ("=?utf-8?B?w6k?=", "é"),  # missing base64 padding
    ("a =?bad?x?y?= b", "a =?bad?x?y?= b"),  # not an encoded word
    ("=?utf-8?q?broken", "=?utf-8?q?broken"),
    ("plain\r\n folded\r\n  text", "plain folded text"),
    ("", ""),
]


@pytest.mark.parametrize("raw, expected", CORPUS)
def test_decode_header_value(raw, expected):
    """Each corpus value decodes to the text a person wrote."""
    assert mime.decode_header_value(raw) == expected


def _parse(headers):
    raw = ("\r\n".join(headers) + "\r\nMessage-ID: <x@example.org>\r\n\r\nbody\r\n").encode()
    return mime.parse_message(raw)


def test_folded_subject_keeps_the_space():
    """A subject folded between an encoded word and plain text keeps its space."""
    parsed = _parse(["From: a@example.org", "Subject: =?utf-8?q?caf=C3=A9?=\r\n refund"])
    assert parsed.subject == "café refund"


def test_folded_display_name_keeps_the_space():
    """Display names in From/To are decoded with the same rules."""
    parsed = _parse(['From: =?utf-8?q?Jos=C3=A9?=\r\n Garc\u00eda <jose@example.org>'.encode().decode(),
                     "To: =?utf-8?q?Z=C3=BCrich?=\r\n =?utf-8?q?_Office?= <zh@example.org>",
                     "Subject: x"])
    assert parsed.email_from == "José García <jose@example.org>"
    assert parsed.email_to == "Zürich Office <zh@example.org>"


def test_folded_attachment_name():
    """An attachment name in encoded words folded over two lines keeps its space."""
    raw = ("From: a@example.org\r\nSubject: f\r\nMIME-Version: 1.0\r\n"
           'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
           "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
           "--b\r\nContent-Type: application/pdf\r\n"
           'Content-Disposition: attachment;\r\n filename="=?utf-8?q?caf=C3=A9?=\r\n refund.pdf"\r\n'
           "Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n").encode()
    parsed = mime.parse_message(raw)
    assert [a.filename for a in parsed.attachments] == ["café refund.pdf"]


def test_plain_ascii_values_read_as_the_full_decoder_reads_them():
    """The shortcut for values without encoded words gives what unfolding, controls and blanks give."""
    def full(value):
        value = mime._unescape_8bit(mime._FOLD.sub("", value))
        return mime._clean(" ".join(mime._HEADER_CONTROL.sub(" ", value).split()))

    rng = random.Random(3)
    alphabet = "ab =?\r\n\t\x00\x01\x0b\x0c\x1c\x1f\x7f:;,<>\"'"
    for _ in range(20000):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        if "=?" not in value:
            assert mime.decode_header_value(value) == full(value), repr(value)
