"""Real-shaped phishing and clean mails for the security scan, with the level each must get.

The organisation is ACME (acme.com); its partners are Globex (globex.com), Initech
(initech.de), PayPal and Microsoft (vendors with accounts); colleagues Anna Weber and
Thomas Müller (CEO); contact Peter Jones at Globex. Headers are as a receiving server
stores them (the topmost Authentication-Results is our own server's).
"""
from maildesk_mail_client_pro.engine.scan import Context, ScanInput

CONTEXT = Context.build(
    own_domains={"acme.com"},
    known_addresses=["peter.jones@globex.com", "billing@initech.de", "service@paypal.com", "no-reply@microsoft.com",
                     "friend@gmail.com"],
    colleagues=[("Anna Weber", "anna.weber@acme.com"), ("Thomas Müller", "thomas.mueller@acme.com")],
    contacts=[("Peter Jones", "peter.jones@globex.com")],
)


def auth(spf="pass", dkim="pass", dmarc="pass", domain="example.com"):
    return (f"mx.acme.com; spf={spf} smtp.mailfrom={domain}; dkim={dkim} header.d={domain}; "
            f"dmarc={dmarc} (p=REJECT) header.from={domain}")


def mail(**kwargs):
    return ScanInput(**kwargs)


PHISHING = [
    ("ceo_fraud_freemail", "high", mail(
        from_header="Thomas Müller <thomas.mueller.ceo@gmail.com>", from_address="thomas.mueller.ceo@gmail.com",
        authentication_results=auth(domain="gmail.com"), subject="Quick favour",
        body_text="Are you at your desk? I need you to process a wire transfer today, it is urgent and "
                  "confidential. I am in a meeting, reply by email only.", first_contact=True)),
    ("vendor_bank_change_lookalike", "high", mail(
        from_header="Peter Jones <peter.jones@gl0bex.com>", from_address="peter.jones@gl0bex.com",
        authentication_results=auth(domain="gl0bex.com"), subject="Updated payment details",
        body_text="Hello, please note our bank details have changed. Kindly use the new IBAN DE89 3704 0044 0532 "
                  "0130 00 for the open invoices.", first_contact=True)),
    ("paypal_credential_ip_link", "high", mail(
        from_header="PayPal <service@paypa1-security.com>", from_address="service@paypa1-security.com",
        authentication_results=auth(spf="fail", dkim="none", dmarc="fail", domain="paypa1-security.com"),
        subject="Your account has been limited",
        body_html='<p>Please <a href="http://198.51.100.7/login">https://www.paypal.com/signin</a> to restore '
                  'access.</p>',
        body_text="Please verify your account within 24 hours to restore access. https://www.paypal.com/signin",
        first_contact=True)),
    ("microsoft_homograph", "high", mail(
        from_header="Microsoft 365 <no-reply@xn--microsft-sbh.com>", from_address="no-reply@xn--microsft-sbh.com",
        authentication_results=auth(domain="xn--microsft-sbh.com"), subject="Password expiry notice",
        body_text="Your password expires today. Keep your current password: https://xn--microsft-sbh.com/keep",
        first_contact=True)),
    ("reply_to_freemail_invoice", "high", mail(
        from_header="Globex Accounts <accounts@globex.com>", from_address="accounts@globex.com",
        reply_to="globex.accounts@outlook.com", return_path="bounce@mailer-out.ru",
        authentication_results=auth(spf="fail", dkim="fail", dmarc="fail", domain="globex.com"),
        subject="Outstanding invoice", body_text="Please pay the invoice attached today to avoid late fees.")),
    ("mailbox_full_shortener", "high", mail(
        from_header="IT Helpdesk <helpdesk@it-helpdesk-mail.net>", from_address="helpdesk@it-helpdesk-mail.net",
        subject="Action required: your mailbox is full",
        body_text="Your mailbox is full. Click https://bit.ly/3xYzAbc immediately to increase your quota.",
        first_contact=True)),
    ("gift_cards_address_in_name", "high", mail(
        from_header='"anna.weber@acme.com" <aw2024@mailer-x.ru>', from_address="aw2024@mailer-x.ru",
        subject="Request", body_text="Can you buy gift cards for a client? It's urgent, I will explain later.")),
    ("subdomain_trick", "high", mail(
        from_header="ACME Security <security@acme.com.account-verify.net>",
        from_address="security@acme.com.account-verify.net", subject="Unusual sign-in activity",
        body_text="We detected unusual sign-in activity. Confirm your password here: "
                  "https://acme.com.account-verify.net/confirm")),
    ("own_domain_rn_m", "high", mail(
        from_header="IT Support <it@acrne.com>", from_address="it@acrne.com",
        authentication_results=auth(domain="acrne.com"), subject="Password expires",
        body_text="Your password will expire today. Re-enter your password on the portal.")),
    ("partner_typo_bank_details", "high", mail(
        from_header="Billing <billing@initeh.de>", from_address="billing@initeh.de",
        authentication_results=auth(domain="initeh.de"), subject="Neue Bankverbindung",
        body_text="Sehr geehrte Damen und Herren, bitte beachten Sie unsere neue Bankverbindung für alle "
                  "künftigen Zahlungen.")),
    ("overdue_first_contact", "medium", mail(
        from_header="Accounts <accounts@fast-invoices.biz>", from_address="accounts@fast-invoices.biz",
        subject="FINAL NOTICE", body_text="Final notice: your outstanding invoice is attached.",
        first_contact=True)),
    ("link_mismatch_softfail", "medium", mail(
        from_header="Parcel Service <info@parcel-notify.com>", from_address="info@parcel-notify.com",
        authentication_results=auth(spf="softfail", dkim="none", dmarc="none", domain="parcel-notify.com"),
        subject="Your parcel", body_html='<p>Track it at <a href="https://track.parcel-x.top/a">www.dhl.de</a></p>',
        body_text="Track it at www.dhl.de")),
]

