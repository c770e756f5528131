/** @odoo-module **/

import { useState } from "@odoo/owl";
import { patch } from "@web/core/utils/patch";
import { ReadingPane } from "@maildesk_mail_client/client/reading_pane";
import { AiPanel } from "./ai_panel";

ReadingPane.components = { ...ReadingPane.components, AiPanel };

/** Safe mode on risky mail (code scan from get_thread), and the AI panel's draft hand-off. */
patch(ReadingPane.prototype, {
    setup() {
        super.setup(...arguments);
        this.safeMode = useState({ shown: {}, explained: {} });
    },

    isRisky(message) {
        const risk = message.risk;
        return Boolean(risk && risk.level !== "low" && !risk.trusted && !this.safeMode.shown[message.id]);
    },

    /** High risk: the body stays hidden until "Show once" (or the sender is trusted). */
    isHidden(message) {
        return this.isRisky(message) && message.risk.level === "high";
    },

    riskExplanation(message) {
        return this.safeMode.explained[message.id];
    },

    showRiskyOnce(message) {
        this.safeMode.shown[message.id] = true;
    },

    async checkWithAi(message) {
        try {
            const result = await this.orm.call("maildesk.client", "ai_scan", [message.id], { explain: true });
            this.safeMode.explained[message.id] = result;
        } catch (error) {
            this.notification.add((error.data && error.data.message) || error.message, { type: "danger" });
        }
    },

    async trustRiskySender(message) {
        await this.trustSender(message);
    },

    openAiDraft(draftId) {
        this.props.onCompose({ mode: "draft", draftId });
    },
});
