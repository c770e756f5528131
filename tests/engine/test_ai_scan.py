"""Security scan signals computed by code, one behaviour each, and the corpus verdicts."""
import pytest

from maildesk_mail_client_pro.engine import scan

from .ai_corpus import CLEAN, CONTEXT, PHISHING, auth, mail


def codes(result):
    return {signal.code for signal in result.signals}


@pytest.mark.parametrize("name,expected,message", PHISHING + CLEAN, ids=[c[0] for c in PHISHING + CLEAN])
def test_corpus_level(name, expected, message):
    """Each corpus mail gets its expected level."""
    result = scan.scan(message, CONTEXT)
    assert result.level == expected, (name, result.as_dict())


def test_corpus_false_positive_rate(capsys):
    """Clean mail flagged (medium or high) is reported; it must stay at 0 on this corpus."""
    flagged = [name for name, _level, message in CLEAN if scan.scan(message, CONTEXT).level != "low"]
    caught = [name for name, _level, message in PHISHING if scan.scan(message, CONTEXT).level != "low"]
    with capsys.disabled():
        print(f"\nscan corpus: {len(caught)}/{len(PHISHING)} phishing flagged, false positives "
              f"{len(flagged)}/{len(CLEAN)} clean = {100 * len(flagged) / len(CLEAN):.1f}%")
    assert not flagged and len(caught) == len(PHISHING)


def test_dmarc_fail_read_from_topmost_header_only():
    """A forged 'dmarc=pass' below our server's header does not hide our server's fail."""
    header = auth(dmarc="fail", spf="fail") + "\nforged.example; dmarc=pass; spf=pass"
    result = scan.scan(mail(from_address="a@x.example", authentication_results=header))
    assert {"dmarc_fail", "spf_fail"} <= codes(result)
    forged_only = "mx.acme.com; spf=none\nforged.example; dmarc=fail"
    assert "dmarc_fail" not in codes(scan.scan(mail(from_address="a@x.example", authentication_results=forged_only)))


def test_spf_dkim_ignored_when_dmarc_passes():
    """DMARC pass means an aligned SPF or DKIM passed: a failing other method is noise."""
    result = scan.scan(mail(from_address="a@x.example", authentication_results=auth(spf="fail", dkim="pass")))
    assert not codes(result) & {"spf_fail", "dkim_fail"}


def test_reply_to_other_domain_and_freemail():
    """Reply-To to an unrelated domain weighs 1; to a free mailer 3; same organisation nothing."""
    base = dict(from_header="A <a@corp.example>", from_address="a@corp.example")
    weights = {s.code: s.weight for s in scan.scan(mail(reply_to="x@other.example", **base)).signals}
    assert weights["reply_to_mismatch"] == 1
    weights = {s.code: s.weight for s in scan.scan(mail(reply_to="x@gmail.com", **base)).signals}
    assert weights["reply_to_mismatch"] == 3
    assert "reply_to_mismatch" not in codes(scan.scan(mail(reply_to="x@help.corp.example", **base)))


def test_return_path_mismatch_only_without_dmarc_pass():
    """An ESP bounce domain is normal when DMARC passes; suspicious when it does not."""
    base = dict(from_address="a@corp.example", return_path="b@bounce.other.example")
    assert "return_path" in codes(scan.scan(mail(**base)))
    assert "return_path" not in codes(scan.scan(mail(authentication_results=auth(), **base)))


def test_display_name_of_colleague_from_outside():
    """A colleague's name (any word order, accents) from another address is impersonation."""
    result = scan.scan(mail(from_header='"Muller, Thomas" <tm@evil.example>', from_address="tm@evil.example"),
                       CONTEXT)
    assert "display_name" in codes(result)
    same = scan.scan(mail(from_header="Thomas Müller <thomas.mueller@acme.com>",
                          from_address="thomas.mueller@acme.com"), CONTEXT)
    assert "display_name" not in codes(same)


def test_address_inside_display_name():
    """'"boss@acme.com" <x@evil>' shows one address and sends from another."""
    result = scan.scan(mail(from_header='"boss@acme.com" <x@evil.example>', from_address="x@evil.example"))
    assert "name_has_address" in codes(result)


