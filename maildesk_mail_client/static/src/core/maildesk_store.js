/** @odoo-module **/
/**
 * MaildeskStore: the client's state and every call to the server API (`maildesk.client`).
 *
 * A plain class (no component code) wrapped in `reactive` by the client action, so the
 * panes only read state and call methods. Thread rows are cached per page of PAGE_SIZE and
 * fetched lazily by the virtual list, which keeps a 100,000-thread folder as cheap to open
 * as a 50-thread one.
 *
 * Server API used (model `maildesk.client`, JSON shapes as read here; dates are UTC
 * "YYYY-MM-DD HH:MM:SS" strings):
 *   get_mailboxes() -> {accounts: [{id, name, email, is_shared, can_manage, unread_count, last_sync_at,
 *       sync_error, pending_count (changes queued while the server was unreachable), realtime_mode, sync: {running, progress (0-100), phase (initial|backfill|idle|error), error,
 *       last_sync_at},
 *       folders: [{id, name, role, account_id, parent_id, unread_count, selectable}]}],
 *       tags: [{id, name, color}], unified: {unread_count}}
 *       (every unread_count counts conversations with unread mail, like the list's total)
 *   get_threads({account_id, folder_id, role, filter, search, partner_id, offset, limit})
 *       -> {total, total_capped, threads: [{id, subject, snippet, date, from, to, direction, unread, starred,
 *          has_attachments, message_count, account_id, account_name, tag_ids, pending (a change of it
 *          waits for the server)}], drafts (in a Drafts folder: the user's autosaved drafts)}
 *       (ordered by `date`: the newest message of the conversation in this view)
 *   get_thread(thread_id) -> {thread: {id, subject, starred, account_id, account_name,
 *       folder_name, tag_ids}, messages: [{id, from, from_address, to, cc, date, body_html,
 *       body_text, snippet, direction, was_unread, is_draft, folder_id, folder_name, folder_role,
 *       has_remote_images,
 *       remote_images_allowed, body_state, partner: {id, name}|false,
 *       attachments: [{id, name, mimetype, size, checksum}]}], notice: false|string}
 *       (oldest first; marks read; `notice` says why the server was not told)
 *   mark(thread_ids, {read?, starred?}), set_tags(thread_ids, {add_ids, remove_ids}),
 *   archive(thread_ids), delete(thread_ids, {folder_id, permanent}) (moves to Trash;
 *       `permanent` erases the copies in Trash, sent only after the user confirmed),
 *   move(thread_ids, folder_id, {from_folder_id, from_role}) (only the copies in the list
 *       being viewed move); archive, delete (to Trash) and move -> {undo: [[folder_id,
 *       [message ids]]]}; undo_move(undo) puts them back,
 *   create_tag(name, {color}) -> {id, name, color}, sync_now(account_id)
 *   compose_defaults({mode, message_id, account_id, draft_id}) -> {accounts: [{id, name,
 *       email, signature}], account_id, to, cc, bcc, subject, body_html, attachments,
 *       parent_id, draft_id}
 *   save_draft(values) -> {draft_id}; discard_draft(draft_id); list_drafts({limit})
 *       -> [{id, subject, date}]; send(values, {delay}) -> {message_id, thread_id, delivery_error}
 *       (delivery_error: false, or who the server refused while the others got it) or, delayed,
 *       {outbox_id, send_at}; dispatch_outbox(outbox_id) -> the same as an immediate send, or
 *       {error, draft_id}; cancel_send(outbox_id) -> the values (draft_id, ...) to reopen it
 *   mailbox_view_action(account_id) -> the gear's window action (read-only for members)
 *   search_contacts(query, {limit}) -> [{name, email}]
 *   create_partner_from_sender(message_id) -> {id, name};
 *   allow_remote_images(message_id, {scope: "message"|"sender"})
 * Bus: notifications of type "maildesk.update" {account_id, folder_ids, kind, thread_ids?, status?}:
 * kind "mail" refreshes everything (`thread_ids` narrows the refresh of the open thread),
 * "flags" the counts and the list, "status" patches the mailbox's sync state and live/polling mode in place.
 */

import { ask } from "./ask_dialog";

export const PAGE_SIZE = 80;
export const UNDO_ACTION_MS = 8000; // how long "Undo" stays offered after archive / delete / move
const MODEL = "maildesk.client";

