{
    "name": "MailDesk AI (Pro)",
    "summary": "AI in the MailDesk mailbox: summarize, ask, draft replies, security scan; providers and usage limits",
    "version": "17.0.1.0.0",
    "category": "Productivity/MailDesk",
    "license": "LGPL-3",
    "author": "MailDesk",
    "website": "https://github.com/maildesk",
    "depends": ["maildesk_mail_client"],
    "external_dependencies": {"python": ["requests", "cryptography"]},
    "data": [
        "security/ir.model.access.csv",
        "security/maildesk_ai_security.xml",
        "data/ir_cron_data.xml",
        "views/maildesk_ai_provider_views.xml",
        "views/maildesk_ai_usage_views.xml",
        "views/maildesk_account_views.xml",
        "views/res_config_settings_views.xml",
        "views/maildesk_ai_menus.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "maildesk_mail_client_pro/static/src/**/*",
        ],
        "web.assets_tests": [
            "maildesk_mail_client_pro/static/tests/tours/**/*",
        ],
    },
    "installable": True,
}
