"""Engine tier: the plain-address fast path reads address headers exactly as the stdlib parser does."""
import itertools
import random
from email.utils import getaddresses

import pytest

from harness import mailgen
from maildesk_mail_client.engine import mime

NAMES = ["", "Anna", "Anna Baker", "Dr. Anna  Baker", '"Baker, Anna"', '"Anna" Baker', '""', "Jörg Müller",
         "=?utf-8?q?J=C3=B6rg_M=C3=BCller?=", "=?UTF-8?B?0JjQstCw0L0=?= =?UTF-8?B?0J/QtdGC0YDQvtCy?=",
         "Anna\r\n Baker", "Anna\tBaker", "Ann\xa0Baker", '"a \\" b"', "(comment) Anna", "Anna (x)",
         "Anna:", "Anna;", "[Anna]", '"multi\r\n line"', "Anna.", ".Anna"]
ADDRESSES = ["anna@example.com", "a.b+tag@sub.example.org", "O'Neil@example.com", "x@localhost", "a..b@x.com",
             ".a@x.com", "a@x..com", "a@[127.0.0.1]", "anna@", "@example.com", "a b@x.com", "anna@exa mple.com",
             '"a b"@x.com', "a@b@c", "josé@example.com", "a\\b@x.com", ""]
SEPARATORS = [", ", ",", " ,  ", ",\r\n\t", " , , ", ", ,", ";"]


def same(text):
    return mime._simple_addresses(text) in (None, getaddresses([text]))


def items():
    for name, address in itertools.product(NAMES, ADDRESSES):
        yield f"{name} <{address}>" if name else f"<{address}>"
        yield f"{name}<{address}>"
        yield address
        yield f" {address} "


def test_single_items_match_the_stdlib():
    for text in items():
        assert same(text), text


def test_lists_match_the_stdlib():
    rng = random.Random(5)
    pool = list(items())
    for _ in range(5000):
        parts = rng.sample(pool, rng.randint(1, 4))
        text = rng.choice(SEPARATORS).join(parts)
        if rng.random() < 0.2:
            text += rng.choice([",", " ", "\r\n", ", "])
        assert same(text), text


@pytest.mark.parametrize("text", ["Anna <anna@example.com>", "anna@example.com, Ben <b@x.org>",
                                  '"Baker, Anna" <anna@example.com>', "=?utf-8?q?J=C3=B6rg?= <j@x.de>"])
def test_plain_headers_take_the_fast_path(text):
    assert mime._simple_addresses(text) == getaddresses([text])


@pytest.mark.parametrize("text", ["undisclosed-recipients:;", "Anna <anna@example.com> (work)", "a@x.com b@y.com",
                                  "a@x.com,", "", "<@route:a@x.com>"])
def test_other_headers_go_to_the_stdlib(text):
    assert mime._simple_addresses(text) is None


def test_realistic_and_hostile_mail_parse_as_before():
    """Every address field of generated and hostile mail is what the stdlib path gives."""
    raws = list(mailgen.generate(300, seed=9)) + [raw for _name, raw in mailgen.hostile_corpus()]
    original = mime._simple_addresses
    try:
        fast = [mime.parse_message(raw) for raw in raws]
        mime._simple_addresses = lambda text: None
        slow = [mime.parse_message(raw) for raw in raws]
    finally:
        mime._simple_addresses = original
    fields = ("email_from", "from_address", "email_to", "to_addresses", "email_cc", "cc_addresses", "reply_to",
              "return_path")
    for a, b in zip(fast, slow):
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
