/** @odoo-module **/

import { patch } from "@web/core/utils/patch";
import { QUICK_FILTERS } from "@maildesk_mail_client/core/maildesk_store";
import { ListToolbar } from "@maildesk_mail_client/client/list_toolbar";
import { ReadingPane } from "@maildesk_mail_client/client/reading_pane";

const MODEL = "maildesk.client";

// "Mine" / "Unassigned": the server maps these keys to the conversation's assignee.
if (!QUICK_FILTERS.some((filter) => filter.key === "mine")) {
    QUICK_FILTERS.push(
        { key: "mine", label: "Mine", icon: "fa-user" },
        { key: "unassigned", label: "Unassigned", icon: "fa-user-o" }
    );
}

async function assign(store, orm, threadIds, userId) {
    if (!threadIds.length) {
        return;
    }
    await orm.call(MODEL, "assign", [threadIds, userId || false]);
    await Promise.all([store.refreshLoadedPages(), store.reloadOpenThread()]);
}

patch(ReadingPane.prototype, {
    get assignee() {
        return this.data && this.data.thread.assignee;
    },
    get stateLabel() {
        return {
            waiting_for_us: "Waiting for us",
            waiting_for_them: "Waiting for them",
            closed: "Closed",
        }[this.data && this.data.thread.conversation_state] || "";
    },
    async toggleAssignMenu() {
        if (!this.state.assignOpen) {
            this.state.assignUsers = await this.orm.call(MODEL, "get_assignees", [this.data.thread.id]);
        }
        this.state.assignOpen = !this.state.assignOpen;
    },
    async assignTo(userId) {
        this.state.assignOpen = false;
        await assign(this.store, this.orm, [this.data.thread.id], userId);
    },
    async take() {
        await this.orm.call(MODEL, "take", [[this.data.thread.id]]);
        await Promise.all([this.store.refreshLoadedPages(), this.store.reloadOpenThread()]);
    },
});

patch(ListToolbar.prototype, {
    async takeSelected() {
        const orm = this.env.services.orm;
        await orm.call(MODEL, "take", [this.targets]);
        await Promise.all([this.store.refreshLoadedPages(), this.store.reloadOpenThread()]);
    },
    async unassignSelected() {
        await assign(this.store, this.env.services.orm, this.targets, false);
    },
});
