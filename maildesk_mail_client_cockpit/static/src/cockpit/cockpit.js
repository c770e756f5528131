/** @odoo-module **/

import { Component, onWillStart, onWillUnmount, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useBus, useService } from "@web/core/utils/hooks";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { MessageBody } from "@maildesk_mail_client/client/message_body";
import { CARDS, CockpitModel, PAGE, formatDuration } from "./cockpit_model";
import { CockpitAiPanel } from "../ai_panel/ai_panel";

const SLA_LABELS = {
    none: "No SLA", on_track: "On track", at_risk: "At risk", breached: "Breached",
    paused: "Waiting for customer", met: "Met",
};

/** A small line chart of a daily series (inline SVG, no chart library). */
export class Sparkline extends Component {
    static template = "maildesk_mail_client_cockpit.Sparkline";
    static props = { series: Array };

    get points() {
        const values = this.props.series.map((v) => (v === null || v === undefined ? 0 : v));
        if (!values.length) {
            return "";
        }
        const max = Math.max(...values, 1);
        const step = values.length > 1 ? 100 / (values.length - 1) : 100;
        return values.map((v, i) => `${(i * step).toFixed(1)},${(28 - (v / max) * 26).toFixed(1)}`).join(" ");
    }
}

export class CockpitAction extends Component {
    static template = "maildesk_mail_client_cockpit.Cockpit";
    static components = { MessageBody, Sparkline, CockpitAiPanel };
    static props = { ...standardActionServiceProps };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.notification = useService("notification");
        this.maildesk = useService("maildesk");
        this.model = new CockpitModel(this.orm);
        this.state = useState(this.model.state);
        this.ui = useState({ boardName: "", shareTeam: "", overrideDue: "", overrideReason: "", reassignTo: "" });
        this.cards = CARDS;
        this.formatDuration = formatDuration;
        this.slaLabels = SLA_LABELS;
        onWillStart(() => this.model.load());
        // Triage elsewhere (mailbox client, another cockpit) and new mail: refresh once, coalesced.
        useBus(this.maildesk.bus, "update", () => {
            clearTimeout(this.liveTimer);
            this.liveTimer = setTimeout(() => this.model.refresh(), 500);
        });
        onWillUnmount(() => clearTimeout(this.liveTimer));
    }

    card(kpi) {
        return this.state.data && this.state.data.cards[kpi];
    }

    cardValue(kpi) {
        const card = this.card(kpi);
        if (!card) {
            return "";
        }
        return card.unit === "seconds" ? formatDuration(card.value) : String(card.value);
    }

    trendText(kpi) {
        const card = this.card(kpi);
        if (!card || card.trend.delta === null) {
            return "no previous data";
        }
        const delta = card.trend.delta;
        const shown = card.unit === "seconds" ? formatDuration(Math.abs(delta)) : Math.abs(delta);
        const arrow = delta > 0 ? "▲" : delta < 0 ? "▼" : "■";
        const pct = card.trend.percent === null ? "" : ` (${card.trend.percent > 0 ? "+" : ""}${card.trend.percent}%)`;
        return `${arrow} ${shown}${pct} vs previous`;
    }

    cardLabel(kpi) {
        return (CARDS.find((c) => c.kpi === kpi) || { label: kpi }).label;
    }

    async onFilter(key, ev) {
        this.state.filters[key] = ev.target.value || false;
        if (key !== "period" || ev.target.value !== "custom" || (this.state.filters.date_from && this.state.filters.date_to)) {
            await this.model.refresh();
        }
    }

    async onBoard(ev) {
        const id = parseInt(ev.target.value);
        const board = this.state.data.options.boards.find((b) => b.id === id);
        await this.model.applyBoard(board || null);
    }

    toggleCard(kpi) {
        const layout = this.state.layout;
        const index = layout.indexOf(kpi);
        if (index >= 0) {
            layout.splice(index, 1);
        } else {
            layout.push(kpi);
        }
    }

    async saveBoard() {
        const name = this.ui.boardName.trim();
        if (!name) {
            this.notification.add("Give the board a name.", { type: "warning" });
            return;
        }
        await this.model.saveBoard(name, this.ui.shareTeam);
        this.notification.add("Board saved.", { type: "success" });
    }

    drill(kpi, extra = {}) {
        if (Object.keys(extra).length) {
            Object.assign(this.state.filters, extra);
            return this.model.load().then(() => this.model.openDrill(kpi, this.cardLabel(kpi)));
        }
        return this.model.openDrill(kpi, this.cardLabel(kpi));
    }

    page(delta) {
        const drill = this.state.drill;
        return this.model.openDrill(drill.kpi, drill.label, Math.max(0, drill.offset + delta * PAGE));
    }

    async triage(method, args, kwargs) {
        try {
            await this.model.triage(method, args, kwargs);
        } catch (error) {
            this.notification.add((error.data && error.data.message) || String(error), { type: "danger" });
        }
    }

    assignToMe(threadId) {
        return this.triage("assign_to_me", [[threadId]]);
    }

    reassign(threadId) {
        if (!this.ui.reassignTo) {
            return;
        }
        return this.triage("assign", [[threadId], parseInt(this.ui.reassignTo)]);
    }

    markNoise(threadId, noise) {
        return this.triage("mark_noise", [[threadId]], { noise });
    }

    overrideSla(threadId) {
        // The input is in the browser's time zone; the server stores UTC.
        const when = new Date(this.ui.overrideDue);
        if (isNaN(when.getTime())) {
            this.notification.add("Choose the new due date and time.", { type: "warning" });
            return;
        }
        const due = when.toISOString().slice(0, 19).replace("T", " ");
        return this.triage("override_sla", [threadId, due, this.ui.overrideReason]);
    }

    openInMailbox() {
        return this.action.doAction(this.state.drawer.client_action);
    }

    openRecord(url) {
        window.open(url, "_blank");
    }
}

registry.category("actions").add("maildesk_cockpit.dashboard", CockpitAction);
