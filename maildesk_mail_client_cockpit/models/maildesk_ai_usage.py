"""The cockpit's AI operations in Pro's usage log (one log, one set of daily counts)."""
from odoo import fields, models


class MaildeskAiUsage(models.Model):
    _inherit = "maildesk.ai.usage"

    feature = fields.Selection(selection_add=[("rebalance", "Cockpit rebalance explanation")],
                               ondelete={"rebalance": "cascade"})
