/** @odoo-module **/
/**
 * The cockpit's AI panel (Cockpit Manager and Administrator; the server checks the tier on
 * every call): the daily briefing streamed from `/maildesk/cockpit/ai/stream`, anomalies of
 * the last 30 days, customer escalation risk with its components, and the workload
 * rebalance proposal with "Apply". Every figure comes from `maildesk.cockpit.ai`; the AI only
 * words them and a line is shown only once the server found all its numbers among the facts.
 */
import { Component, onWillStart, onWillUnmount, onWillUpdateProps, useState } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { useService } from "@web/core/utils/hooks";
import { streamJsonLines } from "@maildesk_mail_client_pro/ai/ai_stream";

const MODEL = "maildesk.cockpit.ai";
const SCOPE_KEYS = ["team_id", "account_id", "user_id", "partner_id"];
const COMPONENT_LABELS = {
    sla: "SLA used", followups: "follow-ups", reopens: "reopens", handoffs: "hand-offs", age: "age",
    urgency: "urgent words",
};

/** `POST /maildesk/cockpit/ai/stream`: the same newline-delimited JSON events as Pro's route. */
export function streamCockpitAi(payload, handlers) {
    return streamJsonLines("/maildesk/cockpit/ai/stream", payload, handlers);
}

export class CockpitAiPanel extends Component {
    static template = "maildesk_mail_client_cockpit.AiPanel";
    static props = { filters: Object, openThread: { type: Function, optional: true } };

    setup() {
        this.orm = useService("orm");
        this.notification = useService("notification");
        this.componentLabels = COMPONENT_LABELS;
        this.state = useState({
            loading: false, error: "", panel: null, open: true,
            texts: { briefing: null, rebalance: null }, // {text, source, note, streaming}
            applying: false,
        });
        this.scopeKey = "";
        onWillStart(() => this.load(this.props.filters));
        onWillUpdateProps((next) => {
            if (this.key(next.filters) !== this.scopeKey) {
                return this.load(next.filters);
            }
        });
        onWillUnmount(() => this.abort && this.abort.abort());
    }

    scope(filters) {
        const out = {};
        for (const key of SCOPE_KEYS) {
            if (filters[key]) {
                out[key] = parseInt(filters[key]);
            }
        }
        return out;
    }

    key(filters) {
        return JSON.stringify(this.scope(filters));
    }

    async load(filters = this.props.filters) {
        this.scopeKey = this.key(filters);
        this.state.loading = true;
        this.state.error = "";
        try {
            const panel = await this.orm.call(MODEL, "get_panel", [this.scope(filters)]);
            this.state.panel = panel;
            this.state.texts.briefing = panel.cached.briefing || null;
            this.state.texts.rebalance = panel.cached.rebalance || null;
        } catch (error) {
            this.state.error = (error.data && error.data.message) || String(error);
        } finally {
            this.state.loading = false;
        }
    }

    /** Stream a briefing or a rebalance explanation into the panel (cached texts come at once). */
    async ask(kind, refresh = false) {
        this.abort && this.abort.abort();
        this.abort = new AbortController();
        const slot = { text: "", source: "ai", note: "", streaming: true };
        this.state.texts[kind] = slot;
        const live = this.state.texts[kind];
        try {
            const result = await streamCockpitAi(
                { kind, filters: this.scope(this.props.filters), refresh },
                { onMeta: (event) => (live.source = event.source), onDelta: (text) => (live.text += text),
                  signal: this.abort.signal },
            );
            Object.assign(live, { text: result.text, source: result.source, note: result.note || "" });
        } catch (error) {
            if (error.name !== "AbortError") {
                live.note = error.message;
                live.source = "error";
            }
        } finally {
            live.streaming = false;
            this.refreshLimits();
        }
    }

    async refreshLimits() {
        try {
            const panel = await this.orm.call(MODEL, "get_panel", [this.scope(this.props.filters)]);
            this.state.panel.limits = panel.limits;
        } catch {
            // the limits line is informative; the answer itself is already shown
        }
    }

    async copy(kind) {
        const text = this.state.texts[kind] && this.state.texts[kind].text;
        if (!text) {
            return;
        }
        try {
            await browser.navigator.clipboard.writeText(text);
            this.notification.add("Copied to the clipboard.", { type: "success" });
        } catch {
            this.notification.add("The browser did not allow copying; select the text instead.", { type: "warning" });
        }
    }

    async applyRebalance() {
        const moves = this.state.panel.rebalance.moves.map((m) => [m.thread_id, m.to_id]);
        if (!moves.length) {
            return;
        }
        this.state.applying = true;
        try {
            const result = await this.orm.call(MODEL, "apply_rebalance", [this.scope(this.props.filters), moves]);
            this.notification.add(`${result.applied} conversation(s) reassigned.`, { type: "success" });
            await this.load();
        } catch (error) {
            this.notification.add((error.data && error.data.message) || String(error), { type: "danger" });
        } finally {
            this.state.applying = false;
        }
    }

    limitText(kind) {
        const info = this.state.panel && this.state.panel.limits[kind];
        if (!info) {
            return "";
        }
        if (!info.allowed) {
            return "not available for your tier";
        }
        return info.limit === null ? `${info.used} used today (no limit)` : `${info.used} of ${info.limit} used today`;
    }

    components(risk) {
        return Object.entries(risk.components).filter(([, points]) => points > 0);
    }

    open(threadId) {
        this.props.openThread && this.props.openThread(threadId);
    }
}
