/** @odoo-module **/
/**
 * Loading logic of the cockpit screen, apart from the component: filters, the dashboard
 * payload, the drill-down page and the drawer. Every figure comes from `maildesk.cockpit`
 * (server-side, scoped to the caller); nothing is computed here but formatting.
 */
import { reactive } from "@odoo/owl";

const MODEL = "maildesk.cockpit";
export const PAGE = 50;

export const CARDS = [
    { kpi: "incoming", label: "Incoming", hint: "Customer messages received in the period" },
    { kpi: "outgoing", label: "Outgoing", hint: "Human replies sent to customers in the period" },
    { kpi: "waiting", label: "Waiting for us", hint: "Open conversations whose last human message is the customer's" },
    { kpi: "needs_reply", label: "Needs reply", hint: "Waiting for us with an unanswered customer message" },
    { kpi: "overdue", label: "Overdue", hint: "Needs reply and past the SLA due time" },
    { kpi: "first_response", label: "First response", hint: "Median business time to the first human reply" },
    { kpi: "response_time", label: "Response time", hint: "Median business time of every reply" },
];

export function formatDuration(seconds) {
    if (seconds === null || seconds === undefined) {
        return "–";
    }
    const sign = seconds < 0 ? "-" : "";
    let s = Math.abs(Math.round(seconds));
    if (s < 3600) {
        return `${sign}${Math.round(s / 60)} min`;
    }
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    if (h < 48) {
        return `${sign}${h} h ${String(Math.round(s / 60)).padStart(2, "0")}`;
    }
    return `${sign}${Math.floor(h / 24)} d ${h % 24} h`;
}

export class CockpitModel {
    constructor(orm) {
        this.orm = orm;
        this.state = reactive({
            // period false: the server's default (Settings ▸ MailDesk ▸ Cockpit), set after the first load.
            filters: { period: false, team_id: false, account_id: false, user_id: false, partner_id: false,
                       date_from: false, date_to: false },
            layout: CARDS.map((c) => c.kpi),
            board_id: false,
            data: null,
            loading: false,
            drill: null, // {kpi, label, total, rows, offset}
            drawer: null, // get_thread payload
            error: false,
        });
    }

    cleanFilters() {
        const f = this.state.filters;
        const out = f.period ? { period: f.period } : {};
        for (const key of ["team_id", "account_id", "user_id", "partner_id"]) {
            if (f[key]) {
                out[key] = parseInt(f[key]);
            }
        }
        if (f.period === "custom") {
            out.date_from = f.date_from;
            out.date_to = f.date_to;
        }
        return out;
    }

    async load() {
        this.state.loading = true;
        try {
            // The filter choices (mailboxes, teams, people, boards) come with the first load only.
            const withOptions = !this.state.data || this.reloadOptions;
            const data = await this.orm.call(MODEL, "get_dashboard", [this.cleanFilters()], { options: withOptions });
            if (!withOptions) {
                data.options = this.state.data.options;
            }
            this.reloadOptions = false;
            if (!this.state.filters.period) {
                this.state.filters.period = data.period.kind;
            }
            this.state.data = data;
            this.state.error = false;
        } catch (error) {
            this.state.error = (error.data && error.data.message) || String(error);
        } finally {
            this.state.loading = false;
        }
    }

    async refresh() {
        await this.load();
        if (this.state.drill) {
            await this.openDrill(this.state.drill.kpi, this.state.drill.label, this.state.drill.offset);
        }
        if (this.state.drawer) {
            await this.openThread(this.state.drawer.thread.thread_id);
        }
    }

    async openDrill(kpi, label, offset = 0) {
        const page = await this.orm.call(MODEL, "get_drilldown", [kpi, this.cleanFilters()],
                                         { offset, limit: PAGE });
        this.state.drill = { ...page, label };
    }

    closeDrill() {
        this.state.drill = null;
        this.state.drawer = null;
    }

    async openThread(threadId) {
        this.state.drawer = await this.orm.call(MODEL, "get_thread", [threadId]);
    }

    closeDrawer() {
        this.state.drawer = null;
    }

    async triage(method, args, kwargs = {}) {
        await this.orm.call(MODEL, method, args, kwargs);
        await this.refresh();
    }

    applyBoard(board) {
        this.state.board_id = board ? board.id : false;
        if (board) {
            Object.assign(this.state.filters, { team_id: false, account_id: false, user_id: false,
                                                partner_id: false }, board.filters || {});
            this.state.layout = board.layout && board.layout.length ? [...board.layout] : CARDS.map((c) => c.kpi);
        }
        return this.refresh();
    }

    async saveBoard(name, shareTeamId) {
        const id = await this.orm.call(MODEL, "save_board", [{
            id: this.state.board_id || false, name, filters: this.cleanFilters(), layout: this.state.layout,
            share_team_id: shareTeamId ? parseInt(shareTeamId) : false,
        }]);
        this.state.board_id = id;
        this.reloadOptions = true;
        await this.load();
    }
}

export { MODEL };