@pytest.mark.parametrize("domain,imitated", [
    ("gl0bex.com", "globex.com"), ("acrne.com", "acme.com"), ("initeh.de", "initech.de"),
    ("globex.co", "globex.com"), ("globex-payments.com", "globex.com"), ("acme.com.verify.net", "acme.com"),
    ("xn--microsft-sbh.com", "microsoft.com"), ("paypa1.com", "paypal.com"),
])
def test_lookalike_domains(domain, imitated):
    """Digit swaps, rn/m, a dropped letter, another TLD, a known name inside, homographs."""
    assert scan.lookalike(domain, CONTEXT) == imitated


@pytest.mark.parametrize("domain", ["globex.com", "mail.globex.com", "gmail.com", "github.com", "unrelated.org"])
def test_not_lookalikes(domain):
    """Known domains, their subdomains, free mailers and unrelated names are not look-alikes."""
    assert scan.lookalike(domain, CONTEXT) is None


def test_punycode_sender_domain_flagged():
    """An xn-- sender domain is named with its Unicode form."""
    result = scan.scan(mail(from_address="a@xn--pypal-4ve.com"))
    signal = next(s for s in result.signals if s.code == "punycode_domain")
    assert "pаypal" in signal.reason


def test_link_text_domain_differs_from_href():
    """Text showing paypal.com over a link elsewhere is a mismatch; same organisation is not."""
    html = '<a href="https://evil.example/x">www.paypal.com</a>'
    assert "link_mismatch" in codes(scan.scan(mail(from_address="a@b.example", body_html=html)))
    html = '<a href="https://www.paypal.com/x">paypal.com</a>'
    assert "link_mismatch" not in codes(scan.scan(mail(from_address="a@b.example", body_html=html)))


def test_shortener_and_ip_links():
    """bit.ly and bare-IP links, in HTML or in text."""
    assert "shortener" in codes(scan.scan(mail(from_address="a@b.example", body_text="see https://bit.ly/x")))
    assert "ip_link" in codes(scan.scan(mail(from_address="a@b.example",
                                             body_html='<a href="http://10.1.2.3/a">here</a>')))


@pytest.mark.parametrize("code,text", [
    ("urgency", "Please handle this immediately"), ("urgency", "Bitte dringend erledigen"),
    ("payment", "Our bank details have changed"), ("payment", "Neue Kontoverbindung ab sofort"),
    ("payment", "Please buy gift cards"), ("credentials", "Verify your account now"),
    ("credentials", "Your password expires tomorrow"),
])
def test_wording(code, text):
    """Urgency, payment/bank-change and credential wording in English and German."""
    assert code in codes(scan.scan(mail(from_address="a@b.example", body_text=text)))


def test_first_contact_is_a_weak_signal():
    """First message from a sender adds a reason but alone stays Low."""
    result = scan.scan(mail(from_address="new@b.example", first_contact=True))
    assert "first_contact" in codes(result) and result.level == "low"


def test_ai_can_raise_never_lower():
    """combine(): High from code stays High whatever the AI says; the AI may raise Low."""
    assert scan.combine("high", "low") == "high"
    assert scan.combine("low", "high") == "high"
    assert scan.combine("medium", "nonsense") == "medium"


def test_reasons_and_action_are_plain_words():
    """A High result carries readable reasons and the 'do not pay' advice."""
    result = scan.scan(PHISHING[0][2], CONTEXT)
    assert result.level == "high"
    assert any("colleague" in reason for reason in result.reasons)
    assert "phone" in result.action


def test_wording_triggers_cover_every_alternative():
    """Every alternative of the wording patterns starts with one of its trigger words."""
    import re

    for code, pattern in (("urgency", scan.URGENCY), ("payment", scan.PAYMENT), ("credentials", scan.CREDENTIALS)):
        body = pattern.pattern[3:-3]
        depth, current, alternatives = 0, "", []
        for char in body:  # split the top-level alternation
            depth += char == "("
            depth -= char == ")"
            if char == "|" and depth == 0:
                alternatives.append(current)
                current = ""
            else:
                current += char
        alternatives.append(current)
        for alternative in alternatives:
            first = re.match(r"\(?([^\s()|?\-\\[]+)", alternative).group(1)
            heads = {first} | set(re.match(r"\(([^)]*)\)", alternative).group(1).split("|")
                                  if alternative.startswith("(") else [])
            assert any(head.rstrip("?").split(" ")[0] in scan.TRIGGERS[code] for head in heads), (code, alternative)
