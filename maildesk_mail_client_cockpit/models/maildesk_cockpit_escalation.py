"""Escalations that fired: one row per conversation, wait (gap) and level, never twice.

Notification: an in-app toast on the Odoo bus to each recipient, and this log (shown in the
cockpit's drawer). The base addons do not depend on ``mail``, so there are no activities:
the log is the durable record.
"""
from odoo import _, fields, models

from .maildesk_cockpit import notify_users


class MaildeskCockpitEscalation(models.Model):
    _name = "maildesk.cockpit.escalation"
    _description = "MailDesk SLA Escalation"
    _order = "fired_at desc, id desc"

    thread_id = fields.Many2one("maildesk.thread", required=True, ondelete="cascade", index=True, readonly=True)
    account_id = fields.Many2one(related="thread_id.account_id", store=True)
    company_id = fields.Many2one(related="thread_id.company_id", store=True)
    gap_message_id = fields.Integer("Wait", readonly=True, help="The message that started the wait.")
    policy_id = fields.Many2one("maildesk.sla.policy", ondelete="set null", readonly=True)
    level_id = fields.Many2one("maildesk.sla.level", ondelete="cascade", readonly=True, required=True)
    user_ids = fields.Many2many("res.users", string="Notified", readonly=True)
    fired_at = fields.Datetime(readonly=True, required=True)

    _sql_constraints = [("once_per_wait", "unique(thread_id, gap_message_id, level_id)",
                         "An escalation level fires once per conversation and wait.")]

    def _fire(self, candidates, now):
        """Record and notify the (thread, gap, policy, level, assignee, leader) that did not fire yet."""
        if not candidates:
            return 0
        cr = self.env.cr
        cr.execute("""SELECT thread_id, gap_message_id, level_id FROM maildesk_cockpit_escalation
                       WHERE thread_id = ANY(%s)""", ([c[0] for c in candidates],))
        done = set(cr.fetchall())
        todo = [c for c in candidates if (c[0], c[1] or 0, c[3]) not in done]
        if not todo:
            return 0
        levels = self.env["maildesk.sla.level"].browse({c[3] for c in todo})
        by_level = {level.id: level for level in levels}
        vals_list, notes = [], []
        for thread_id, gap_id, policy_id, level_id, user_id, leader_id in todo:
            level = by_level[level_id]
            if level.notify == "assignee":
                users = self.env["res.users"].browse([user_id] if user_id else [leader_id] if leader_id else [])
            elif level.notify == "leader":
                users = self.env["res.users"].browse([leader_id] if leader_id else [])
            else:
                users = level.user_ids
            vals_list.append({"thread_id": thread_id, "gap_message_id": gap_id or 0, "policy_id": policy_id,
                              "level_id": level_id, "user_ids": [(6, 0, users.ids)], "fired_at": now})
            notes.append((users, thread_id, level))
        self.create(vals_list)
        threads = {t.id: t for t in self.env["maildesk.thread"].browse({n[1] for n in notes})}
        for users, thread_id, level in notes:
            thread = threads[thread_id]
            when = _("at breach") if level.trigger == "after_due" and not level.minutes else (
                _("%s%% of the SLA time used", int(level.percent)) if level.trigger == "percent"
                else _("%s min after breach", int(level.minutes)))
            notify_users(self.env, users, _("SLA escalation: %s", thread.subject or _("(no subject)")),
                         _("%(policy)s, %(when)s (mailbox %(mailbox)s).", policy=level.policy_id.name, when=when,
                           mailbox=thread.account_id.name), kind="warning", thread_id=thread_id)
        return len(vals_list)