export const QUICK_FILTERS = [
    { key: "unread", label: "Unread", icon: "fa-envelope" },
    { key: "starred", label: "Starred", icon: "fa-star" },
    { key: "incoming", label: "Incoming", icon: "fa-arrow-down" },
    { key: "outgoing", label: "Outgoing", icon: "fa-arrow-up" },
    { key: "attachments", label: "Attachments", icon: "fa-paperclip" },
];

export class MaildeskStore {
    /**
     * @param {Object} services orm, notification, dialog (from the owning component)
     */
    constructor(services) {
        this.orm = services.orm;
        this.notification = services.notification;
        this.dialog = services.dialog;
        this.accounts = [];
        this.tags = [];
        this.unified = { unread_count: 0 };
        // Where the list is: {accountId: false|id, folderId: false|id, role: "inbox"|...}
        this.location = { accountId: false, folderId: false, role: "inbox" };
        this.quickFilter = false;
        this.search = {}; // advanced fields: text, from, to, subject, body, date_from, ...
        this.total = 0;
        this.totalCapped = false; // true: `total` is a lower bound (full-text search)
        this.pages = {}; // page index -> array of thread rows
        this.loadingPages = new Set();
        this.listVersion = 0; // bumped whenever the list query changes; stale pages are dropped
        this.selectedIds = new Set();
        this.focusIndex = -1;
        this.openThread = null; // {thread, messages}
        this.loadingThread = false;
        this.partnerFilter = false; // {id, name}: show the partner's other threads
    }

    // ---------------------------------------------------------------- mailboxes
    async loadMailboxes() {
        const data = await this.orm.call(MODEL, "get_mailboxes", []);
        this.accounts = data.accounts || [];
        this.tags = data.tags || [];
        this.unified = data.unified || { unread_count: 0 };
        return data;
    }

    get allFolders() {
        return this.accounts.flatMap((account) => account.folders || []);
    }

    folderById(id) {
        return this.allFolders.find((folder) => folder.id === id);
    }

    accountById(id) {
        return this.accounts.find((account) => account.id === id);
    }

    /** The role of the list being viewed: its folder's role, or the unified view's role. */
    get viewedRole() {
        if (this.location.folderId) {
            return this.folderById(this.location.folderId)?.role || false;
        }
        return this.location.role || false;
    }

    get locationLabel() {
        if (this.partnerFilter) {
            return this.partnerFilter.name;
        }
        if (this.location.folderId) {
            const folder = this.folderById(this.location.folderId);
            const account = folder && this.accountById(folder.account_id);
            return folder ? `${folder.name}${account ? " · " + account.name : ""}` : "";
        }
        return "All mailboxes";
    }

    /** The active search in words, shown above the list ("invoice · from: bob"). */
    get searchSummary() {
        const labels = { from: "from", to: "to", subject: "subject", body: "has words", date_from: "after",
                         date_to: "before" };
        const parts = [];
        for (const [key, value] of Object.entries(this.search)) {
            if (key === "text") {
                parts.unshift(`"${value}"`);
            } else if (labels[key]) {
                parts.push(`${labels[key]}: ${value}`);
            } else if (key === "tag_ids") {
                parts.push(...this.tags.filter((t) => value.includes(t.id)).map((t) => `#${t.name}`));
            } else if (key === "folder_id") {
                parts.push(`in: ${this.folderById(value)?.name || value}`);
            } else if (key === "account_id") {
                parts.push(`mailbox: ${this.accountById(value)?.name || value}`);
            }
        }
        return parts.join(" · ");
    }

    // ---------------------------------------------------------------- thread list
    get listQuery() {
        const query = {
            account_id: this.location.accountId || false,
            folder_id: this.location.folderId || false,
            role: this.location.folderId ? false : this.location.role,
            filter: this.quickFilter || false,
            search: Object.keys(this.search).length ? this.search : false,
        };
        if (this.partnerFilter) {
            query.partner_id = this.partnerFilter.id;
        }
        return query;
    }

    /** Forget the cached rows and load the first page of the current query. */
    async reloadList({ keepSelection = false } = {}) {
        this.listVersion++;
        this.pages = {};
        this.loadingPages = new Set();
        if (!keepSelection) {
            this.selectedIds = new Set();
            this.focusIndex = -1;
        }
        await this.loadPage(0);
    }

    /** Refresh the pages already loaded (live update) without losing scroll position. */
    async refreshLoadedPages() {
        const indexes = Object.keys(this.pages).map(Number);
        const version = this.listVersion;
        await Promise.all(
            (indexes.length ? indexes : [0]).map((index) => this.fetchPage(index, version))
        );
    }

    async loadPage(index) {
        if (this.pages[index] || this.loadingPages.has(index)) {
            return;
        }
        await this.fetchPage(index, this.listVersion);
    }

