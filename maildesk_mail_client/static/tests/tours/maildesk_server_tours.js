/** @odoo-module **/
/**
 * Tours of the server-side behaviours seen in the browser, run by tests/test_server_tours.py:
 * the setup wizard following the address with a Test Connection that can be cancelled, and
 * searching by address and without accents in the client.
 */
import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

function fail(message) {
    throw new Error(`maildesk tour: ${message}`);
}

tours.add("maildesk_tour_setup_wizard", {
    test: true,
    steps: () => [
        {
            content: "The wizard opens with the cursor in Email",
            trigger: ".o_field_widget[name=email] input",
            run() {
                if (document.activeElement !== this.$anchor[0]) {
                    fail("the cursor should start in Email");
                }
            },
        },
        { content: "Type a Gmail address", trigger: ".o_field_widget[name=email] input", run: "text ann@gmail.com" },
        { content: "Gmail's advice shows", trigger: '.o_field_widget[name=hint]:contains("app password")', isCheck: true },
        { content: "Correct the address", trigger: ".o_field_widget[name=email] input", run: "text ann@hang.test" },
        {
            content: "Provider and servers follow the corrected address",
            trigger: '.o_field_widget[name=imap_host] input',
            run() {
                if (this.$anchor[0].value !== "imap.hang.test") {
                    fail(`IMAP server should follow the address, got "${this.$anchor[0].value}"`);
                }
            },
        },
        { content: "Point at a server that never answers", trigger: ".o_field_widget[name=imap_host] input", run: "text 127.0.0.1" },
        {
            content: "Its port",
            trigger: ".o_field_widget[name=imap_port] input",
            run(actions) {
                actions.text(new URLSearchParams(window.location.search).get("hang_port"));
            },
        },
        { content: "Password", trigger: ".o_field_widget[name=password] input", run: "text secret" },
        { content: "Test Connection", trigger: ".o_maildesk_test_button" },
        { content: "It says it is waiting", trigger: '.o_maildesk_testing:contains("gives up after")', isCheck: true },
        { content: "Cancel the test", trigger: ".o_maildesk_test_cancel" },
        { content: "The button is back", trigger: ".o_maildesk_test_button", isCheck: true },
        { content: "The wizard is still open", trigger: ".o_field_widget[name=email] input", isCheck: true },
    ],
});

function row(subject) {
    return `.o_maildesk_thread:contains("${subject}")`;
}

function search(text) {
    return [
        { content: `Search ${text}`, trigger: ".o_maildesk_search_input", run: `text ${text}` },
        {
            content: "Press Enter",
            trigger: ".o_maildesk_search_input",
            run() {
                this.$anchor[0].dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
            },
        },
    ];
}

tours.add("maildesk_tour_search_address", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => [
        { content: "The list is there", trigger: row("Zürich office move"), isCheck: true },
        ...search("customer1@example.org"),
        { content: "Found by the whole address", trigger: `.o_maildesk_thread_list:not(:has(${row("Invoice 42")})) ${row("Zürich office move")}`, isCheck: true },
        { content: "Clear", trigger: ".o_maildesk_search_clear" },
        { content: "Everything is back", trigger: row("Invoice 42"), isCheck: true },
        ...search("from:customer2@example.org"),
        { content: "Found with from:", trigger: `.o_maildesk_thread_list:not(:has(${row("Zürich office move")})) ${row("Invoice 42")}`, isCheck: true },
        { content: "Clear again", trigger: ".o_maildesk_search_clear" },
        { content: "Everything is back again", trigger: row("Zürich office move"), isCheck: true },
        ...search("zurich"),
        { content: "Found without the accent", trigger: `.o_maildesk_thread_list:not(:has(${row("Invoice 42")})) ${row("Zürich office move")}`, isCheck: true },
    ],
});
