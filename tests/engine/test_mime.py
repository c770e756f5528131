"""Engine tier: MIME parsing. The fast splitter builds the stdlib's tree or steps aside."""
import email
from email.policy import compat32

import pytest

from harness import mailgen
from maildesk_mail_client.engine import mime, mimesplit


def tree(msg):
    """Everything of a compat32 Message the parser sets, as comparable plain values."""
    payload = msg._payload
    return {
        "headers": list(msg._headers),
        "unixfrom": msg.get_unixfrom(),
        "payload": [tree(p) for p in payload] if isinstance(payload, list) else payload,
        "preamble": msg.preamble,
        "epilogue": msg.epilogue,
        "defects": [type(d).__name__ for d in msg.defects],
        "default_type": msg.get_default_type(),
    }


def stdlib(raw):
    return email.message_from_bytes(raw, policy=compat32)


def assert_same_or_declined(raw):
    fast = mimesplit.split(raw)
    if fast is not None:
        assert tree(fast) == tree(stdlib(raw))
    return fast is not None


def multipart(body, boundary="b1", preamble="", epilogue="", eol="\r\n"):
    head = (f"From: a@example.com{eol}Subject: s{eol}MIME-Version: 1.0{eol}"
            f'Content-Type: multipart/mixed; boundary="{boundary}"{eol}{eol}')
    return (head + preamble + body + epilogue).encode()


def test_realistic_corpus_is_split_exactly_like_the_stdlib():
    raws = list(mailgen.generate(400, seed=11))
    handled = sum(assert_same_or_declined(raw) for raw in raws)
    assert handled == len(raws)  # generated mail is well-formed: the fast path takes all of it


def test_hostile_corpus_is_split_exactly_like_the_stdlib_or_declined():
    for _name, raw in mailgen.hostile_corpus():
        assert_same_or_declined(raw)


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
@pytest.mark.parametrize("preamble,epilogue", [
    ("", ""), ("This is a multi-part message.{eol}", ""), ("{eol}", "{eol}"),
    ("", "{eol}trailing words{eol}"), ("pre{eol}{eol}", "{eol}{eol}"),
])
def test_preamble_epilogue_and_line_ends(eol, preamble, epilogue):
    body = (f"--b1{eol}Content-Type: text/plain{eol}{eol}one{eol}two{eol}"
            f"--b1 \t{eol}Content-Type: text/html{eol}{eol}<p>x</p>{eol}{eol}"
            f"--b1--")
    raw = multipart(body, preamble=preamble.format(eol=eol), epilogue=epilogue.format(eol=eol), eol=eol)
    assert assert_same_or_declined(raw)


def test_nested_multipart_and_headerless_part():
    eol = "\r\n"
    inner = (f'Content-Type: multipart/alternative; boundary="in"{eol}{eol}'
             f"--in{eol}Content-Type: text/plain{eol}{eol}plain{eol}"
             f"--in{eol}Content-Type: text/html{eol}{eol}<b>html</b>{eol}"
             f"--in--{eol}inner epilogue{eol}")
    body = (f"--b1{eol}{inner}{eol}"
            f"--b1{eol}{eol}no headers here{eol}"
            f"--b1{eol}Content-Type: application/pdf; name=a.pdf{eol}Content-Transfer-Encoding: base64{eol}{eol}"
            f"JVBERi0xLjQK{eol}"
            f"--b1--{eol}")
    assert assert_same_or_declined(multipart(body))


@pytest.mark.parametrize("body", [
    "--b1\r\nContent-Type: text/plain\r\n\r\nnever closed\r\n",  # no closing delimiter
    "no delimiter at all\r\n",
    "--b1\r\n--b1\r\nContent-Type: text/plain\r\n\r\nx\r\n--b1--\r\n",  # adjacent delimiters
    "--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhi\r\n--b1--\r\n",
    "--b1\r\nnot a header line\r\n\r\nx\r\n--b1--\r\n",
    "--b1\rContent-Type: text/plain\r\r\nx\r\n--b1--\r\n",  # bare CR
])
def test_unusual_structures_go_to_the_stdlib(body):
    raw = multipart(body)
    assert mimesplit.split(raw) is None
    # ... and parse_message still reads them without raising.
    assert mime.parse_message(raw).message_id


