/** @odoo-module **/

import { Component, onWillUnmount, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";
import { relativeDate } from "../core/format";

/** Folder order in the tree, like every mail client: Inbox first, Trash and Spam last. */
const ROLE_ORDER = { inbox: 0, drafts: 1, sent: 2, archive: 3, custom: 4, spam: 5, trash: 6 };

const ROLE_ICONS = {
    inbox: "fa-inbox", sent: "fa-paper-plane", drafts: "fa-file-text-o", archive: "fa-archive",
    trash: "fa-trash", spam: "fa-ban", custom: "fa-folder-o",
};

/** Roles shown under "All mailboxes": the same folder of every mailbox merged into one list. */
const UNIFIED_ROLES = [
    ["inbox", "Inbox"], ["sent", "Sent"], ["drafts", "Drafts"], ["archive", "Archive"], ["trash", "Trash"],
    ["spam", "Spam"],
];

export const TICK_MS = 20000; // how often the relative "Synced ... ago" is rewritten

export class FolderPane extends Component {
    static template = "maildesk_mail_client.FolderPane";
    static props = { store: Object, onCompose: Function };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.notification = useService("notification");
        this.state = useState({ collapsed: {}, syncing: {}, tick: 0 });
        // "Synced 3 minutes ago" must move on while the page stays open.
        const ticker = setInterval(() => this.state.tick++, TICK_MS);
        onWillUnmount(() => clearInterval(ticker));
        this.unifiedRoles = UNIFIED_ROLES;
        this.relativeDate = relativeDate;
    }

    get store() {
        return this.props.store;
    }

    folderLabel(folder) {
        // Servers call it INBOX; people call it Inbox.
        return folder.role === "inbox" && folder.name.toUpperCase() === "INBOX" ? "Inbox" : folder.name;
    }

    roleIcon(role) {
        return ROLE_ICONS[role] || ROLE_ICONS.custom;
    }

    /** Folders of one account as a flat list with depth, children under their parent. */
    folderTree(account) {
        const folders = [...(account.folders || [])].sort((a, b) =>
            (ROLE_ORDER[a.role] ?? 4) - (ROLE_ORDER[b.role] ?? 4) || a.name.localeCompare(b.name));
        const byParent = {};
        for (const folder of folders) {
            const parent = folder.parent_id && folders.some((f) => f.id === folder.parent_id)
                ? folder.parent_id : 0;
            (byParent[parent] = byParent[parent] || []).push(folder);
        }
        const rows = [];
        const walk = (parent, depth) => {
            for (const folder of byParent[parent] || []) {
                rows.push({ folder, depth });
                walk(folder.id, depth + 1);
            }
        };
        walk(0, 0);
        return rows;
    }

    unifiedCount(role) {
        if (role !== "inbox") {
            return 0;
        }
        return this.store.unified.unread_count || 0;
    }

    isActiveRole(role) {
        const loc = this.store.location;
        return !this.store.partnerFilter && !loc.folderId && !loc.accountId && loc.role === role;
    }

    isActiveFolder(folder) {
        return !this.store.partnerFilter && this.store.location.folderId === folder.id;
    }

    openRole(role) {
        this.store.setLocation({ role });
    }

    openFolder(folder) {
        this.store.setLocation({ accountId: folder.account_id, folderId: folder.id });
    }

    toggleAccount(account) {
        this.state.collapsed[account.id] = !this.state.collapsed[account.id];
    }

    /** Plain words for the account's sync state (shown under its name). */
    syncStatus(account) {
        void this.state.tick; // re-render on each tick: the relative time moves
        const sync = account.sync || {};
        if (this.state.syncing[account.id]) {
            return { level: "running", text: "Syncing…" };
        }
        const error = sync.error || account.sync_error;
        if (error) {
            return { level: "error", text: error };
        }
        if (sync.running) {
            const what = sync.phase === "backfill" ? "Downloading older mail" : "First sync";
            return { level: "running", text: `${what}: ${sync.progress || 0}%` };
        }
        const last = sync.last_sync_at || account.last_sync_at;
        return { level: "ok", text: last ? `Synced ${relativeDate(last)}` : "Not synced yet" };
    }

    progress(account) {
        const sync = account.sync || {};
        return sync.running && typeof sync.progress === "number" ? sync.progress : null;
    }

    async syncNow(account) {
        this.state.syncing[account.id] = true;
        try {
            await this.store.syncNow(account.id);
            await this.store.refreshLoadedPages();
        } finally {
            this.state.syncing[account.id] = false;
        }
    }

    searchTag(tag) {
        this.store.setSearch({ ...this.store.search, tag_ids: [tag.id] });
    }

    async connectAccount() {
        try {
            await this.action.doAction("maildesk_mail_client.maildesk_account_setup_action", {
                onClose: () => this.store.loadMailboxes(),
            });
        } catch {
            // No setup wizard installed: fall back to a new account form.
            await this.action.doAction({
                type: "ir.actions.act_window",
                res_model: "maildesk.account",
                views: [[false, "form"]],
                target: "new",
            }, { onClose: () => this.store.loadMailboxes() });
        }
    }

    /** One click back to the provider's sign-in (OAuth), or to the password (IMAP). */
    async reconnect(account) {
        if (account.provider === "imap") {
            return this.openAccountSettings(account);
        }
        const action = await this.orm.call("maildesk.account", "action_oauth_connect", [[account.id]]);
        await this.action.doAction(action);
    }

    /** Settings for the owner and admins; a read-only card for a member of a shared mailbox. */
    async openAccountSettings(account) {
        const action = await this.orm.call("maildesk.client", "mailbox_view_action", [account.id]);
        await this.action.doAction(action);
    }

    unreadTitle(count) {
        return count === 1 ? "1 unread conversation" : `${count} unread conversations`;
    }
}
