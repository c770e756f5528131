{
    "name": "MailDesk AI (Pro)",
    "summary": "AI in the MailDesk mailbox: summarize, ask, draft replies, security scan; providers and usage limits",
    "version": "17.0.1.0.0",
    "category": "Productivity/MailDesk",
    "license": "LGPL-3",
    "author": "MailDesk",
    "website": "https://github.com/maildesk",
    "depends": ["maildesk_mail_client"],
    "data": [],
    "installable": True,
}
