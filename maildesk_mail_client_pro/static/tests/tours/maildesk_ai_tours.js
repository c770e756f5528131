/** @odoo-module **/
/**
 * Tour of the AI panel, run in headless Chromium by tests/test_ai_tour.py against the AI
 * emulator: summarize a thread, draft a reply into the compose window, scan a phishing mail.
 */
import { registry } from "@web/core/registry";

function row(subject) {
    return `.o_maildesk_thread:contains("${subject}") .o_maildesk_thread_subject`;
}

registry.category("web_tour.tours").add("maildesk_ai_tour", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => [
        { content: "Open the order thread", trigger: row("Order 200 units") },
        { content: "The AI bar is shown", trigger: ".o_maildesk_ai_summarize_tab" },
        { content: "Summarize", trigger: ".o_maildesk_ai_summarize" },
        {
            content: "The summary arrives with questions and actions",
            trigger: '.o_maildesk_ai_summary:contains("Summary of 3 messages."):contains("When is the delivery?")',
            isCheck: true,
        },
        { content: "Draft reply tab", trigger: ".o_maildesk_ai_draft_tab" },
        { content: "Write the draft", trigger: ".o_maildesk_ai_draft" },
        {
            content: "The compose window opens with the AI draft",
            trigger: '.o_maildesk_compose .o_maildesk_editable:contains("Thank you for your message about Order 200 units")',
            isCheck: true,
        },
        { content: "Close the compose window (the draft is kept)", trigger: ".modal-header .btn-close" },
        { content: "Closed", trigger: "body:not(:has(.o_maildesk_compose))", in_modal: false, isCheck: true },
        { content: "Open the phishing mail", trigger: row("Bank change"), in_modal: false },
        {
            content: "Safe mode hides it and says why",
            trigger: '.o_maildesk_safe_mode:contains("dangerous"):contains("bank details")',
            isCheck: true,
        },
        { content: "Run the security scan", trigger: ".o_maildesk_ai_scan_tab" },
        {
            content: "High with reasons",
            trigger: '.o_maildesk_ai_scan_result:has(.o_maildesk_ai_level:contains("HIGH")):contains("shows the address")',
            isCheck: true,
        },
        { content: "Ask the AI to explain", trigger: ".o_maildesk_ai_explain" },
        {
            content: "The AI explanation is shown and the level stays High",
            trigger: '.o_maildesk_ai_scan_result:contains("Explained 1 message(s)"):has(.o_maildesk_ai_level:contains("HIGH"))',
            isCheck: true,
        },
    ],
});
