/** @odoo-module **/
/**
 * Tour of the cockpit, run in headless Chromium by tests/test_tour.py (its fixture: one
 * overdue conversation "Broken invoice export", one fresh "Fresh question").
 */
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("maildesk_cockpit_tour", {
    test: true,
    steps: () => [
        { content: "Overdue shows 1", trigger: ".o_cockpit_card_overdue .o_cockpit_value:contains('1')", isCheck: true },
        { content: "Needs reply shows 2", trigger: ".o_cockpit_card_needs_reply .o_cockpit_value:contains('2')", isCheck: true },
        { content: "Click overdue", trigger: ".o_cockpit_card_overdue" },
        { content: "The drill-down lists it", trigger: ".o_cockpit_drill .o_cockpit_drill_total:contains('1')", isCheck: true },
        { content: "Open the drawer", trigger: ".o_cockpit_row .o_cockpit_subject:contains('Broken invoice export')" },
        { content: "The body is in a sandboxed frame", trigger: ".o_cockpit_drawer iframe[sandbox]", isCheck: true },
        { content: "SLA chip says breached", trigger: ".o_cockpit_drawer .o_cockpit_sla_breached", isCheck: true },
        { content: "Assign to me", trigger: ".o_cockpit_drawer .o_cockpit_take" },
        { content: "Assigned", trigger: ".o_cockpit_drawer_assignee:contains('ck_operator')", isCheck: true },
        { content: "Mark as noise", trigger: ".o_cockpit_drawer .o_cockpit_noise" },
        { content: "Undo offered", trigger: ".o_cockpit_drawer .o_cockpit_unnoise", isCheck: true },
        { content: "The overdue card changed", trigger: ".o_cockpit_card_overdue .o_cockpit_value:contains('0')", isCheck: true },
        { content: "Needs reply now 1", trigger: ".o_cockpit_card_needs_reply .o_cockpit_value:contains('1')", isCheck: true },
        { content: "Click needs reply", trigger: ".o_cockpit_card_needs_reply" },
        { content: "Open the other conversation", trigger: ".o_cockpit_row .o_cockpit_subject:contains('Fresh question')" },
        { content: "The drawer shows it", trigger: ".o_cockpit_drawer .o_cockpit_drawer_subject:contains('Fresh question')", isCheck: true },
        { content: "Open it in the mailbox client", trigger: ".o_cockpit_drawer .o_cockpit_open_client" },
        { content: "The client shows that conversation, not just its mailbox",
          trigger: ".o_maildesk_reading .o_maildesk_reading_subject:contains('Fresh question')", isCheck: true },
        { content: "The list is that mailbox's inbox, named in the header",
          trigger: ".o_maildesk_location strong:contains('INBOX · '), .o_maildesk_location strong:contains('Inbox · ')",
          isCheck: true },
    ],
});
