"""Automation rules: trigger + conditions + ordered actions, scoped to mailboxes.

Who manages rules: the owner of every mailbox a rule is scoped to, or a Mailbox Admin
(``_check_manager``, enforced in create/write whatever the client sends); members of a
mailbox read its rules. A rule runs as its owner (``user_id``) where Odoo access matters
(creating records), and as the system where it works on mail of its own mailboxes.

Evaluation is the engine's (``engine.rules``); this model turns records into ``RuleSpec``
values (``_to_spec``), compiled once per rule version and cached per registry.
"""
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.tools.safe_eval import safe_eval

from ..engine import rules as engine_rules

TRIGGERS = [
    ("received", "Message received"),
    ("sent", "Message sent"),
    ("no_reply", "No reply from us within N hours"),
    ("idle", "Conversation idle for N days"),
    ("schedule", "On a schedule"),
]
TIME_TRIGGERS = ("no_reply", "idle", "schedule")
# Models a Mailbox User may create records in (when installed); any other model needs Settings rights.
RECORD_MODELS = ("crm.lead", "helpdesk.ticket", "project.task")

_COMPILED = {}  # (dbname, rule id, write_date) -> CompiledRule


class MaildeskRule(models.Model):
    _name = "maildesk.rule"
    _description = "Mail Automation Rule"
    _order = "sequence, id"

    name = fields.Char(required=True)
    sequence = fields.Integer(default=10, help="Rules run in this order (drag them in the list).")
    active = fields.Boolean(default=True)
    trigger = fields.Selection(TRIGGERS, required=True, default="received")
    account_ids = fields.Many2many("maildesk.account", "maildesk_rule_account_rel", "rule_id", "account_id",
                                   string="Mailboxes", required=True)
    user_id = fields.Many2one("res.users", string="Owner", required=True, default=lambda self: self.env.user,
                              readonly=True, help="The rule runs with this user's rights where Odoo access matters.")
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, index=True)
    match_mode = fields.Selection([("all", "All conditions"), ("any", "Any condition")], default="all",
                                  required=True, string="Match")
    condition_ids = fields.One2many("maildesk.rule.condition", "rule_id", string="Conditions", copy=True)
    action_ids = fields.One2many("maildesk.rule.action", "rule_id", string="Actions", copy=True)
    stop_processing = fields.Boolean("Stop processing further rules",
                                     help="When this rule matched a message, later rules are not evaluated for it.")
    delay_hours = fields.Float("Within (hours)", default=4)
    use_business_hours = fields.Boolean("Business hours", default=True,
                                        help="Count only the working hours of the conversation's team.")
    idle_days = fields.Integer("Idle for (days)", default=7)
    interval_number = fields.Integer("Every", default=1)
    interval_type = fields.Selection([("hours", "Hours"), ("days", "Days")], default="days")
    next_run_at = fields.Datetime("Next Run")
    active_from = fields.Datetime(readonly=True, default=fields.Datetime.now, copy=False,
                                  help="Received/sent rules act on mail dated from this moment: history loaded "
                                       "later never fires them.")
    run_count = fields.Integer(compute="_compute_run_count")
    summary = fields.Text(compute="_compute_summary")

    _sql_constraints = [
        ("delay_positive", "CHECK(delay_hours >= 0)", "The delay cannot be negative."),
        ("idle_positive", "CHECK(idle_days >= 0)", "The idle days cannot be negative."),
        ("interval_positive", "CHECK(interval_number > 0)", "The interval must be at least 1."),
    ]

    def _compute_run_count(self):
        groups = self.env["maildesk.rule.run"]._read_group(
            [("rule_ref", "in", self.ids), ("dry_run", "=", False)], ["rule_ref"], ["__count"])
        counts = dict(groups)
        for rule in self:
            rule.run_count = counts.get(rule.id, 0)

    # No dependency on the lines: editing a line must not round-trip the whole rule form
    # (the summary is recomputed whenever the rule is read).
    @api.depends("trigger", "match_mode", "stop_processing", "delay_hours", "idle_days")
    def _compute_summary(self):
        labels = dict(TRIGGERS)
        for rule in self:
            when = labels.get(rule.trigger, "")
            if rule.trigger == "no_reply":
                when = _("No reply from us within %s hours", rule.delay_hours)
            elif rule.trigger == "idle":
                when = _("Idle for %s days", rule.idle_days)
            joiner = _(" and ") if rule.match_mode == "all" else _(" or ")
            conds = joiner.join(rule.condition_ids.mapped("summary")) or _("any message")
            acts = ", ".join(rule.action_ids.mapped("summary")) or _("nothing")
            text = _("When: %(when)s\nIf: %(conds)s\nThen: %(acts)s", when=when, conds=conds, acts=acts)
            if rule.stop_processing:
                text += "\n" + _("Then stop processing further rules.")
            rule.summary = text

    # -- access ----------------------------------------------------------------------------
    def _is_admin(self, user=None):
        return (user or self.env.user).has_group("maildesk_mail_client.group_maildesk_admin")

    def _check_manager(self):
        """Only owners of every scoped mailbox (or Mailbox Admins) create or change a rule."""
        if self.env.su or self._is_admin():
            return
        uid = self.env.uid
        for rule in self.sudo():
            foreign = rule.account_ids.filtered(lambda a: a.owner_id.id != uid)
            if foreign or not rule.account_ids:
                raise AccessError(_("Only the owner of a mailbox or a Mailbox Admin manages its rules "
                                    "(%s).", ", ".join(foreign.mapped("name")) or rule.name))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not self.env.su and not self._is_admin():
                vals["user_id"] = self.env.uid  # never trust an owner sent by the client
            if vals.get("trigger") == "schedule" and not vals.get("next_run_at"):
                vals["next_run_at"] = fields.Datetime.now()
        rules = super().create(vals_list)
        rules._check_manager()
        rules.action_ids._check_targets()
        return rules

    def write(self, vals):
        if not self.env.su and not self._is_admin():
            # The last manager who changes a rule runs it: never the rights of someone else.
            vals["user_id"] = self.env.uid
        self._check_manager()
        if vals.get("active") and not all(self.mapped("active")):
            vals["active_from"] = fields.Datetime.now()
        result = super().write(vals)
        self._check_manager()
        if {"account_ids", "action_ids", "user_id"} & set(vals):
            self.action_ids._check_targets()
        return result

    def unlink(self):
        self._check_manager()
        ids = self.ids
        result = super().unlink()
        # sudo: the run log has no foreign key to cascade (see maildesk.rule.run).
        self.env["maildesk.rule.run"].sudo()._unlink_for("rule_ref", ids)
        return result

    @api.constrains("condition_ids", "match_mode", "trigger")
    def _check_compiles(self):
        for rule in self:
            try:
                engine_rules.compile_rules([rule._to_spec()])
            except engine_rules.RuleError as exc:
                raise ValidationError(str(exc)) from exc

    def _check_line_scope(self, tags=None, folders=None):
        """Refuse a condition or action pointing outside this rule: its owner's own tags only
        (tags are private to their user), folders of the rule's mailboxes only."""
        self.ensure_one()
        rule = self.sudo()
        if tags:
            tags.sudo().with_user(rule.user_id).check_access_rule("read")
        if folders and folders.sudo().account_id - rule.account_ids:
            raise ValidationError(_("The folders of a rule's conditions and actions must belong to its mailboxes: "
                                    "a rule never takes mail out of its mailbox."))

    def _claim(self):
        """A mailbox owner who changes a rule's conditions or actions becomes its owner."""
        self._check_manager()
        if not self.env.su and not self._is_admin():
            self.sudo().filtered(lambda r: r.user_id.id != self.env.uid).write({"user_id": self.env.uid})

    # -- engine values -------------------------------------------------------------------------
    def _to_spec(self):
        self.ensure_one()
        return engine_rules.RuleSpec(
            id=self.id, name=self.name, trigger=self.trigger, match=self.match_mode, stop=self.stop_processing,
            sequence=self.sequence, account_ids=frozenset(self.account_ids.ids),
            conditions=[c._to_spec() for c in self.condition_ids.sorted(lambda c: (c.sequence, c.id))],
            actions=[{"kind": a.kind, "id": a.id} for a in self.action_ids.sorted(lambda a: (a.sequence, a.id))])

    def _compiled(self):
        """Compiled rules in order; one compile per rule version (cached by write_date)."""
        dbname = self.env.cr.dbname
        result = []
        for rule in self.sorted(lambda r: (r.sequence, r.id)):
            key = (dbname, rule.id, rule.write_date, tuple(rule.condition_ids.mapped("write_date")),
                   tuple(rule.action_ids.ids))
            compiled = _COMPILED.get(key)
            if compiled is None:
                if len(_COMPILED) > 5000:
                    _COMPILED.clear()
                compiled = _COMPILED[key] = engine_rules.compile_rules([rule._to_spec()])[0]
            result.append(compiled)
        return result

    # -- actions -------------------------------------------------------------------------------
    def action_open_runs(self):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "res_model": "maildesk.rule.run", "name": _("Run Log"),
                "view_mode": "tree,form", "domain": [("rule_id", "=", self.id)]}

    def action_dry_run(self):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "res_model": "maildesk.rule.dry.run", "view_mode": "form",
                "target": "new", "context": {"default_rule_id": self.id}}

    def _next_schedule(self, now):
        delta = timedelta(hours=self.interval_number) if self.interval_type == "hours" \
            else timedelta(days=self.interval_number)
        return now + delta


