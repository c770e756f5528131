/** @odoo-module **/

import { Component, useExternalListener, useRef, useState } from "@odoo/owl";
import { QUICK_FILTERS } from "../core/maildesk_store";

export const TAG_COLORS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

const EMPTY_SEARCH = {
    from: "", to: "", subject: "", body: "", date_from: "", date_to: "",
    tag_ids: [], folder_id: false, account_id: false,
};

/**
 * The bar above the thread list: selection, thread actions (read/unread, star, archive,
 * move, delete, tags), quick filters and the search box with its advanced fields.
 */
export class ListToolbar extends Component {
    static template = "maildesk_mail_client.ListToolbar";
    static props = { store: Object };

    setup() {
        this.quickFilters = QUICK_FILTERS;
        this.tagColors = TAG_COLORS;
        this.rootRef = useRef("root");
        this.state = useState({
            menu: false, // "move" | "tags" | "search"
            text: this.props.store.search.text || "",
            advanced: { ...EMPTY_SEARCH, ...this.props.store.search },
            newTag: "",
            newTagColor: 1,
        });
        useExternalListener(window, "mousedown", (ev) => {
            if (this.state.menu && this.rootRef.el && !this.rootRef.el.contains(ev.target)) {
                this.state.menu = false;
            }
        });
    }

    get store() {
        return this.props.store;
    }

    get targets() {
        return this.store.targetIds;
    }

    get allSelected() {
        const loaded = this.store.loadedThreads;
        return loaded.length > 0 && loaded.every((row) => this.store.selectedIds.has(row.id));
    }

    get searchActive() {
        return Object.keys(this.store.search).length > 0;
    }

    toggleMenu(menu) {
        this.state.menu = this.state.menu === menu ? false : menu;
    }

    async act(operation, args = {}) {
        this.state.menu = false;
        await this.store.runAction(operation, this.targets, args);
    }

    starValue() {
        const rows = this.store.loadedThreads.filter((row) => this.targets.includes(row.id));
        return !rows.every((row) => row.starred);
    }

    /** Folders a selection can move to: those of the accounts the selected threads belong to. */
    get moveTargets() {
        const rows = this.store.loadedThreads.filter((row) => this.targets.includes(row.id));
        const accountIds = new Set(rows.map((row) => row.account_id));
        if (!accountIds.size && this.store.openThread) {
            accountIds.add(this.store.openThread.thread.account_id);
        }
        return this.store.accounts
            .filter((account) => accountIds.has(account.id))
            .map((account) => ({
                account,
                folders: (account.folders || []).filter((f) => f.selectable !== false && f.role !== "drafts"),
            }));
    }

    /** Tag state over the targets: "all", "some" or "none" (checkbox / indeterminate). */
    tagState(tag) {
        const rows = this.store.loadedThreads.filter((row) => this.targets.includes(row.id));
        if (!rows.length && this.store.openThread) {
            rows.push(this.store.openThread.thread);
        }
        const count = rows.filter((row) => (row.tag_ids || []).includes(tag.id)).length;
        return count === 0 ? "none" : count === rows.length ? "all" : "some";
    }

    async toggleTag(tag) {
        const isOn = this.tagState(tag) === "all";
        await this.store.act("tags", this.targets, isOn ? { remove: [tag.id] } : { add: [tag.id] });
    }

    async createTag() {
        const name = this.state.newTag.trim();
        if (!name) {
            return;
        }
        const tag = await this.store.createTag(name, this.state.newTagColor);
        this.state.newTag = "";
        if (this.targets.length && tag && tag.id) {
            await this.store.act("tags", this.targets, { add: [tag.id] });
        }
    }

    // ------------------------------------------------------------------ search
    onSearchKeydown(ev) {
        if (ev.key === "Enter") {
            this.applySearch();
        } else if (ev.key === "Escape") {
            ev.target.blur();
        }
    }

    applySearch() {
        this.state.menu = false;
        const advanced = { ...this.state.advanced };
        advanced.folder_id = advanced.folder_id ? Number(advanced.folder_id) : false;
        advanced.account_id = advanced.account_id ? Number(advanced.account_id) : false;
        this.store.setSearch({ text: this.state.text.trim(), ...advanced });
    }

    clearSearch() {
        this.state.text = "";
        this.state.advanced = { ...EMPTY_SEARCH };
        this.state.menu = false;
        this.store.setSearch({});
    }

    toggleSearchTag(tag) {
        const ids = this.state.advanced.tag_ids;
        this.state.advanced.tag_ids = ids.includes(tag.id) ? ids.filter((id) => id !== tag.id) : [...ids, tag.id];
    }
}
