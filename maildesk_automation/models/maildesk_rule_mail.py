"""Mail that rules send (auto-replies, forwards): queued with the batch, sent after commit.

Why a queue
-----------
Rules run inside the ingest batch's transaction. Talking to SMTP there would be wrong: if the
batch rolls back after the send (a later failure, a crash, a serialization retry), the sync
stores the same mail again, the rule runs again and the sender gets a second answer. So an
action only writes a ``queued`` row here (and, for auto-replies, claims the
once-per-sender-per-N-days slot in ``maildesk.rule.reply``) in the batch's transaction, and
triggers the cron "MailDesk: send mail of rules". A rolled-back batch leaves neither the row
nor the claim behind; the retry queues it once.

Never sent twice: as the base outbox (``maildesk.outbox``), a row goes ``queued -> sending ->
sent`` under the row's lock, and the cron commits ``sending`` *before* it talks to the
server. A worker killed mid-send leaves the row ``sending``; after ``STUCK_MINUTES`` it turns
``unknown`` (logged, never re-sent automatically). A server that cannot be reached before
anything was delivered puts the row back in the queue ``RETRY_MINUTES`` later (at most
``MAX_ATTEMPTS`` times); a refusal marks it ``failed`` with the error.

Sending goes through the base send path (``maildesk.account._send_mail``), which files the
copy in Sent; that stored copy runs no rules (the runner's context variable is set).
"""
import logging
import threading
from datetime import timedelta

from markupsafe import Markup
from odoo import api, fields, models
from odoo.addons.maildesk_mail_client.models.maildesk_account import NotSentError
from odoo.exceptions import UserError

from .maildesk_rule_runner import rules_disabled

_logger = logging.getLogger(__name__)

RETRY_MINUTES = 5
MAX_ATTEMPTS = 10
SEND_BATCH = 100  # rows per cron run (the cron triggers itself again when more are due)
STUCK_MINUTES = 10


def _is_testing():
    return getattr(threading.current_thread(), "testing", False)


class MaildeskRuleMail(models.Model):
    _name = "maildesk.rule.mail"
    _description = "Mail Sent by a Rule"
    _order = "id"

    rule_id = fields.Many2one("maildesk.rule", ondelete="set null", index=True, readonly=True)
    action_id = fields.Many2one("maildesk.rule.action", ondelete="set null", readonly=True)
    kind = fields.Selection([("auto_reply", "Auto-reply"), ("forward", "Forward")], required=True, readonly=True)
    account_id = fields.Many2one("maildesk.account", required=True, ondelete="cascade", index=True, readonly=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True)
    message_id = fields.Many2one("maildesk.message", ondelete="set null", readonly=True,
                                 help="The message answered or forwarded.")
    email_to = fields.Char("To", required=True, readonly=True)
    subject = fields.Char(readonly=True)
    body_html = fields.Html(sanitize=False, readonly=True, help="Rendered and sanitized when it was queued.")
    headers = fields.Json(readonly=True)
    attachment_ids = fields.Many2many("ir.attachment", readonly=True, help="Files forwarded with the message.")
    thread_reply = fields.Boolean(readonly=True, help="Sent as a reply (In-Reply-To / References of the message).")
    state = fields.Selection(
        [("queued", "Queued"), ("sending", "Sending"), ("sent", "Sent"), ("failed", "Not sent"),
         ("unknown", "Maybe sent")], default="queued", required=True, index=True, readonly=True)
    send_at = fields.Datetime(default=fields.Datetime.now, required=True, index=True, readonly=True)
    attempts = fields.Integer(readonly=True)
    sending_since = fields.Datetime(readonly=True)
    sent_message_id = fields.Many2one("maildesk.message", string="Sent Copy", ondelete="set null", readonly=True)
    error = fields.Text(readonly=True)

    # -- sending ------------------------------------------------------------------------------
    @api.model
    def _cron_send(self):
        """Send every due row, each under its own lock and commit (see the module doc)."""
        commit = not _is_testing()
        now = fields.Datetime.now()
        self._release_stuck(commit=commit)
        rows = self.sudo().search([("state", "=", "queued"), ("send_at", "<=", now)], limit=SEND_BATCH)
        for row in rows:
            row._send_one(commit=commit)
        nxt = self.sudo().search([("state", "=", "queued")], order="send_at", limit=1)
        if nxt:
            self.env.ref("maildesk_automation.ir_cron_maildesk_rule_mail").sudo()._trigger(max(nxt.send_at, now))

    def _send_one(self, commit=False):
        """queued -> sending -> sent | failed | queued (retry); safe against a second worker."""
        self.ensure_one()
        self.env.cr.execute("SELECT state FROM maildesk_rule_mail WHERE id = %s FOR UPDATE SKIP LOCKED", (self.id,))
        row = self.env.cr.fetchone()
        if not row or row[0] != "queued":
            return False  # another worker has it, or it left meanwhile
        self.invalidate_recordset(["state"])
        self.write({"state": "sending", "attempts": self.attempts + 1, "sending_since": fields.Datetime.now()})
        if commit:
            self.env.cr.commit()  # cron only: "sending" is durable before SMTP is spoken
        try:
            with self.env.cr.savepoint():
                sent = self._deliver()
        except NotSentError as exc:
            retry = self.attempts < MAX_ATTEMPTS
            self.write({"state": "queued" if retry else "failed", "error": exc.args[0],
                        "send_at": fields.Datetime.now() + timedelta(minutes=RETRY_MINUTES)})
        except UserError as exc:
            self.write({"state": "failed", "error": exc.args[0]})
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the row "sending" silently
            _logger.exception("MailDesk automation: rule mail %s failed", self.id)
            self.write({"state": "failed", "error": str(exc)})
        else:
            self.write({"state": "sent", "sent_message_id": sent.id, "error": sent.delivery_error or False})
        if commit:
            self.env.cr.commit()  # cron only: the outcome of this row
        return self.state == "sent"

    def _deliver(self):
        """Send this row through the base send path; returns the copy filed in Sent."""
        parent = self.message_id if self.thread_reply and self.message_id.exists() else None
        files = [(a.name, a.raw, a.mimetype) for a in self.attachment_ids]
        with rules_disabled():  # the stored Sent copy runs no rules: rules never trigger rules
            # sudo: the mailbox sends for its own rule (the account's credentials are admin-only).
            return self.account_id.sudo()._send_mail(self.email_to, "", "", self.subject or "",
                                                     Markup(self.body_html or ""), attachments=files, parent=parent,
                                                     headers=dict(self.headers or {}))

    @api.model
    def _release_stuck(self, commit=False):
        """Rows left "sending" by a dead worker become "unknown"; never re-sent automatically."""
        limit = fields.Datetime.now() - timedelta(minutes=STUCK_MINUTES)
        for row in self.sudo().search([("state", "=", "sending"), ("sending_since", "<=", limit)], limit=SEND_BATCH):
            self.env.cr.execute("SELECT state FROM maildesk_rule_mail WHERE id = %s FOR UPDATE SKIP LOCKED", (row.id,))
            locked = self.env.cr.fetchone()
            if not locked or locked[0] != "sending":
                continue
            row.invalidate_recordset(["state"])
            _logger.warning("MailDesk automation: rule mail %s was interrupted while sending; delivery unknown", row.id)
            row.write({"state": "unknown", "error": "Sending was interrupted: it may or may not have left."})
            if commit:
                self.env.cr.commit()  # cron only: each row's outcome
