"""Changes waiting for the mail server: the offline queue.

What it is
----------
When the IMAP server cannot be reached (``NetworkError``), a user's read / star / move /
archive / delete is applied here at once and queued in this table instead of failing; the
copy of a message sent through SMTP is queued for the server's Sent folder the same way.
The affected messages carry ``pending_sync`` and the client API shows a pending count per
mailbox and a marker per conversation.

How it is replayed
------------------
In creation order (``id``), per mailbox, at the start of every sync of that mailbox
(``maildesk.account._sync_one``), on the same connection, before any folder is synced, so
the server has every queued change before its state is read back. While a mailbox has
queued changes, new changes of that mailbox are queued behind them (never run ahead of
them). A network failure stops the replay and leaves the rest for the next run; any other
refusal (a message already gone) marks that one change ``failed`` with its reason, logs it,
and the replay goes on: the sync that follows brings the local state back in line with the
server.
"""
import base64
import logging

from odoo import _, api, fields, models

from ..engine.errors import NetworkError, ProviderError

_logger = logging.getLogger(__name__)

FROM_SYNC = "maildesk_from_sync"


class MaildeskPendingAction(models.Model):
    _name = "maildesk.pending.action"
    _description = "Change waiting for the mail server"
    _order = "id"

    account_id = fields.Many2one("maildesk.account", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True)
    kind = fields.Selection([("flags", "Read / starred"), ("move", "Move"), ("delete", "Delete"),
                             ("append", "Copy to Sent")], required=True)
    folder_id = fields.Many2one("maildesk.folder", ondelete="cascade", help="The folder the messages are in "
                                "on the server (for a copy to Sent: the Sent folder).")
    target_folder_id = fields.Many2one("maildesk.folder", ondelete="cascade")
    remote_ids = fields.Json(help="The server's ids of the messages when the change was made.")
    message_ids = fields.Json(help="The local messages the change is about.")
    values = fields.Json(help="For read / starred: the flags to set.")
    raw = fields.Binary(attachment=True, help="For a copy to Sent: the message as sent.")
    state = fields.Selection([("pending", "Waiting for the server"), ("failed", "Refused by the server")],
                             default="pending", required=True, index=True)
    error = fields.Text()

    # -- queueing -------------------------------------------------------------------------
    @api.model
    def _has_pending(self, account):
        # sudo: queue bookkeeping; the caller checked access to the messages.
        return bool(self.sudo().search_count([("account_id", "=", account.id), ("state", "=", "pending")], limit=1))

    @api.model
    def _queue(self, kind, folder, messages=None, remote_ids=None, values=None, target=None, raw=None):
        """Queue one change; the messages get ``pending_sync``."""
        messages = messages if messages is not None else self.env["maildesk.message"]
        # sudo: the queue is system bookkeeping written on behalf of a user whose access
        # to these messages was checked by the caller (maildesk.message._remote_call).
        row = self.sudo().create({
            "account_id": folder.account_id.id, "kind": kind, "folder_id": folder.id,
            "target_folder_id": target.id if target else False,
            "remote_ids": list(remote_ids if remote_ids is not None else messages.mapped("remote_id")),
            "message_ids": messages.ids, "values": values or {},
            "raw": base64.b64encode(raw) if raw else False})
        if messages:
            messages.sudo().with_context(**{FROM_SYNC: True}).write({"pending_sync": True})
        return row

    # -- replay ---------------------------------------------------------------------------
    @api.model
    def _replay(self, account, provider):
        """Replay the account's queue on ``provider`` in order; returns how many were done.

        Raises ``NetworkError`` when the server went away again (the rest stays queued).
        """
        rows = self.sudo().search([("account_id", "=", account.id), ("state", "=", "pending")], order="id")
        done = 0
        for row in rows:
            try:
                with self.env.cr.savepoint():
                    row._apply(provider)
            except NetworkError:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad change must not block the queue forever
                if not isinstance(exc, ProviderError):
                    _logger.exception("MailDesk: queued change %s could not be replayed", row.id)
                row.write({"state": "failed", "error": str(exc)})
                row._clear_pending()
                account._log("sync", "error", _("A change made while the server was unreachable was refused: "
                                                 "%s", exc))
                continue
            row._clear_pending()
            row.unlink()
            done += 1
        return done

    def _messages(self):
        return self.env["maildesk.message"].sudo().browse(self.message_ids or []).exists()

    def _clear_pending(self):
        """Drop ``pending_sync`` from messages no other queued change is about."""
        messages = self._messages()
        if not messages:
            return
        others = self.search([("account_id", "=", self.account_id.id), ("state", "=", "pending"),
                              ("id", "!=", self.id)])
        still = {mid for row in others for mid in (row.message_ids or [])}
        messages.filtered(lambda m: m.id not in still).with_context(**{FROM_SYNC: True}).write(
            {"pending_sync": False})

    def _apply(self, provider):
        """Run this change on the server."""
        self.ensure_one()
        folder = self.folder_id._remote()
        messages = self._messages()
        remote_ids = [r for r in (self.remote_ids or []) if r]
        synced = messages.with_context(**{FROM_SYNC: True})
        if self.kind == "flags":
            values = self.values or {}
            if remote_ids:
                provider.set_flags(folder, remote_ids, is_read=values.get("is_read"),
                                   is_starred=values.get("is_starred"))
        elif self.kind == "move":
            if remote_ids:
                mapping = provider.move(folder, remote_ids, self.target_folder_id._remote())
                by_id = {m.id: m for m in synced}
                by_old = dict(zip(self.remote_ids or [], self.message_ids or []))
                for old, new in mapping.items():
                    message = by_id.get(by_old.get(old))
                    # No new id: the target folder's next sync binds the copy by its Message-ID.
                    if new and message and not message.remote_id and message.folder_id == self.target_folder_id:
                        message.write({"remote_id": new})
        elif self.kind == "delete":
            if remote_ids:
                provider.delete(folder, remote_ids)
        elif self.kind == "append":
            config = getattr(provider, "config", None)
            if not getattr(config, "server_saves_sent", False):
                uid = provider.append(folder, base64.b64decode(self.with_context(bin_size=False).raw or b""))
                if uid and messages and not messages[:1].remote_id:
                    messages[:1].write({"remote_id": uid})

