"""Compose, reply, reply-all and forward: builds MIME with the engine and sends."""
import base64
from email.utils import formataddr, getaddresses

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..engine import compose


class MaildeskCompose(models.TransientModel):
    """Private to its creator (record rule on create_uid); mailbox, parent and files are
    checked readable by the sender (maildesk.guard.mixin)."""

    _name = "maildesk.compose"
    _inherit = ["maildesk.guard.mixin"]
    _description = "Compose Mail"

    account_id = fields.Many2one("maildesk.account", string="From", required=True,
                                 default=lambda self: self._default_account())
    parent_id = fields.Many2one("maildesk.message", string="In reply to")
    mode = fields.Selection([("new", "New"), ("reply", "Reply"), ("reply_all", "Reply all"), ("forward", "Forward")],
                            default="new", required=True)
    email_to = fields.Char("To")
    email_cc = fields.Char("Cc")
    email_bcc = fields.Char("Bcc")
    subject = fields.Char()
    body_html = fields.Html("Body", sanitize_style=True)
    attachment_ids = fields.Many2many("ir.attachment", string="Attachments")

    @api.model
    def _default_account(self):
        return self.env["maildesk.account"].search([("owner_id", "=", self.env.uid)], limit=1) \
            or self.env["maildesk.account"].search([], limit=1)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        parent = self.env["maildesk.message"].browse(values.get("parent_id") or [])
        if parent:
            values.update(self._prepare_from_parent(parent, values.get("mode", "reply")))
        return values

    @api.model
    def _prepare_from_parent(self, parent, mode):
        """Recipients, subject, quote and attachments for a reply or forward of ``parent``."""
        own = (parent.account_id.email or "").lower()
        if mode == "forward":
            body = compose.quote_html(_("---------- Forwarded message ----------"), parent.body_html, [
                (_("From"), parent.email_from), (_("Date"), parent.date), (_("Subject"), parent.subject),
                (_("To"), parent.email_to)])
        else:
            body = compose.quote_html(_("On %(date)s, %(sender)s wrote:", date=parent.date,
                                        sender=parent.email_from or ""), parent.body_html)
        vals = {"account_id": parent.account_id.id, "body_html": body}
        if mode == "forward":
            vals["subject"] = compose.forward_subject(parent.subject or "")
            vals["attachment_ids"] = [(6, 0, self._copy_attachments(parent))]
            return vals
        vals["subject"] = compose.reply_subject(parent.subject or "")
        sender = parent.reply_to or parent.email_from or ""
        if parent.direction == "outgoing":
            sender = parent.email_to or ""
        vals["email_to"] = sender
        if mode == "reply_all":
            seen = {a.lower() for _n, a in getaddresses([sender])} | {own}
            cc = []
            for name, address in getaddresses([parent.email_to or "", parent.email_cc or ""]):
                if address and address.lower() not in seen:
                    seen.add(address.lower())
                    cc.append(formataddr((name, address)))
            vals["email_cc"] = ", ".join(cc)
        return vals

    def _copy_attachments(self, parent):
        copies = self.env["ir.attachment"]
        for attachment in parent.attachment_ids:
            copies |= attachment.copy({"res_model": self._name, "res_id": 0})
        return copies.ids

    @api.model
    def action_open(self, context):
        return {"type": "ir.actions.act_window", "res_model": self._name, "view_mode": "form",
                "target": "new", "name": _("Compose"), "context": context}

    def action_send(self):
        self.ensure_one()
        if not (self.email_to or self.email_cc or self.email_bcc):
            raise UserError(_("Add at least one recipient."))
        message = self.account_id._send_mail(
            to=self.email_to or "", cc=self.email_cc or "", bcc=self.email_bcc or "", subject=self.subject or "",
            body_html=str(self.body_html or ""),
            attachments=[(a.name, base64.b64decode(a.datas or b""), a.mimetype) for a in self.attachment_ids],
            # A forward references the original too (In-Reply-To / References).
            parent=self.parent_id or None)
        close = {"type": "ir.actions.act_window_close", "infos": {"message_id": message.id}}
        if not message.delivery_error:
            return close
        # Sent to the others and filed in Sent: say plainly who did not get it.
        return {"type": "ir.actions.client", "tag": "display_notification",
                "params": {"title": _("Sent, but not to everyone"), "message": message.delivery_error,
                           "type": "warning", "sticky": True, "next": close},
                "infos": {"message_id": message.id, "delivery_error": message.delivery_error}}
