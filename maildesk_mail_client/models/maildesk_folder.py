import dataclasses

from odoo import _, api, fields, models

from ..engine.provider import ROLES, LocalView, RemoteFolder
from .maildesk_search_vector import AHEAD, SearchVectorsAhead

BACKFILL_BATCH = 2000  # messages per folder per backfill run


class MaildeskFolder(models.Model):
    _name = "maildesk.folder"
    _inherit = ["maildesk.guard.mixin"]
    _description = "Mail Folder"
    _order = "account_id, sequence, path"
    _parent_store = False

    name = fields.Char(required=True)
    account_id = fields.Many2one("maildesk.account", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True)
    path = fields.Char("Remote Path", required=True, help="The folder's name or id on the server.")
    role = fields.Selection([(r, r.capitalize()) for r in ROLES], default="custom", required=True)
    sequence = fields.Integer(default=10)
    parent_id = fields.Many2one("maildesk.folder", ondelete="cascade")
    selectable = fields.Boolean(default=True)
    sync_cursor = fields.Json(copy=False, help="Provider sync state, stored with the batch it covers.")
    last_sync_at = fields.Datetime(readonly=True, copy=False)
    sync_state = fields.Selection(
        [("new", "Not synced"), ("bootstrap", "First sync"), ("backfill", "Loading history"),
         ("synced", "Up to date")], compute="_compute_sync_state")
    message_count = fields.Integer(compute="_compute_counts")
    unread_count = fields.Integer(compute="_compute_counts")

    # Folders mirror the server's list (sync); a Mailbox Admin may only rename, reorder or
    # re-role one (a server without special-use flags).
    _md_user_fields = ("name", "sequence", "role")

    _sql_constraints = [("path_uniq", "unique(account_id, path)", "A folder path is unique per mailbox.")]

    @api.depends("name", "role")
    def _compute_display_name(self):
        for folder in self:
            folder.display_name = folder._label()

    def _label(self):
        """The name people read: servers call the inbox "INBOX", people call it "Inbox"."""
        self.ensure_one()
        if self.role == "inbox" and (self.name or "").upper() == "INBOX":
            return _("Inbox")
        return self.name or ""

    @api.depends("sync_cursor")
    def _compute_sync_state(self):
        for folder in self:
            cursor = folder.sync_cursor or {}
            if not cursor.get("uidvalidity") and not cursor.get("history_id") and not cursor.get("delta_link"):
                folder.sync_state = "new"
            elif cursor.get("bootstrap_left"):
                folder.sync_state = "bootstrap"
            elif not cursor.get("complete") and folder.account_id.backfill_mode != "from_now":
                folder.sync_state = "backfill"
            else:
                folder.sync_state = "synced"

    def _compute_counts(self):
        groups = self.env["maildesk.message"]._read_group(
            [("folder_id", "in", self.ids)], ["folder_id", "is_read"], ["__count"])
        totals, unread = {}, {}
        for folder, is_read, count in groups:
            totals[folder] = totals.get(folder, 0) + count
            if not is_read:
                unread[folder] = count
        for folder in self:
            folder.message_count = totals.get(folder, 0)
            folder.unread_count = unread.get(folder, 0)

    def unlink(self):
        """A folder leaves with its mail removed through ``maildesk.message._remove_local``.

        The database cascade would skip what keeps conversations right: threads left with
        zero messages, counts that include the deleted mail, attachments left behind.
        Subfolders (cascaded by ``parent_id``) are handled the same way.
        """
        # sudo: folders are removed by the sync (the server deleted them) or by an admin;
        # rights on the folders themselves are checked by super().unlink() below.
        self.check_access_rights("unlink")
        self.check_access_rule("unlink")
        folders = self.sudo().with_context(active_test=False).search([("id", "child_of", self.ids)])
        self.env["maildesk.message"].sudo().search([("folder_id", "in", folders.ids)])._remove_local()
        return super().unlink()

    # -- sync ---------------------------------------------------------------------------
    @api.model
    def _sync_remote_folders(self, account, remote_folders):
        """Mirror the server's folder list: create new ones, update roles, drop vanished."""
        existing = {f.path: f for f in self.with_context(active_test=False).search([("account_id", "=", account.id)])}
        seen = set()
        to_create = []
        for order, remote in enumerate(remote_folders):
            seen.add(remote.path)
            vals = {"name": remote.name, "role": remote.role, "selectable": remote.selectable, "sequence": order}
            folder = existing.get(remote.path)
            if folder is None:
                to_create.append(dict(vals, account_id=account.id, path=remote.path))
            elif any(folder[k] != v for k, v in vals.items()):
                folder.write(vals)
        if to_create:
            self.create(to_create)
        # A folder deleted on the server takes its local mail with it (see unlink).
        gone = [f for path, f in existing.items() if path not in seen]
        if gone:
            self.browse([f.id for f in gone]).unlink()
        folders = self.search([("account_id", "=", account.id)])
        by_path = {f.path: f for f in folders}
        for remote in remote_folders:
            parent = by_path.get(remote.parent_path) if remote.parent_path else None
            folder = by_path[remote.path]
            if folder.parent_id != (parent or self.browse()):
                folder.parent_id = parent.id if parent else False
        return folders.filtered("selectable")

    def _remote(self):
        return RemoteFolder(path=self.path, name=self.name, role=self.role, selectable=self.selectable)

    def _local_view(self):
        return LocalView(known_remote_ids=self._known_remote_ids, count=self._message_total)

    def _known_remote_ids(self):
        # Raw SQL: loading tens of thousands of ids through the ORM is ~20x slower; the
        # caller is the sync of a folder whose access was already checked.
        self.env["maildesk.message"].flush_model(["remote_id", "folder_id"])
        self.env.cr.execute(
            "SELECT remote_id FROM maildesk_message WHERE folder_id = %s AND remote_id IS NOT NULL", (self.id,))
        return [row[0] for row in self.env.cr.fetchall()]

    def _message_total(self):
        return self.env["maildesk.message"].search_count([("folder_id", "=", self.id)])

    def _run_sync(self, provider, options, commit=False, backfill=False):
        """Feed the provider's batches into the database, cursor stored with each batch."""
        self.ensure_one()
        counts = {"created": 0, "updated": 0, "removed": 0}
        cursor = dict(self.sync_cursor or {})
        # The search vectors of each prefetched batch start as soon as it is parsed (maildesk_search_vector).
        ahead = SearchVectorsAhead(self.env.cr.dbname)
        options = dataclasses.replace(options, on_parsed=ahead.start)
        if backfill:
            batches = provider.backfill_folder(self._remote(), cursor, self._local_view(), options, BACKFILL_BATCH)
        else:
            if cursor.get("reset"):
                cursor = {}
            batches = provider.sync_folder(self._remote(), cursor, self._local_view(), options)
        Message = self.env["maildesk.message"]
        ahead_token = AHEAD.set(ahead)
        try:
            for batch in batches:
                # Outside cron the savepoint plays the role of the commit: a failure in
                # batch N keeps batches 1..N-1, exactly like a crashed cron run.
                with self.env.cr.savepoint():
                    result = Message._apply_batch(self, batch)
                    if batch.cursor:
                        self.sync_cursor = batch.cursor
                    self.env.flush_all()
                for key in counts:
                    counts[key] += result.get(key, 0)
                if any(result.values()):
                    self.account_id._notify_clients([self.id])  # sent with the batch's commit
                if commit:
                    self.env.cr.commit()  # cron only: the batch and its cursor, atomically
        finally:
            batches.close()
            ahead.close()
            AHEAD.reset(ahead_token)
        self.last_sync_at = fields.Datetime.now()
        return counts
