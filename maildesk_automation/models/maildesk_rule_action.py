"""One action of a rule, with the parameters of its kind.

``_check_targets`` keeps a rule inside its mailboxes: a move goes to a folder of the
rule's mailboxes, an assignee must see them, a record is created only in a model the rule's
owner may create (and outside ``RECORD_MODELS`` only by Settings administrators).
"""
from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools.safe_eval import safe_eval

from .maildesk_rule import RECORD_MODELS

ACTION_KINDS = [
    ("add_tags", "Add tags"),
    ("remove_tags", "Remove tags"),
    ("move", "Move to folder"),
    ("mark_read", "Mark as read"),
    ("star", "Star"),
    ("assign_user", "Assign to a user"),
    ("assign_team", "Assign within the team"),
    ("set_team", "Set team"),
    ("close", "Mark conversation done"),
    ("auto_reply", "Auto-reply"),
    ("forward", "Forward"),
    ("notify", "Notify users / channel"),
    ("create_record", "Create a record"),
    ("ai_classify", "AI: classify into tags"),
]
MAPPING_SOURCES = ("subject", "body", "body_text", "sender_email", "sender_name", "partner", "snippet",
                   "mailbox", "date")
DEFAULT_MAPPINGS = {
    "crm.lead": {"name": "subject", "email_from": "sender_email", "partner_id": "partner",
                 "description": "body", "contact_name": "sender_name"},
    "helpdesk.ticket": {"name": "subject", "partner_id": "partner", "description": "body",
                        "partner_email": "sender_email"},
    "project.task": {"name": "subject", "partner_id": "partner", "description": "body"},
}


def _channel_models(self):
    # Discuss channels exist only when `mail` is installed (the base does not depend on it).
    return [("discuss.channel", "Discuss Channel")] if "discuss.channel" in self.env else []


def _record_models(self):
    models_ = [(m, m) for m in RECORD_MODELS if m in self.env]
    return models_ + [("other", "Other model (technical name)")]


