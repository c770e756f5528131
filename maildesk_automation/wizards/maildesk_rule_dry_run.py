"""Dry run: what a rule would do to the last N messages of its mailboxes, changing nothing.

Only run-log lines flagged ``dry_run`` are written (and they go with the wizard row). The
messages are searched with the user's own rights, so a dry run never shows mail of a
mailbox the user cannot see.
"""
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..models.maildesk_rule import TIME_TRIGGERS
from ..models.maildesk_rule_runner import SKIP_FOLDER_ROLES

MAX_DRY_RUN = 1000


class MaildeskRuleDryRun(models.TransientModel):
    _name = "maildesk.rule.dry.run"
    _description = "Mail Automation Dry Run"

    rule_id = fields.Many2one("maildesk.rule", required=True, ondelete="cascade")
    limit = fields.Integer("Last messages", default=50, help=f"At most {MAX_DRY_RUN}.")
    line_ids = fields.Many2many("maildesk.rule.run", readonly=True)
    examined = fields.Integer(readonly=True)
    matched = fields.Integer(readonly=True)
    done = fields.Boolean(readonly=True)

    @api.constrains("limit")
    def _check_limit(self):
        for wizard in self:
            if not 0 < wizard.limit <= MAX_DRY_RUN:
                raise UserError(_("Choose between 1 and %s messages.", MAX_DRY_RUN))

    def action_run(self):
        self.ensure_one()
        rule = self.rule_id
        rule.check_access_rights("read")
        rule.check_access_rule("read")
        self.env["maildesk.rule.run"].sudo().search([("dry_run", "=", True), ("dry_run_id", "=", self.id)]).unlink()
        if rule.trigger in TIME_TRIGGERS:
            lines = rule.sudo()._run_time_trigger(fields.Datetime.now(), dry_run=self.id)
            examined = len(lines.thread_id)
        else:
            domain = [("account_id", "in", rule.account_ids.ids)]
            if rule.trigger == "received":
                domain += [("direction", "=", "incoming"), ("folder_id.role", "not in", SKIP_FOLDER_ROLES)]
            else:
                domain += [("direction", "=", "outgoing")]
            # The user's own rights: a dry run shows only mail they may read.
            messages = self.env["maildesk.message"].search(domain, order="date desc, id desc", limit=self.limit)
            lines = self.env["maildesk.rule"].sudo()._run_trigger(rule.trigger, messages.sudo(), rules=rule.sudo(),
                                                                  dry_run=self.id)
            examined = len(messages)
        matched = len(lines.filtered(lambda r: r.state == "done"))
        self.write({"line_ids": [(6, 0, lines.ids)], "examined": examined, "matched": matched, "done": True})
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": self.id, "view_mode": "form",
                "target": "new", "name": _("Dry run: %s", rule.name)}
