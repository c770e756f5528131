# Fed to `odoo shell` on the demo stack's first start (docker/odoo/maildesk-entrypoint.sh).
# Adds the demo mailbox served by the `imap` service, sending through the `smtp` catcher,
# and syncs it once so the inbox is full when the browser opens. Safe to run again.
import logging

_logger = logging.getLogger("maildesk.demo")
Account = env["maildesk.account"]  # noqa: F821 - `env` is provided by odoo shell
admin = env.ref("base.user_admin")  # noqa: F821

account = Account.with_context(active_test=False).search([("email", "=", "demo@maildesk.test")], limit=1)
if not account:
    account = Account.create({
        "name": "Demo mailbox",
        "email": "demo@maildesk.test",
        "provider": "imap",
        "owner_id": admin.id,
        "imap_host": "imap", "imap_port": 143, "imap_security": "none",
        "imap_login": "demo@maildesk.test", "imap_password": "demo",
        "smtp_host": "smtp", "smtp_port": 1025, "smtp_security": "none",
        "smtp_login": "demo@maildesk.test", "smtp_password": "demo",
    })
env.cr.commit()  # noqa: F821 - the account stays even if the first sync fails
try:
    account.action_sync()
    env.cr.commit()  # noqa: F821
    _logger.info("demo mailbox synced: %s messages", account.message_count)
except Exception:  # the cron retries every minute; the stack must still come up
    env.cr.rollback()  # noqa: F821
    _logger.exception("first sync of the demo mailbox failed; the sync cron will retry")
