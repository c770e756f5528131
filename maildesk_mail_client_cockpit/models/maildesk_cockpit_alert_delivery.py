"""The delivery log: one row per (alert event, channel), with its status.

Rows are created ``queued`` by the evaluation and sent by ``_send_queued`` (the delivery cron,
triggered after ingest, and the evaluation cron), each locked with ``SKIP LOCKED`` so two
workers never send the same one. Webhook retries with backoff happen inside one send
(``engine/webhooks.send``); the row keeps the attempts, the HTTP status and the error.
"""
import logging
import threading
import uuid

from odoo import fields, models

_logger = logging.getLogger(__name__)

STATUSES = [("queued", "Queued"), ("delivered", "Delivered"), ("failed", "Failed"), ("refused", "Refused")]
SEND_BATCH = 100


class MaildeskCockpitAlertDelivery(models.Model):
    _name = "maildesk.cockpit.alert.delivery"
    _description = "Cockpit Alert Delivery"
    _order = "id desc"

    event_id = fields.Many2one("maildesk.cockpit.alert.event", required=True, ondelete="cascade", index=True,
                               readonly=True)
    rule_id = fields.Many2one(related="event_id.rule_id", store=True, index=True)
    company_id = fields.Many2one(related="event_id.company_id", store=True)
    channel_id = fields.Many2one("maildesk.cockpit.alert.channel", required=True, ondelete="cascade", readonly=True)
    kind = fields.Selection(related="channel_id.kind", store=True)
    event_kind = fields.Selection(related="event_id.kind", string="Event Kind")
    status = fields.Selection(STATUSES, required=True, default="queued", readonly=True, index=True)
    delivery_uid = fields.Char("Delivery id", readonly=True, default=lambda self: uuid.uuid4().hex, copy=False,
                               help="Sent as X-MailDesk-Delivery; stable across retries.")
    attempts = fields.Integer(readonly=True)
    http_status = fields.Integer("HTTP status", readonly=True)
    error = fields.Text(readonly=True)
    response_excerpt = fields.Text("Response", readonly=True)
    target = fields.Char(readonly=True)
    ip = fields.Char("Address", readonly=True, help="The vetted address a webhook was sent to.")
    sent_at = fields.Datetime(readonly=True)

    @staticmethod
    def _is_testing():
        return getattr(threading.current_thread(), "testing", False)

    def _send(self):
        """Send these deliveries now (superuser) and record the outcome of each."""
        for delivery in self:
            try:
                with self.env.cr.savepoint():
                    values = delivery.channel_id._deliver(delivery.event_id, delivery.delivery_uid)
            except Exception as exc:  # noqa: BLE001 - one broken channel must not stop the others: log it
                _logger.exception("Alert delivery %s failed unexpectedly", delivery.id)
                values = {"status": "failed", "error": f"{exc.__class__.__name__}: {exc}"[:1000]}
            values.setdefault("attempts", 1)
            values.setdefault("error", False)
            values["sent_at"] = fields.Datetime.now()
            delivery.write(values)
            delivery.flush_recordset()  # _send_queued selects the next queued row in SQL
            if values["status"] != "delivered":
                _logger.warning("Alert delivery %s on channel %s: %s (%s)", delivery.id, delivery.channel_id.name,
                                values["status"], values.get("error"))

    def _send_queued(self, limit=SEND_BATCH):
        """Cron: send the queued deliveries, oldest first; returns how many were sent."""
        self = self.sudo()  # noqa: PLW0642 - sudo: the cron sends every queued row
        sent = 0
        while sent < limit:
            # One row at a time, locked until its commit: a concurrent worker skips it, and a
            # crash never sends a delivered row twice.
            self.env.cr.execute("""SELECT id FROM maildesk_cockpit_alert_delivery WHERE status = 'queued'
                                   ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED""")
            row = self.env.cr.fetchone()
            if not row:
                break
            self.browse(row[0])._send()
            sent += 1
            if not self._is_testing():
                self.env.cr.commit()
        return sent
