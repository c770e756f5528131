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
from .maildesk_bulk import bulk_create


class MaildeskThread(models.Model):
    _name = "maildesk.thread"
    _inherit = ["maildesk.guard.mixin"]
    _description = "Mail Conversation"
    _order = "last_message_at desc, id desc"

    account_id = fields.Many2one("maildesk.account", required=True, ondelete="cascade", index=True)
    # Computed, not related: the value the ingest passes goes into the INSERT (see maildesk.message).
    company_id = fields.Many2one("res.company", compute="_compute_company_id", store=True, readonly=False,
                                 precompute=True)
    subject = fields.Char()
    normalized_subject = fields.Char(index=True)
    provider_thread_id = fields.Char()  # indexed with the mailbox, see init()
    message_ids = fields.One2many("maildesk.message", "thread_id")
    # Summary of the messages, kept by ``_refresh_summary`` (one UPDATE per batch).
    last_message_at = fields.Datetime(readonly=True, index=True)
    participants = fields.Char(readonly=True)
    message_count = fields.Integer(readonly=True)
    unread_count = fields.Integer(readonly=True)
    is_starred = fields.Boolean(readonly=True)
    has_attachments = fields.Boolean(readonly=True)
    snippet = fields.Char(readonly=True)

    # Everything here is derived from the mail by the sync: no user writes a conversation.
    _md_user_fields = ()

    def init(self):
        # A provider's conversation id is looked up within its mailbox (threading at ingest) and
        # is empty for IMAP: the index holds the rows that have one (it replaces the field's own).
        self.env.cr.execute("DROP INDEX IF EXISTS maildesk_thread__provider_thread_id_index")
        self.env.cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_thread_provider_thread_idx ON maildesk_thread
                                   (account_id, provider_thread_id) WHERE provider_thread_id IS NOT NULL""")

    @api.depends("account_id.company_id")
    def _compute_company_id(self):
        for thread in self:
            thread.company_id = thread.account_id.company_id

    def _refresh_summary(self):
        """Recompute the summary columns of these threads from their messages.

        Raw SQL: a stored compute flushes one UPDATE per thread (1,500 per initial
        batch measured); this is one statement per batch. It only aggregates the given
        threads' own messages and returns nothing to the caller.
        """
        ids = [i for i in self.ids if i]
        if not ids:
            return
        self.env["maildesk.message"].flush_model()
        self.flush_recordset()
        # The aggregate is driven from maildesk_message filtered on thread_id, so the planner
        # takes the thread_id index even before the table was ever analyzed (a join from
        # maildesk_thread picked a sequential scan of all messages on every batch).
        self.env.cr.execute("""
            UPDATE maildesk_thread t
               SET last_message_at = s.last_at, message_count = coalesce(s.total, 0),
                   unread_count = coalesce(s.unread, 0), is_starred = coalesce(s.starred, false),
                   has_attachments = coalesce(s.files, false), snippet = s.snippet,
                   participants = s.people
              FROM unnest(%s::int[]) AS ids(id)
              LEFT JOIN (SELECT m.thread_id, max(m.date) AS last_at, count(*) AS total,
                                count(*) FILTER (WHERE NOT coalesce(m.is_read, false)) AS unread,
                                bool_or(m.is_starred) AS starred, bool_or(m.has_attachments) AS files,
                                (array_agg(m.snippet ORDER BY m.date DESC NULLS LAST, m.id DESC))[1] AS snippet,
                                array_to_string((array_agg(DISTINCT coalesce(
                                    nullif(trim(both '" ' from split_part(m.email_from, '<', 1)), ''),
                                    m.email_from)))[1:5], ', ') AS people
                           FROM maildesk_message m
                          WHERE m.thread_id = ANY(%s)
                          GROUP BY m.thread_id) s ON s.thread_id = ids.id
             WHERE t.id = ids.id
        """, (ids, ids))
        self.invalidate_recordset(["last_message_at", "message_count", "unread_count", "is_starred",
                                   "has_attachments", "snippet", "participants"])

    def _drop_if_empty(self):
        """Conversations whose last message went away disappear with it."""
        self.exists().filtered(lambda t: not t.message_count).unlink()

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
        to_create = []  # (indexes, vals): one create() for all new conversations of the batch
        merged_into = {}  # thread id folded away by an earlier group of this batch -> its target
        pending = []  # folded thread ids not stored yet: folded together, once (see _fold)

        def alive(thread_id):
            while thread_id in merged_into:
                thread_id = merged_into[thread_id]
            return thread_id

        def fold_pending():
            # Before anything reads threads again (the subject fallback, the end of the batch),
            # so what it reads is what folding each group at once would have left.
            if pending:
                self._fold({thread_id: alive(thread_id) for thread_id in pending})
                pending.clear()

        for indexes in members.values():
            found = set()
            for i in indexes:
                k = keys[i]
                for mid in [k.message_id] + list(k.parent_ids):
                    found |= by_mid.get(mid, set())
                found |= by_parent.get(k.message_id, set())
                found |= by_hint.get(items[i][2], set())
            if not found:
                found = self._subject_fallback(account, [items[i] for i in indexes], before_search=fold_pending)
            found = {alive(thread_id) for thread_id in found}
            if len(found) > 1:  # several threads are one conversation: the oldest stays
                thread = self.browse(min(found))
                for other in found - {thread.id}:
                    merged_into[other] = thread.id
                    pending.append(other)
            else:  # one found (the common case, no query) or none
                thread = self.browse(sorted(found))
            if not thread:
                first = items[indexes[0]]
                to_create.append((indexes, {
                    "account_id": account.id, "company_id": account.company_id.id,
                    "subject": first[0].get("subject") or "",
                    "normalized_subject": first[1].normalized_subject,
                    "provider_thread_id": first[2] or False}))
                continue
            for i in indexes:
                items[i][0]["thread_id"] = thread.id
                # Later groups of the same batch see this group's thread.
                by_mid.setdefault(keys[i].message_id, set()).add(thread.id)
        fold_pending()
        # The sync's own rows (callers run as superuser): multi-row INSERTs, see maildesk_bulk.
        created = bulk_create(self, [vals for _indexes, vals in to_create])
        for (indexes, _vals), thread in zip(to_create, created):
            for i in indexes:
                items[i][0]["thread_id"] = thread.id

    def _subject_fallback(self, account, group_items, before_search=None):
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
            if before_search:
                before_search()
            thread = self.search(domain, order="last_message_at desc", limit=1)
            if thread:
                return {thread.id}
        return set()

    def _fold(self, targets):
        """Fold conversations found to be one: ``targets`` maps each folded thread id to the id
        of the thread it joins (the oldest). Returns the joined threads.

        All of a batch's folds at once: the messages move, the joined threads' summaries are
        refreshed and the folded threads go, a fixed number of queries however many there are.
        Override it (``super()`` first) to keep derived state of the joined threads.
        """
        if not targets:
            return self.browse()
        self.env["maildesk.message"].sudo()._move_to_threads(targets)
        return self.browse(sorted(set(targets.values()))).exists()
