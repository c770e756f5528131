from odoo import fields, models


class MaildeskAccount(models.Model):
    _inherit = "maildesk.account"

    automation_incoming = fields.Boolean("Rules on incoming mail", default=True,
                                         help="Run 'message received' rules on mail synced into this mailbox.")
    automation_outgoing = fields.Boolean("Rules after sending", default=True,
                                         help="Run 'message sent' rules on mail sent from this mailbox.")
    rule_ids = fields.Many2many("maildesk.rule", "maildesk_rule_account_rel", "account_id", "rule_id",
                                string="Rules")
