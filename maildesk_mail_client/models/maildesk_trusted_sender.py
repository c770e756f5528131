from odoo import api, fields, models


class MaildeskTrustedSender(models.Model):
    """Senders whose remote images a user chose to always show (per user)."""

    _name = "maildesk.trusted.sender"
    _inherit = ["maildesk.guard.mixin"]
    _description = "Sender with remote images allowed"

    user_id = fields.Many2one("res.users", required=True, default=lambda self: self.env.user, index=True,
                              ondelete="cascade")
    email = fields.Char(required=True)

    _md_owner_field = "user_id"

    _sql_constraints = [("user_email_uniq", "unique(user_id, email)", "This sender is already trusted.")]

    @api.model
    def _addresses(self):
        return set(self.search([("user_id", "=", self.env.uid)]).mapped("email"))

    @api.model
    def _trust(self, address):
        address = address.strip().lower()
        if address not in self._addresses():
            self.create({"email": address})
