"""Client API additions: assignee, state and rule note in the list and the reading pane,
"Mine" / "Unassigned" quick filters, assign / take / unassign.

Every method runs as the calling user; assigning goes through ``maildesk.thread.action_assign``
(access rules + the assignee must see the mailbox).
"""
from odoo import _, api, models
from odoo.exceptions import UserError


class MaildeskClient(models.AbstractModel):
    _inherit = "maildesk.client"

    def _message_domain(self, account_id=False, folder_id=False, role=False, filter=False, search=None,
                        partner_id=False):
        extra = []
        if filter == "mine":
            extra, filter = [("thread_id.user_id", "=", self.env.uid)], False
        elif filter == "unassigned":
            extra, filter = [("thread_id.user_id", "=", False)], False
        return super()._message_domain(account_id, folder_id, role, filter, search, partner_id) + extra

    def _thread_rows(self, thread_ids):
        rows = super()._thread_rows(thread_ids)
        if rows:
            # Same ids the base just read (already filtered by the record rules).
            threads = self.env["maildesk.thread"].sudo().browse([r["id"] for r in rows])
            info = {t.id: t for t in threads}
            for row in rows:
                row.update(self._assignment_info(info[row["id"]]))
        return rows

    @api.model
    def get_thread(self, thread_id):
        result = super().get_thread(thread_id)
        thread = self.env["maildesk.thread"].browse(result["thread"]["id"])
        result["thread"].update(self._assignment_info(thread.sudo()))
        return result

    def _assignment_info(self, thread):
        return {"assignee": {"id": thread.user_id.id, "name": thread.user_id.name} if thread.user_id else False,
                "team_name": thread.team_id.name or "", "conversation_state": thread.conversation_state or False,
                "rule_note": thread.rule_note or ""}

    @api.model
    def assign(self, thread_ids, user_id=False):
        """Assign (``user_id``), or unassign (False) conversations; returns nothing."""
        threads = self.env["maildesk.thread"].browse([int(i) for i in thread_ids or []]).exists()
        if not threads:
            raise UserError(_("These conversations no longer exist."))
        threads.action_assign(int(user_id) if user_id else False)
        return True

    @api.model
    def take(self, thread_ids):
        return self.assign(thread_ids, self.env.uid)

    @api.model
    def get_assignees(self, thread_id):
        """Users who may be assigned this conversation: who sees its mailbox, team members first."""
        thread = self.env["maildesk.thread"].browse(int(thread_id)).exists()
        if not thread:
            return []
        thread.check_access_rule("read")
        account = thread.sudo().account_id
        admins = self.env.ref("maildesk_mail_client.group_maildesk_admin").sudo().users
        users = (account.owner_id | account.user_ids | admins).filtered(lambda u: u.active and not u.share)
        team = thread.sudo().team_id.member_ids
        ordered = users.sorted(lambda u: (u not in team, u.name or ""))
        return [{"id": u.id, "name": u.name, "in_team": u in team} for u in ordered]
