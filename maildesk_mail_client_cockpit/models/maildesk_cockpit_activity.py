"""Activities on cockpit records without depending on Odoo's mail app.

SLA escalations put a to-do on the conversation and the alerts' activity channel one on the
rule, when `mail` is installed. mail.activity is made for mail.thread documents and neither is
one (the suite does not depend on mail; maildesk.thread has its own message_ids). This mixin
answers what the activity machinery asks of its document: the systray's "my activities" domain
(`activity_user_id`), the follower subscription at creation (none: the assignee is told by the
activity and the bus) and the note posted when an activity is marked done (none: the
escalation log / alert history is the record); a deleted record's activities go with it.
"""
from odoo import fields, models


class MaildeskCockpitActivityMixin(models.AbstractModel):
    _name = "maildesk.cockpit.activity.mixin"
    _description = "MailDesk Cockpit: activities without mail.thread"

    activity_user_id = fields.Many2one("res.users", "Activity by User", compute="_compute_activity_user_id",
                                       search="_search_activity_user_id",
                                       help="Whose activity is open on the record (when Odoo's mail app is installed).")

    def _activities(self, domain=()):
        # sudo: whose activity it is, on records the caller reads already (ids only)
        return self.env["mail.activity"].sudo().search([("res_model", "=", self._name), *domain], order="id")

    def _compute_activity_user_id(self):
        by_record = {}
        if "mail.activity" in self.env and self.ids:
            for activity in self._activities([("res_id", "in", self.ids)]):
                by_record.setdefault(activity.res_id, activity.user_id)
        for record in self:
            record.activity_user_id = by_record.get(record.id, False)

    def _search_activity_user_id(self, operator, value):
        if "mail.activity" not in self.env or operator not in ("=", "in"):
            return [("id", "=", 0)] if operator in ("=", "in") else [("id", "!=", 0)]
        users = value if isinstance(value, (list, tuple)) else [value]
        activities = self._activities([("user_id", "in", [u for u in users if u])])
        return [("id", "in", activities.mapped("res_id"))]

    def message_subscribe(self, partner_ids=None, subtype_ids=None):
        return True

    def message_post_with_source(self, source_ref, **kwargs):
        return self.env["mail.message"] if "mail.message" in self.env else None

    def unlink(self):
        if "mail.activity" in self.env and self.ids:
            self._activities([("res_id", "in", self.ids)]).unlink()
        return super().unlink()
