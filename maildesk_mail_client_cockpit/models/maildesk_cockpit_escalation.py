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
        """Record and notify the (thread, gap, policy, level, assignee, leader) that did not fire yet.

        One INSERT for the batch (``ON CONFLICT DO NOTHING`` on the once-per-wait key: a level
        that fired already, in this run or a concurrent one, is skipped, not an error) and one
        for the recipients; the ORM's create cost 1 ms an escalation (2,100 in a first run at
        1M), its per-record translations and user reads as much again."""
        if not candidates:
            return 0
        levels = self.env["maildesk.sla.level"].browse({c[3] for c in candidates})
        by_level = {level.id: level for level in levels}
        cols, recipients = ([], [], [], []), []
        for thread_id, gap_id, policy_id, level_id, user_id, leader_id in candidates:
            level = by_level[level_id]
            if level.notify == "assignee":
                user_ids = [user_id] if user_id else [leader_id] if leader_id else []
            elif level.notify == "leader":
                user_ids = [leader_id] if leader_id else []
            else:
                user_ids = level.user_ids.ids
            for col, value in zip(cols, (thread_id, gap_id or 0, policy_id, level_id)):
                col.append(value)
            recipients.append(user_ids)
        cr = self.env.cr
        self.flush_model()
        cr.execute("""
            INSERT INTO maildesk_cockpit_escalation (thread_id, account_id, company_id, gap_message_id, policy_id,
                                                     level_id, fired_at, create_uid, create_date, write_uid, write_date)
            SELECT v.thread, t.account_id, t.company_id, v.gap, v.policy, v.level, %(now)s,
                   %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
              FROM unnest(%(thread)s::int[], %(gap)s::int[], %(policy)s::int[], %(level)s::int[])
                   WITH ORDINALITY AS v(thread, gap, policy, level, n)
              JOIN maildesk_thread t ON t.id = v.thread
             ORDER BY v.n
            ON CONFLICT (thread_id, gap_message_id, level_id) DO NOTHING
            RETURNING id, thread_id, gap_message_id, level_id
        """, {"now": now, "uid": self.env.uid, "thread": cols[0], "gap": cols[1], "policy": cols[2],
              "level": cols[3]})
        inserted = {(thread_id, gap_id, level_id): esc_id for esc_id, thread_id, gap_id, level_id in cr.fetchall()}
        todo = []  # (escalation id, recipient ids, thread id, level), in the candidates' order
        for i, user_ids in enumerate(recipients):
            esc_id = inserted.pop((cols[0][i], cols[1][i], cols[3][i]), None)
            if esc_id:  # popped: a candidate listed twice fires once
                todo.append((esc_id, user_ids, cols[0][i], by_level[cols[3][i]]))
        if not todo:
            return 0
        pairs = [(esc_id, uid) for esc_id, user_ids, _t, _l in todo for uid in dict.fromkeys(user_ids)]
        if pairs:
            cr.execute("""INSERT INTO maildesk_cockpit_escalation_res_users_rel
                              (maildesk_cockpit_escalation_id, res_users_id)
                          SELECT * FROM unnest(%s::int[], %s::int[]) ON CONFLICT DO NOTHING""",
                       ([p[0] for p in pairs], [p[1] for p in pairs]))
        self.invalidate_model()
        self._notify(todo)
        return len(todo)

    def _notify(self, todo):
        """The in-app toasts (one bus write) and, with ``mail``, the To-Do activities of fired
        escalations ``(escalation id, recipient ids, thread id, level)``."""
        Users = self.env["res.users"]
        everyone = Users.browse({uid for _e, user_ids, _t, _l in todo for uid in user_ids})
        threads = self.env["maildesk.thread"].browse({t for _e, _u, t, _l in todo})
        # Translated once per batch, formatted per escalation.
        title_of = _("SLA escalation: %s")
        no_subject = _("(no subject)")
        text_of = _("%(policy)s, %(when)s (mailbox %(mailbox)s).")
        when_of = {}
        for level in {level for _e, _u, _t, level in todo}:
            when_of[level] = _("at breach") if level.trigger == "after_due" and not level.minutes else (
                _("%s%% of the SLA time used", int(level.percent)) if level.trigger == "percent"
                else _("%s min after breach", int(level.minutes)))
        activities, notifications = [], []
        for _esc_id, user_ids, thread_id, level in todo:
            thread = threads.browse(thread_id).with_prefetch(threads._prefetch_ids)
            users = Users.browse(user_ids).with_prefetch(everyone._prefetch_ids)
            title = title_of % (thread.subject or no_subject)
            text = text_of % {"policy": level.policy_id.name, "when": when_of[level],
                              "mailbox": thread.account_id.name}
            notifications += user_notifications(users, title, text, kind="warning")
            activities += [(user, thread, title, text) for user in users.filtered("active")]
        send_notifications(self.env, notifications)
        self._schedule_activities(activities)

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
