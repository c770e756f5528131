/** @odoo-module **/
/**
 * Tours of the cockpit's AI panel, run by tests/test_ai_panel.py (fixture: six conversations
 * waiting in the Support team, all with the operator; the AI emulator is the provider).
 */
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("maildesk_cockpit_ai_panel_tour", {
    test: true,
    steps: () => [
        { content: "The panel lists the riskiest conversation first",
          trigger: ".o_cockpit_ai_risk:first-child .o_cockpit_ai_risk_subject:contains('Secret subject 0')", isCheck: true },
        { content: "Its components are shown", trigger: ".o_cockpit_ai_risk:first-child:contains('urgent, cancel')", isCheck: true },
        { content: "A rebalance is proposed", trigger: ".o_cockpit_ai_move", isCheck: true },
        { content: "Last week's spike is an anomaly", trigger: ".o_cockpit_ai_anomaly:contains('incoming messages')", isCheck: true },
        { content: "Write the briefing", trigger: ".o_cockpit_ai_brief" },
        { content: "The grounded AI text arrives",
          trigger: ".o_cockpit_ai_briefing .o_cockpit_ai_source_ai .o_cockpit_ai_pre:contains('Briefing for')", isCheck: true },
        { content: "It can be copied", trigger: ".o_cockpit_ai_briefing .o_cockpit_ai_copy", isCheck: true },
        { content: "Apply the rebalance", trigger: ".o_cockpit_ai_apply" },
        { content: "Balanced afterwards", trigger: ".o_cockpit_ai_balanced", isCheck: true },
    ],
});

registry.category("web_tour.tours").add("maildesk_cockpit_ai_panel_hidden_tour", {
    test: true,
    steps: () => [
        { content: "The cockpit is there", trigger: ".o_cockpit_card_overdue", isCheck: true },
        { content: "Without the AI panel", trigger: ".o_cockpit_main:not(:has(.o_cockpit_ai))", isCheck: true },
    ],
});
