"""Conversations: messages grouped by Message-ID / In-Reply-To / References (JWZ).

``_assign_threads`` resolves a whole batch in a handful of queries: the engine groups
the batch's messages that belong together (``threads.group_batch``), then each group
joins the thread of any stored message it references or that references it, or the
thread of its provider thread id; threads found to be one conversation are merged.
The normalised subject is only a fallback for reply-looking mail without any thread
header, within ``threads.SUBJECT_WINDOW``.
"""
from odoo import api, fields, models

from ..engine import threads as threading_keys


class MaildeskThread(models.Model):
    _name = "maildesk.thread"
    _description = "Mail Conversation"
    _order = "last_message_at desc, id desc"

    account_id = fields.Many2one("maildesk.account", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="account_id.company_id", store=True)
    subject = fields.Char()
    normalized_subject = fields.Char(index=True)
    provider_thread_id = fields.Char(index=True)
    message_ids = fields.One2many("maildesk.message", "thread_id")
    last_message_at = fields.Datetime(compute="_compute_summary", store=True, index=True)
    participants = fields.Char(compute="_compute_summary", store=True)
    message_count = fields.Integer(compute="_compute_summary", store=True)
    unread_count = fields.Integer(compute="_compute_summary", store=True)
    is_starred = fields.Boolean(compute="_compute_summary", store=True)
    has_attachments = fields.Boolean(compute="_compute_summary", store=True)
    snippet = fields.Char(compute="_compute_summary", store=True)

    @api.depends("message_ids.date", "message_ids.is_read", "message_ids.is_starred",
                 "message_ids.email_from", "message_ids.has_attachments", "message_ids.snippet")
    def _compute_summary(self):
        for thread in self:
            messages = thread.message_ids.sorted(lambda m: (m.date or fields.Datetime.from_string("1970-01-01"), m.id))
            last = messages[-1:] if messages else messages
            thread.last_message_at = last.date if last else False
            thread.message_count = len(messages)
            thread.unread_count = len(messages.filtered(lambda m: not m.is_read))
            thread.is_starred = any(messages.mapped("is_starred"))
            thread.has_attachments = any(messages.mapped("has_attachments"))
            thread.snippet = last.snippet if last else False
            names = []
            for sender in messages.mapped("email_from"):
                name = (sender or "").split("<")[0].strip().strip('"') or sender
                if name and name not in names:
                    names.append(name)
            thread.participants = ", ".join(names[:5])

    @api.model
    def _assign_threads(self, account, items):
        """Set ``thread_id`` in each ``vals`` of ``items`` = [(vals, ThreadKeys, hint)]."""
        if not items:
            return
        Message = self.env["maildesk.message"]
        keys = [item[1] for item in items]
        groups = threading_keys.group_batch(keys)
        ids = set()
        for k in keys:
            ids.add(k.message_id)
            ids.update(k.parent_ids)
        ids.discard(None)
        # Stored messages this batch refers to, or that refer to this batch.
        related = Message.search_read(
            [("account_id", "=", account.id), "|", ("message_id", "in", list(ids)),
             ("in_reply_to", "in", [k.message_id for k in keys])],
            ["message_id", "in_reply_to", "thread_id"])
        by_mid, by_parent = {}, {}
        for row in related:
            if row["thread_id"]:
                by_mid.setdefault(row["message_id"], set()).add(row["thread_id"][0])
                if row["in_reply_to"]:
                    by_parent.setdefault(row["in_reply_to"], set()).add(row["thread_id"][0])
        hints = {item[2] for item in items if item[2]}
        by_hint = {}
        if hints:
            for thread in self.search([("account_id", "=", account.id), ("provider_thread_id", "in", list(hints))]):
                by_hint.setdefault(thread.provider_thread_id, set()).add(thread.id)

        members = {}
        for index, group in enumerate(groups):
            members.setdefault(group, []).append(index)
        for group, indexes in members.items():
            found = set()
            for i in indexes:
                k = keys[i]
                for mid in [k.message_id] + list(k.parent_ids):
                    found |= by_mid.get(mid, set())
                found |= by_parent.get(k.message_id, set())
                found |= by_hint.get(items[i][2], set())
            if not found:
                found = self._subject_fallback(account, [items[i] for i in indexes])
            if found:
                thread = self._merge(self.browse(sorted(found)))
            else:
                first = items[indexes[0]]
                thread = self.create({
                    "account_id": account.id, "subject": first[0].get("subject") or "",
                    "normalized_subject": first[1].normalized_subject,
                    "provider_thread_id": first[2] or False})
            for i in indexes:
                items[i][0]["thread_id"] = thread.id
            # Later groups of the same batch see this group's thread.
            for i in indexes:
                by_mid.setdefault(keys[i].message_id, set()).add(thread.id)

    def _subject_fallback(self, account, group_items):
        for vals, keys, _hint in group_items:
            if keys.has_thread_headers or not keys.normalized_subject:
                continue
            if not threading_keys.is_reply_subject(vals.get("subject") or ""):
                continue
            date = vals.get("date")
            domain = [("account_id", "=", account.id), ("normalized_subject", "=", keys.normalized_subject)]
            if date:
                domain += [("last_message_at", ">=", date - threading_keys.SUBJECT_WINDOW),
                           ("last_message_at", "<=", date + threading_keys.SUBJECT_WINDOW)]
            thread = self.search(domain, order="last_message_at desc", limit=1)
            if thread:
                return {thread.id}
        return set()

    def _merge(self, threads):
        """Fold several threads found to be one conversation into the oldest one."""
        threads = threads.exists()  # an earlier group of the batch may have merged one away
        target = threads[0]
        others = threads[1:]
        if others:
            others.message_ids.write({"thread_id": target.id})
            others.unlink()
        return target
