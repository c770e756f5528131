from odoo import fields, models


class MaildeskAccount(models.Model):
    _inherit = "maildesk.account"

    automation_incoming = fields.Boolean("Rules on incoming mail", default=True,
                                         help="Run 'message received' rules on mail synced into this mailbox.")
    automation_outgoing = fields.Boolean("Rules after sending", default=True,
                                         help="Run 'message sent' rules on mail sent from this mailbox.")
    # Computed, not the relation itself: a rule's scope changes only through the rule (and its checks).
    rule_ids = fields.Many2many("maildesk.rule", string="Rules", compute="_compute_rule_ids")

    def _compute_rule_ids(self):
        for account in self:
            account.rule_ids = self.env["maildesk.rule"].search([("account_ids", "in", account.id)])

    def unlink(self):
        ids = self.ids
        result = super().unlink()
        # sudo: the run log has no foreign key to cascade (see maildesk.rule.run).
        self.env["maildesk.rule.run"].sudo()._unlink_for("account_ref", ids)
        return result
