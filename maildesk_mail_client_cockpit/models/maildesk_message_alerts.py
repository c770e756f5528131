"""Alerts after ingest: the cheap rules of the mailboxes a stored batch touched.

Once per stored batch (never per message), after everything else the batch hook does
(``super()`` first: the cockpit facts and SLA of the batch are up to date). Evaluation runs in a
savepoint and any failure is logged: an alert rule never breaks or slows down a sync beyond
its few queries; the notices are sent by the delivery cron, triggered here.
"""
import logging

from odoo import models

_logger = logging.getLogger(__name__)


class MaildeskMessage(models.Model):
    _inherit = "maildesk.message"

    def _on_messages_stored(self):
        result = super()._on_messages_stored()
        account_ids = self.account_id.ids
        if account_ids:
            try:
                with self.env.cr.savepoint():
                    # sudo: the alert system evaluates each rule with its own owner's scope.
                    self.env["maildesk.cockpit.alert.rule"].sudo()._evaluate_after_ingest(account_ids)
            except Exception:  # noqa: BLE001 - an alert must never break the sync: log and go on
                _logger.exception("Alert evaluation after ingest failed (mailboxes %s); the sync goes on", account_ids)
        return result
