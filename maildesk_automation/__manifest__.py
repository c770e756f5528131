{
    "name": "MailDesk Automation",
    "summary": "Rules, teams and assignment for MailDesk mailboxes",
    "version": "17.0.1.1.0",
    # Plain text: without a description Odoo renders README.md as reStructuredText
    # (docutils warnings in every install log, a garbled Apps page).
    "description": ("Rules (triggers, conditions, ordered actions), teams, round-robin and least-load "
                    "assignment, auto-replies, run log and dry run for MailDesk mailboxes. "
                    "Documentation: README.md in this folder."),
    "category": "Productivity/MailDesk",
    "license": "LGPL-3",
    "author": "MailDesk",
    "website": "https://github.com/maildesk",
    # resource: teams' business hours and holidays (resource.calendar).
    "depends": ["maildesk_mail_client_pro", "resource"],
    "external_dependencies": {"python": ["regex"]},
    "data": [
        "security/maildesk_automation_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "views/maildesk_team_views.xml",
        "views/maildesk_rule_views.xml",
        "views/maildesk_automation_menus.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "maildesk_automation/static/src/**/*",
        ],
        "web.assets_tests": [
            "maildesk_automation/static/tests/tours/**/*",
        ],
    },
    "installable": True,
}
