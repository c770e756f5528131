"""The outbox: mail waiting for its send time ("Undo send"), then sent by a cron.

How it works
------------
``maildesk.client.send(values)`` with a delay (the MailDesk setting "Undo send delay",
``SEND_DELAY_PARAM``, default ``DEFAULT_SEND_DELAY`` seconds) stores the checked compose
values here with ``send_at`` and triggers the outbox cron at that time
(``ir.cron._trigger``). Until then ``cancel_send`` takes the message back and returns the
values to reopen it in the compose dialog.

Never sent twice: a row goes ``queued -> sending -> sent`` and every transition is taken
under the row's lock (``SELECT ... FOR UPDATE``). The cron commits ``sending`` *before*
talking to the SMTP server, so a worker killed mid-send leaves the row in ``sending`` and
it is never picked again (it may have left: sending it again could deliver it twice); a
cancel waits for the lock and then sees ``sending``. A server that cannot be reached before anything was
delivered puts the row back in the queue with a later ``send_at``; a refusal marks it
``failed`` and brings the text back as a draft, so nothing is lost.

Sending needs SMTP only: the copy is filed in Sent locally at once and appended to the
server's Sent folder by the pending-action queue when IMAP answers
(``maildesk.pending.action``).
"""
import logging
import threading
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from .maildesk_account import NotSentError

_logger = logging.getLogger(__name__)

SEND_DELAY_PARAM = "maildesk_mail_client.send_delay"
DEFAULT_SEND_DELAY = 5  # seconds the "Undo" of a send stays possible
MAX_SEND_DELAY = 60
RETRY_MINUTES = 2  # a send whose SMTP server was unreachable is retried after this
MAX_ATTEMPTS = 10
OUTBOX_BATCH = 50  # rows per cron run


def _is_testing():
    return getattr(threading.current_thread(), "testing", False)


