"""Daily limits of the cockpit's AI operations by cockpit tier, on top of Pro's chokepoint.

Pro's ``maildesk.ai.service`` counts every call in ``maildesk.ai.usage`` and refuses a user
who reached the day's limit for a feature. For the cockpit's operations (``briefing``,
``rebalance``) the limit also depends on the caller's cockpit tier (Settings ▸ MailDesk ▸
Cockpit AI): a tier limit of 0 refuses every call, -1 is unlimited, and when Pro's own limit
for the feature is set too, the stricter one applies. The count is Pro's (the same rows).
"""
from odoo import _, api, models
from odoo.exceptions import UserError

from .maildesk_cockpit_ai import COCKPIT_FEATURES


class MaildeskAiService(models.AbstractModel):
    _inherit = "maildesk.ai.service"

    @api.model
    def _get_daily_limit(self, feature):
        limit = super()._get_daily_limit(feature)
        if feature not in COCKPIT_FEATURES:
            return limit
        tier_limit = self.env["maildesk.cockpit.ai"]._tier_limit(feature)
        limits = [value for value in (limit, tier_limit) if value > 0]
        return min(limits) if limits else 0

    @api.model
    def _check_limit(self, feature):
        if feature in COCKPIT_FEATURES and self.env["maildesk.cockpit.ai"]._tier_limit(feature) == 0:
            raise UserError(_("Your cockpit tier has no AI %s calls. An administrator sets the limits in "
                              "Settings ▸ MailDesk ▸ Cockpit AI.", feature))
        return super()._check_limit(feature)
