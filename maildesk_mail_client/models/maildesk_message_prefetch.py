"""Body prefetch: mail listed with headers only gets its body in the background, newest first.

A message over the mailbox's body limit (``SyncOptions.max_body_bytes``) is stored with
its headers only, so the first sync stays fast and bounded. This cron then downloads
those bodies, newest first, within a byte budget per run, so that opening a recent
message does not wait for the server in the common case. Messages above
``PREFETCH_MAX_BYTES`` stay on demand (*Download full message*).
"""
import logging
import threading

from odoo import api, models

_logger = logging.getLogger(__name__)

PREFETCH_MAX_BYTES = 100 * 1024 * 1024  # larger messages are only fetched when opened
PREFETCH_RUN_BYTES = 300 * 1024 * 1024  # bytes downloaded per cron run at most
PREFETCH_RUN_MESSAGES = 50


class MaildeskMessage(models.Model):
    _inherit = "maildesk.message"

    @api.model
    def _cron_prefetch_bodies(self):
        """Fetch the bodies of headers-only messages, newest first, within the run's budget."""
        # sudo: a system job over every mailbox; it only completes stored messages.
        candidates = self.sudo().search(
            [("body_state", "=", "partial"), ("remote_id", "!=", False), ("size", "<=", PREFETCH_MAX_BYTES),
             ("account_id.active", "=", True), ("account_id.state", "!=", "needs_reauth")],
            order="date desc, id desc", limit=PREFETCH_RUN_MESSAGES)
        budget, fetched = PREFETCH_RUN_BYTES, 0
        testing = getattr(threading.current_thread(), "testing", False)
        for message in candidates:
            if message.size > budget:
                continue
            try:
                message.action_fetch_body()
            except Exception as exc:  # noqa: BLE001 - one message (provider or parse error) must not stop the run
                _logger.info("MailDesk: prefetching the body of message %s failed: %s", message.id, exc)
                if not testing:
                    self.env.cr.rollback()
                continue
            budget -= message.size
            fetched += 1
            if not testing:
                self.env.cr.commit()  # cron only: each body is kept as soon as it is stored
        return fetched
