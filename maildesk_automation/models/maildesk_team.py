"""Teams: who answers which mailboxes, and when they work.

The cockpit reads these fields as they are: ``leader_id``, ``member_ids``, ``account_ids``
(mailboxes), ``resource_calendar_id`` (business hours and holidays), ``company_id``.
"""
from odoo import api, fields, models


class MaildeskTeam(models.Model):
    _name = "maildesk.team"
    _description = "Mail Team"
    _order = "sequence, name, id"

    name = fields.Char(required=True, translate=False)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    leader_id = fields.Many2one("res.users", string="Leader", index=True,
                                domain=[("share", "=", False)])
    member_ids = fields.Many2many("res.users", "maildesk_team_user_rel", "team_id", "user_id",
                                  string="Members", domain=[("share", "=", False)])
    account_ids = fields.Many2many("maildesk.account", "maildesk_team_account_rel", "team_id", "account_id",
                                   string="Mailboxes")
    resource_calendar_id = fields.Many2one(
        "resource.calendar", string="Working Hours",
        help="Business hours, time zone and public holidays of the team. Empty: always working.")
    company_id = fields.Many2one("res.company", required=True, index=True,
                                 default=lambda self: self.env.company)
    max_open_per_user = fields.Integer(
        "Open Conversations per Member", default=0,
        help="Automatic assignment skips a member who already has this many open conversations "
             "(0: no limit).")
    last_assigned_user_id = fields.Many2one("res.users", readonly=True, copy=False,
                                            help="Round-robin pointer: the member assigned last.")
    thread_count = fields.Integer(compute="_compute_thread_count")

    @api.depends("account_ids")
    def _compute_thread_count(self):
        groups = self.env["maildesk.thread"]._read_group(
            [("team_id", "in", self.ids), ("conversation_state", "in", ("waiting_for_us", "waiting_for_them"))],
            ["team_id"], ["__count"])
        counts = {team.id: count for team, count in groups}
        for team in self:
            team.thread_count = counts.get(team.id, 0)

    def action_open_threads(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window", "res_model": "maildesk.thread", "name": self.name,
            "view_mode": "tree,form", "domain": [("team_id", "=", self.id)],
            "context": {"search_default_open": 1},
        }
