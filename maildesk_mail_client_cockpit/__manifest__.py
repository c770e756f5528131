{
    "name": "MailDesk Cockpit",
    "summary": "Manager cockpit for MailDesk: KPIs, drill-down, triage, SLA and escalation, four tiers",
    "version": "17.0.1.2.0",
    # Plain text: without a description Odoo renders README.md as reStructuredText
    # (docutils warnings in every install log, a garbled Apps page).
    "description": ("The manager cockpit: KPIs with trends and drill-down, triage, SLA policies and "
                    "escalation, alerts, scheduled reports and the AI panel. "
                    "Documentation: README.md in this folder."),
    "category": "Productivity/MailDesk",
    "license": "LGPL-3",
    "author": "MailDesk",
    "website": "https://github.com/maildesk",
    # resource: SLA business hours and holidays (resource.calendar, resource.calendar.leaves).
    "depends": ["maildesk_automation", "resource"],
    "uninstall_hook": "uninstall_hook",
    "data": [
        "security/maildesk_cockpit_security.xml",
        "security/ir.model.access.csv",
        "security/maildesk_cockpit_alert_security.xml",
        "security/maildesk_cockpit_report_security.xml",
        "data/ir_cron_data.xml",
        "views/maildesk_sla_policy_views.xml",
        "views/maildesk_cockpit_views.xml",
        "views/maildesk_cockpit_alert_views.xml",
        "views/res_config_settings_alerts_views.xml",
        "views/maildesk_cockpit_report_views.xml",
        "views/maildesk_cockpit_menus.xml",
        "views/res_config_settings_views.xml",
        "views/res_config_settings_ai_views.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "maildesk_mail_client_cockpit/static/src/**/*",
        ],
        "web.assets_tests": [
            "maildesk_mail_client_cockpit/static/tests/tours/**/*",
        ],
    },
    "installable": True,
}