    async fetchPage(index, version) {
        this.loadingPages.add(index);
        try {
            const result = await this.orm.call(MODEL, "get_threads", [], {
                ...this.listQuery,
                offset: index * PAGE_SIZE,
                limit: PAGE_SIZE,
            });
            if (version !== this.listVersion) {
                return; // the query changed while this page was in flight
            }
            // A full-text search counts at most a window past this page (total_capped):
            // the list grows as the user scrolls; it never shrinks on a reload of page 0.
            this.totalCapped = Boolean(result.total_capped);
            this.total = this.totalCapped && index ? Math.max(this.total, result.total) : result.total;
            this.pages[index] = result.threads;
        } finally {
            this.loadingPages.delete(index);
        }
    }

    threadAt(index) {
        const page = this.pages[Math.floor(index / PAGE_SIZE)];
        return page ? page[index % PAGE_SIZE] : undefined;
    }

    get loadedThreads() {
        return Object.values(this.pages).flat();
    }

    indexOfThread(threadId) {
        for (const [pageIndex, rows] of Object.entries(this.pages)) {
            const offset = rows.findIndex((row) => row.id === threadId);
            if (offset >= 0) {
                return Number(pageIndex) * PAGE_SIZE + offset;
            }
        }
        return -1;
    }

    async setLocation(location) {
        this.location = { accountId: false, folderId: false, role: false, ...location };
        this.partnerFilter = false;
        this.openThread = null;
        await this.reloadList();
    }

    async setQuickFilter(key) {
        this.quickFilter = this.quickFilter === key ? false : key;
        await this.reloadList();
    }

    async setSearch(search) {
        const clean = {};
        for (const [key, value] of Object.entries(search)) {
            if (value !== "" && value !== false && value !== undefined && value !== null &&
                !(Array.isArray(value) && !value.length)) {
                clean[key] = value;
            }
        }
        this.search = clean;
        await this.reloadList();
    }

    async showPartnerThreads(partner) {
        this.partnerFilter = partner;
        this.openThread = null;
        await this.reloadList();
    }

    // ---------------------------------------------------------------- selection
    toggleSelected(threadId) {
        const selected = new Set(this.selectedIds);
        if (selected.has(threadId)) {
            selected.delete(threadId);
        } else {
            selected.add(threadId);
        }
        this.selectedIds = selected;
    }

    selectAllLoaded(checked) {
        this.selectedIds = checked ? new Set(this.loadedThreads.map((row) => row.id)) : new Set();
    }

    /** Threads an action applies to: the checked ones, else the open one. */
    get targetIds() {
        if (this.selectedIds.size) {
            return [...this.selectedIds];
        }
        return this.openThread ? [this.openThread.thread.id] : [];
    }

    // ---------------------------------------------------------------- reading
    async openThreadById(threadId) {
        this.loadingThread = true;
        try {
            const data = await this.orm.call(MODEL, "get_thread", [threadId]);
            this.openThread = data;
            const index = this.indexOfThread(threadId);
            if (index >= 0) {
                this.focusIndex = index;
            }
            if (data.notice) {
                // Read here but the server refused the flag change: say so, keep it unread.
                this.notification.add(data.notice, { type: "warning" });
            } else {
                this.patchRow(threadId, { unread: false, unread_count: 0 });
                if (data.messages.some((message) => message.was_unread)) {
                    await this.loadMailboxes(); // the unread counts of the folder pane
                }
            }
            return data;
        } finally {
            this.loadingThread = false;
        }
    }

    async reloadOpenThread() {
        if (this.openThread) {
            try {
                this.openThread = await this.orm.call(MODEL, "get_thread", [this.openThread.thread.id]);
            } catch {
                this.openThread = null; // deleted or moved out of reach meanwhile
            }
        }
    }

    patchRow(threadId, values) {
        for (const rows of Object.values(this.pages)) {
            const row = rows.find((r) => r.id === threadId);
            if (row) {
                Object.assign(row, values);
            }
        }
    }

    // ---------------------------------------------------------------- actions
    /** Patch a mailbox's sync state from a "status" bus notification (no server call). */
    applyAccountStatus(status) {
        const account = status && this.accountById(status.id);
        if (account) {
            Object.assign(account, {
                state: status.state, last_sync_at: status.last_sync_at, sync_error: status.sync_error,
                sync: status.sync,
                ...(status.realtime_mode ? { realtime_mode: status.realtime_mode } : {}),
            });
        }
    }

