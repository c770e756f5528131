"""SLA policies and their escalation levels (the arithmetic is ``engine/sla.py``).

Policies are ordered by ``sequence``; the first whose scope contains a conversation applies
to it. Business hours and holidays come from the policy's ``resource.calendar`` (its
attendance lines and its global leaves), else from the team's calendar, else the clock runs
round the clock.
"""
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import bizhours, sla
from .res_config_settings import setting

LEAVES_WINDOW_DAYS = 800  # holidays older / further ahead than this do not matter to a due time


class MaildeskSlaPolicy(models.Model):
    _name = "maildesk.sla.policy"
    _description = "MailDesk SLA Policy"
    _order = "sequence, id"

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10, help="Policies are tried in this order; the first match wins.")
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    team_ids = fields.Many2many("maildesk.team", string="Teams", help="Empty: any team.")
    account_ids = fields.Many2many("maildesk.account", string="Mailboxes", help="Empty: any mailbox.")
    partner_ids = fields.Many2many("res.partner", string="Customers", help="Empty: any customer.")
    category_ids = fields.Many2many("res.partner.category", string="Customer Tags", help="Empty: any tag.")
    first_response_hours = fields.Float("First Response (business hours)", default=8.0)
    next_response_hours = fields.Float("Next Response (business hours)", default=8.0)
    resolution_hours = fields.Float("Resolution (business hours)", default=0.0,
                                    help="Business time we may owe answers within one segment; 0: no target. "
                                         "Time spent waiting for the customer does not count.")
    at_risk_percent = fields.Float("At Risk From (%)", default=lambda self: setting(self.env, "at_risk_percent"),
                                   help="Default: Settings ▸ MailDesk ▸ Cockpit.")
    resource_calendar_id = fields.Many2one("resource.calendar", string="Working Hours",
                                           help="Business hours and holidays. Empty: the team's working hours.")
    level_ids = fields.One2many("maildesk.sla.level", "policy_id", string="Escalation", copy=True)

    @api.constrains("first_response_hours", "next_response_hours", "resolution_hours", "at_risk_percent")
    def _check_targets(self):
        for policy in self:
            if min(policy.first_response_hours, policy.next_response_hours, policy.resolution_hours) < 0:
                raise ValidationError(_("SLA targets cannot be negative."))
            if not 0 < policy.at_risk_percent <= 100:
                raise ValidationError(_("'At risk from' is a percentage between 1 and 100."))

    @api.model_create_multi
    def create(self, vals_list):
        policies = super().create(vals_list)
        self._trigger_recompute()
        return policies

    def write(self, vals):
        result = super().write(vals)
        self._trigger_recompute()
        return result

    def _trigger_recompute(self):
        """Policies changed: the SLA cron recomputes every open conversation soon."""
        # sudo: the cron's own bookkeeping; the next run re-evaluates every open conversation.
        self.env["ir.config_parameter"].sudo().set_param("maildesk_mail_client_cockpit.sla_dirty", "1")
        cron = self.env.ref("maildesk_mail_client_cockpit.ir_cron_cockpit_sla", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()  # sudo: a manager may schedule the cockpit's own cron, not edit it

    # -- plain data for the engine -------------------------------------------------------------
    def _to_engine(self, calendars):
        return sla.Policy(
            id=self.id, sequence=self.sequence, team_ids=frozenset(self.team_ids.ids),
            account_ids=frozenset(self.account_ids.ids), partner_ids=frozenset(self.partner_ids.ids),
            category_ids=frozenset(self.category_ids.ids), first_response_hours=self.first_response_hours,
            next_response_hours=self.next_response_hours, resolution_hours=self.resolution_hours,
            at_risk_percent=self.at_risk_percent,
            calendar=calendars.get(self.resource_calendar_id.id) if self.resource_calendar_id else None)

    @api.model
    def _calendar_data(self, calendars):
        """``{calendar id: bizhours.Calendar}`` from ``resource.calendar`` records (global leaves only)."""
        result = {}
        now = fields.Datetime.now()
        window = (now - timedelta(days=LEAVES_WINDOW_DAYS), now + timedelta(days=LEAVES_WINDOW_DAYS))
        for calendar in calendars.sudo():  # sudo: working hours are not secret; users may lack resource rights
            attendance = tuple(sorted(
                (int(line.dayofweek), line.hour_from, line.hour_to) for line in calendar.attendance_ids
                if line.display_type is False or not line.display_type))
            leaves = tuple(sorted(
                (leave.date_from, leave.date_to) for leave in calendar.leave_ids
                if not leave.resource_id and leave.date_to >= window[0] and leave.date_from <= window[1]))
            result[calendar.id] = bizhours.Calendar(tz=calendar.tz or "UTC", attendance=attendance, leaves=leaves)
        return result


class MaildeskSlaLevel(models.Model):
    _name = "maildesk.sla.level"
    _description = "MailDesk SLA Escalation Level"
    _order = "policy_id, sequence, id"

    policy_id = fields.Many2one("maildesk.sla.policy", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="policy_id.company_id", store=True)
    sequence = fields.Integer(default=10)
    trigger = fields.Selection([("percent", "Share of the allowed time elapsed"),
                                ("after_due", "Business time after the due time")],
                               required=True, default="after_due")
    percent = fields.Float(default=80.0)
    minutes = fields.Float("Minutes After Due", default=0.0, help="0: at the breach; 120: breach + 2 h.")
    notify = fields.Selection([("assignee", "Assignee"), ("leader", "Team leader"),
                               ("users", "These users")], required=True, default="assignee")
    user_ids = fields.Many2many("res.users", string="Users", domain=[("share", "=", False)])

    @api.constrains("trigger", "percent", "minutes")
    def _check_moment(self):
        for level in self:
            if level.trigger == "percent" and not 0 < level.percent <= 100:
                raise ValidationError(_("An escalation share is a percentage between 1 and 100."))
            if level.trigger == "after_due" and level.minutes < 0:
                raise ValidationError(_("Minutes after the due time cannot be negative."))

    def _to_engine(self):
        if self.trigger == "percent":
            return sla.Level(id=self.id, sequence=self.sequence, percent=self.percent)
        return sla.Level(id=self.id, sequence=self.sequence, minutes=self.minutes)
