"""Escalations that fired: one row per conversation, wait (gap) and level, never twice.

Notification: an in-app toast on the Odoo bus to each recipient, this log (shown in the
cockpit's drawer) and, when Odoo's ``mail`` app is installed (the addons do not depend on it:
``'mail.activity' in env``), a To-Do activity on the conversation for each recipient, due today
(their systray's activity menu; ``maildesk.thread`` answers the systray's ``activity_user_id``
domain, see ``models/maildesk_thread.py``). Without ``mail`` the log is the durable record.
"""
from odoo import _, fields, models

from .maildesk_cockpit import send_notifications, user_notifications


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
        activities, notifications = [], []
        for users, thread_id, level in notes:
            thread = threads[thread_id]
            when = _("at breach") if level.trigger == "after_due" and not level.minutes else (
                _("%s%% of the SLA time used", int(level.percent)) if level.trigger == "percent"
                else _("%s min after breach", int(level.minutes)))
            title = _("SLA escalation: %s", thread.subject or _("(no subject)"))
            text = _("%(policy)s, %(when)s (mailbox %(mailbox)s).", policy=level.policy_id.name, when=when,
                     mailbox=thread.account_id.name)
            notifications += user_notifications(users, title, text, kind="warning")
            activities += [(user, thread, title, text) for user in users.filtered("active")]
        send_notifications(self.env, notifications)
        self._schedule_activities(activities)
        return len(vals_list)

    def _schedule_activities(self, activities):
        """A To-Do activity per (user, conversation) when ``mail`` is installed; nothing otherwise."""
        if not activities or "mail.activity" not in self.env:
            return
        todo = self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False)
        model_id = self.env["ir.model"]._get_id("maildesk.thread")
        vals_list = [{
            "res_model_id": model_id, "res_id": thread.id, "user_id": user.id,
            "activity_type_id": todo.id if todo else False, "summary": title[:255], "note": text,
            "date_deadline": fields.Date.context_today(user.with_user(user)),
        } for user, thread, title, text in activities]
        # sudo: the escalation is the system's, its recipients were chosen by the policy.
        # mail_activity_quick_update: no "assigned to you" e-mail (a conversation is no mail.thread
        # to send it from); the bus toast above is the in-app message.
        self.env["mail.activity"].sudo().with_context(mail_activity_quick_update=True).create(vals_list)