    /**
     * Run one thread action on the server then refresh what it changed. Archive, delete and
     * move answer where the messages were: returns that ({undo}) for `undo`.
     * @param {string} operation read|unread|star|archive|move|delete|tags
     */
    async act(operation, threadIds, args = {}) {
        if (!threadIds.length) {
            return;
        }
        const from = { from_folder_id: this.location.folderId || false, from_role: this.location.role || false };
        const inTrash = this.inTrash; // runAction asked first: Trash erases for good
        const calls = {
            read: () => this.orm.call(MODEL, "mark", [threadIds], { read: true }),
            unread: () => this.orm.call(MODEL, "mark", [threadIds], { read: false }),
            star: () => this.orm.call(MODEL, "mark", [threadIds], { starred: args.value }),
            archive: () => this.orm.call(MODEL, "archive", [threadIds]),
            delete: () => this.orm.call(MODEL, "delete", [threadIds], {
                folder_id: this.location.folderId || false, permanent: inTrash,
            }),
            move: () => this.orm.call(MODEL, "move", [threadIds, args.folderId], from),
            tags: () => this.orm.call(MODEL, "set_tags", [threadIds], {
                add_ids: args.add || [], remove_ids: args.remove || [],
            }),
        };
        const result = await calls[operation]();
        const leavesList = ["archive", "delete", "move"].includes(operation);
        if (leavesList && this.openThread && threadIds.includes(this.openThread.thread.id)) {
            this.openThread = null;
        }
        if (leavesList) {
            this.selectedIds = new Set();
        }
        await Promise.all([this.loadMailboxes(), this.refreshLoadedPages(), this.reloadOpenThread()]);
        return result;
    }

    /** The list shows a Trash folder (its own or the unified one). */
    get inTrash() {
        return this.viewedRole === "trash";
    }

    /**
     * What the toolbar, the reading pane and the shortcuts run: asks before a delete, then
     * offers "Undo" for a few seconds after archive / delete / move.
     */
    async runAction(operation, threadIds, args = {}) {
        if (!threadIds.length) {
            return;
        }
        const count = threadIds.length;
        // Name the conversation: the question must say what it is about.
        const single = count === 1 && (this.loadedThreads.find((row) => row.id === threadIds[0]) ||
            (this.openThread && this.openThread.thread.id === threadIds[0] && this.openThread.thread));
        const what = count === 1
            ? (single ? `this conversation ("${single.subject || "(no subject)"}")` : "this conversation")
            : `these ${count} conversations`;
        if (operation === "delete") {
            const confirmed = await ask(this.dialog, this.inTrash ? {
                title: "Delete for good?",
                body: `Delete ${what} for good? The copies in Trash are erased from the mail server and cannot be restored.`,
                confirmLabel: "Delete for good", danger: true,
            } : {
                title: "Move to Trash?",
                body: `Move ${what} to Trash, with every message in it (also your replies)?`,
                confirmLabel: "Move to Trash", danger: true,
            });
            if (!confirmed) {
                return;
            }
        }
        const result = await this.act(operation, threadIds, args);
        if (result && result.undo && result.undo.length) {
            const folder = args.folderId && this.folderById(args.folderId);
            const done = { archive: "Archived", delete: "Moved to Trash", move: `Moved to ${folder ? folder.name : "folder"}` };
            const subject = count === 1 ? "1 conversation" : `${count} conversations`;
            this.offerUndo(`${done[operation] || "Done"}: ${subject}.`, result.undo);
        }
        return result;
    }

    offerUndo(text, moves) {
        let timer;
        const close = this.notification.add(text, {
            type: "info", sticky: true, className: "o_maildesk_undo_notice",
            buttons: [{
                name: "Undo", primary: true,
                onClick: async () => {
                    clearTimeout(timer);
                    close();
                    await this.undo(moves);
                    this.notification.add("Undone: the messages are back where they were.", { type: "success" });
                },
            }],
        });
        timer = setTimeout(close, UNDO_ACTION_MS);
    }

    /** Put back what an archive / delete / move took away (the server's copies too). */
    async undo(moves) {
        await this.orm.call(MODEL, "undo_move", [moves]);
        await Promise.all([this.loadMailboxes(), this.refreshLoadedPages()]);
    }

    async createTag(name, color) {
        const tag = await this.orm.call(MODEL, "create_tag", [name], { color });
        await this.loadMailboxes();
        return tag;
    }

    async syncNow(accountId) {
        await this.orm.call(MODEL, "sync_now", [accountId]);
        await this.loadMailboxes();
    }
}
