"""Run log: one line per rule that acted on a message or conversation (or failed on it).

A match whose actions all had nothing to do (the tag was already there...) writes no line.
Lines are written by the system in one COPY per batch (``maildesk.rule._insert_logs``);
users read the lines of the mailboxes they see. ``trigger_key`` makes time triggers fire
once per situation (the no-reply rule once per unanswered incoming message, the idle rule
once per quiet period).

Cheap to write: a busy mailbox with broad rules writes several lines per message, inside
the sync's transaction. The rule, mailbox, conversation and message are plain integer
columns (``*_ref``) without foreign keys, and only the rule's is indexed: each foreign key
is a lookup per inserted line, and the seven the model had (with ``create_uid`` /
``write_uid`` and a stored company) made the INSERT cost more than the rules themselves.
``rule_id``, ``account_id``, ``thread_id`` and ``message_id`` are the same references as
records, computed (a deleted conversation or message shows empty, as ``set null`` did) and
searchable, so views, filters and record rules use them as before. Deleting a rule or a
mailbox deletes its lines (``_unlink_for``), as the cascade did.
"""
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import Query

RUN_LOG_RETENTION_DAYS = 90
NEGATIVE = {"!=": "=", "not ilike": "ilike", "not like": "like", "not in": "in", "not =ilike": "=ilike",
            "not =like": "=like"}


class MaildeskRuleRun(models.Model):
    _name = "maildesk.rule.run"
    _description = "Mail Automation Run"
    _order = "id desc"
    _log_access = False  # no create_uid / write_uid foreign keys: lines are written by the system

    create_date = fields.Datetime("When", readonly=True, default=fields.Datetime.now)
    rule_ref = fields.Integer("Rule ID", readonly=True, index=True)
    rule_name = fields.Char("Rule Name", readonly=True, help="The rule's name when it ran (grouping).")
    account_ref = fields.Integer("Mailbox ID", readonly=True)
    thread_ref = fields.Integer("Conversation ID", readonly=True)
    message_ref = fields.Integer("Message ID", readonly=True)
    rule_id = fields.Many2one("maildesk.rule", "Rule", compute="_compute_refs", search="_search_rule_id")
    account_id = fields.Many2one("maildesk.account", "Mailbox", compute="_compute_refs",
                                 search="_search_account_id")
    company_id = fields.Many2one(related="account_id.company_id")
    thread_id = fields.Many2one("maildesk.thread", "Conversation", compute="_compute_refs",
                                search="_search_thread_id")
    message_id = fields.Many2one("maildesk.message", "Message", compute="_compute_refs",
                                 search="_search_message_id")
    trigger = fields.Char(readonly=True)
    subject = fields.Char(readonly=True)
    matched = fields.Text("Conditions Matched", readonly=True)
    actions_done = fields.Text("Actions", readonly=True)
    duration_ms = fields.Float("Duration (ms)", readonly=True, digits=(16, 3))
    dry_run = fields.Boolean("Dry Run", readonly=True)
    # Partial indexes (rows with a value only): most lines have neither, and every index is
    # paid on each of the many lines a batch writes.
    dry_run_id = fields.Integer("Dry Run Wizard", readonly=True, index="btree_not_null",
                                help="The dry-run wizard row that wrote this line.")
    state = fields.Selection([("done", "Done"), ("error", "Error")], default="done", readonly=True)
    error = fields.Text(readonly=True)
    trigger_key = fields.Char(index="btree_not_null", readonly=True)

    _REFS = {"rule_id": ("rule_ref", "maildesk.rule"), "account_id": ("account_ref", "maildesk.account"),
             "thread_id": ("thread_ref", "maildesk.thread"), "message_id": ("message_ref", "maildesk.message")}

    @api.depends("rule_ref", "account_ref", "thread_ref", "message_ref")
    def _compute_refs(self):
        for name, (ref, model) in self._REFS.items():
            # exists(): a deleted conversation or message (or a rule mid-deletion) shows empty.
            alive = set(self.env[model].browse({line[ref] for line in self if line[ref]}).exists().ids)
            for line in self:
                line[name] = self.env[model].browse(line[ref] if line[ref] in alive else [])

    def _search_ref(self, name, operator, value):
        """Search a computed reference like a many2one: by id(s), emptiness, name or sub-domain."""
        ref, model = self._REFS[name]
        if operator in ("any", "not any"):  # a path ("account_id.owner_id") or a sub-domain
            # As Odoo searches a stored many2one's sub-domain: archived records included.
            found = self.env[model].with_context(active_test=False)._search(value)
            if operator == "any":
                return [(ref, "in", found)]
            return ["|", (ref, "not in", found), (ref, "=", False)]
        if isinstance(value, models.BaseModel):
            value = value.ids
        if isinstance(value, Query) or value is False or value is None or isinstance(value, int) or (
                isinstance(value, (list, tuple)) and all(isinstance(v, int) or v is False for v in value)):
            return [(ref, operator, value)]
        # A name (or names), as a many2one searches: the record's name search, then by id.
        Model = self.env[model]
        positive = NEGATIVE.get(operator, operator)
        if isinstance(value, (list, tuple)):
            found = [i for name_ in value for i in Model._name_search(name_, [], "=", limit=None)]
        else:
            found = Model._name_search(value, [], positive, limit=None)
        return [(ref, "not in" if operator in NEGATIVE else "in", found)]

    def _search_rule_id(self, operator, value):
        return self._search_ref("rule_id", operator, value)

    def _search_account_id(self, operator, value):
        return self._search_ref("account_id", operator, value)

    def _search_thread_id(self, operator, value):
        return self._search_ref("thread_id", operator, value)

    def _search_message_id(self, operator, value):
        return self._search_ref("message_id", operator, value)

    @api.model
    def _unlink_for(self, ref, ids):
        """Delete the lines of deleted rules or mailboxes (what ``ondelete=cascade`` did)."""
        if ids:
            self.env.cr.execute(f"DELETE FROM maildesk_rule_run WHERE {ref} = ANY(%s)",  # noqa: S608 - fixed names
                                [list(ids)])
            self.invalidate_model()

    @api.model
    def _cron_cleanup(self):
        limit = fields.Datetime.now() - timedelta(days=RUN_LOG_RETENTION_DAYS)
        self.sudo().search([("create_date", "<", limit), ("trigger_key", "=", False)]).unlink()
        # Dry-run lines only serve the wizard that showed them.
        self.sudo().search([("dry_run", "=", True),
                            ("create_date", "<", fields.Datetime.now() - timedelta(days=1))]).unlink()


