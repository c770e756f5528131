#!/usr/bin/env python3
"""Benchmark: ``mime.parse_message`` throughput on one core.

Builds N typical multipart messages inline with ``compose.build_message`` (text + HTML
newsletter-ish bodies with inline styles and a remote image, 10-20 KB, every fifth one
with a small attachment), then parses them all, full and headers-only, and prints
messages per second. Target: >= 1,500 msg/s full parse. Prints figures; it is not a test.

    python3 tests/bench/bench_parse.py -n 2000
"""
import argparse
import random
import sys
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

# The engine without Odoo: the addon folder as a bare package (its __init__ imports odoo).
_pkg = types.ModuleType("maildesk_mail_client")
_pkg.__path__ = [str(REPO / "maildesk_mail_client")]
sys.modules.setdefault("maildesk_mail_client", _pkg)

from maildesk_mail_client.engine import compose, mime  # noqa: E402

WORDS = ("invoice meeting budget quarterly report draft review schedule project customer delivery update "
         "grüße café señor naïve numbers agenda follow-up contract signature office").split()


def _paragraph(rng, words=60):
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def build(n, seed=1):
    """``n`` raw messages of 10-20 KB: text + styled HTML, some with an attachment."""
    rng = random.Random(seed)
    raws = []
    for i in range(n):
        paragraphs = [_paragraph(rng) for _ in range(rng.randint(6, 12))]
        rows = "".join(
            f'<tr><td style="padding: 8px; border-bottom: 1px solid #eee; font-family: Arial">{p}</td>'
            f'<td align="right" style="color: #333">{rng.randint(1, 999)}.00 EUR</td></tr>'
            for p in paragraphs)
        html = (f'<div style="font-family: Arial, sans-serif; font-size: 14px; color: #222">'
                f'<p>Hello,</p><table width="100%" cellpadding="0" cellspacing="0">{rows}</table>'
                f'<p><a href="https://example.com/item/{i}?utm_source=mail">Open in browser</a></p>'
                f'<img src="https://tracker.example.com/p/{i}.gif" width="1" height="1"></div>')
        attachments = []
        if i % 5 == 0:
            attachments.append((f"report-{i}.pdf", rng.randbytes(rng.randint(1000, 4000)), "application/pdf"))
        raw, _mid = compose.build_message(
            from_addr=f"Sender {i % 50} <sender{i % 50}@example.com>", to=["Owner <owner@example.com>"],
            cc=[f"cc{i % 7}@example.org"] if i % 3 == 0 else (), subject=f"Re: {rng.choice(WORDS)} {i}",
            body_html=html, attachments=attachments,
            in_reply_to=f"<m{i - 1}@example.com>" if i else None,
            references=[f"<m{j}@example.com>" for j in range(max(0, i - 3), i)])
        raws.append(raw)
    return raws


def measure(raws, headers_only=False, repeat=3):
    """Best of ``repeat`` runs, in messages per second."""
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        for raw in raws:
            mime.parse_message(raw, headers_only=headers_only)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return len(raws) / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="messages to parse (default 2000)")
    args = parser.parse_args()
    raws = build(args.n)
    sizes = sorted(len(r) for r in raws)
    print(f"{len(raws)} messages, median {sizes[len(sizes) // 2] / 1024:.1f} KB, "
          f"{sizes[0] / 1024:.1f}-{sizes[-1] / 1024:.1f} KB")
    errors = sum(1 for r in raws if mime.parse_message(r).error)
    print(f"parse errors: {errors}")
    print(f"parse_message full:         {measure(raws):8.0f} msg/s")
    print(f"parse_message headers_only: {measure(raws, headers_only=True):8.0f} msg/s")
    start = time.perf_counter()
    for raw in raws:
        mime.message_key_from_headers(raw)
    print(f"message_key_from_headers:   {len(raws) / (time.perf_counter() - start):8.0f} msg/s")


if __name__ == "__main__":
    main()
