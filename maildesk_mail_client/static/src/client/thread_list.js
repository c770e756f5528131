/** @odoo-module **/

import { Component, onMounted, useEffect, useExternalListener, useRef, useState } from "@odoo/owl";
import { PAGE_SIZE } from "../core/maildesk_store";
import { displayName, shortDate } from "../core/format";

export const ROW_HEIGHT = 76; // px, fixed so the list can be virtual
const OVERSCAN = 8; // rows rendered above and below the viewport

/**
 * Virtual thread list: the scroll area is as tall as every thread of the folder, only the
 * rows in view are in the DOM, and their pages are fetched when they scroll into view.
 */
export class ThreadList extends Component {
    static template = "maildesk_mail_client.ThreadList";
    static props = { store: Object };

    setup() {
        this.scrollRef = useRef("scroll");
        this.view = useState({ top: 0, height: 600 });
        this.rowHeight = ROW_HEIGHT;
        this.shortDate = shortDate;
        this.displayName = displayName;
        onMounted(() => this.measure());
        useExternalListener(window, "resize", () => this.measure());
        // Keep the keyboard-focused row visible (j/k).
        useEffect(
            (index) => {
                const el = this.scrollRef.el;
                if (!el || index < 0) {
                    return;
                }
                const top = index * ROW_HEIGHT;
                if (top < el.scrollTop) {
                    el.scrollTop = top;
                } else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) {
                    el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
                }
            },
            () => [this.props.store.focusIndex]
        );
        // A new query starts at the top.
        useEffect(
            () => {
                if (this.scrollRef.el) {
                    this.scrollRef.el.scrollTop = 0;
                    this.view.top = 0;
                }
            },
            () => [this.props.store.listVersion]
        );
    }

    get store() {
        return this.props.store;
    }

    get isUnified() {
        return !this.store.location.folderId && !this.store.location.accountId;
    }

    get hasCriteria() {
        return Boolean(Object.keys(this.store.search).length || this.store.quickFilter || this.store.partnerFilter);
    }

    measure() {
        const el = this.scrollRef.el;
        if (el) {
            this.view.top = el.scrollTop;
            this.view.height = el.clientHeight || 600;
        }
    }

    onScroll() {
        this.measure();
        this.ensurePages();
    }

    get range() {
        const first = Math.max(0, Math.floor(this.view.top / ROW_HEIGHT) - OVERSCAN);
        const last = Math.min(this.store.total, Math.ceil((this.view.top + this.view.height) / ROW_HEIGHT) + OVERSCAN);
        return [first, last];
    }

    ensurePages() {
        const [first, last] = this.range;
        if (last <= first) {
            return;
        }
        for (let page = Math.floor(first / PAGE_SIZE); page <= Math.floor((last - 1) / PAGE_SIZE); page++) {
            this.store.loadPage(page);
        }
    }

    /** Rows in view: {index, thread|undefined (still loading)}. */
    get visibleRows() {
        const [first, last] = this.range;
        const rows = [];
        let missing = false;
        for (let index = first; index < last; index++) {
            const thread = this.store.threadAt(index);
            missing = missing || !thread;
            rows.push({ index, thread });
        }
        if (missing) {
            // Rendering is the moment we learn which rows are visible; fetch their pages.
            Promise.resolve().then(() => this.ensurePages());
        }
        return rows;
    }

    get spacerHeight() {
        return this.store.total * ROW_HEIGHT;
    }

    correspondent(thread) {
        // Outgoing-only threads show who they went to, like Sent in any mail client.
        const name = thread.direction === "outgoing" && thread.to ? `To: ${displayName(thread.to)}` : "";
        return name || displayName(thread.from || thread.participants || "");
    }

    /** The row Tab lands on: the focused one, else the first. */
    isTabStop(index) {
        return this.store.focusIndex >= 0 ? index === this.store.focusIndex : index === 0;
    }

    /** Arrow keys move the focus in the list without opening; Enter / o open (client shortcuts). */
    onKeydown(ev) {
        if (!["ArrowDown", "ArrowUp"].includes(ev.key) || ev.target.closest("input")) {
            return;
        }
        ev.preventDefault();
        const step = ev.key === "ArrowDown" ? 1 : -1;
        const current = ev.target.closest(".o_maildesk_thread[data-index]");
        const from = current ? Number(current.dataset.index) : this.store.focusIndex;
        const index = Math.min(this.store.total - 1, Math.max(0, from + step));
        this.store.focusIndex = index;
        this.store.loadPage(Math.floor(index / PAGE_SIZE));
        // Give that row the keyboard focus (a row scrolled out of view is rendered shortly).
        const focusRow = (tries) => {
            const el = this.scrollRef.el?.querySelector(`.o_maildesk_thread[data-index="${index}"]`);
            if (el) {
                el.focus();
            } else if (tries) {
                setTimeout(() => focusRow(tries - 1), 50);
            }
        };
        focusRow(20);
    }

    open(thread, index) {
        this.store.focusIndex = index;
        this.store.openThreadById(thread.id);
    }

    onCheck(ev, thread) {
        ev.stopPropagation();
        this.store.toggleSelected(thread.id);
    }

    async toggleStar(ev, thread) {
        ev.stopPropagation();
        await this.store.act("star", [thread.id], { value: !thread.starred });
    }

    tagsOf(thread) {
        const ids = thread.tag_ids || [];
        return this.store.tags.filter((tag) => ids.includes(tag.id));
    }
}
