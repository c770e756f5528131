"""Security scan: phishing, impersonation and business-email-compromise signals computed by code.

What it is
----------
``scan(ScanInput, Context) -> ScanResult``: a risk level (``low`` / ``medium`` / ``high``),
the reasons in plain words and a suggested action, from signals that need no AI:

==================  ======  =====================================================================
signal              weight  when
==================  ======  =====================================================================
dmarc_fail          3       the receiving server's Authentication-Results says dmarc=fail
spf_fail            2 / 1   spf=fail / softfail (only when DMARC did not pass)
dkim_fail           2       every DKIM signature failed (only when DMARC did not pass)
reply_to_mismatch   1 / 3   Reply-To goes to another domain; 3 when that domain is a free mailer
                            or a look-alike
return_path         1       envelope sender's domain unrelated to From (only without DMARC pass)
display_name        4       the display name is a colleague's or known contact's, the address not
name_has_address    3       the display name holds an e-mail address other than the sender's
lookalike_domain    4       sender domain one or two edits from, or a homograph of, a known one
punycode_domain     2       sender domain is internationalised (xn--)
link_mismatch       2       a link's text shows one domain while it goes to another
ip_link             2       a link goes to a bare IP address
shortener           1       a link uses a URL shortener
urgency             1       urgency wording ("urgent", "within 24 hours", "dringend")
payment             2       payment / bank-change wording ("new bank details", "IBAN")
credentials         2       credential wording ("verify your account", "password expires")
first_contact       1       first message ever from this address
==================  ======  =====================================================================

Levels: ``high`` at a score of 5 or more, or when an impersonation (display name,
look-alike domain) meets payment, credential or link trouble; ``medium`` from 3; else
``low``. Which header instance is trusted: only the topmost Authentication-Results (added by
our own receiving server), the ones below could be written by the sender.

"Known" domains and people come from the caller (``Context``): our own domains
(mailboxes, company), partner domains, colleagues and contacts. Free-mail domains never
count as a known organisation's domain.

Everything here is plain string work (no DNS, no network), built to cost well under 2 ms
per message (tests/bench/bench_ai.py).
"""
import re
import unicodedata
from dataclasses import dataclass, field
from email.utils import getaddresses

HIGH_SCORE = 5
MEDIUM_SCORE = 3
FREEMAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.de", "yahoo.fr", "yahoo.co.uk", "outlook.com", "hotmail.com",
    "hotmail.de", "hotmail.fr", "live.com", "msn.com", "aol.com", "gmx.de", "gmx.net", "gmx.com", "web.de",
    "t-online.de", "freenet.de", "icloud.com", "me.com", "mail.com", "proton.me", "protonmail.com", "yandex.com",
    "yandex.ru", "mail.ru", "zoho.com", "orange.fr", "free.fr", "laposte.net", "libero.it", "qq.com", "163.com"})
SHORTENERS = frozenset({
    "bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "rebrand.ly", "cutt.ly", "shorturl.at",
    "rb.gy", "tiny.cc", "bl.ink", "t.ly", "s.id", "lnkd.in", "shorte.st", "adf.ly", "v.gd", "qrco.de", "bitly.com"})
SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "ac", "edu", "or", "ne", "gv"})
# Characters that render like Latin letters (Unicode confusables, the common ones in phishing).
CONFUSABLES = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ɡ": "g", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "к": "k", "м": "m", "т": "t", "в": "b", "н": "h",
    "α": "a", "ο": "o", "ρ": "p", "ν": "v", "τ": "t", "ι": "i", "κ": "k", "υ": "u", "χ": "x", "ε": "e",
    "ı": "i", "ł": "l", "ø": "o", "đ": "d", "0": "o", "1": "l", "3": "e", "5": "s", "@": "a", "$": "s"})
MULTI_CONFUSABLES = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("ii", "u"))