class MaildeskOutbox(models.Model):
    _name = "maildesk.outbox"
    _description = "Outgoing Mail"
    _order = "send_at, id"

    user_id = fields.Many2one("res.users", required=True, default=lambda self: self.env.user, index=True,
                              ondelete="cascade", readonly=True)
    account_id = fields.Many2one("maildesk.account", required=True, ondelete="cascade", readonly=True)
    state = fields.Selection(
        [("queued", "Waiting"), ("sending", "Sending"), ("sent", "Sent"), ("failed", "Not sent"),
         ("cancelled", "Cancelled")], default="queued", required=True, index=True, readonly=True)
    send_at = fields.Datetime(required=True, index=True, readonly=True)
    values = fields.Json(readonly=True, help="The compose values, checked when the message was queued.")
    subject = fields.Char(readonly=True)
    message_id = fields.Many2one("maildesk.message", ondelete="set null", readonly=True,
                                 help="The copy filed in Sent once the message left.")
    attempts = fields.Integer(readonly=True)
    error = fields.Text(readonly=True)

    @api.model
    def _get_send_delay(self):
        """Seconds between Send and the message leaving (the MailDesk setting)."""
        # sudo: a non-secret setting every mailbox user's Send depends on.
        value = self.env["ir.config_parameter"].sudo().get_param(SEND_DELAY_PARAM, DEFAULT_SEND_DELAY)
        try:
            return max(0, min(int(value), MAX_SEND_DELAY))
        except (TypeError, ValueError):
            return DEFAULT_SEND_DELAY

    @api.model
    def _enqueue(self, compose_vals, delay):
        """Queue checked compose values; the outbox cron sends them at ``send_at``."""
        send_at = fields.Datetime.now() + timedelta(seconds=delay)
        # Values are stored as plain data (ids, text): the cron re-checks them as the author.
        values = dict(compose_vals, attachment_ids=compose_vals["attachment_ids"][0][2])
        # sudo: users only read their outbox (rule: their own rows); the values were checked
        # by maildesk.client._compose_vals as this user.
        row = self.sudo().create({"user_id": self.env.uid, "account_id": compose_vals["account_id"],
                                  "send_at": send_at, "values": values, "subject": compose_vals.get("subject") or ""})
        # sudo: the outbox cron is a system record; triggering it is what Send is for.
        self.env.ref("maildesk_mail_client.ir_cron_maildesk_outbox").sudo()._trigger(send_at)
        return row

    @api.model
    def _draft_ids_in_outbox(self):
        """Drafts of the user's mail waiting to leave: not listed as drafts meanwhile."""
        rows = self.search([("state", "in", ("queued", "sending"))])  # own rows only (rule)
        return [row.values.get("draft_id") for row in rows if (row.values or {}).get("draft_id")]

    def _lock(self):
        """Take this row's lock (waits for a cron that is sending it); returns its state."""
        self.ensure_one()
        self.env.cr.execute("SELECT state FROM maildesk_outbox WHERE id = %s FOR UPDATE", (self.id,))
        row = self.env.cr.fetchone()
        self.invalidate_recordset(["state"])
        return row and row[0]

    def _cancel(self):
        """Take a queued message back; returns its compose values."""
        self.ensure_one()
        state = self._lock()
        if state == "sent" or state == "sending":
            raise UserError(_("Too late to undo: the message has already been sent."))
        if state != "queued":
            raise UserError(_("This message is no longer waiting to be sent."))
        # sudo: the author may cancel their own row (the rule let them read it) but not edit it.
        self.sudo().write({"state": "cancelled"})
        return dict(self.values or {})

    # -- sending ------------------------------------------------------------------------
    @api.model
    def _cron_send(self):
        """Send every due row, each under its own lock and commit (see the module doc)."""
        commit = not _is_testing()
        now = fields.Datetime.now()
        ids = self.sudo().search([("state", "=", "queued"), ("send_at", "<=", now)], limit=OUTBOX_BATCH).ids
        for row_id in ids:
            self.browse(row_id).sudo()._send_one(commit=commit)
        # Rows whose time has not come yet (or retries) wake the cron again.
        nxt = self.sudo().search([("state", "=", "queued")], order="send_at", limit=1)
        if nxt:
            self.env.ref("maildesk_mail_client.ir_cron_maildesk_outbox")._trigger(max(nxt.send_at, now))

    def _send_one(self, commit=False):
        """queued -> sending -> sent | failed | queued (retry); safe against a second worker."""
        self.ensure_one()
        self.env.cr.execute("SELECT state FROM maildesk_outbox WHERE id = %s FOR UPDATE SKIP LOCKED", (self.id,))
        row = self.env.cr.fetchone()
        if not row or row[0] != "queued":
            return False  # another worker has it, or it was cancelled / sent meanwhile
        self.invalidate_recordset(["state"])
        self.write({"state": "sending", "attempts": self.attempts + 1})
        if commit:
            self.env.cr.commit()  # cron only: "sending" is durable before SMTP is spoken
        author = self.env(user=self.user_id.id, su=False)
        try:
            with self.env.cr.savepoint():
                message = author["maildesk.client"]._send_values(dict(self.values or {}))
        except NotSentError as exc:
            # Nothing was delivered (the server could not be reached): try again later.
            retry = self.attempts < MAX_ATTEMPTS
            self.write({"state": "queued" if retry else "failed", "error": exc.args[0],
                        "send_at": fields.Datetime.now() + timedelta(minutes=RETRY_MINUTES)})
            if not retry:
                self._restore_draft()
        except UserError as exc:
            self.write({"state": "failed", "error": exc.args[0]})
            self._restore_draft()
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the row "sending" silently
            _logger.exception("MailDesk: outbox row %s failed", self.id)
            self.write({"state": "failed", "error": str(exc)})
            self._restore_draft()
        else:
            # Sent; a partial refusal (some recipients) is said on the message and here.
            self.write({"state": "sent", "message_id": message.id, "error": message.delivery_error or False})
        self._notify()
        if commit:
            self.env.cr.commit()  # cron only: the outcome of this row
        return self.state == "sent"

    def _restore_draft(self):
        """A message that could not be sent comes back as its author's draft: nothing is lost."""
        values = dict(self.values or {})
        draft = self.env["maildesk.draft"].sudo().browse(int(values.get("draft_id") or 0)).exists()
        vals = {key: values[key] for key in ("account_id", "mode", "parent_id", "email_to", "email_cc",
                                             "email_bcc", "subject", "body_html") if key in values}
        vals["attachment_ids"] = [(6, 0, values.get("attachment_ids") or [])]
        if draft:
            draft.write(vals)
        else:
            draft = self.env["maildesk.draft"].sudo().create(dict(vals, user_id=self.user_id.id))
            self.values = dict(values, draft_id=draft.id)
        return draft

    def _notify(self):
        """Tell the author's open clients how the send went (bus)."""
        payload = {"outbox_id": self.id, "state": self.state, "error": self.error or False,
                   "account_id": self.account_id.id,
                   "thread_id": self.message_id.thread_id.id if self.message_id else False}
        self.env["bus.bus"].sudo()._sendone(self.user_id.partner_id, "maildesk.outbox", payload)
