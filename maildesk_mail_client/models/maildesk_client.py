"""The server API of the mailbox web client (static/src/core/maildesk_store.js).

Every method runs as the calling user: what a Mailbox User may see is decided by the record
rules of account / folder / thread / message, never here. Lists are built with one
aggregate query over the rule-filtered messages (``_visible_query``), so a folder of
100,000 messages pages as fast as a small one (tests/bench/bench_client.py).
"""
import re

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, email_normalize

from .maildesk_outbox import MAX_SEND_DELAY

PAGE_LIMIT = 200
SEARCH_COUNT_WINDOW = 1000  # full-text hits counted past the requested page
FILTERS = {
    "unread": [("is_read", "=", False)],
    "starred": [("is_starred", "=", True)],
    "incoming": [("direction", "=", "incoming")],
    "outgoing": [("direction", "=", "outgoing")],
    "attachments": [("has_attachments", "=", True)],
}
_WORD = re.compile(r"\w+", re.UNICODE)
# A whole address as people type it; the search column holds it as one word (and in parts).
_ADDRESS = re.compile(r"^[\w.+-]+@[\w-]+(?:\.[\w-]+)+$", re.UNICODE)
# Gmail-style operators in the search box: from:ann@x.org to:"Bob Lee" subject:invoice
_OPERATOR = re.compile(r'(?i)(?<!\S)(from|to|cc|subject):\s*("[^"]*"|\S+)')


def _dt(value):
    return fields.Datetime.to_string(value) if value else False