_AUTH = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", re.I)
_ANCHOR = re.compile(r"<a\b[^>]*?\bhref\s*=\s*([\"'])(.*?)\1[^>]*>(.*?)</a\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_URL = re.compile(r"\bhttps?://[^\s<>\"')\]]+", re.I)
_DOMAIN_IN_TEXT = re.compile(r"(?:https?://)?((?:[a-z0-9\u00a1-\uffff-]+\.)+[a-z\u00a1-\uffff]{2,})(?:[/:?#]|\s|$)",
                             re.I)
_IP_HOST = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$|^\[[0-9a-f:]+\]$", re.I)
_ADDRESS_IN_NAME = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NAME_NORM = re.compile(r"[^a-z0-9 ]+")

URGENCY = re.compile(
    r"\b(urgent(ly)?|immediately|as soon as possible|asap|right away|within (24|48|twenty[- ]four) hours|"
    r"today before|final (notice|warning|reminder)|act now|time[- ]sensitive|(account|mailbox) (will be|has been) "
    r"(suspended|closed|locked|deactivated|disabled)|expires? today|last chance|dringend|sofort|umgehend|"
    r"unverzüglich|innerhalb von 24 stunden|letzte mahnung|heute noch)\b", re.I)
PAYMENT = re.compile(
    r"\b((new|updated?|changed?|different) (bank|banking|payment|remittance|account) (details|information|info|"
    r"account)|bank (details|account) (have|has) changed|change (of|in|to) (our )?(bank|banking|payment)|"
    r"wire transfer|bank transfer|iban|swift|bic code|gift ?cards?|payment (is )?overdue|outstanding (payment|"
    r"invoice)|pay (the|this) invoice|process (a|the) payment|neue (bank|konto)verbindung|bankverbindung|"
    r"überweisung|kontodaten|zahlung (ist )?überfällig)\b", re.I)
CREDENTIALS = re.compile(
    r"\b(verify your (account|identity|email|mailbox|password|login)|confirm your (account|identity|password|"
    r"login|credentials)|(your )?password (expires|will expire|has expired)|re-?enter your password|"
    r"(sign|log) ?in (now )?to (avoid|keep|restore|prevent|unlock)|unusual sign-?in activity|mailbox (is )?(full|"
    r"over quota)|update your (payment|billing) (information|details|method)|konto (bestätigen|verifizieren)|"
    r"passwort (läuft ab|bestätigen))\b", re.I)

# The first word of every alternative of each pattern above: a pattern is only tried where
# one of its words starts (one anchored match there instead of a search over the whole text,
# ~10x faster on mail-sized bodies). test_wording_triggers keeps these complete.
TRIGGERS = {
    "urgency": frozenset({"urgent", "urgently", "immediately", "as", "asap", "right", "within", "today", "final", "act",
                          "time", "account", "mailbox", "expire", "expires", "last", "dringend", "sofort", "umgehend",
                          "unverzüglich", "innerhalb", "letzte", "heute"}),
    "payment": frozenset({"new", "update", "updated", "change", "changed", "different", "bank", "wire", "iban", "swift",
                          "bic", "gift", "giftcard", "giftcards", "payment", "outstanding", "pay", "process", "neue",
                          "bankverbindung", "überweisung", "kontodaten", "zahlung"}),
    "credentials": frozenset({"verify", "confirm", "your", "password", "re", "reenter", "sign", "signin", "log",
                              "login", "unusual", "mailbox", "update", "konto", "passwort"}),
}
_ALL_TRIGGERS = frozenset().union(*TRIGGERS.values())
_WORD = re.compile(r"\w+")

REASONS = {
    "dmarc_fail": "The sender's domain failed DMARC: the receiving server could not confirm the mail comes from it.",
    "spf_fail": "SPF failed: the sending server is not allowed to send for {domain}.",
    "spf_softfail": "SPF soft-failed: the sending server is not one {domain} lists.",
    "dkim_fail": "The DKIM signature did not verify: the message may have been altered or forged.",
    "reply_to_mismatch": "Replies would go to {reply_to}, not to the sender's domain {domain}.",
    "reply_to_freemail": "Replies would go to a free mail address ({reply_to}) instead of {domain}.",
    "reply_to_lookalike": "Replies would go to {reply_to}, a domain imitating a known one, instead of {domain}.",
    "return_path": "The envelope sender ({return_path}) belongs to another domain than the From address.",
    "display_name": "The name '{name}' is that of {who} ({known}), but this mail comes from {address}.",
    "name_has_address": "The display name shows the address {shown}, but the mail really comes from {address}.",
    "lookalike_domain": "The sender's domain {domain} looks like {known} but is not the same.",
    "punycode_domain": "The sender's domain uses international characters ({domain} = {unicode}), "
                       "a trick to imitate another domain.",
    "link_mismatch": "A link shows {shown} but leads to {target}.",
    "ip_link": "A link leads to a bare IP address ({target}) instead of a named site.",
    "shortener": "A link is hidden behind a URL shortener ({target}).",
    "urgency": "The message pushes for urgency ('{match}').",
    "payment": "The message talks about payments or bank details ('{match}').",
    "credentials": "The message asks to verify an account or password ('{match}').",
    "first_contact": "This is the first message from {address}.",
}
ACTIONS = {
    "high": "Do not click links, open attachments, reply or pay. Check with the sender through a channel you already "
            "know (a phone number you have, not one from this mail) and report the message to your IT contact.",
    "medium": "Be careful: check the sender's address and where links lead before you act on this message.",
    "low": "No warning signs found.",
}
LEVEL_ORDER = {"low": 0, "medium": 1, "high": 2}


@dataclass
class ScanInput:
    from_header: str = ""  # raw "Name <address>"
    from_address: str = ""
    reply_to: str = ""
    return_path: str = ""
    authentication_results: str = ""
    subject: str = ""
    body_text: str = ""
    body_html: str = ""
    first_contact: bool = False


@dataclass
class Context:
    """What the organisation knows: own domains, partner domains, colleagues and contacts."""

    own_domains: frozenset = frozenset()
    known_domains: frozenset = frozenset()  # partners' domains (free mailers are ignored)
    colleagues: dict = field(default_factory=dict)  # normalized name -> set of addresses
    contacts: dict = field(default_factory=dict)  # normalized name -> set of addresses

    def __post_init__(self):
        own = {d.lower() for d in self.own_domains if d}
        known = {d.lower() for d in self.known_domains if d} - FREEMAIL
        self.own_domains = frozenset(own)
        self.known_domains = frozenset(known | own)
        # Indexes so a scan costs the same with 10 or 10,000 known domains: exact shapes,
        # labels, and the deletion neighbourhood of every label (a look-alike within two
        # edits shares a string with it, so only those few candidates get an edit distance).
        self._skeletons, self._by_label, self._near, self._seen = {}, {}, {}, {}
        for domain in sorted(self.known_domains):
            base = registrable(domain)
            label = base.split(".")[0]
            self._skeletons.setdefault(skeleton(base), base)
            self._by_label.setdefault(label, base)
            if len(label) >= 4:
                shape = skeleton(label)
                entry = (shape, base)
                near = self._near
                for variant in _deletions(shape, 2 if len(shape) >= 8 else 1):
                    bucket = near.get(variant)
                    if bucket is None:
                        near[variant] = [entry]
                    else:
                        bucket.append(entry)

    @classmethod
    def build(cls, own_domains=(), known_addresses=(), colleagues=(), contacts=()):
        """From plain lists: addresses of partners, and (name, address) pairs of people."""
        people = {}
        for target, pairs in (("colleagues", colleagues), ("contacts", contacts)):
            index = {}
            for name, address in pairs:
                key = normalize_name(name)
                if key and address:
                    index.setdefault(key, set()).add(address.lower())
            people[target] = index
        domains = {address.rsplit("@", 1)[-1].lower() for address in known_addresses if address and "@" in address}
        return cls(frozenset(own_domains), frozenset(domains), people["colleagues"], people["contacts"])


@dataclass
class Signal:
    code: str
    weight: int
    reason: str


@dataclass
class ScanResult:
    level: str
    score: int
    signals: list
    action: str

    @property
    def reasons(self):
        return [signal.reason for signal in self.signals]

    def as_dict(self):
        return {"level": self.level, "score": self.score, "action": self.action,
                "signals": [{"code": s.code, "weight": s.weight, "reason": s.reason} for s in self.signals]}


# -- helpers -----------------------------------------------------------------------------------
def normalize_name(name):
    """'  Müller,  Anna ' -> 'anna muller' (accents off, punctuation off, word order sorted)."""
    name = unicodedata.normalize("NFKD", (name or "").strip().strip("'\"")).encode("ascii", "ignore").decode().lower()
    words = _NAME_NORM.sub(" ", name).split()
    return " ".join(sorted(words)) if len(words) >= 2 else ""


def registrable(domain):
    """The organisation's domain: 'mail.eu.acme.co.uk' -> 'acme.co.uk' (a heuristic, no suffix list)."""
    labels = (domain or "").lower().strip(".").split(".")
    if len(labels) >= 3 and labels[-2] in SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def to_unicode(domain):
    """Punycode labels decoded ('xn--pypal-4ve.com' -> 'pаypal.com'); unchanged when not decodable."""
    if "xn--" not in domain:
        return domain
    try:
        return domain.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return domain


def skeleton(domain):
    """What a domain looks like to a reader: confusables and digit tricks folded to plain Latin."""
    text = to_unicode(domain).lower().translate(CONFUSABLES)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    for pair, single in MULTI_CONFUSABLES:
        text = text.replace(pair, single)
    return text.replace("-", "")


def edit_distance(a, b, limit=3):
    """Damerau-Levenshtein (optimal string alignment) distance, stopping early above ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2, previous = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if previous2 is not None and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def domain_of(address):
    return (address or "").rsplit("@", 1)[-1].strip().lower().rstrip(">") if "@" in (address or "") else ""


def _host(url):
    rest = url.split("://", 1)[-1]
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1]
    if not host.startswith("["):
        host = host.split(":", 1)[0]
    return host.lower().strip(".")


def _related(a, b):
    """Same organisation: equal registrable domains."""
    return bool(a and b) and registrable(a) == registrable(b)


def parse_auth(authentication_results):
    """Verdicts of the topmost Authentication-Results: {'spf': 'pass', 'dkim': ['fail', ...], 'dmarc': ...}."""
    first = (authentication_results or "").strip().split("\n", 1)[0]
    verdicts = {"dkim": []}
    for method, result in _AUTH.findall(first):
        method, result = method.lower(), result.lower()
        if method == "dkim":
            verdicts["dkim"].append(result)
        else:
            verdicts.setdefault(method, result)
    return verdicts


def lookalike(domain, context):
    """The known domain that ``domain`` imitates, or None (equal or related domains are not look-alikes)."""
    if not domain or not context.known_domains:
        return None
    if domain not in context._seen:  # senders repeat: one answer per domain and context
        context._seen[domain] = _lookalike(domain, context)
    return context._seen[domain]


def _lookalike(domain, context):
    base = registrable(to_unicode(domain))
    if base in context.known_domains or registrable(domain) in context.known_domains:
        return None
    shape = skeleton(base)
    match = context._skeletons.get(shape)
    if match and match != base:
        return match
    label = base.split(".")[0]
    if label in context._by_label:  # acme.co vs acme.com
        return context._by_label[label]
    for part in label.split("-"):  # acme-payments.com
        if len(part) >= 5 and part in context._by_label:
            return context._by_label[part]
    labels = domain.split(".")
    for start in range(len(labels) - 2):  # acme.com.secure-login.net
        candidate = ".".join(labels[start:start + 2])
        if candidate in context.known_domains:
            return candidate
    shape = skeleton(label)
    candidates = set()
    for variant in _deletions(shape, 2):
        candidates.update(context._near.get(variant, ()))
    for known_shape, known_base in sorted(candidates):
        limit = 1 if len(known_shape) < 8 else 2
        if edit_distance(shape, known_shape, limit) <= limit:
            return known_base
    return None


def _deletions(word, depth):
    """``word`` and every string made by deleting up to ``depth`` characters from it."""
    found = {word}
    frontier = {word}
    for _level in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))} - found
        found |= frontier
    return found


# -- the scan ----------------------------------------------------------------------------------
def scan(message, context=None):
    context = context or Context()
    signals = []
    add = signals.append
    address = (message.from_address or "").lower()
    domain = domain_of(address)
    display = _display_name(message.from_header)

    # Authentication (topmost Authentication-Results only).
    auth = parse_auth(message.authentication_results)
    dmarc = auth.get("dmarc")
    if dmarc == "fail":
        add(Signal("dmarc_fail", 3, REASONS["dmarc_fail"]))
    if dmarc != "pass":
        if auth.get("spf") == "fail":
            add(Signal("spf_fail", 2, REASONS["spf_fail"].format(domain=domain or "the sender")))
        elif auth.get("spf") == "softfail":
            add(Signal("spf_softfail", 1, REASONS["spf_softfail"].format(domain=domain or "the sender")))
        if auth["dkim"] and "pass" not in auth["dkim"] and any(r in ("fail", "invalid") for r in auth["dkim"]):
            add(Signal("dkim_fail", 2, REASONS["dkim_fail"]))

    # Reply-To and Return-Path.
    reply_address = (getaddresses([message.reply_to])[0][1] if message.reply_to else "").lower()
    reply_domain = domain_of(reply_address)
    if reply_domain and domain and not _related(reply_domain, domain):
        if reply_domain in FREEMAIL:
            add(Signal("reply_to_mismatch", 3, REASONS["reply_to_freemail"].format(reply_to=reply_address,
                                                                                domain=domain)))
        elif lookalike(reply_domain, context):
            add(Signal("reply_to_mismatch", 3, REASONS["reply_to_lookalike"].format(reply_to=reply_address,
                                                                                 domain=domain)))
        else:
            add(Signal("reply_to_mismatch", 1, REASONS["reply_to_mismatch"].format(reply_to=reply_address,
                                                                                domain=domain)))
    return_domain = domain_of(message.return_path)
    if return_domain and domain and dmarc != "pass" and not _related(return_domain, domain):
        add(Signal("return_path", 1, REASONS["return_path"].format(return_path=message.return_path)))

    # Display name tricks.
    impersonation = False
    shown = _ADDRESS_IN_NAME.search(display or "")
    if shown and shown.group(0).lower() != address:
        add(Signal("name_has_address", 3, REASONS["name_has_address"].format(shown=shown.group(0), address=address)))
        impersonation = True
    key = normalize_name(display)
    if key:
        for who, index in (("a colleague", context.colleagues), ("a known contact", context.contacts)):
            known = index.get(key)
            if known and address not in known:
                add(Signal("display_name", 4, REASONS["display_name"].format(
                    name=display, who=who, known=", ".join(sorted(known)[:2]), address=address)))
                impersonation = True
                break

    # Look-alike and homograph domains.
    if domain:
        imitated = lookalike(domain, context)
        if imitated:
            add(Signal("lookalike_domain", 4, REASONS["lookalike_domain"].format(domain=domain, known=imitated)))
            impersonation = True
        if "xn--" in domain:
            add(Signal("punycode_domain", 2, REASONS["punycode_domain"].format(domain=domain,
                                                                            unicode=to_unicode(domain))))

    # Links.
    link_trouble = _links(message, signals)

    # Wording (subject and text; the HTML's text is in body_text for stored mail).
    text = f"{message.subject or ''}\n{message.body_text or ''}"[:20000].lower()
    present = _ALL_TRIGGERS.intersection(_WORD.findall(text))
    starts = sorted((m.start(), word) for word in present for m in _word_pattern(word).finditer(text)) \
        if present else []
    wording = False
    for code, pattern, weight in (("urgency", URGENCY, 1), ("payment", PAYMENT, 2), ("credentials", CREDENTIALS, 2)):
        found = _match_at(pattern, TRIGGERS[code], text, starts)
        if found:
            add(Signal(code, weight, REASONS[code].format(match=found.group(0).strip())))
            wording = wording or code != "urgency"
    if message.first_contact and address:
        add(Signal("first_contact", 1, REASONS["first_contact"].format(address=address)))

    score = sum(signal.weight for signal in signals)
    if score >= HIGH_SCORE or (impersonation and (wording or link_trouble)):
        level = "high"
    elif score >= MEDIUM_SCORE:
        level = "medium"
    else:
        level = "low"
    signals.sort(key=lambda s: -s.weight)
    return ScanResult(level, score, signals, ACTIONS[level])


_WORD_PATTERNS = {word: re.compile(rf"\b{re.escape(word)}\b") for word in _ALL_TRIGGERS}


def _word_pattern(word):
    return _WORD_PATTERNS[word]


def _display_name(header):
    """The display name of a From header ('"Doe, John" <j@x>' -> 'Doe, John'); cheap common case first."""
    header = (header or "").strip()
    if not header or "<" not in header:
        return ""
    name = header.split("<", 1)[0].strip()
    if '"' in name or "=?" in name or "(" in name:
        return getaddresses([header])[0][0]
    return name


def _match_at(pattern, triggers, text, starts):
    for start, word in starts:
        if word in triggers:
            found = pattern.match(text, start)
            if found:
                return found
    return None


def _links(message, signals):
    """Link signals (at most one of each kind, the first example named); True when any fired."""
    html = message.body_html or ""
    seen = set()
    urls = []
    if "<a" in html or "<A" in html:
        for _quote, href, inner in _ANCHOR.findall(html[:200000]):
            href = href.strip()
            if not href.lower().startswith(("http://", "https://")):
                continue
            urls.append(href)
            if "link_mismatch" in seen:
                continue
            text = _TAG.sub("", inner).strip()
            shown_match = _DOMAIN_IN_TEXT.search(text) if "." in text else None
            if shown_match:
                shown = shown_match.group(1).lower()
                target = _host(href)
                if target and not _related(shown, target) and not _IP_HOST.match(target):
                    seen.add("link_mismatch")
                    signals.append(Signal("link_mismatch", 2, REASONS["link_mismatch"].format(shown=shown,
                                                                                            target=target)))
    if "http" in (message.body_text or ""):
        urls += _URL.findall(message.body_text[:50000])
    for url in urls:
        host = _host(url)
        if "ip_link" not in seen and _IP_HOST.match(host):
            seen.add("ip_link")
            signals.append(Signal("ip_link", 2, REASONS["ip_link"].format(target=host)))
        elif "shortener" not in seen and host in SHORTENERS:
            seen.add("shortener")
            signals.append(Signal("shortener", 1, REASONS["shortener"].format(target=host)))
    return bool(seen & {"link_mismatch", "ip_link"})


def combine(code_level, ai_level):
    """The level shown: the AI may raise the code's level, never lower it."""
    ai_level = ai_level if ai_level in LEVEL_ORDER else code_level
    return max(code_level, ai_level, key=LEVEL_ORDER.__getitem__)
