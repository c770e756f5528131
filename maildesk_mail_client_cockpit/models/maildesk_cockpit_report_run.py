"""The history of a scheduled report: one run per delivery, with its files.

A run keeps the files it sent as ``ir.attachment`` records attached to the run
(``res_model``/``res_id``), so ``/web/content/<id>?download=true`` applies the run's access
rules: the report's owner, its internal recipients and Cockpit Administrators download them,
nobody else. Runs are written by the system only (the cron, *Run now*); users read them.
"""
from odoo import _, fields, models
from odoo.exceptions import UserError

RUN_STATES = [("running", "Running"), ("done", "Sent"), ("partial", "Partly sent"), ("failed", "Failed")]


class MaildeskCockpitReportRun(models.Model):
    _name = "maildesk.cockpit.report.run"
    _description = "MailDesk Cockpit Report Run"
    _order = "started_at desc, id desc"
    _rec_name = "report_id"

    report_id = fields.Many2one("maildesk.cockpit.report", required=True, ondelete="cascade", index=True,
                                readonly=True)
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    owner_id = fields.Many2one(related="report_id.owner_id", string="Owner")
    trigger = fields.Selection([("cron", "Schedule"), ("manual", "Run now")], required=True, readonly=True)
    state = fields.Selection(RUN_STATES, required=True, default="running", readonly=True)
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    period_start = fields.Date("From", readonly=True)
    period_end = fields.Date("To", readonly=True)
    row_count = fields.Integer("Rows", readonly=True)
    section_rows = fields.Char("Rows per Section", readonly=True)
    sent_to = fields.Text("Sent To", readonly=True)
    skipped_to = fields.Text("Not Sent To", readonly=True,
                             help="Addresses outside the company for which the owner chose to send nothing.")
    error = fields.Text(readonly=True)
    attachment_ids = fields.Many2many("ir.attachment", compute="_compute_attachment_ids", string="Files")
    file_name = fields.Char(compute="_compute_attachment_ids", string="File")

    def _compute_attachment_ids(self):
        # sudo: the runs were read with the caller's rules; their files follow them.
        attachments = self.env["ir.attachment"].sudo().search(
            [("res_model", "=", self._name), ("res_id", "in", self.ids)], order="id")
        for run in self:
            files = attachments.filtered(lambda a, r=run: a.res_id == r.id)
            run.attachment_ids = files.with_env(self.env)
            run.file_name = ", ".join(files.mapped("name"))

    def _attach(self, files, external=False):
        """Store ``[(name, bytes, mimetype)]`` on this run; returns the attachments."""
        self.ensure_one()
        # sudo: the system writes the history; reading it goes through the run's rules.
        attachments = self.env["ir.attachment"].sudo().create([{
            "name": name, "raw": data, "mimetype": mimetype, "res_model": self._name, "res_id": self.id,
            "company_id": self.company_id.id,
            "description": _("Sent outside the company") if external else False,
        } for name, data, mimetype in files])
        # create() left the new run's x2many cache empty: read the files again next time.
        self.invalidate_recordset(["attachment_ids", "file_name"])
        return attachments

    def unlink(self):
        # sudo: the files belong to the runs being deleted (the caller may delete those).
        self.env["ir.attachment"].sudo().search([("res_model", "=", self._name), ("res_id", "in", self.ids)]).unlink()
        return super().unlink()

    def action_download(self):
        """Download the run's main file through /web/content (the run's access rules apply)."""
        self.ensure_one()
        self.check_access_rule("read")
        files = self.attachment_ids.filtered(lambda a: not a.description)
        if not files:
            raise UserError(_("This run has no file (it failed before the file was written)."))
        if len(files) > 1:
            return {"type": "ir.actions.act_window", "res_model": "ir.attachment", "name": _("Files"),
                    "view_mode": "tree", "domain": [("id", "in", files.ids)], "target": "new"}
        return {"type": "ir.actions.act_url", "url": f"/web/content/{files.id}?download=true", "target": "self"}
