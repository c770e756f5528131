/** @odoo-module **/
/**
 * A mail server outage is not a user mistake: show it as a notification that says what
 * happened ("Mail server unreachable"), not as Odoo's "Invalid Operation" dialog.
 * The names are the Python classes in models/maildesk_account.py.
 */
import { registry } from "@web/core/registry";
import { _t } from "@web/core/l10n/translation";

const MODULE = "odoo.addons.maildesk_mail_client.models.maildesk_account";
const notifications = registry.category("error_notifications");

notifications.add(`${MODULE}.MailServerUnreachable`, {
    title: _t("Mail server unreachable"),
    type: "warning",
    sticky: true,
});
notifications.add(`${MODULE}.NotSentError`, {
    title: _t("Not sent"),
    type: "warning",
    sticky: true,
});
