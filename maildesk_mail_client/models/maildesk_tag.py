from odoo import fields, models


class MaildeskTag(models.Model):
    """A user's own label for mail (per user, like the drafts).

    Tags are local to Odoo (never sent to the server), so they are the reader's own way of
    sorting mail: each user has their own list, sees only their own tags on a message (also
    in a shared mailbox), and nobody else can rename or delete them (README: Tags).
    """

    _name = "maildesk.tag"
    _inherit = ["maildesk.guard.mixin"]
    _description = "Mail Tag"
    _order = "name"

    name = fields.Char(required=True, translate=False)
    color = fields.Integer(default=0)
    user_id = fields.Many2one("res.users", required=True, default=lambda self: self.env.user, index=True,
                              ondelete="cascade")

    _md_owner_field = "user_id"

    _sql_constraints = [("user_name_uniq", "unique(user_id, name)", "You already have a tag with this name.")]
