from odoo import fields, models


class MaildeskSyncLog(models.Model):
    """One line per sync run that changed something or failed: the account's history."""

    _name = "maildesk.sync.log"
    _description = "Mail Sync Log"
    _order = "id desc"

    account_id = fields.Many2one("maildesk.account", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True)
    folder_id = fields.Many2one("maildesk.folder", ondelete="set null")
    kind = fields.Selection(
        [("sync", "Sync"), ("backfill", "Backfill"), ("reset", "Reset"), ("send", "Send"), ("test", "Test"),
         ("auth", "Sign-in")],
        required=True, default="sync")
    level = fields.Selection([("info", "Info"), ("warning", "Warning"), ("error", "Error")],
                             required=True, default="info")
    message = fields.Text(required=True)
    created_count = fields.Integer("New")
    updated_count = fields.Integer("Updated")
    removed_count = fields.Integer("Removed")
    duration = fields.Float("Duration (s)", digits=(16, 3))
