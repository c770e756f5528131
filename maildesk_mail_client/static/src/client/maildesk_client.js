/** @odoo-module **/

import { Component, onWillStart, onWillUnmount, useExternalListener, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useBus, useService } from "@web/core/utils/hooks";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { MaildeskStore, PAGE_SIZE } from "../core/maildesk_store";
import { openCompose } from "../compose/compose_dialog";
import { FolderPane } from "./folder_pane";
import { ThreadList } from "./thread_list";
import { ReadingPane } from "./reading_pane";
import { ListToolbar } from "./list_toolbar";

/** Keys of the mail-client shortcuts (Gmail's), handled when no field has the focus. */
const SHORTCUTS = {
    j: "next", k: "previous", o: "open", Enter: "open", r: "reply", a: "replyAll", f: "forward",
    e: "archive", s: "star", u: "unread", "#": "delete", "/": "search", c: "compose",
};

export class MaildeskClient extends Component {
    static template = "maildesk_mail_client.MaildeskClient";
    static components = { FolderPane, ThreadList, ReadingPane, ListToolbar };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.notification = useService("notification");
        this.dialog = useService("dialog");
        this.action = useService("action");
        this.maildesk = useService("maildesk");
        this.store = useState(new MaildeskStore({ orm: this.orm, notification: this.notification,
                                                  dialog: this.dialog }));
        this.ui = useState({ compact: false });

        onWillStart(async () => {
            await this.store.loadMailboxes();
            // Context keys other screens open the client with (the cockpit's drawer):
            // maildesk_account_id: that mailbox's inbox; maildesk_thread_id: that conversation
            // open in the reading pane (inside its mailbox's inbox list when the id is given too).
            const context = this.props.action.context || {};
            if (context.maildesk_account_id) {
                // Its inbox folder, so the list header and the folder pane name it.
                const inbox = this.store.allFolders.find(
                    (folder) => folder.account_id === context.maildesk_account_id && folder.role === "inbox");
                await this.store.setLocation(inbox
                    ? { accountId: inbox.account_id, folderId: inbox.id }
                    : { accountId: context.maildesk_account_id, role: "inbox" });
            } else {
                await this.store.reloadList();
            }
            if (context.maildesk_thread_id) {
                try {
                    await this.store.openThreadById(context.maildesk_thread_id);
                } catch {
                    // Deleted or out of reach meanwhile: the list stays, as a normal start.
                    this.notification.add("This conversation cannot be opened.", { type: "warning" });
                }
            }
        });

        useBus(this.maildesk.bus, "update", (ev) => this.onBusUpdate(ev.detail));
        onWillUnmount(() => clearTimeout(this.liveTimer));
        useExternalListener(window, "keydown", this.onKeydown);
    }

    // ---------------------------------------------------------------- live updates
    /** A `maildesk.update` bus notification: new mail, flags changed, sync status. */
    onBusUpdate(payload) {
        if (payload.kind === "status") {
            // A sync ended: its state, error and time, in place (no list reload, no server call).
            this.store.applyAccountStatus(payload.status);
            return;
        }
        clearTimeout(this.liveTimer);
        // Sync sends bursts of notifications; coalesce them into one refresh.
        this.liveTimer = setTimeout(() => this.refreshAll(payload), 300);
    }

    async refreshAll(payload = {}) {
        const store = this.store;
        const threadIds = payload.thread_ids || [];
        const openId = store.openThread && store.openThread.thread.id;
        // Flag changes (read/unread) move counts and list markers, not the open thread's content.
        const reloadThread = payload.kind !== "flags" && (!threadIds.length || threadIds.includes(openId));
        await Promise.all([
            store.loadMailboxes(),
            store.refreshLoadedPages(),
            reloadThread ? store.reloadOpenThread() : null,
        ]);
    }

    // ---------------------------------------------------------------- keyboard
    onKeydown(ev) {
        if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.defaultPrevented) {
            return;
        }
        const target = ev.target;
        if (target.closest && (target.closest("input, textarea, select, [contenteditable]") ||
                               target.isContentEditable)) {
            return;
        }
        if (ev.key === "Enter" && target.closest && target.closest("button, a, [role=button]") &&
            !target.closest(".o_maildesk_thread")) {
            return; // Enter on a focused button or link activates it, as usual
        }
        if (document.querySelector(".o_dialog .modal, .o-FileViewer")) {
            return; // a dialog (compose, preview) has the keyboard
        }
        const command = SHORTCUTS[ev.key];
        if (!command) {
            return;
        }
        ev.preventDefault();
        // Enter / o on a row that has the keyboard focus: that row, whatever focusIndex says.
        const row = command === "open" && target.closest && target.closest(".o_maildesk_thread[data-index]");
        if (row) {
            this.store.focusIndex = Number(row.dataset.index);
        }
        this.runCommand(command);
    }

    async runCommand(command) {
        const store = this.store;
        const open = store.openThread;
        const lastMessage = open && open.messages[open.messages.length - 1];
        switch (command) {
            case "next":
            case "previous": {
                const max = store.total - 1;
                const step = command === "next" ? 1 : -1;
                const index = Math.min(max, Math.max(0, store.focusIndex + step));
                await store.loadPage(Math.floor(index / PAGE_SIZE));
                const row = store.threadAt(index);
                if (row) {
                    store.focusIndex = index;
                    await store.openThreadById(row.id);
                }
                break;
            }
            case "open": {
                const row = store.focusIndex >= 0 ? store.threadAt(store.focusIndex) : store.threadAt(0);
                if (row) {
                    await store.openThreadById(row.id);
                }
                break;
            }
            case "reply":
            case "replyAll":
            case "forward":
                if (lastMessage) {
                    const mode = { reply: "reply", replyAll: "reply_all", forward: "forward" }[command];
                    this.compose({ mode, messageId: lastMessage.id });
                }
                break;
            case "archive":
                await store.runAction("archive", store.targetIds);
                break;
            case "delete":
                await store.runAction("delete", store.targetIds);
                break;
            case "star": {
                const starred = open ? open.thread.starred : false;
                await store.act("star", store.targetIds, { value: !starred });
                break;
            }
            case "unread":
                await store.act("unread", store.targetIds);
                if (!store.selectedIds.size) {
                    store.openThread = null;
                }
                break;
            case "search":
                document.querySelector(".o_maildesk_search_input")?.focus();
                break;
            case "compose":
                this.compose({ mode: "new" });
                break;
        }
    }

    compose(params) {
        const accountId = this.store.location.accountId ||
            (this.store.location.folderId && this.store.folderById(this.store.location.folderId)?.account_id);
        openCompose(this.env, this.dialog, {
            accountId: accountId || false,
            ...params,
            onSent: () => this.refreshAll(),
        });
    }
}

registry.category("actions").add("maildesk.client", MaildeskClient);
