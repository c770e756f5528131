"""Saved cockpit boards: a filter preset and a card layout, personal or shared with a team."""
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..engine import kpi


class MaildeskCockpitBoard(models.Model):
    _name = "maildesk.cockpit.board"
    _description = "MailDesk Cockpit Board"
    _order = "sequence, name, id"

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    user_id = fields.Many2one("res.users", "Owner", required=True, readonly=True, index=True,
                              default=lambda self: self.env.user, ondelete="cascade")
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    share_team_id = fields.Many2one("maildesk.team", "Shared with Team", ondelete="set null",
                                    help="Empty: personal board.")
    filters = fields.Json(help="Scope and period: team_id, account_id, user_id, partner_id, period, "
                               "date_from, date_to.")
    layout = fields.Json(help="The cards shown, in order (KPI names).")

    @api.constrains("layout", "filters")
    def _check_content(self):
        for board in self:
            layout = board.layout or []
            if not isinstance(layout, list) or any(card not in kpi.KPIS for card in layout):
                raise ValidationError(_("A board's layout lists KPI names only: %s.", ", ".join(kpi.KPIS)))
            if board.filters and not isinstance(board.filters, dict):
                raise ValidationError(_("A board's filters are a set of named values."))
