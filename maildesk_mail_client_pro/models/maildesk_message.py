"""Messages in Pro: the stored security-scan level, and a one-off backfill of six headers.

Security level
--------------
``security_level`` keeps the level of the code security scan (``engine/scan.py``, no AI:
``low`` / ``medium`` / ``high``) of incoming mail. It is filled when the scan first runs on
a message: when its conversation is opened in the client (``maildesk.client.get_thread``),
by the AI scan button, and at ingest for mailboxes whose automation rules test the level
(``_security_levels``, called by maildesk_automation for the batch). It stays empty for
mail never scanned and for outgoing mail. The scan is not run for every message at ingest:
it costs about a millisecond per message and only these readers need it.

Header backfill
---------------

Mail stored before ``auto_submitted`` ... ``return_path`` existed has them empty. The cron
"MailDesk: backfill mail headers" walks those messages once, oldest id first, up to the
highest id that existed when it started (newer mail has them from ingest): it re-reads
each message from its server (headers are small; IMAP, Gmail and Graph all fetch by remote
id) or, for mail kept whole because it failed to parse, from the stored ``original.eml``.
Progress is kept in system parameters, so it resumes after a restart and stops by itself
when done; a message the server no longer has is skipped.
"""
import logging
import threading
from collections import defaultdict

from odoo import api, fields, models
from odoo.addons.maildesk_mail_client.engine import mime

_logger = logging.getLogger(__name__)

HEADER_FIELDS = ("auto_submitted", "precedence", "list_id", "list_unsubscribe", "authentication_results",
                 "return_path")
PARAM_UPTO = "maildesk_mail_client_pro.backfill_upto"
PARAM_DONE = "maildesk_mail_client_pro.backfill_done_id"
BACKFILL_BATCH = 200


SECURITY_LEVELS = [("low", "Low"), ("medium", "Medium"), ("high", "High")]


class MaildeskMessage(models.Model):
    _inherit = "maildesk.message"

    security_level = fields.Selection(
        SECURITY_LEVELS, "Security Level", readonly=True, copy=False,
        help="Level of the code security scan of this incoming message (no AI); empty until it was scanned.")

    def _security_levels(self, store=True):
        """``{message id: level}`` of these incoming messages; scans those never scanned.

        ``store``: write the new levels (one write per level); a dry run passes False.
        """
        incoming = self.filtered(lambda m: m.direction == "incoming")
        levels = {m.id: m.security_level for m in incoming if m.security_level}
        todo = incoming.filtered(lambda m: not m.security_level)
        if todo:
            found = {mid: result.level for mid, result in self.env["maildesk.ai.service"].scan_messages(todo).items()}
            levels.update(found)
            if store:
                todo._store_security_levels(found)
        return levels

    def _store_security_levels(self, levels):
        """Write ``{message id: level}`` where it changed, one write per level."""
        by_level = defaultdict(list)
        current = {m.id: m.security_level for m in self.browse(list(levels))}
        for message_id, level in levels.items():
            if level and current.get(message_id) != level:
                by_level[level].append(message_id)
        for level, ids in by_level.items():
            # sudo + sync context: derived data of mail the caller may read; not a user's edit.
            self.browse(ids).sudo().with_context(maildesk_from_sync=True).write({"security_level": level})

    @api.model
    def _backfill_headers(self, batch=BACKFILL_BATCH):
        """Fill the six headers of up to ``batch`` older messages; returns how many were looked at."""
        params = self.env["ir.config_parameter"].sudo()
        upto = int(params.get_param(PARAM_UPTO) or 0)
        if not upto:
            self.env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM maildesk_message")
            upto = self.env.cr.fetchone()[0]
            params.set_param(PARAM_UPTO, upto or -1)
        done = int(params.get_param(PARAM_DONE) or 0)
        if upto <= 0 or done >= upto:
            return 0
        # sudo: a maintenance job over every mailbox (cron user), it only fills header columns.
        messages = self.sudo().search([("id", ">", done), ("id", "<=", upto)], order="id", limit=batch)
        if not messages:
            params.set_param(PARAM_DONE, upto)
            return 0
        todo = messages.filtered(lambda m: not any(m[f] for f in HEADER_FIELDS))
        raws = self._backfill_raw_headers(todo)
        for message in todo:
            raw = raws.get(message.id)
            if not raw:
                continue
            parsed = mime.parse_message(raw, headers_only=True)
            message.with_context(maildesk_from_sync=True).write({f: getattr(parsed, f) or False
                                                                 for f in HEADER_FIELDS})
        params.set_param(PARAM_DONE, messages[-1].id)
        return len(messages)

    def _backfill_raw_headers(self, messages):
        """``{message id: raw bytes}`` from the stored original, else from the mail server."""
        raws = {}
        originals = self.env["ir.attachment"].sudo().search(
            [("res_model", "=", self._name), ("res_id", "in", messages.ids), ("name", "=", "original.eml")])
        for attachment in originals:
            raws[attachment.res_id] = attachment.raw
        for folder, group in messages.filtered(lambda m: m.id not in raws)._by_folder().items():
            try:
                with folder.account_id.sudo()._get_provider() as provider:
                    fetched = provider.fetch_messages(folder._remote(), group.mapped("remote_id"))
            except Exception as exc:  # noqa: BLE001 - one unreachable mailbox must not stop the others
                _logger.info("MailDesk header backfill: %s skipped (%s)", folder.display_name, exc)
                continue
            by_remote = {remote.remote_id: remote.raw for remote in fetched if remote.raw}
            for message in group:
                if message.remote_id in by_remote:
                    raws[message.id] = by_remote[message.remote_id]
        return raws

    @api.model
    def _cron_backfill_headers(self, batches=25):
        """Cron: a few batches per run, committed one by one (never while testing)."""
        testing = getattr(threading.current_thread(), "testing", False)
        for _index in range(batches):
            if not self._backfill_headers():
                break
            if not testing:
                self.env.cr.commit()  # commit: cron progress survives a crash in a later batch