class MaildeskRuleReply(models.Model):
    """When an auto-reply action last answered a sender (RFC 3834: once per N days)."""
    _name = "maildesk.rule.reply"
    _description = "Mail Automation Auto-Reply Memory"

    action_id = fields.Many2one("maildesk.rule.action", required=True, ondelete="cascade", index=True)
    address = fields.Char(required=True, index=True)
    sent_at = fields.Datetime(required=True)

    _sql_constraints = [("action_address_uniq", "unique(action_id, address)", "One line per sender and action.")]


class MaildeskThreadRecord(models.Model):
    """A record a rule created for a conversation: one per conversation and model."""
    _name = "maildesk.thread.record"
    _description = "Record created from a conversation"

    thread_id = fields.Many2one("maildesk.thread", required=True, ondelete="cascade", index=True)
    account_id = fields.Many2one(related="thread_id.account_id", store=True)
    res_model = fields.Char(required=True)
    res_id = fields.Many2oneReference(model_field="res_model", required=True)
    rule_id = fields.Many2one("maildesk.rule", ondelete="set null")
    name = fields.Char(compute="_compute_name")

    _sql_constraints = [("thread_model_uniq", "unique(thread_id, res_model)",
                         "A conversation gets one record per model.")]

    def _compute_name(self):
        for link in self:
            record = self.env[link.res_model].browse(link.res_id) if link.res_model in self.env else None
            link.name = record.sudo().display_name if record and record.exists() else f"{link.res_model},{link.res_id}"

    def action_open(self):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "res_model": self.res_model, "res_id": self.res_id,
                "view_mode": "form"}
