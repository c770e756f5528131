/** @odoo-module **/
/**
 * Tours of the server-side behaviours seen in the browser, run by tests/test_server_tours.py:
 * the setup wizard following the address with a Test Connection that can be cancelled, and
 * searching by address and without accents in the client, and working while the IMAP server
 * is down (SMTP up): changes queued and flagged pending, a message sent with its copy in Sent.
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const WORK = '.o_maildesk_account:contains("Work")';
const NO_ERROR_DIALOG = 'body:not(:has(.modal:contains("Invalid Operation"))):not(:has(.o_error_dialog))';

/** One call to the client API, as the client makes it (JSON-RPC). */
async function clientCall(method, kwargs = {}) {
    const response = await fetch(`/web/dataset/call_kw/maildesk.client/${method}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", method: "call", id: 1,
                               params: { model: "maildesk.client", method, args: [], kwargs } }),
    });
    const data = await response.json();
    if (data.error) {
        fail(`${method} failed: ${JSON.stringify(data.error).slice(0, 300)}`);
    }
    return data.result;
}

/** IMAP down, SMTP up: archive and mark read are kept and pending; a new message is sent at once. */
tours.add("maildesk_tour_offline", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => [
        { content: "Open the Work inbox", trigger: `${WORK} .o_maildesk_folder[data-role=inbox]` },
        { content: "Payment reminder is unread", trigger: `${row("Payment reminder")}.o_unread`, isCheck: true },
        { content: "Select it", trigger: `${row("Payment reminder")} .o_maildesk_thread_check` },
        { content: "Mark it read", trigger: ".o_maildesk_actions [data-action=read]" },
        { content: "It shows read at once", trigger: `${row("Payment reminder")}:not(.o_unread)`, isCheck: true },
        { content: "No error dialog after marking read", trigger: NO_ERROR_DIALOG, in_modal: false, isCheck: true },
        { content: "Open Contract draft", trigger: `${row("Contract draft")} .o_maildesk_thread_subject` },
        { content: "Archive it from the reading pane", trigger: '.o_maildesk_reading:has(.o_maildesk_reading_subject:contains("Contract draft")) [data-action=archive]' },
        { content: "It leaves the inbox", trigger: `.o_maildesk_thread_list:has(${row("Payment reminder")}):not(:has(${row("Contract draft")}))`, isCheck: true },
        { content: "No error dialog after archiving", trigger: NO_ERROR_DIALOG, in_modal: false, isCheck: true },
        {
            content: "The sidebar says changes wait for the server",
            trigger: `${WORK} .o_maildesk_pending:contains("waiting for the server")`,
            isCheck: true,
        },
        {
            content: "The read conversation carries the waiting marker",
            trigger: `${row("Payment reminder")} .o_maildesk_pending_marker`,
            isCheck: true,
        },
        {
            content: "The server API flags both as pending and counts the queue",
            trigger: row("Payment reminder"),
            async run() {
                const mailboxes = await clientCall("get_mailboxes");
                const work = mailboxes.accounts.find((account) => account.name === "Work");
                if (!(work.pending_count >= 2)) {
                    fail(`Work should have at least 2 pending changes, has ${work.pending_count}`);
                }
                const inbox = await clientCall("get_threads", { account_id: work.id, role: "inbox" });
                const payment = inbox.threads.find((thread) => thread.subject === "Payment reminder");
                if (!payment || !payment.pending) {
                    fail("Payment reminder should be pending in the inbox");
                }
                const archive = await clientCall("get_threads", { account_id: work.id, role: "archive" });
                const contract = archive.threads.find((thread) => thread.subject === "Contract draft");
                if (!contract || !contract.pending) {
                    fail("Contract draft should be pending in the archive");
                }
            },
        },
        { content: "New message", trigger: ".o_maildesk_compose_btn" },
        {
            content: "Send from Work",
            trigger: ".o_maildesk_compose_from",
            run() {
                const select = this.$anchor[0];
                const option = [...select.options].find((o) => o.textContent.includes("Work"));
                select.value = option.value;
                select.dispatchEvent(new Event("change", { bubbles: true }));
            },
        },
        {
            content: "To Bob",
            trigger: ".o_maildesk_compose .o_maildesk_recipients[data-name=to] input",
            run() {
                const input = this.$anchor[0];
                input.focus();
                input.value = "bob@example.com";
                input.dispatchEvent(new InputEvent("input", { bubbles: true }));
                input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
            },
        },
        { content: "Bob is a recipient", trigger: '.o_maildesk_compose .o_maildesk_recipients[data-name=to] .o_maildesk_chip:contains("bob@example.com")', isCheck: true },
        { content: "Subject", trigger: ".o_maildesk_compose_subject", run: "text Offline offer" },
        {
            content: "Body",
            trigger: ".o_maildesk_compose .o_maildesk_editable",
            run() {
                const el = this.$anchor[0];
                el.focus();
                el.innerHTML = "<p>Sent while the IMAP server is down.</p>";
                el.dispatchEvent(new InputEvent("input", { bubbles: true }));
            },
        },
        { content: "Send", trigger: ".o_maildesk_send" },
        { content: "The composer closes", trigger: "body:not(:has(.o_maildesk_compose))", in_modal: false, isCheck: true },
        {
            content: "No error dialog and no 'not sent' warning",
            trigger: NO_ERROR_DIALOG,
            in_modal: false,
            async run() {
                await sleep(1000);
                if (document.querySelector(".modal .o_error_dialog, .o_error_dialog")
                    || /Invalid Operation/.test(document.body.textContent)) {
                    fail("an error dialog showed after Send");
                }
                if (/Not sent yet/.test(document.body.textContent)) {
                    fail("the message was not sent though SMTP is up");
                }
            },
        },
        { content: "Open Work's Sent", trigger: `${WORK} .o_maildesk_folder[data-role=sent]`, in_modal: false },
        { content: "The copy is in Sent at once", trigger: row("Offline offer"), in_modal: false, isCheck: true },
    ],
});