CLEAN = [
    ("colleague_meeting_notes", "low", mail(
        from_header="Anna Weber <anna.weber@acme.com>", from_address="anna.weber@acme.com",
        authentication_results=auth(domain="acme.com"), subject="Meeting notes",
        body_text="Hi team, attached are the notes of today's meeting. Let me know if I missed anything.")),
    ("partner_invoice", "low", mail(
        from_header="Peter Jones <peter.jones@globex.com>", from_address="peter.jones@globex.com",
        authentication_results=auth(domain="globex.com"), subject="Invoice 4711",
        body_text="Please find attached invoice 4711, payable within 30 days. Best regards, Peter")),
    ("newsletter_esp", "low", mail(
        from_header="Shop Example <news@shop.example>", from_address="news@shop.example",
        reply_to="service@shop.example", return_path="bounce-123@mailer.sendgrid.net",
        authentication_results=auth(domain="shop.example"), subject="Our autumn sale",
        body_html='<p><a href="https://click.sendgrid.net/ls/abc">Shop now</a> · '
                  '<a href="https://shop.example/unsubscribe">Unsubscribe</a></p>',
        body_text="Shop now. Unsubscribe.")),
    ("github_notification", "low", mail(
        from_header="Jane Doe <notifications@github.com>", from_address="notifications@github.com",
        reply_to="reply+ABC123@reply.github.com", authentication_results=auth(domain="github.com"),
        subject="Re: [acme/app] Fix login (#42)",
        body_html='<p>Merged. <a href="https://github.com/acme/app/pull/42">github.com/acme/app/pull/42</a></p>',
        body_text="Merged. https://github.com/acme/app/pull/42")),
    ("calendar_invite", "low", mail(
        from_header="Google Calendar <calendar-notification@google.com>",
        from_address="calendar-notification@google.com", authentication_results=auth(domain="google.com"),
        subject="Invitation: Weekly sync", body_text="You have been invited to Weekly sync, Thursday 10:00.")),
    ("own_site_link", "low", mail(
        from_header="Thomas Müller <thomas.mueller@acme.com>", from_address="thomas.mueller@acme.com",
        authentication_results=auth(domain="acme.com"), subject="New intranet page",
        body_html='<p>See <a href="https://docs.acme.com/intranet">acme.com/intranet</a></p>',
        body_text="See acme.com/intranet")),
    ("prospect_first_contact", "low", mail(
        from_header="Maria Rossi <maria.rossi@rossi-design.it>", from_address="maria.rossi@rossi-design.it",
        authentication_results=auth(domain="rossi-design.it"), subject="Quote request",
        body_text="Hello, we would like a quote for 200 units. Could you call me next week?", first_contact=True)),
    ("german_invoice_known", "low", mail(
        from_header="Initech Buchhaltung <billing@initech.de>", from_address="billing@initech.de",
        authentication_results=auth(domain="initech.de"), subject="Rechnung Nr. 2024-118",
        body_text="Anbei unsere Rechnung. Bitte überweisen Sie den Betrag innerhalb von 14 Tagen.")),
    ("no_auth_header_imap", "low", mail(
        from_header="Bob <bob@smallshop.example>", from_address="bob@smallshop.example", subject="Lunch?",
        body_text="Lunch on Friday?")),
    ("paypal_real_receipt", "low", mail(
        from_header="PayPal <service@paypal.com>", from_address="service@paypal.com",
        authentication_results=auth(domain="paypal.com"), subject="Receipt for your payment",
        body_html='<p><a href="https://www.paypal.com/activity">View in PayPal</a></p>',
        body_text="You sent a payment of 20.00 EUR. View in PayPal.")),
    ("friend_on_gmail", "low", mail(
        from_header="Sam <friend@gmail.com>", from_address="friend@gmail.com",
        authentication_results=auth(domain="gmail.com"), subject="Photos", body_text="Here are the photos!")),
    ("microsoft_real", "low", mail(
        from_header="Microsoft <no-reply@microsoft.com>", from_address="no-reply@microsoft.com",
        authentication_results=auth(domain="microsoft.com"), subject="Your monthly summary",
        body_html='<p><a href="https://account.microsoft.com/">account.microsoft.com</a></p>',
        body_text="Your monthly summary is ready.")),
    ("shared_tracker_link_text", "low", mail(
        from_header="Globex Team <team@globex.com>", from_address="team@globex.com",
        authentication_results=auth(domain="globex.com"), subject="Slides",
        body_html='<p>Slides: <a href="https://globex.sharepoint.com/s/slides">globex.sharepoint.com</a></p>',
        body_text="Slides: globex.sharepoint.com")),
    ("reply_to_helpdesk", "low", mail(
        from_header="Initech Support <noreply@initech.de>", from_address="noreply@initech.de",
        reply_to="support@initech.zendesk.com", authentication_results=auth(domain="initech.de"),
        subject="Ticket #5512 updated", body_text="Your ticket has been updated.")),
]