def test_boundary_lookalikes_inside_parts_are_content():
    body = ("--b1\r\nContent-Type: text/plain\r\n\r\n--b10 is not our boundary\r\nx --b1\r\n"
            "--b1--\r\n")
    raw = multipart(body)
    assert assert_same_or_declined(raw)
    assert "--b10 is not our boundary" in mime.parse_message(raw).body_text


def test_parse_message_reads_the_realistic_corpus_without_errors():
    for raw in mailgen.generate(200, seed=5):
        parsed = mime.parse_message(raw)
        assert parsed.error is None, parsed.error
        assert parsed.message_id.startswith("<") and parsed.subject is not None
        assert parsed.snippet or parsed.attachments


def test_attachments_and_inline_images_are_decoded():
    raws = [raw for raw in mailgen.generate(300, seed=9) if b"Content-Disposition: attachment" in raw]
    assert raws
    for raw in raws:
        parsed = mime.parse_message(raw)
        assert parsed.attachments
        for attachment in parsed.attachments:
            assert attachment.data and attachment.filename


def test_headers_for_the_upper_addons_are_read():
    """Auto-Submitted, Precedence, List-*, every Authentication-Results and Return-Path are kept."""
    raw = (b'From: "A" <a@x.org>\r\nTo: b@y.org\r\nSubject: hi\r\nReturn-Path: <Bounce@X.org>\r\n'
           b"Authentication-Results: mx.y.org; spf=pass smtp.mailfrom=x.org\r\n"
           b"Authentication-Results: mx2.y.org;\r\n dkim=fail header.d=x.org\r\n"
           b"Auto-Submitted: auto-replied\r\nPrecedence: bulk\r\nList-Id: Foo <foo.x.org>\r\n"
           b"List-Unsubscribe: <mailto:u@x.org>\r\n\r\nbody\r\n")
    parsed = mime.parse_message(raw)
    assert parsed.auto_submitted == "auto-replied"
    assert parsed.precedence == "bulk"
    assert parsed.list_id == "Foo <foo.x.org>"
    assert parsed.list_unsubscribe == "<mailto:u@x.org>"
    assert parsed.authentication_results.splitlines() == [
        "mx.y.org; spf=pass smtp.mailfrom=x.org", "mx2.y.org; dkim=fail header.d=x.org"]
    assert parsed.return_path == "bounce@x.org"
    assert mime.parse_message(b"Return-Path: <>\r\nFrom: a@b.org\r\n\r\nx").return_path == ""
    plain = mime.parse_message(b"From: a@b.org\r\n\r\nx")
    assert (plain.auto_submitted, plain.precedence, plain.list_id, plain.authentication_results) == ("", "", "", "")


HEADER_BLOCKS = [
    "", "\n", "\r\n", "Subject: s\r\n\r\n", "Subject: s\n\n", "Subject: s", "Subject:s\r\nTo:  a@x\r\n\r\n",
    "Subject: a\r\n  folded\r\n\tagain\r\n\r\n", "Subject: a\n folded\n\n", " leading: continuation\r\n\r\n",
    "From a@x Mon Jan 1 00:00:00 2024\r\nSubject: s\r\n\r\n", "Subject: s\r\nFrom a@x\r\n\r\n",
    ": empty name\r\n\r\n", "not a header line\r\n\r\n", "Subject: s\r\nbroken line\r\nTo: a\r\n\r\n",
    "X-Empty:\r\n\r\n", "X-Spaces:   \t \r\n\r\n", "Subject: caf\udce9\r\n\r\n", "X-\udce9: v\r\n\r\n",
    "Subject: a\x0bb\x0cc\x1cd\r\n\r\n", "Subject: a\r\n \r\n\r\n", "Subject: s\r\n\r\nbody after\r\n",
    "Subject: s\r\n\n", "A: 1\nB: 2\r\n\r\n",
]


@pytest.mark.parametrize("block", HEADER_BLOCKS)
def test_header_blocks_are_read_like_the_stdlib(block):
    assert tree(mimesplit._headers(block)) == tree(mimesplit._HEADERS.parsestr(block, headersonly=True))


def test_header_blocks_of_real_mail_are_read_like_the_stdlib():
    raws = list(mailgen.generate(200, seed=4)) + [raw for _name, raw in mailgen.hostile_corpus()]
    for raw in raws:
        text = raw.decode("ascii", "surrogateescape")
        block = text[:mimesplit._header_end(text)]
        assert tree(mimesplit._headers(block)) == tree(mimesplit._HEADERS.parsestr(block, headersonly=True))
