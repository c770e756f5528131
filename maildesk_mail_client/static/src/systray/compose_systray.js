/** @odoo-module **/

import { Component, onWillStart, useExternalListener, useRef, useState } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { openCompose } from "../compose/compose_dialog";
import { shortDate } from "../core/format";

/** Systray: write a message from any screen, and get back to an unfinished draft. */
export class ComposeSystray extends Component {
    static template = "maildesk_mail_client.ComposeSystray";
    static props = {};

    setup() {
        this.dialog = useService("dialog");
        this.orm = useService("orm");
        this.userService = useService("user");
        this.rootRef = useRef("root");
        this.shortDate = shortDate;
        this.state = useState({ allowed: false, open: false, drafts: [] });
        onWillStart(async () => {
            this.state.allowed = await this.userService.hasGroup("maildesk_mail_client.group_maildesk_user");
        });
        useExternalListener(window, "mousedown", (ev) => {
            if (this.state.open && this.rootRef.el && !this.rootRef.el.contains(ev.target)) {
                this.state.open = false;
            }
        });
    }

    compose(params = {}) {
        this.state.open = false;
        openCompose(this.env, this.dialog, { mode: "new", ...params });
    }

    async toggleDrafts() {
        this.state.open = !this.state.open;
        if (this.state.open) {
            this.state.drafts = await this.orm.call("maildesk.client", "list_drafts", [], { limit: 8 });
        }
    }
}

registry.category("systray").add("maildesk_mail_client.ComposeSystray", { Component: ComposeSystray },
                                 { sequence: 30 });