CONDITION_KINDS = [
    ("sender", "Sender address"),
    ("sender_domain", "Sender domain"),
    ("to_contains", "To contains"),
    ("cc_contains", "Cc contains"),
    ("subject_contains", "Subject contains"),
    ("subject_regex", "Subject matches regex"),
    ("body_contains", "Body contains"),
    ("body_regex", "Body matches regex"),
    ("has_attachment", "Has an attachment"),
    ("attachment_type", "Attachment type"),
    ("position", "First message / reply"),
    ("state", "Conversation state"),
    ("tags", "Has tag"),
    ("folder", "In folder"),
    ("partner_domain", "Sender's contact matches"),
    ("message_domain", "Message matches domain"),
    ("business_hours", "Business hours"),
    ("security_level", "Security scan level at least"),
    ("auto_generated", "Auto-generated mail"),
]
CHOICES = [
    ("first", "First message"), ("reply", "Reply"),
    ("waiting_for_us", "Waiting for us"), ("waiting_for_them", "Waiting for them"), ("closed", "Closed"),
    ("in", "Inside business hours"), ("out", "Outside business hours"),
    ("low", "Scanned (any level)"), ("medium", "Medium or high risk"), ("high", "High risk"),
]
CHOICES_BY_KIND = {
    "position": ("first", "reply"), "state": ("waiting_for_us", "waiting_for_them", "closed"),
    "business_hours": ("in", "out"), "security_level": ("low", "medium", "high"),
}
TEXT_KINDS = ("sender", "sender_domain", "to_contains", "cc_contains", "subject_contains", "subject_regex",
              "body_contains", "body_regex", "attachment_type")