class MaildeskRuleAction(models.Model):
    _name = "maildesk.rule.action"
    _inherit = "maildesk.rule.line.mixin"
    _description = "Mail Automation Rule Action"
    _order = "sequence, id"

    rule_id = fields.Many2one("maildesk.rule", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    kind = fields.Selection(ACTION_KINDS, required=True, default="add_tags", string="Action")
    tag_ids = fields.Many2many("maildesk.tag", string="Tags")
    folder_id = fields.Many2one("maildesk.folder", string="Folder", ondelete="cascade")
    user_id = fields.Many2one("res.users", string="User", ondelete="cascade")
    team_id = fields.Many2one("maildesk.team", string="Team", ondelete="cascade",
                              help="Empty: the conversation's own team.")
    assign_method = fields.Selection([("round_robin", "Round robin"), ("least_load", "Least open load")],
                                     default="round_robin")
    only_unassigned = fields.Boolean(default=True, help="Leave conversations that already have an assignee.")
    reply_subject = fields.Char(help="Empty: Re: and the original subject. Placeholders as in the body.")
    reply_body = fields.Html(sanitize=True, help="Placeholders: {{ sender_name }}, {{ sender_email }}, "
                                                 "{{ subject }}, {{ mailbox }}, {{ date }}")
    window_start = fields.Datetime("Active from")
    window_end = fields.Datetime("Active until")
    once_per_days = fields.Integer("Once per sender every (days)", default=4)
    forward_to = fields.Char()
    notify_user_ids = fields.Many2many("res.users", string="Notify Users")
    notify_channel = fields.Reference(selection=_channel_models, string="Channel")
    notify_text = fields.Char()
    notify_inbox = fields.Boolean("Discuss inbox", help="Also put it in the users' Discuss inbox (Discuss installed): "
                                                        "pop-ups are lost for users who are not online.")
    mail_installed = fields.Boolean(compute="_compute_mail_installed")
    record_model = fields.Selection(_record_models, string="Create")
    record_model_name = fields.Char("Model", help="Technical name, e.g. res.partner (Settings administrators).")
    field_mapping = fields.Text(help="One line per field: field_name = source (subject, body, body_text, "
                                     "sender_email, sender_name, partner, snippet, mailbox, date) or "
                                     "field_name = \"a fixed text\" / a number. Empty: a default mapping.")
    summary = fields.Char(compute="_compute_summary")

    @api.depends("kind", "tag_ids", "folder_id", "user_id", "team_id", "assign_method", "forward_to",
                 "record_model", "record_model_name")
    def _compute_summary(self):
        labels = dict(ACTION_KINDS)
        for action in self:
            text = labels.get(action.kind, "")
            detail = {
                "add_tags": ", ".join(action.tag_ids.mapped("name")),
                "remove_tags": ", ".join(action.tag_ids.mapped("name")),
                "move": action.folder_id.name,
                "assign_user": action.user_id.name,
                "assign_team": f"{action.team_id.name or _('own team')} "
                               f"({dict(self._fields['assign_method'].selection).get(action.assign_method)})",
                "set_team": action.team_id.name,
                "forward": action.forward_to,
                "create_record": action._target_model(),
            }.get(action.kind)
            action.summary = f"{text}: {detail}" if detail else text

    def _compute_mail_installed(self):
        installed = "mail.thread" in self.env
        for action in self:
            action.mail_installed = installed

    def _target_model(self):
        return self.record_model_name if self.record_model == "other" else self.record_model

    def _mapping(self):
        """{field: source or ('literal', value)} of this action; ValidationError on bad lines."""
        model = self._target_model()
        text = (self.field_mapping or "").strip()
        if not text:
            return dict(DEFAULT_MAPPINGS.get(model, {"name": "subject"}))
        mapping = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            field_name, sep, source = (part.strip() for part in line.partition("="))
            if not sep or not field_name:
                raise ValidationError(_("Write each mapping line as field = source: “%s”.", line))
            if source in MAPPING_SOURCES:
                mapping[field_name] = source
            else:
                try:
                    mapping[field_name] = ("literal", safe_eval(source))
                except Exception as exc:  # noqa: BLE001 - any bad literal is a user error here
                    raise ValidationError(_("“%s” is neither a source nor a quoted text or number.",
                                            source)) from exc
        return mapping

    def _check_targets(self):
        """Keep every action inside the rule's mailboxes and its owner's rights."""
        # sudo: read the targets' mailboxes whatever the user may see; the checks below decide.
        for action in self.sudo():
            rule = action.rule_id
            accounts = rule.account_ids
            owner = rule.user_id
            if action.kind == "move":
                if not action.folder_id or len(accounts) != 1:
                    raise ValidationError(_("“Move to folder” needs a rule on one mailbox and a folder of it: "
                                            "a rule never takes mail out of its mailbox."))
                rule._check_line_scope(folders=action.folder_id)
            if action.kind == "assign_user":
                if not action.user_id:
                    raise ValidationError(_("Choose the user to assign."))
                action._check_users_see(action.user_id, accounts)
            if action.kind == "notify":
                # The notification shows the mail's subject and sender: only to people who see the mailbox,
                # and only in a channel the rule's owner may read (it is posted as the system).
                action._check_users_see(action.notify_user_ids, accounts)
                channel = action.notify_channel
                if channel:
                    try:
                        channel.with_user(owner).check_access_rights("read")
                        channel.with_user(owner).check_access_rule("read")
                    except AccessError as exc:
                        raise AccessError(_("%(u)s may not read the channel %(c)s.", u=owner.name,
                                            c=channel.sudo().display_name)) from exc
            rule._check_line_scope(tags=action.tag_ids)
            if action.kind in ("add_tags", "remove_tags", "ai_classify") and not action.tag_ids:
                raise ValidationError(_("Choose the tags of “%s”.", action.summary))
            if action.kind == "set_team" and not action.team_id:
                raise ValidationError(_("Choose the team to set."))
            if action.kind == "forward" and not (action.forward_to or "").strip():
                raise ValidationError(_("Give the address to forward to."))
            if action.kind == "auto_reply" and not action.reply_body:
                raise ValidationError(_("Write the auto-reply text."))
            if action.kind == "create_record":
                model = action._target_model()
                if not model or model not in self.env:
                    raise ValidationError(_("Choose an installed model to create records in."))
                if model not in RECORD_MODELS and not owner.has_group("base.group_system"):
                    raise AccessError(_("Only a Settings administrator lets rules create %s records.", model))
                if not self.env[model].with_user(owner).check_access_rights("create", raise_exception=False):
                    raise AccessError(_("%(u)s may not create %(m)s records.", u=owner.name, m=model))
                fields_ = self.env[model]._fields
                for field_name in action._mapping():
                    if field_name not in fields_:
                        raise ValidationError(_("%(m)s has no field %(f)s.", m=model, f=field_name))

    def _check_users_see(self, users, accounts):
        """Refuse users who cannot see every one of ``accounts`` (Mailbox Admins see all)."""
        for user in users:
            if user.has_group("maildesk_mail_client.group_maildesk_admin"):
                continue
            for account in accounts:
                if user not in account.owner_id | account.user_ids:
                    raise ValidationError(_("%(u)s cannot see the mailbox %(a)s.", u=user.name, a=account.name))

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records._check_targets()
        return records

    def write(self, vals):
        result = super().write(vals)
        self._check_targets()
        return result