class MaildeskClient(models.AbstractModel):
    _name = "maildesk.client"
    _description = "MailDesk web client API"

    # -- mailboxes ------------------------------------------------------------------------
    @api.model
    def get_mailboxes(self):
        """Accounts with folders and unread counts, tags, the unified inbox count.

        Every unread count is a number of conversations with at least one unread message
        (in that folder), the unit the thread list counts in.
        """
        accounts = self.env["maildesk.account"].search([])
        folders = self.env["maildesk.folder"].search([("account_id", "in", accounts.ids)])
        unread = self._unread_by_folder(folders)
        drafts = self._local_drafts_by_account(accounts)
        inbox_ids = set(folders.filtered(lambda f: f.role == "inbox").ids)
        counts = self._message_counts(folders)
        by_account = {}
        for folder in folders.sorted(lambda f: (f.sequence, f.name)):
            by_account.setdefault(folder.account_id.id, []).append({
                "id": folder.id, "name": folder._label(), "role": folder.role, "account_id": folder.account_id.id,
                "parent_id": folder.parent_id.id, "unread_count": unread.get(folder.id, 0),
                # The user's autosaved drafts live in Odoo; they are listed in this folder.
                "draft_count": drafts.get(folder.account_id.id, 0) if folder.role == "drafts" else 0,
                "selectable": folder.selectable, "sync_state": folder.sync_state})
        pending = dict(self.env["maildesk.pending.action"].sudo()._read_group(
            [("account_id", "in", accounts.ids), ("state", "=", "pending")], ["account_id"], ["__count"]))
        result = []
        is_admin = self.env.user.has_group("maildesk_mail_client.group_maildesk_admin")
        for account in accounts:
            account_folders = by_account.get(account.id, [])
            result.append({
                "id": account.id, "name": account.name, "email": account.email, "provider": account.provider,
                "is_shared": account.is_shared, "state": account.state,
                "unread_count": sum(f["unread_count"] for f in account_folders if f["id"] in inbox_ids),
                "last_sync_at": _dt(account.last_sync_at), "sync_error": account.sync_error or False,
                "sync": self._sync_status(account, account_folders, counts),
                "realtime_mode": account.realtime_mode,  # polling | idle | push
                # Changes made while the server was unreachable, waiting to be replayed.
                "pending_count": pending.get(account, 0),
                "folders": account_folders,
                # The gear opens the settings (owner, admins) or a read-only card (members).
                "can_manage": is_admin or account.owner_id == self.env.user,
            })
        return {
            "accounts": result,
            "tags": self.env["maildesk.tag"].search_read([], ["name", "color"]),
            "unified": {"unread_count": sum(unread.get(i, 0) for i in inbox_ids)},
        }

    def _local_drafts_by_account(self, accounts):
        """How many autosaved drafts the user has per mailbox (their own only: record rule)."""
        groups = self.env["maildesk.draft"]._read_group(
            [("account_id", "in", accounts.ids), ("id", "not in", self.env["maildesk.outbox"]._draft_ids_in_outbox())],
            ["account_id"], ["__count"])
        return {account.id: count for account, count in groups}

    def _local_drafts(self, account_id=False, folder_id=False, role=False):
        """The user's autosaved drafts shown at the top of a Drafts folder (else none)."""
        domain = []
        if folder_id:
            folder = self.env["maildesk.folder"].browse(int(folder_id)).exists()
            if not folder or folder.role != "drafts":
                return []
            domain = [("account_id", "=", folder.account_id.id)]
        elif role != "drafts":
            return []
        if account_id:
            domain.append(("account_id", "=", int(account_id)))
        domain.append(("id", "not in", self.env["maildesk.outbox"]._draft_ids_in_outbox()))
        drafts = self.env["maildesk.draft"].search(domain, order="write_date desc", limit=PAGE_LIMIT)
        return [{"draft_id": d.id, "subject": d.subject or "", "to": d.email_to or "", "date": _dt(d.write_date),
                 "snippet": (d._snippet() or "")[:200], "account_id": d.account_id.id,
                 "account_name": d.account_id.name, "mode": d.mode} for d in drafts]

    def _unread_by_folder(self, folders):
        """Unread conversations per folder (not messages: the list counts conversations)."""
        if not folders:
            return {}
        groups = self.env["maildesk.message"]._read_group(
            [("folder_id", "in", folders.ids), ("is_read", "=", False)], ["folder_id"], ["thread_id:count_distinct"])
        return {folder.id: count for folder, count in groups}

    @api.model
    def _account_status(self, account):
        """What the folder pane shows under a mailbox; also sent on the bus after every sync."""
        records = account.folder_ids
        folders = [{"id": f.id, "sync_state": f.sync_state, "selectable": f.selectable} for f in records]
        return {"id": account.id, "state": account.state, "last_sync_at": _dt(account.last_sync_at),
                "sync_error": account.sync_error or False, "realtime_mode": account.realtime_mode,
                "sync": self._sync_status(account, folders, self._message_counts(records))}

    def _message_counts(self, folders):
        """Messages stored per folder, for the progress of a running first sync / backfill."""
        if not folders:
            return {}
        # sudo: a count over folders the user may see (already rule-filtered above).
        groups = self.env["maildesk.message"].sudo()._read_group(
            [("folder_id", "in", folders.ids)], ["folder_id"], ["__count"])
        return {folder.id: count for folder, count in groups}

    def _sync_status(self, account, folders, counts=None):
        """What the client shows under an account: running phase, progress, error.

        Progress is messages stored / messages to store: each folder's server count (from
        its sync cursor) bounded by the mailbox's history limit. A provider that does not
        report a count falls back to the share of folders that are up to date.
        """
        counts = counts or {}
        selectable = [f for f in folders if f["selectable"]]
        states = [f["sync_state"] for f in selectable]
        phase = "error" if account.state in ("error", "needs_reauth") else (
            "initial" if {"new", "bootstrap"} & set(states) else "backfill" if "backfill" in states else "idle")
        progress = 100
        if phase in ("initial", "backfill") and selectable:
            limit = account._get_sync_options().history_limit()
            cursors = {f.id: f.sync_cursor or {} for f in self.env["maildesk.folder"].sudo().browse(
                [f["id"] for f in selectable])}
            have = want = 0
            for folder in selectable:
                stored = counts.get(folder["id"], 0)
                total = cursors[folder["id"]].get("messages")
                if folder["sync_state"] == "synced":
                    total = stored
                elif not isinstance(total, int):
                    want = None
                    break
                total = min(total, limit) if limit is not None else total
                have += min(stored, total)
                want += total
            if want is None:
                done = sum(1 for s in states if s == "synced")
                progress = int(100 * done / len(states))
            else:
                progress = int(100 * have / want) if want else 100
            progress = min(progress, 99)  # 100 % only once every folder is up to date
        return {"running": phase in ("initial", "backfill"), "phase": phase, "progress": progress,
                "error": account.sync_error or False, "last_sync_at": _dt(account.last_sync_at)}

    # -- thread list ----------------------------------------------------------------------
    def _message_domain(self, account_id=False, folder_id=False, role=False, filter=False, search=None,
                        partner_id=False):
        domain = []
        if folder_id:
            domain.append(("folder_id", "=", folder_id))
        elif role:
            domain.append(("folder_id.role", "=", role))
        if account_id:
            domain.append(("account_id", "=", account_id))
        if filter:
            domain += FILTERS.get(filter, [])
        if partner_id:
            domain.append(("partner_id", "=", partner_id))
        search = search or {}
        for key, field in (("from", "email_from"), ("to", "email_to"), ("cc", "email_cc"), ("subject", "subject")):
            if search.get(key):
                domain.append((field, "ilike", str(search[key]).strip()))
        if search.get("date_from"):
            domain.append(("date", ">=", search["date_from"]))
        if search.get("date_to"):
            domain.append(("date", "<=", f"{search['date_to']} 23:59:59" if len(search["date_to"]) == 10
                           else search["date_to"]))
        if search.get("tag_ids"):
            domain.append(("tag_ids", "in", list(search["tag_ids"])))
        if search.get("folder_id"):
            domain.append(("folder_id", "=", search["folder_id"]))
        if search.get("account_id"):
            domain.append(("account_id", "=", search["account_id"]))
        return domain

    def _visible_query(self, domain, search=None):
        """The rule-filtered message query, plus full-text conditions."""
        Message = self.env["maildesk.message"]
        Message.check_access_rights("read")
        self.env.flush_all()  # the raw queries below must see this request's own writes
        query = Message._where_calc(domain)
        Message._apply_ir_rules(query, "read")
        search = search or {}
        for key in ("text", "body"):
            tsquery = self._tsquery(search.get(key))
            if tsquery:
                # The stored, GIN-indexed column of maildesk.message (see its init()); the
                # query loses its accents like the column did.
                query.add_where(SQL(
                    "maildesk_message.search_vector @@ to_tsquery('simple', maildesk_unaccent(%s))", tsquery))
        return query

    @staticmethod
    def _parse_search(search):
        """Move ``from:`` / ``to:`` / ``cc:`` / ``subject:`` out of the typed text into fields.

        ``{"text": 'from:ann@x.org invoice'}`` -> ``{"from": "ann@x.org", "text": "invoice"}``;
        a value already given in its own field wins.
        """
        search = dict(search or {})
        text = search.get("text") or ""
        if ":" not in text:
            return search
        for key, value in _OPERATOR.findall(text):
            key = key.lower()
            if not search.get(key):
                search[key] = value.strip('"').strip()
        search["text"] = " ".join(_OPERATOR.sub(" ", text).split())
        return search

    @staticmethod
    def _tsquery(text):
        """'quarterly rep' -> 'quarterly:* & rep:*' (every word, as a prefix); None if empty.

        A whole address stays one word (``'ann@example.org':*``), as the column's parser
        indexed it; a half-typed one is matched by its parts.
        """
        terms = []
        for chunk in (text or "").lower().split():
            if _ADDRESS.match(chunk):
                terms.append(f"'{chunk}':*")
            else:
                terms.extend(f"{w}:*" for w in _WORD.findall(chunk))
        return " & ".join(terms[:12]) or None

    @api.model
    def get_threads(self, account_id=False, folder_id=False, role=False, filter=False, search=None,
                    partner_id=False, offset=0, limit=80, **_kw):
        """A page of conversations, newest activity first; see maildesk_store.js for the shape."""
        limit = max(1, min(int(limit or 80), PAGE_LIMIT))
        offset = max(0, int(offset or 0))
        search = self._parse_search(search)
        domain = self._message_domain(account_id, folder_id, role, filter, search, partner_id)
        query = self._visible_query(domain, search)
        dates = None
        if self._tsquery((search or {}).get("text")) or self._tsquery((search or {}).get("body")):
            thread_ids, total, capped = self._search_page(query, offset, limit)
        else:
            thread_ids, total, capped, dates = self._list_page(query, offset, limit)
        rows = self._thread_rows(thread_ids)
        for row in rows if dates else ():
            # The list is ordered by the newest message in this view: show that date.
            row["date"] = _dt(dates.get(row["id"])) or row["date"]
        result = {"total": total, "total_capped": capped, "offset": offset, "threads": rows}
        if not offset and not any(search.values()):
            # Drafts folder: the user's autosaved drafts first (open them with compose_defaults(draft_id=)).
            result["drafts"] = self._local_drafts(account_id, folder_id, role)
        return result

    def _list_page(self, query, offset, limit):
        """Browse a folder / filter: aggregate the matching messages per conversation.

        A conversation is ordered by, and shows, the date of its newest message *in this
        view* (the newest Inbox message in the Inbox), so the order and the dates agree.

        Runs as an index-only scan of maildesk_message_folder_thread_idx for a folder, so
        the exact count of a 70,000-message inbox costs tens of milliseconds.
        """
        where = query.where_clause or SQL("TRUE")
        cr = self.env.cr
        cr.execute(SQL(
            "SELECT maildesk_message.thread_id, max(maildesk_message.date) AS last FROM %s WHERE %s"
            " AND maildesk_message.thread_id IS NOT NULL GROUP BY maildesk_message.thread_id"
            " ORDER BY last DESC NULLS LAST, maildesk_message.thread_id DESC LIMIT %s OFFSET %s",
            query.from_clause, where, limit, offset))
        rows = cr.fetchall()
        thread_ids = [row[0] for row in rows]
        cr.execute(SQL("SELECT count(DISTINCT maildesk_message.thread_id) FROM %s WHERE %s",
                       query.from_clause, where))
        return thread_ids, cr.fetchone()[0], False, dict(rows)

    def _search_page(self, query, offset, limit):
        """Full-text search: walk conversations by latest activity, keep those with a match.

        A word found in most messages then stops after the first page of conversations,
        and a rare word is answered from the GIN index; aggregating every match instead
        took 1.3 s at 100,000 messages for a very common word. The count stops at
        SEARCH_COUNT_WINDOW past this page (``total_capped``), as a mail client shows
        "1,000+" rather than counting every hit.
        """
        matching = SQL("EXISTS (SELECT 1 FROM %s WHERE %s AND maildesk_message.thread_id = maildesk_thread.id)",
                       query.from_clause, query.where_clause or SQL("TRUE"))
        cr = self.env.cr
        cr.execute(SQL("SELECT id FROM maildesk_thread WHERE %s ORDER BY last_message_at DESC NULLS LAST, id DESC"
                       " LIMIT %s OFFSET %s", matching, limit, offset))
        thread_ids = [row[0] for row in cr.fetchall()]
        window = offset + limit + SEARCH_COUNT_WINDOW
        cr.execute(SQL("SELECT count(*) FROM (SELECT 1 FROM maildesk_thread WHERE %s LIMIT %s) found",
                       matching, window + 1))
        total = cr.fetchone()[0]
        return thread_ids, min(total, window), total > window

    def _thread_rows(self, thread_ids):
        """Row summaries; ``date`` is the conversation's newest message (get_threads puts the
        date the list is ordered by in its place)."""
        if not thread_ids:
            return []
        # The ids come from the rule-filtered message query; the threads are checked again (a
        # conversation the user may not read is never listed, whatever its messages say), and
        # only then are their summaries read with elevated rights.
        allowed = set(self.env["maildesk.thread"].browse(thread_ids)._filter_access_rules("read").ids)
        thread_ids = [i for i in thread_ids if i in allowed]
        if not thread_ids:
            return []
        threads = self.env["maildesk.thread"].sudo().browse(thread_ids)
        cr = self.env.cr
        # Raw SQL: only the messages of each thread's own mailbox, only the caller's own tags.
        cr.execute("""
            SELECT DISTINCT ON (m.thread_id) m.thread_id, m.email_from, m.email_to, m.direction
              FROM maildesk_message m JOIN maildesk_thread t ON t.id = m.thread_id AND t.account_id = m.account_id
             WHERE m.thread_id = ANY(%s)
             ORDER BY m.thread_id, m.date DESC NULLS LAST, m.id DESC""", (thread_ids,))
        last = {row[0]: row[1:] for row in cr.fetchall()}
        cr.execute("""
            SELECT m.thread_id, array_agg(DISTINCT rel.tag_id)
              FROM maildesk_message_tag_rel rel JOIN maildesk_message m ON m.id = rel.message_id
              JOIN maildesk_tag tag ON tag.id = rel.tag_id AND tag.user_id = %s
             WHERE m.thread_id = ANY(%s) GROUP BY m.thread_id""", (self.env.uid, thread_ids))
        tags = dict(cr.fetchall())
        cr.execute("SELECT DISTINCT thread_id FROM maildesk_message WHERE thread_id = ANY(%s) AND pending_sync",
                   (thread_ids,))
        pending = {row[0] for row in cr.fetchall()}
        rows = []
        for thread in threads:
            email_from, email_to, direction = last.get(thread.id, ("", "", "incoming"))
            rows.append({
                "id": thread.id, "subject": thread.subject or "", "snippet": thread.snippet or "",
                "date": _dt(thread.last_message_at),
                "from": email_from or "", "to": email_to or "",
                "direction": direction, "unread": bool(thread.unread_count), "starred": thread.is_starred,
                "has_attachments": thread.has_attachments, "message_count": thread.message_count,
                "account_id": thread.account_id.id, "account_name": thread.account_id.name,
                "tag_ids": sorted(tags.get(thread.id) or []),
                "pending": thread.id in pending,  # a change waits for the server
            })
        return rows

    # -- reading --------------------------------------------------------------------------
    @api.model
    def get_thread(self, thread_id):
        """The whole conversation, oldest first; marks it read (on the server too)."""
        thread = self.env["maildesk.thread"].browse(int(thread_id)).exists()
        if not thread:
            raise UserError(_("This conversation no longer exists."))
        thread.check_access_rule("read")
        messages = self.env["maildesk.message"].search([("thread_id", "=", thread.id)], order="date asc, id asc")
        trusted = self.env["maildesk.trusted.sender"]._addresses()
        attachments = self.env["ir.attachment"].search_read(
            [("res_model", "=", "maildesk.message"), ("res_id", "in", messages.ids)],
            ["res_id", "name", "mimetype", "file_size", "checksum", "description"], order="id")
        files = {}
        for attachment in attachments:
            files.setdefault(attachment["res_id"], []).append({
                "id": attachment["id"], "name": attachment["name"], "mimetype": attachment["mimetype"],
                "size": attachment["file_size"], "checksum": attachment["checksum"],
                "inline": (attachment["description"] or "").startswith("cid:")})
        rows = []
        for message in messages:
            rows.append({
                "id": message.id, "from": message.email_from or "", "from_address": message.from_address or "",
                "to": message.email_to or "", "cc": message.email_cc or "", "date": _dt(message.date),
                "subject": message.subject or "", "body_html": str(message.body_html or ""),
                "body_text": message.body_text or "", "snippet": message.snippet or "",
                "direction": message.direction, "was_unread": not message.is_read, "starred": message.is_starred,
                "is_draft": message.folder_id.role == "drafts", "folder_id": message.folder_id.id,
                "folder_name": message.folder_id._label() if message.folder_id else "",
                "folder_role": message.folder_id.role or False,
                "has_remote_images": message.has_remote_images,
                "remote_images_allowed": message.remote_images_allowed or (message.from_address or "") in trusted,
                "body_state": message.body_state, "parse_error": message.parse_error or False,
                "partner": {"id": message.partner_id.id, "name": message.partner_id.display_name}
                if message.partner_id else False,
                "attachments": files.get(message.id, []),
            })
        notice = self._mark_read(messages.filtered(lambda m: not m.is_read))
        newest = messages[-1:]
        summary = {"id": thread.id, "subject": thread.subject or "", "starred": thread.is_starred,
                   "account_id": thread.account_id.id, "account_name": thread.account_id.name,
                   "folder_name": newest.folder_id._label() if newest.folder_id else "",
                   "tag_ids": sorted(messages.tag_ids.ids)}
        return {"notice": notice, "thread": summary, "messages": rows}

    def _mark_read(self, messages):
        """Mark read on the server and here; an unreachable server must not stop the reading."""
        if not messages:
            return False
        try:
            with self.env.cr.savepoint():
                messages.write({"is_read": True})
        except UserError as exc:
            return _("Not marked as read on the server: %s", exc.args[0])
        self._notify_flags(messages)
        return False

    def _notify_flags(self, messages):
        """Unread counts changed: tell every open client of these mailboxes (other members too)."""
        for account, group in messages._by_account().items():
            # sudo: the recipients of a mailbox's notifications are its owner, members and admins,
            # which a member may not read; the payload only says which folders changed.
            account.sudo()._notify_clients(group.folder_id.ids, kind="flags")

    @api.model
    def allow_remote_images(self, message_id, scope="message"):
        """Show remote images of this message, or of everything from its sender."""
        message = self._messages_of(message_ids=[message_id])
        if scope == "sender" and message.from_address:
            self.env["maildesk.trusted.sender"]._trust(message.from_address)
        else:
            # sudo: a display preference; read access to the message was checked above.
            message.sudo().remote_images_allowed = True
        return True

    # -- actions on threads ---------------------------------------------------------------
    def _messages_of(self, thread_ids=(), message_ids=()):
        """Messages the user may see, of the given threads and/or given messages."""
        Message = self.env["maildesk.message"]
        domain = []
        if thread_ids:
            domain = [("thread_id", "in", [int(i) for i in thread_ids])]
        if message_ids:
            domain = ["|"] * bool(domain) + domain + [("id", "in", [int(i) for i in message_ids])]
        messages = Message.search(domain) if domain else Message
        if not messages:
            raise UserError(_("Those messages are no longer there."))
        return messages

    @api.model
    def mark(self, thread_ids, read=None, starred=None):
        messages = self._messages_of(thread_ids)
        if read is not None:
            changed = messages.filtered(lambda m: m.is_read != bool(read))
            changed.write({"is_read": bool(read)})
            self._notify_flags(changed)
        if starred is not None:
            if starred:
                # Starring a conversation stars its newest message, as Gmail does.
                newest = messages.sorted(lambda m: (m.date or fields.Datetime.now(), m.id))[-1:]
                newest.filtered(lambda m: not m.is_starred).write({"is_starred": True})
            else:
                messages.filtered("is_starred").write({"is_starred": False})
        return True

    # Archive, delete (to Trash) and move return ``{"undo": [[folder_id, [message ids]], ...]}``:
    # where each moved message was, for ``undo_move``. Messages deleted for good are not in it.
    @api.model
    def archive(self, thread_ids):
        # The conversation leaves wherever it is filed; copies in Sent and Drafts stay put.
        messages = self._messages_of(thread_ids).filtered(
            lambda m: m.folder_id.role not in ("sent", "drafts", "archive"))
        before = self._locations(messages)
        messages.action_archive_mail()
        return {"undo": self._undo_moves(before)}

    @api.model
    def delete(self, thread_ids, folder_id=False, permanent=False):
        """Delete conversations: their copies outside Trash move to Trash (recoverable).

        Copies already in Trash are erased from the server only with ``permanent=True``,
        which the client sends after the user confirmed (deleting while viewing Trash);
        with ``folder_id`` only the copies in that Trash folder are erased. A plain delete
        never touches what is in Trash.
        """
        messages = self._messages_of(thread_ids)
        if permanent:
            in_trash = messages.filtered(lambda m: m.folder_id.role == "trash")
            if folder_id:
                in_trash = in_trash.filtered(lambda m: m.folder_id.id == int(folder_id))
            if not in_trash:
                raise UserError(_("Only mail in Trash can be deleted for good."))
            in_trash.action_delete_permanently()
            return True  # nothing to undo: the user confirmed it is gone for good
        outside = messages.filtered(lambda m: m.folder_id.role != "trash")
        if not outside:
            raise UserError(_("These conversations are already in Trash. Deleting them from Trash erases "
                              "them for good and must be confirmed."))
        before = self._locations(outside)
        outside.action_delete_mail()
        return {"undo": self._undo_moves(before)}

    @staticmethod
    def _locations(messages):
        return {message.id: message.folder_id.id for message in messages}

    def _undo_moves(self, before):
        """Group the messages that did change folder by the folder they came from."""
        groups = {}
        for message in self.env["maildesk.message"].browse(list(before)).exists():
            if message.folder_id.id != before[message.id]:
                groups.setdefault(before[message.id], []).append(message.id)
        return [[folder_id, ids] for folder_id, ids in groups.items()]

    @api.model
    def undo_move(self, moves):
        """Put messages back where ``archive`` / ``delete`` / ``move`` took them (on the server too)."""
        restored = 0
        for folder_id, message_ids in moves or []:
            target = self.env["maildesk.folder"].browse(int(folder_id)).exists()
            if not target:
                raise UserError(_("That folder no longer exists."))
            target.check_access_rule("read")
            messages = self.env["maildesk.message"].search(
                [("id", "in", [int(i) for i in message_ids]), ("account_id", "=", target.account_id.id)])
            messages.filtered(lambda m, target=target: m.folder_id != target)._move_to(target)
            restored += len(messages)
        if not restored:
            raise UserError(_("Those messages are no longer there: nothing to undo."))
        return True

    @api.model
    def move(self, thread_ids, folder_id, from_folder_id=False, from_role=False):
        """Move the conversations' copies that are in the list being viewed.

        ``from_folder_id`` (a folder) or ``from_role`` (the unified views, e.g. every inbox)
        name that list; only the copies filed there move. Copies in Sent and Drafts stay
        put unless that list is Sent or Drafts itself, as Archive does: moving a
        conversation never pulls your own replies out of Sent.
        """
        target = self.env["maildesk.folder"].browse(int(folder_id)).exists()
        if not target:
            raise UserError(_("That folder no longer exists."))
        target.check_access_rule("read")
        messages = self._messages_of(thread_ids).filtered(lambda m: m.account_id == target.account_id)
        if not messages:
            raise UserError(_("Messages can only be moved to a folder of their own mailbox."))
        if from_folder_id:
            messages = messages.filtered(lambda m: m.folder_id.id == int(from_folder_id))
        elif from_role:
            messages = messages.filtered(lambda m: m.folder_id.role == from_role)
        viewed_role = messages[:1].folder_id.role if (from_folder_id or from_role) else False
        if viewed_role not in ("sent", "drafts"):
            messages = messages.filtered(lambda m: m.folder_id.role not in ("sent", "drafts"))
        messages = messages.filtered(lambda m: m.folder_id != target)
        before = self._locations(messages)
        if messages:
            messages.action_move(target.id)
        return {"undo": self._undo_moves(before)}

    @api.model
    def set_tags(self, thread_ids, add_ids=(), remove_ids=()):
        commands = [(4, int(i)) for i in add_ids or ()] + [(3, int(i)) for i in remove_ids or ()]
        if commands:
            self._messages_of(thread_ids).write({"tag_ids": commands})
        return True

    @api.model
    def create_tag(self, name, color=0):
        name = (name or "").strip()
        if not name:
            raise UserError(_("A tag needs a name."))
        tag = self.env["maildesk.tag"].search([("name", "=ilike", name)], limit=1) or \
            self.env["maildesk.tag"].create({"name": name, "color": int(color or 0)})
        return {"id": tag.id, "name": tag.name, "color": tag.color}

    @api.model
    def mailbox_view_action(self, account_id):
        """The gear of a mailbox: its settings for the owner and admins, else a read-only card
        (name, address, owner, sync state): a member cannot change a shared mailbox."""
        account = self.env["maildesk.account"].browse(int(account_id)).exists()
        if not account:
            raise UserError(_("This mailbox no longer exists."))
        account.check_access_rule("read")
        manage = self.env.user.has_group("maildesk_mail_client.group_maildesk_admin") or \
            account.owner_id == self.env.user
        view = False if manage else self.env.ref("maildesk_mail_client.maildesk_account_view_form_readonly").id
        return {"type": "ir.actions.act_window", "res_model": "maildesk.account", "res_id": account.id,
                "name": account.name, "views": [[view, "form"]], "target": "current" if manage else "new",
                "context": {"create": False} if manage else {"create": False, "edit": False, "delete": False}}

    @api.model
    def sync_now(self, account_id):
        self.env["maildesk.account"].browse(int(account_id)).action_sync()
        return True

    # -- contacts -------------------------------------------------------------------------
    @api.model
    def search_contacts(self, query, limit=8):
        """Partners and past correspondents matching ``query``, for recipient autocomplete."""
        query = (query or "").strip()
        if len(query) < 1:
            return []
        partners = self.env["res.partner"].search_read(
            [("email", "!=", False), "|", ("name", "ilike", query), ("email", "ilike", query)],
            ["name", "email"], limit=limit)
        found = [{"name": p["name"] or "", "email": p["email"]} for p in partners]
        seen = {p["email"].lower() for p in found}
        if len(found) < limit:
            for row in self.env["maildesk.message"].search_read(
                    [("from_address", "ilike", query)], ["email_from", "from_address"], limit=limit * 3,
                    order="date desc"):
                address = (row["from_address"] or "").lower()
                if address and address not in seen:
                    seen.add(address)
                    name = (row["email_from"] or "").split("<")[0].strip().strip('"')
                    found.append({"name": name if name.lower() != address else "", "email": address})
                if len(found) >= limit:
                    break
        return found

    @api.model
    def create_partner_from_sender(self, message_id):
        message = self._messages_of(message_ids=[message_id])
        address = email_normalize(message.from_address or message.email_from or "")
        if not address:
            raise UserError(_("This message has no sender address."))
        partner = self.env["res.partner"].search([("email", "=ilike", address)], limit=1)
        if not partner:
            name = (message.email_from or "").split("<")[0].strip().strip('"') or address
            partner = self.env["res.partner"].create({"name": name, "email": address})
        # sudo: linking the sender is bookkeeping on messages the user can already read.
        self.env["maildesk.message"].sudo().search(
            [("account_id", "=", message.account_id.id), ("from_address", "=", address),
             ("partner_id", "=", False)]).write({"partner_id": partner.id})
        return {"id": partner.id, "name": partner.display_name}

    # -- compose --------------------------------------------------------------------------
    @api.model
    def compose_defaults(self, mode="new", message_id=False, account_id=False, draft_id=False):
        """Everything the compose dialog starts from: accounts, recipients, quote, signature."""
        # Mailboxes that can send: IMAP ones with an SMTP server, every Gmail / Microsoft 365 one.
        accounts = self.env["maildesk.account"].search(["|", ("smtp_host", "!=", False), ("provider", "!=", "imap")])
        if not accounts:
            raise UserError(_("No mailbox you can send from. "
                              "Connect one with MailDesk ▸ Configuration ▸ Connect a mailbox."))
        options = [{"id": a.id, "name": a.name, "email": a.email, "signature": a._signature_html()}
                   for a in accounts]
        if draft_id:
            draft = self.env["maildesk.draft"].search([("id", "=", int(draft_id))])  # own drafts only
            if not draft:
                raise UserError(_("This draft was sent or discarded."))
            return dict(draft._client_values(), accounts=options,
                        undo_send_seconds=self.env["maildesk.outbox"]._get_send_delay())
        parent = self.env["maildesk.message"]
        if message_id and mode != "new":
            parent = self._messages_of(message_ids=[message_id])
        account = parent.account_id or accounts.filtered(lambda a: a.id == account_id)[:1] or \
            accounts.filtered(lambda a: a.owner_id == self.env.user)[:1] or accounts[:1]
        if account not in accounts:
            account = accounts[:1]
        values = {"accounts": options, "account_id": account.id, "mode": mode, "to": "", "cc": "", "bcc": "",
                  "undo_send_seconds": self.env["maildesk.outbox"]._get_send_delay(),
                  "subject": "", "attachments": [], "parent_id": parent.id, "draft_id": False}
        body = ""
        if parent:
            prepared = self.env["maildesk.compose"]._prepare_from_parent(parent, mode)
            values["to"] = prepared.get("email_to", "")
            values["cc"] = prepared.get("email_cc", "")
            values["subject"] = prepared.get("subject", "")
            body = prepared.get("body_html", "")
            if mode == "forward":
                ids = prepared["attachment_ids"][0][2]
                values["attachments"] = self.env["ir.attachment"].browse(ids).read(["name", "mimetype", "file_size"])
        signature = account._signature_html()
        signature_block = f'<div class="o_maildesk_signature">{signature}</div>' if signature else ""
        # Signature above the quote, like every desktop client.
        values["body_html"] = "<p><br/></p>" + signature_block + (body.replace("<p><br/></p>", "", 1) if body else "")
        return values

    @api.model
    def save_draft(self, values):
        """Create or update the user's draft from the dialog's values; returns its id."""
        Draft = self.env["maildesk.draft"]
        draft = Draft.browse(int(values.get("draft_id") or 0)).exists()
        vals = self._compose_vals(values)
        if draft:
            draft.write(vals)
        else:
            draft = Draft.create(vals)
        return {"draft_id": draft.id, "saved_at": _dt(draft.write_date)}

    @api.model
    def discard_draft(self, draft_id):
        self.env["maildesk.draft"].browse(int(draft_id or 0)).exists().unlink()
        return True

    @api.model
    def list_drafts(self, limit=8):
        drafts = self.env["maildesk.draft"].search(
            [("id", "not in", self.env["maildesk.outbox"]._draft_ids_in_outbox())], limit=limit,
            order="write_date desc")
        return [{"id": d.id, "subject": d.subject or _("(no subject)"), "to": d.email_to or "",
                 "date": _dt(d.write_date), "account_id": d.account_id.id} for d in drafts]

    def _compose_vals(self, values):
        """The compose dialog's values as maildesk.compose / maildesk.draft fields (same names),
        checked: a mailbox, a parent and files the user may read."""
        account = self.env["maildesk.account"].browse(int(values.get("account_id") or 0)).exists()
        if not account:
            raise UserError(_("Choose the mailbox to send from."))
        account.check_access_rule("read")
        parent = self.env["maildesk.message"]
        if values.get("parent_id"):
            parent = self._messages_of(message_ids=[values["parent_id"]])
        ids = [a["id"] if isinstance(a, dict) else int(a)
               for a in values.get("attachment_ids") or values.get("attachments") or []]
        attachments = self.env["ir.attachment"].browse(ids).exists()
        attachments.check("read")
        mode = values.get("mode") if values.get("mode") in ("new", "reply", "reply_all", "forward") else "new"
        return {"account_id": account.id, "mode": mode, "parent_id": parent.id,
                "email_to": values.get("to") or "", "email_cc": values.get("cc") or "",
                "email_bcc": values.get("bcc") or "", "subject": values.get("subject") or "",
                "body_html": values.get("body_html") or "", "attachment_ids": [(6, 0, attachments.ids)]}

    @api.model
    def send(self, values, delay=None):
        """Send the dialog's values: after the Undo delay through the outbox, or now.

        ``delay`` (seconds; also read from ``values["delay"]``) defaults to the MailDesk
        setting. Delayed: returns ``{"outbox_id", "send_at"}`` and ``cancel_send`` can take
        it back until then. Immediate (``delay`` 0): returns ``{"message_id", "thread_id"}``.
        Either way only SMTP is needed: the copy is in Sent here at once and reaches the
        server's Sent when IMAP answers.
        """
        vals = self._compose_vals(values)
        if not (vals["email_to"].strip() or vals["email_cc"].strip() or vals["email_bcc"].strip()):
            raise UserError(_("Add at least one recipient."))
        Outbox = self.env["maildesk.outbox"]
        if delay is None:
            delay = values.get("delay")
        try:
            delay = Outbox._get_send_delay() if delay is None else max(0, min(int(delay), MAX_SEND_DELAY))
        except (TypeError, ValueError) as exc:
            raise UserError(_("The send delay must be a number of seconds.")) from exc
        vals["draft_id"] = self.env["maildesk.draft"].browse(int(values.get("draft_id") or 0)).exists().id
        if delay:
            row = Outbox._enqueue(vals, delay)
            return {"outbox_id": row.id, "send_at": _dt(row.send_at)}
        message = self._send_values(dict(vals, attachment_ids=vals["attachment_ids"][0][2]))
        return {"message_id": message.id, "thread_id": message.thread_id.id,
                "delivery_error": message.delivery_error or False}

    @api.model
    def cancel_send(self, outbox_id):
        """Undo a delayed send: the compose values to reopen, or a readable error if it left."""
        row = self.env["maildesk.outbox"].search([("id", "=", int(outbox_id or 0))])  # own rows only (rule)
        if not row:
            raise UserError(_("This message is no longer waiting to be sent."))
        values = row._cancel()
        account = self.env["maildesk.account"].browse(values.get("account_id")).exists()
        attachments = self.env["ir.attachment"].browse(values.get("attachment_ids") or []).exists()
        return {"account_id": account.id, "mode": values.get("mode") or "new",
                "parent_id": values.get("parent_id") or False, "to": values.get("email_to") or "",
                "cc": values.get("email_cc") or "", "bcc": values.get("email_bcc") or "",
                "subject": values.get("subject") or "", "body_html": values.get("body_html") or "",
                "draft_id": self.env["maildesk.draft"].browse(int(values.get("draft_id") or 0)).exists().id,
                "attachments": attachments.read(["name", "mimetype", "file_size"])}

    @api.model
    def dispatch_outbox(self, outbox_id):
        """The page that queued a message asks for it when its Undo delay is over.

        The outbox cron sends it at ``send_at`` too (and when the page was closed): the row's
        lock and state make sure it leaves once. Returns what an immediate ``send`` returns,
        ``{"error", "draft_id"}`` when it could not leave (the text is back in Drafts), or
        ``{"pending": True}`` while the server is retried later.
        """
        row = self.env["maildesk.outbox"].search([("id", "=", int(outbox_id or 0))])  # own rows only (rule)
        if not row:
            raise UserError(_("This message is no longer waiting to be sent."))
        # sudo: the author's own row (the rule let them read it); _send_one sends as the author.
        row = row.sudo()
        if row.state == "cancelled":
            raise UserError(_("This message was taken back (Undo): it was not sent."))
        if row.state == "queued":
            row._send_one()
        if row.state == "sent":
            message = row.message_id
            return {"message_id": message.id, "thread_id": message.thread_id.id,
                    "delivery_error": message.delivery_error or False}
        if row.state == "failed":
            return {"error": _("Not sent: %s The message is kept in Drafts.", row.error or ""),
                    "draft_id": (row.values or {}).get("draft_id") or False}
        return {"pending": True, "error": row.error or False}

    def _send_values(self, values):
        """Send stored compose values as the current user; returns the message filed in Sent."""
        draft_id = values.pop("draft_id", False)
        attachment_ids = values.pop("attachment_ids", None) or []
        # Re-checked as the author at send time: the mailbox may have been unshared meanwhile.
        vals = self._compose_vals({"account_id": values.get("account_id"), "parent_id": values.get("parent_id"),
                                   "attachment_ids": attachment_ids, "mode": values.get("mode"),
                                   "to": values.get("email_to"), "cc": values.get("email_cc"),
                                   "bcc": values.get("email_bcc"), "subject": values.get("subject"),
                                   "body_html": values.get("body_html")})
        result = self.env["maildesk.compose"].create(vals).action_send()
        if draft_id:
            self.discard_draft(draft_id)
        return self.env["maildesk.message"].browse(result["infos"]["message_id"])