DOMAIN_KINDS = ("partner_domain", "message_domain")


class MaildeskRuleLineMixin(models.AbstractModel):
    """What conditions and actions share: who may change them, and what they may point at.

    Changing a line is changing its rule: only the rule's managers may, and a mailbox owner
    who does becomes the rule's owner (``maildesk.rule._claim``).
    """
    _name = "maildesk.rule.line.mixin"
    _description = "Mail Automation Rule Line"

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records.rule_id._claim()
        return records

    def write(self, vals):
        self.rule_id._check_manager()
        result = super().write(vals)
        self.rule_id._claim()
        return result

    def unlink(self):
        self.rule_id._check_manager()
        return super().unlink()


class MaildeskRuleCondition(models.Model):
    _name = "maildesk.rule.condition"
    _inherit = "maildesk.rule.line.mixin"
    _description = "Mail Automation Rule Condition"
    _order = "sequence, id"

    rule_id = fields.Many2one("maildesk.rule", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    kind = fields.Selection(CONDITION_KINDS, required=True, default="sender_domain", string="Condition")
    negate = fields.Boolean("Not", help="The condition holds when this test fails.")
    value = fields.Char(help="Comma-separated values; * and ? are wildcards for addresses and domains.")
    choice = fields.Selection(CHOICES)
    tag_ids = fields.Many2many("maildesk.tag", string="Tags")
    folder_ids = fields.Many2many("maildesk.folder", string="Folders")
    domain = fields.Char(default="[]")
    domain_model = fields.Char(compute="_compute_domain_model")
    summary = fields.Char(compute="_compute_summary")

    @api.depends("kind")
    def _compute_domain_model(self):
        for cond in self:
            cond.domain_model = "res.partner" if cond.kind == "partner_domain" else "maildesk.message"

    @api.depends("kind", "negate", "value", "choice", "tag_ids", "folder_ids", "domain")
    def _compute_summary(self):
        kinds, choices = dict(CONDITION_KINDS), dict(CHOICES)
        for cond in self:
            text = kinds.get(cond.kind, "")
            if cond.kind in TEXT_KINDS:
                text += f" “{cond.value or ''}”"
            elif cond.kind in CHOICES_BY_KIND:
                text += f": {choices.get(cond.choice, '?')}"
            elif cond.kind == "tags":
                text += ": " + ", ".join(cond.tag_ids.mapped("name"))
            elif cond.kind == "folder":
                text += ": " + ", ".join(cond.folder_ids.mapped("name"))
            elif cond.kind in DOMAIN_KINDS:
                text += f" {cond.domain}"
            cond.summary = (_("not ") if cond.negate else "") + text

    @api.constrains("kind", "choice", "domain", "folder_ids", "tag_ids")
    def _check_values(self):
        for cond in self:
            allowed = CHOICES_BY_KIND.get(cond.kind)
            if allowed and cond.choice not in allowed:
                raise ValidationError(_("Choose a value for the condition “%s”.", cond.summary))
            if cond.kind in DOMAIN_KINDS:
                try:
                    domain = safe_eval(cond.domain or "[]")
                    self.env[cond.domain_model].sudo().search_count(domain + [("id", "=", 0)])
                except Exception as exc:  # noqa: BLE001 - any parse/field error is a user error here
                    raise ValidationError(_("The domain of “%(c)s” is not valid: %(e)s", c=cond.summary,
                                            e=exc)) from exc
            cond.sudo().rule_id._check_line_scope(tags=cond.sudo().tag_ids, folders=cond.sudo().folder_ids)

    def _to_spec(self):
        spec = {"kind": self.kind, "negate": self.negate}
        if self.kind in TEXT_KINDS:
            spec["value"] = self.value or ""
        elif self.kind == "security_level":
            # "At least": the chosen level and the ones above it (Pro's scan levels, low to high).
            levels = CHOICES_BY_KIND["security_level"]
            spec["value"] = list(levels[levels.index(self.choice):]) if self.choice in levels else []
        elif self.kind in CHOICES_BY_KIND:
            spec["value"] = self.choice or ""
        elif self.kind == "tags":
            spec["ids"] = self.tag_ids.ids
        elif self.kind == "folder":
            spec["ids"] = self.folder_ids.ids
        elif self.kind in DOMAIN_KINDS:
            spec["value"] = self.domain or "[]"
        return spec
