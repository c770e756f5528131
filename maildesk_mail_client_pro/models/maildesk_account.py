from odoo import fields, models


class MaildeskAccount(models.Model):
    _inherit = "maildesk.account"

    # Admin-only switches: an owner may not opt their own mailbox into sending attachments.
    ai_enabled = fields.Boolean("AI Features", default=True, groups="maildesk_mail_client.group_maildesk_admin",
                                help="Summaries, questions, drafts and AI scan explanations for this mailbox.")
    ai_attachments = fields.Boolean("Send Attachments to AI", groups="maildesk_mail_client.group_maildesk_admin",
                                    help="Text of attachments may go to the AI provider, only when a user also "
                                         "ticks 'include attachments' for a request.")
