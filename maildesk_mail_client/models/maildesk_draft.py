from odoo import _, api, fields, models

from ..engine.sanitize import html_to_text


class MaildeskDraft(models.Model):
    """A message being written in the web client, saved every few seconds.

    Drafts are personal (a record rule limits them to their author), local to Odoo and
    restorable from the systray until they are sent or discarded.

    They are never deleted behind the user's back, however old: a draft is the user's own
    unsent text, and only the user (send or discard) ends it. There is deliberately no
    autovacuum for them (an earlier one dropped drafts untouched for 90 days silently).
    """

    _name = "maildesk.draft"
    _inherit = ["maildesk.guard.mixin"]
    _description = "Mail Draft"
    _order = "write_date desc, id desc"
    _rec_name = "subject"

    user_id = fields.Many2one("res.users", required=True, default=lambda self: self.env.user, index=True,
                              ondelete="cascade")
    account_id = fields.Many2one("maildesk.account", required=True, ondelete="cascade")
    mode = fields.Selection([("new", "New"), ("reply", "Reply"), ("reply_all", "Reply all"), ("forward", "Forward")],
                            default="new", required=True)
    parent_id = fields.Many2one("maildesk.message", ondelete="set null")
    email_to = fields.Char("To")
    email_cc = fields.Char("Cc")
    email_bcc = fields.Char("Bcc")
    subject = fields.Char()
    body_html = fields.Html(sanitize_style=True)
    attachment_ids = fields.Many2many("ir.attachment", string="Attachments")

    # Always the author's own; mailbox, parent and files checked readable (maildesk.guard.mixin).
    _md_owner_field = "user_id"

    def _client_values(self):
        self.ensure_one()
        return {
            "account_id": self.account_id.id, "mode": self.mode, "parent_id": self.parent_id.id,
            "to": self.email_to or "", "cc": self.email_cc or "", "bcc": self.email_bcc or "",
            "subject": self.subject or "", "body_html": str(self.body_html or ""), "draft_id": self.id,
            "attachments": self.attachment_ids.read(["name", "mimetype", "file_size"]),
        }

    def _snippet(self):
        """The start of the text, for the Drafts list."""
        self.ensure_one()
        return " ".join(html_to_text(str(self.body_html or "")).split())[:200]

    @api.depends("subject")
    def _compute_display_name(self):
        for draft in self:
            draft.display_name = draft.subject or _("(no subject)")
