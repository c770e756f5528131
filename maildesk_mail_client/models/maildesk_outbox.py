"""Undo send: a message sent from the web client waits here for a few seconds before it leaves.

The client calls ``maildesk.client.send`` with a delay; the values of the compose dialog are
kept in a personal ``maildesk.outbox`` row until ``send_at``. Then the client that sent it
asks for the dispatch (``dispatch_outbox``), and the cron sends whatever is due when that
page was closed. ``cancel_send`` before that puts the message back into a draft. A row is
sent once: both paths lock it (``FOR UPDATE SKIP LOCKED``) and re-check its state.
"""
import logging
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from psycopg2 import errors as pg_errors

from .maildesk_account import _is_testing

_logger = logging.getLogger(__name__)

UNDO_PARAM = "maildesk_mail_client.undo_send_seconds"
UNDO_DEFAULT = 10
UNDO_MAX = 60


class MaildeskOutbox(models.Model):
    _name = "maildesk.outbox"
    _description = "Message waiting to be sent (undo send)"
    _order = "send_at, id"

    user_id = fields.Many2one("res.users", required=True, readonly=True, index=True, ondelete="cascade",
                              default=lambda self: self.env.user)
    values = fields.Json(readonly=True, help="The compose dialog's values (maildesk.client._compose_vals input).")
    subject = fields.Char(readonly=True)
    send_at = fields.Datetime(required=True, readonly=True, index=True)
    state = fields.Selection([("queued", "Waiting"), ("sent", "Sent"), ("failed", "Failed")],
                             default="queued", required=True, readonly=True, index=True)
    error = fields.Text(readonly=True)
    message_id = fields.Many2one("maildesk.message", readonly=True, ondelete="set null")

    @api.model
    def _undo_seconds(self):
        """Seconds a sent message waits (Settings ▸ MailDesk ▸ Undo send); 0 sends at once."""
        # sudo: a setting every sender needs; system parameters are admin-only to read.
        raw = self.env["ir.config_parameter"].sudo().get_param(UNDO_PARAM, UNDO_DEFAULT)
        try:
            return max(0, min(UNDO_MAX, int(raw)))
        except (TypeError, ValueError):
            return UNDO_DEFAULT

    @api.model
    def _queue(self, values, delay):
        """Keep ``values`` for ``delay`` seconds; the caller already checked them."""
        send_at = fields.Datetime.now() + timedelta(seconds=delay)
        # sudo: users cannot create outbox rows through the ORM (the state and values would be
        # theirs to forge); the row is created for the calling user only.
        row = self.sudo().create({"user_id": self.env.uid, "values": values, "send_at": send_at,
                                  "subject": values.get("subject") or ""})
        # The cron sends it if the page that queued it is closed before send_at.
        self.env.ref("maildesk_mail_client.ir_cron_maildesk_outbox")._trigger(at=send_at)
        return row

    def _lock_own(self):
        """This user's row, locked for the rest of the transaction; empty if locked elsewhere."""
        self.ensure_one()
        self.env.cr.execute(
            "SELECT id FROM maildesk_outbox WHERE id = %s AND user_id = %s FOR UPDATE SKIP LOCKED",
            (self.id, self.env.uid))
        if not self.env.cr.fetchone():
            return self.browse()
        self.invalidate_recordset()
        # sudo: the row is the caller's own (checked in the query above); users have no write
        # access to the outbox, only this code changes its state.
        return self.sudo()

    def _dispatch(self):
        """Send a locked, queued row as its user; a failure keeps the text in a draft."""
        self.ensure_one()
        values = dict(self.values or {})
        client = self.env["maildesk.client"].with_user(self.user_id)
        try:
            with self.env.cr.savepoint():
                result = client._send_now(values)
        except (UserError, pg_errors.Error) as exc:
            message = exc.args[0] if exc.args else str(exc)
            draft = client._restore_draft(values)
            self.write({"state": "failed", "error": message})
            _logger.info("MailDesk: queued message %s not sent: %s", self.id, message)
            return {"error": _("Not sent: %s The message is kept in Drafts.", message), "draft_id": draft.id}
        self.write({"state": "sent", "message_id": result["message_id"], "values": False})
        return result

    @api.model
    def _cron_send_due(self):
        """Send what is due and was not sent by the page that queued it (closed meanwhile)."""
        # sudo: the cron sends every user's due rows, each one as its user (_lock_own, _dispatch).
        due = self.sudo().search([("state", "=", "queued"), ("send_at", "<=", fields.Datetime.now())])
        for row in due:
            locked = row.with_user(row.user_id)._lock_own()
            if locked and locked.state == "queued":
                locked._dispatch()
                if not _is_testing():
                    self.env.cr.commit()  # cron only: each sent message is final, whatever follows
        done = fields.Datetime.now() - timedelta(days=1)
        self.sudo().search([("state", "=", "sent"), ("write_date", "<", done)]).unlink()
