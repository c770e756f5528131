"""Conversation state, assignee and team of a thread (the interface the cockpit reads).

Definitions (also in the addon README, "Conversation state"):

- a *human* message is one that is not auto-generated (``engine.autogen``);
- ``last_incoming_at`` / ``last_outgoing_at``: date of the newest human incoming / outgoing
  message of the conversation;
- ``first_response_at``: date of the oldest human outgoing message dated at or after the
  oldest human incoming message (empty while we never answered, and for conversations we
  started until the other side wrote and we answered that);
- ``conversation_state``: ``closed`` when the conversation was archived or marked done and no
  human message came after that; otherwise ``waiting_for_us`` when the newest human message
  is incoming, ``waiting_for_them`` when it is outgoing; empty when it has no human message;
- ``is_noise``: the conversation has messages and none of them is human.

All of it is recomputed in one SQL statement per stored batch (``_refresh_conversation_state``)
from the ``maildesk.message._on_messages_stored`` hook, and when threads merge or close.
"""
from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

OPEN_STATES = ("waiting_for_us", "waiting_for_them")
STATE_FIELDS = ["last_incoming_at", "last_outgoing_at", "first_response_at", "conversation_state",
                "is_noise", "is_closed", "closed_at"]


class MaildeskThread(models.Model):
    _inherit = "maildesk.thread"

    user_id = fields.Many2one("res.users", string="Assignee", index=True, ondelete="set null",
                              domain=[("share", "=", False)])
    team_id = fields.Many2one("maildesk.team", string="Team", index=True, ondelete="set null")
    is_noise = fields.Boolean("Noise", readonly=True,  # partial index, see init()
                              help="Only auto-generated mail (newsletters, notifications, auto-replies).")
    conversation_state = fields.Selection(
        [("waiting_for_us", "Waiting for us"), ("waiting_for_them", "Waiting for them"), ("closed", "Closed")],
        readonly=True, index=True)
    last_incoming_at = fields.Datetime("Last Incoming", readonly=True)
    last_outgoing_at = fields.Datetime("Last Outgoing", readonly=True)
    first_response_at = fields.Datetime("First Response", readonly=True)
    is_closed = fields.Boolean("Done", readonly=True, copy=False)
    closed_at = fields.Datetime(readonly=True, copy=False)
    record_ids = fields.One2many("maildesk.thread.record", "thread_id", string="Linked Records")
    rule_note = fields.Char("Set by Rule", readonly=True,
                            help="Which rule last tagged, moved or assigned this conversation.")

    def init(self):
        super().init()  # one init() per model: the class highest in the MRO runs, it calls the rest
        # Noise is rare and looked up as noise: a partial index, not an entry per conversation in
        # one for the flag (each conversation write that is no HOT update adds one).
        self.env.cr.execute("DROP INDEX IF EXISTS maildesk_thread__is_noise_index")
        self.env.cr.execute("CREATE INDEX IF NOT EXISTS maildesk_thread_is_noise_idx ON maildesk_thread (id) "
                            "WHERE is_noise")

    @api.constrains("user_id", "account_id")
    def _check_assignee_sees_mailbox(self):
        admins = self.env.ref("maildesk_mail_client.group_maildesk_admin").users
        for thread in self.sudo():
            user = thread.user_id
            if not user or user in admins:
                continue
            account = thread.account_id
            if user != account.owner_id and user not in account.user_ids:
                raise ValidationError(_("%(user)s cannot see the mailbox %(account)s and so cannot be assigned "
                                        "its conversations.", user=user.name, account=account.name))

    # -- actions ----------------------------------------------------------------------------
    def _check_can_work(self):
        """Everyone who sees a conversation's mailbox may assign, take, close or reopen it."""
        self.check_access_rights("read")
        self.check_access_rule("read")

    def action_assign(self, user_id):
        """Assign these conversations to ``user_id`` (False unassigns)."""
        self._check_can_work()
        # sudo: the base gives users no write on conversations (derived data); this writes only
        # the assignee, checked by _check_assignee_sees_mailbox.
        self.sudo().write({"user_id": int(user_id) if user_id else False})
        return True

    def action_take(self):
        return self.action_assign(self.env.uid)

    def action_unassign(self):
        return self.action_assign(False)

    def action_close(self):
        """Mark done: the conversation is closed until a new human message comes."""
        self._check_can_work()
        # sudo: state columns are readonly derived data; access was checked above.
        self.sudo().write({"is_closed": True, "closed_at": fields.Datetime.now()})
        self.sudo()._refresh_conversation_state()
        return True

    def action_reopen(self):
        self._check_can_work()
        self.sudo().write({"is_closed": False, "closed_at": False})  # sudo: as in action_close
        self.sudo()._refresh_conversation_state()
        return True

    # -- state ------------------------------------------------------------------------------
    def _fold(self, targets):
        joined = super()._fold(targets)
        joined._refresh_conversation_state()
        return joined

    def _refresh_conversation_state(self):
        """Recompute the conversation state columns of these threads (one statement).

        Raw SQL for the same reason as ``_refresh_summary``: one UPDATE per batch instead of
        one per thread. Only the given threads' own messages are read. A closed thread
        reopens when a human message is dated after ``closed_at``.
        """
        ids = [i for i in self.ids if i]
        if not ids:
            return
        self.env["maildesk.message"].flush_model()
        self.flush_recordset()
        self.env.cr.execute("""
            WITH s AS (
                SELECT ids.id AS thread_id,
                       max(m.date) FILTER (WHERE NOT m.is_auto_generated AND m.direction = 'incoming') AS last_in,
                       max(m.date) FILTER (WHERE NOT m.is_auto_generated AND m.direction = 'outgoing') AS last_out,
                       min(m.date) FILTER (WHERE NOT m.is_auto_generated AND m.direction = 'incoming') AS first_in,
                       count(m.id) AS total,
                       count(m.id) FILTER (WHERE NOT m.is_auto_generated) AS human
                  FROM unnest(%s::int[]) AS ids(id)
                  LEFT JOIN maildesk_message m ON m.thread_id = ids.id
                 GROUP BY ids.id
            ), f AS (
                SELECT s.*, (SELECT min(m.date) FROM maildesk_message m
                              WHERE m.thread_id = s.thread_id AND NOT m.is_auto_generated
                                AND m.direction = 'outgoing' AND m.date >= s.first_in) AS first_out
                  FROM s
            )
            UPDATE maildesk_thread t
               SET last_incoming_at = f.last_in, last_outgoing_at = f.last_out, first_response_at = f.first_out,
                   is_noise = (f.total > 0 AND f.human = 0),
                   is_closed = t.is_closed AND NOT coalesce(greatest(f.last_in, f.last_out) > t.closed_at, false),
                   closed_at = CASE WHEN t.is_closed
                                     AND NOT coalesce(greatest(f.last_in, f.last_out) > t.closed_at, false)
                                    THEN t.closed_at END,
                   conversation_state = CASE
                       WHEN t.is_closed AND NOT coalesce(greatest(f.last_in, f.last_out) > t.closed_at, false)
                           THEN 'closed'
                       WHEN f.last_in IS NOT NULL AND (f.last_out IS NULL OR f.last_in > f.last_out)
                           THEN 'waiting_for_us'
                       WHEN f.last_out IS NOT NULL THEN 'waiting_for_them'
                   END
              FROM f
             WHERE t.id = f.thread_id
        """, (ids,))
        self.invalidate_recordset(STATE_FIELDS)

    def _set_default_teams(self):
        """Threads without a team get the first active team of their mailbox."""
        todo = self.filtered(lambda t: not t.team_id)
        if not todo:
            return
        by_account = self._default_teams(todo.account_id.ids)
        groups = {}
        for thread in todo:
            team_id = by_account.get(thread.account_id.id)
            if team_id:
                groups.setdefault(team_id, []).append(thread.id)
        for team_id, thread_ids in groups.items():
            self.browse(thread_ids).write({"team_id": team_id})

    @api.model
    def _default_teams(self, account_ids):
        """{mailbox id: id of its first active team}: the team a new conversation gets."""
        teams = self.env["maildesk.team"].sudo().search([("account_ids", "in", list(account_ids))])
        by_account = {}
        for team in teams:  # ordered by sequence: the first wins
            for account in team.account_ids:
                by_account.setdefault(account.id, team.id)
        return by_account
