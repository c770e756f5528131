"""When a scheduled report runs for each time zone of its recipients.

A report is scheduled "at a local time, in the recipient's time zone": its recipients are
grouped by time zone (an internal user's ``tz``, else the owner's; free addresses: the
owner's) and each group gets one slot with its own next run. The cron runs each due slot and
mails only that slot's recipients (``maildesk.cockpit.report._cron_send_due``). Slots are
the system's bookkeeping: written only through the report (``_reschedule``), read with it.
"""
from odoo import api, fields, models


class MaildeskCockpitReportSlot(models.Model):
    _name = "maildesk.cockpit.report.slot"
    _description = "MailDesk Cockpit Report Delivery Slot"
    _order = "next_run_at, id"
    _rec_name = "tz"

    report_id = fields.Many2one("maildesk.cockpit.report", required=True, ondelete="cascade", index=True,
                                readonly=True)
    tz = fields.Char("Time Zone", required=True, readonly=True)
    next_run_at = fields.Datetime("Next Run", readonly=True, index=True)
    recipients = fields.Char(compute="_compute_recipients", help="The addresses this slot's runs mail.")

    _sql_constraints = [
        ("report_tz_unique", "UNIQUE (report_id, tz)", "A report has one slot per time zone."),
    ]

    @api.depends("report_id.recipient_user_ids", "report_id.recipient_emails", "report_id.owner_id", "tz")
    def _compute_recipients(self):
        for slot in self:
            slot.recipients = ", ".join(
                address for address, _internal, tz in slot.report_id._recipient_entries() if tz == slot.tz)
