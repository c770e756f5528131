{
    "name": "MailDesk Automation",
    "summary": "Rules, teams and assignment for MailDesk mailboxes",
    "version": "17.0.1.0.0",
    "category": "Productivity/MailDesk",
    "license": "LGPL-3",
    "author": "MailDesk",
    "website": "https://github.com/maildesk",
    "depends": ["maildesk_mail_client_pro"],
    "data": [],
    "installable": True,
}
