/** @odoo-module **/
/**
 * Tours of the mailbox client, run in headless Chromium by tests/test_client_tours.py,
 * which seeds the mailboxes they read (subjects below are that fixture's).
 */
import { registry } from "@web/core/registry";

const tours = registry.category("web_tour.tours");

function pressKey(key, selector = "body") {
    const el = document.querySelector(selector);
    el.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }));
}

function row(subject) {
    return `.o_maildesk_thread:contains("${subject}")`;
}

function fail(message) {
    throw new Error(`maildesk tour: ${message}`);
}

/** Wait (up to 5 s) until the sandboxed body frame under `frame` shows `text`. */
async function waitFrameText(frame, text) {
    for (let i = 0; i < 50; i++) {
        const doc = frame.contentDocument;
        if (doc && doc.body && doc.body.textContent.includes(text)) {
            return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    fail(`"${text}" not shown in the message body`);
}

/** Steps that land on the client with the unified inbox loaded. */
function openClient() {
    return [
        { content: "The client is open on All mailboxes", trigger: ".o_maildesk_folder.active[data-role=inbox]", isCheck: true },
        { content: "Threads are listed", trigger: row("Quarterly report"), isCheck: true },
    ];
}

tours.add("maildesk_tour_read", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => [
        ...openClient(),
        { content: "Unread threads are marked", trigger: `${row("Quarterly report")}.o_unread`, isCheck: true },
        { content: "The unified unread count is shown", trigger: ".o_maildesk_folder[data-role=inbox] .o_maildesk_count", isCheck: true },
        { content: "Open the thread", trigger: `${row("Quarterly report")} .o_maildesk_thread_subject` },
        { content: "The reading pane shows it", trigger: '.o_maildesk_reading_subject:contains("Quarterly report")', isCheck: true },
        {
            content: "The whole thread is shown, newest expanded",
            trigger: ".o_maildesk_message.o_expanded .o_maildesk_body_frame",
            run() {
                const messages = document.querySelectorAll(".o_maildesk_message");
                if (messages.length !== 3) {
                    fail(`expected 3 messages, got ${messages.length}`);
                }
                if (!messages[2].classList.contains("o_expanded") || messages[0].classList.contains("o_expanded")) {
                    fail("only the newest message should start expanded");
                }
            },
        },
        {
            content: "The body is isolated: sandboxed iframe without scripts",
            trigger: ".o_maildesk_message.o_expanded .o_maildesk_body_frame",
            run() {
                const frame = this.$anchor[0];
                const sandbox = frame.getAttribute("sandbox") || "";
                if (sandbox.includes("allow-scripts")) {
                    fail("the body iframe must not allow scripts");
                }
                const doc = frame.contentDocument;
                if (!doc || !doc.body.textContent.includes("figures for Q3")) {
                    fail("the body text is not rendered in the frame");
                }
                if (document.querySelector(".o_maildesk_client script")) {
                    fail("a script element leaked into the page");
                }
            },
        },
        { content: "Opening marks it read", trigger: `${row("Quarterly report")}:not(.o_unread)`, isCheck: true },
        { content: "Expand the first message", trigger: ".o_maildesk_message:first .o_maildesk_message_head" },
        { content: "It expands", trigger: ".o_maildesk_message:first.o_expanded", isCheck: true },
        { content: "Open the newsletter", trigger: `${row("Weekly digest")} .o_maildesk_thread_subject` },
        { content: "Remote images are blocked with a choice", trigger: ".o_maildesk_images_bar .o_maildesk_show_images" },
        { content: "Images shown for this message", trigger: ".o_maildesk_message.o_expanded:not(:has(.o_maildesk_images_bar))", isCheck: true },
        { content: "Attachments are listed with their size", trigger: `${row("Contract draft")} .o_maildesk_thread_subject` },
        { content: "The PDF is previewable and downloadable", trigger: '.o_maildesk_attachment:contains("contract.pdf") .o_maildesk_download', isCheck: true },
        { content: "Preview it", trigger: '.o_maildesk_attachment:contains("contract.pdf") .o_maildesk_preview' },
        { content: "The file viewer opens", trigger: ".o-FileViewer", isCheck: true },
        { content: "Close it", trigger: ".o-FileViewer-headerButton .fa-times, .o-FileViewer [aria-label=Close]" },
        {
            content: "Keyboard: j moves to the next thread",
            trigger: `${row("Contract draft")}.o_open`,
            run() {
                pressKey("j");
            },
        },
        { content: "The next thread opened", trigger: '.o_maildesk_reading_subject:not(:contains("Contract draft"))', isCheck: true },
        {
            content: "Keyboard: k moves back",
            trigger: ".o_maildesk_thread.o_open:not(:contains('Contract draft'))",
            run() {
                pressKey("k");
            },
        },
        { content: "The previous thread opened", trigger: '.o_maildesk_reading_subject:contains("Contract draft")', isCheck: true },
        {
            content: "Keyboard: s stars the open thread",
            trigger: ".o_maildesk_thread.o_open",
            run() {
                pressKey("s");
            },
        },
        { content: "It is starred", trigger: ".o_maildesk_thread.o_open .o_maildesk_star.o_starred", isCheck: true },
    ],
});

tours.add("maildesk_tour_reply", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => [
        ...openClient(),
        { content: "Open the thread", trigger: `${row("Quarterly report")} .o_maildesk_thread_subject` },
        { content: "Reply to the newest message", trigger: ".o_maildesk_message.o_expanded .o_maildesk_reply" },
        { content: "The composer has the sender as recipient", trigger: '.o_maildesk_recipients[data-name=to] .o_maildesk_chip:contains("carol@example.com")', isCheck: true },
        { content: "The subject is a reply", trigger: ".o_maildesk_compose_subject", run() {
            if (!/^Re: /i.test(this.$anchor[0].value)) {
                fail(`reply subject expected, got "${this.$anchor[0].value}"`);
            }
        } },
        {
            content: "Type the answer",
            trigger: ".o_maildesk_editable",
            run() {
                const el = this.$anchor[0];
                el.focus();
                el.innerHTML = "<p>Thanks Carol, the figures look right.</p>" + el.innerHTML;
                el.dispatchEvent(new InputEvent("input", { bubbles: true }));
            },
        },
        {
            content: "Attach a file",
            trigger: ".o_maildesk_attach",
            run() {
                const input = document.querySelector(".o_maildesk_compose .o_maildesk_compose_file");
                const transfer = new DataTransfer();
                transfer.items.add(new File(["line one\nline two\n"], "notes.txt", { type: "text/plain" }));
                input.files = transfer.files;
                input.dispatchEvent(new Event("change", { bubbles: true }));
            },
        },
        { content: "The attachment is uploaded", trigger: '.o_maildesk_compose_attachment:contains("notes.txt")', isCheck: true },
        { content: "Send", trigger: ".o_maildesk_send" },
        { content: "The composer closes", trigger: "body:not(:has(.o_maildesk_compose))", in_modal: false, isCheck: true },
        {
            content: "The sent reply appears in the thread (its body is in the sandboxed frame)",
            trigger: ".o_maildesk_message.o_outgoing.o_expanded .o_maildesk_body_frame",
            in_modal: false,
            run() {
                return waitFrameText(this.$anchor[0], "Thanks Carol");
            },
        },
        { content: "With its attachment", trigger: '.o_maildesk_message.o_outgoing .o_maildesk_attachment:contains("notes.txt")', in_modal: false, isCheck: true },
        { content: "The thread now counts 4 messages", trigger: `${row("Quarterly report")} .o_maildesk_thread_count:contains("4")`, in_modal: false, isCheck: true },
    ],
});

tours.add("maildesk_tour_search", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => [
        ...openClient(),
        { content: "Quick filter: has attachment", trigger: ".o_maildesk_quick_filter[data-filter=attachments]" },
        { content: "Only threads with attachments", trigger: `.o_maildesk_thread_list:has(${row("Contract draft")}):not(:has(${row("Quarterly report")}))`, isCheck: true },
        { content: "Quick filter off", trigger: ".o_maildesk_quick_filter[data-filter=attachments].btn-primary" },
        { content: "Type a search", trigger: ".o_maildesk_search_input", run: "text invoice" },
        {
            content: "Press Enter",
            trigger: ".o_maildesk_search_input",
            run() {
                this.$anchor[0].dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
            },
        },
        { content: "The matching thread is found by body text", trigger: row("Payment reminder"), isCheck: true },
        { content: "Others are filtered out", trigger: `.o_maildesk_thread_list:not(:has(${row("Quarterly report")}))`, isCheck: true },
        { content: "Clear the search", trigger: ".o_maildesk_search_clear" },
        { content: "Everything is back", trigger: row("Quarterly report"), isCheck: true },
        { content: "Open advanced search", trigger: ".o_maildesk_search_advanced_toggle" },
        { content: "Search by sender", trigger: ".o_maildesk_search_panel input[name=from]", run: "text dave@example.com" },
        { content: "Apply", trigger: ".o_maildesk_search_apply" },
        { content: "Dave's thread is found", trigger: row("Contract draft"), isCheck: true },
        { content: "Only Dave's", trigger: `.o_maildesk_thread_list:not(:has(${row("Quarterly report")}))`, isCheck: true },
        { content: "Keyboard: / focuses the search box", trigger: ".o_maildesk_search_clear", run() {
            this.$anchor[0].click();
        } },
        { content: "Cleared", trigger: row("Quarterly report"), run() {
            pressKey("/");
            if (document.activeElement !== document.querySelector(".o_maildesk_search_input")) {
                fail("'/' should focus the search box");
            }
        } },
    ],
});

tours.add("maildesk_tour_tag_move", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => [
        ...openClient(),
        { content: "Select a thread", trigger: `${row("Payment reminder")} .o_maildesk_thread_check` },
        { content: "Select another", trigger: `${row("Contract draft")} .o_maildesk_thread_check` },
        { content: "Two selected", trigger: '.o_maildesk_selected_count:contains("2")', isCheck: true },
        { content: "Open the tag menu", trigger: ".o_maildesk_actions [data-action=tags]" },
        { content: "Name a new tag", trigger: ".o_maildesk_new_tag", run: "text Urgent" },
        { content: "Pick a colour", trigger: ".o_maildesk_color_choice[data-color='2']" },
        { content: "Create it", trigger: ".o_maildesk_create_tag" },
        { content: "Both threads carry the tag", trigger: `${row("Payment reminder")} .o_maildesk_tag.o_maildesk_color_2:contains("Urgent")`, isCheck: true },
        { content: "Also the other", trigger: `${row("Contract draft")} .o_maildesk_tag:contains("Urgent")`, isCheck: true },
        { content: "The tag is listed in the folder pane", trigger: '.o_maildesk_tag_link:contains("Urgent")', isCheck: true },
        { content: "Move them", trigger: ".o_maildesk_actions [data-action=move]" },
        { content: "To Projects", trigger: '.o_maildesk_move_target:contains("Projects")' },
        { content: "They leave the inbox", trigger: `.o_maildesk_thread_list:has(${row("Quarterly report")}):not(:has(${row("Payment reminder")}))`, isCheck: true },
        { content: "Open Projects", trigger: '.o_maildesk_account:contains("Work") .o_maildesk_folder:contains("Projects")' },
        { content: "They are in Projects", trigger: row("Payment reminder"), isCheck: true },
        { content: "Archive one with the keyboard", trigger: `${row("Payment reminder")} .o_maildesk_thread_subject` },
        {
            content: "e archives",
            trigger: `${row("Payment reminder")}.o_open`,
            run() {
                pressKey("e");
            },
        },
        { content: "Archived out of Projects", trigger: `.o_maildesk_thread_list:has(${row("Contract draft")}):not(:has(${row("Payment reminder")}))`, isCheck: true },
    ],
});

tours.add("maildesk_tour_delete_from_trash", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => {
        const account = '.o_maildesk_account:contains("Cleanup")';
        return [
            ...openClient(),
            { content: "Open the Cleanup inbox", trigger: `${account} .o_maildesk_folder[data-role=inbox]` },
            { content: "Select the newsletter", trigger: `${row("Old newsletter")} .o_maildesk_thread_check` },
            { content: "Delete it", trigger: ".o_maildesk_actions [data-action=delete]" },
            {
                content: "A whole conversation leaving for Trash is asked first (issue 11); Move to Trash",
                trigger: '.modal-body:contains("Old newsletter"):contains("to Trash")',
                run() {
                    document.querySelector(".o_maildesk_ask_confirm").click();
                },
            },
            { content: "It leaves the inbox", trigger: `.o_maildesk_thread_list:not(:has(${row("Old newsletter")}))`, isCheck: true },
            { content: "Open the Cleanup Trash", trigger: `${account} .o_maildesk_folder[data-role=trash]` },
            { content: "Select it in Trash", trigger: `${row("Old newsletter")} .o_maildesk_thread_check` },
            { content: "Delete from Trash", trigger: ".o_maildesk_actions [data-action=delete]" },
            { content: "The client asks first", trigger: '.modal-body:contains("cannot be restored")', isCheck: true },
            { content: "Cancel", trigger: ".modal-footer button:contains(Cancel)" },
            { content: "Still in Trash", trigger: `${row("Old newsletter")}`, isCheck: true },
            { content: "Delete from Trash again", trigger: ".o_maildesk_actions [data-action=delete]" },
            { content: "Confirm", trigger: '.modal-footer button:contains("Delete")' },
            { content: "Gone for good", trigger: `.o_maildesk_thread_list:not(:has(${row("Old newsletter")}))`, isCheck: true },
        ];
    },
});

tours.add("maildesk_tour_accounts", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => [
        ...openClient(),
        { content: "The unified inbox mixes both mailboxes", trigger: `.o_maildesk_thread_list:has(${row("Quarterly report")}):has(${row("Printer broken")})`, isCheck: true },
        { content: "Each row names its mailbox", trigger: `${row("Printer broken")} .o_maildesk_account_badge:contains("Support")`, isCheck: true },
        { content: "Both mailboxes have sync status", trigger: '.o_maildesk_account:contains("Support") .o_maildesk_sync_text', isCheck: true },
        { content: "Switch to the Support inbox", trigger: '.o_maildesk_account:contains("Support") .o_maildesk_folder[data-role=inbox]' },
        { content: "Only Support threads", trigger: `.o_maildesk_thread_list:has(${row("Printer broken")}):not(:has(${row("Quarterly report")}))`, isCheck: true },
        { content: "The location says so", trigger: '.o_maildesk_location:contains("Support")', isCheck: true },
        { content: "Switch to the Work inbox", trigger: '.o_maildesk_account:contains("Work") .o_maildesk_folder[data-role=inbox]' },
        { content: "Only Work threads", trigger: `.o_maildesk_thread_list:has(${row("Quarterly report")}):not(:has(${row("Printer broken")}))`, isCheck: true },
        { content: "Back to All mailboxes", trigger: ".o_maildesk_folder[data-role=inbox]:not([data-folder-id])" },
        { content: "Unified again", trigger: `.o_maildesk_thread_list:has(${row("Quarterly report")}):has(${row("Printer broken")})`, isCheck: true },
        { content: "Compose from the systray", trigger: ".o_maildesk_systray_compose" },
        { content: "The composer offers both mailboxes as sender", trigger: ".o_maildesk_compose_from", run() {
            const labels = [...this.$anchor[0].options].map((o) => o.textContent);
            if (!labels.some((l) => l.includes("Work")) || !labels.some((l) => l.includes("Support"))) {
                fail(`both mailboxes expected in From, got ${labels.join(" | ")}`);
            }
        } },
        { content: "Close it", trigger: ".o_maildesk_discard" },
        { content: "Closed", trigger: "body:not(:has(.o_maildesk_compose))", in_modal: false, isCheck: true },
    ],
});

tours.add("maildesk_tour_private", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => [
        { content: "The member sees the shared mailbox", trigger: '.o_maildesk_account:contains("Support")', isCheck: true },
        { content: "And its threads", trigger: row("Printer broken"), isCheck: true },
        {
            content: "But not the owner's private mailbox nor its mail",
            trigger: ".o_maildesk_client",
            run() {
                const text = document.querySelector(".o_maildesk_client").textContent;
                for (const forbidden of ["Work", "Quarterly report", "Secret plans"]) {
                    if (text.includes(forbidden)) {
                        fail(`"${forbidden}" belongs to another user's private mailbox`);
                    }
                }
            },
        },
        { content: "Search does not reach it either", trigger: ".o_maildesk_search_input", run: "text Secret" },
        {
            content: "Press Enter",
            trigger: ".o_maildesk_search_input",
            run() {
                this.$anchor[0].dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
            },
        },
        { content: "Nothing found", trigger: ".o_maildesk_empty", isCheck: true },
    ],
});

/** The administrator's side of Gmail / Microsoft 365: settings, then a Gmail mailbox's Connect button. */
tours.add("maildesk_tour_oauth_settings", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_config_settings_action",
    steps: () => [
        { content: "The MailDesk settings are shown", trigger: ".app_settings_block[data-key=maildesk_mail_client]", isCheck: true },
        { content: "Google client id field", trigger: "[name=maildesk_google_client_id] input", run: "text cid.apps.googleusercontent.com" },
        { content: "Google client secret field", trigger: "[name=maildesk_google_client_secret] input", run: "text s3cret" },
        {
            content: "The Google redirect URI to register is shown, with a copy button",
            trigger: "[name=maildesk_google_redirect_uri]:contains('/maildesk/oauth/gmail/callback') .o_clipboard_button",
            isCheck: true,
        },
        {
            content: "So is Microsoft's",
            trigger: "[name=maildesk_microsoft_redirect_uri]:contains('/maildesk/oauth/outlook/callback')",
            isCheck: true,
        },
        { content: "Odoo says the change is not saved yet", trigger: ".o_dirty_warning", isCheck: true },
        {
            content: "Save (the page marks itself first: saving settings reloads the whole page)",
            trigger: ".o_form_button_save",
            run() {
                document.body.classList.add("o_maildesk_before_reload");
                this.$anchor[0].click();
            },
        },
        {
            content: "Saved: the reloaded page keeps the id and has nothing pending",
            trigger: "body:not(.o_maildesk_before_reload):not(:has(.o_dirty_warning)) [name=maildesk_google_client_id] input",
            run() {
                if (this.$anchor[0].value !== "cid.apps.googleusercontent.com") {
                    fail(`client id not kept: "${this.$anchor[0].value}"`);
                }
            },
        },
    ],
});

// ------------------------------------------------------------------ issue 11: trust
function typeInto(input, text) {
    input.focus();
    input.value = text;
    input.dispatchEvent(new InputEvent("input", { bubbles: true }));
}

function keydown(el, key) {
    el.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const TO_INPUT = ".o_maildesk_compose .o_maildesk_recipients[data-name=to] input";
const TO_CHIPS = ".o_maildesk_compose .o_maildesk_recipients[data-name=to] .o_maildesk_chip";

function chips() {
    return [...document.querySelectorAll(TO_CHIPS)].map((chip) => chip.textContent.trim());
}

/** Compose safety: what was typed is what is sent to; the focus is never on Send. */
tours.add("maildesk_tour_compose_safety", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => [
        ...openClient(),
        { content: "New message", trigger: ".o_maildesk_compose_btn" },
        {
            content: "A new message starts in To",
            trigger: TO_INPUT,
            run() {
                if (document.activeElement !== this.$anchor[0]) {
                    fail(`focus should be in To, is on ${document.activeElement.outerHTML.slice(0, 80)}`);
                }
                typeInto(this.$anchor[0], "tomer1@example.org");
            },
        },
        { content: "A longer address is suggested for what was typed", trigger: '.o_maildesk_suggestion:contains("customer1@example.org")', isCheck: true },
        {
            content: "Enter takes the typed address, not the suggestion",
            trigger: TO_INPUT,
            run() {
                keydown(this.$anchor[0], "Enter");
            },
        },
        {
            content: "tomer1@ stays tomer1@",
            trigger: `${TO_CHIPS}:contains("tomer1@example.org")`,
            run() {
                if (chips().some((chip) => chip.includes("customer1"))) {
                    fail(`the suggestion replaced the typed address: ${chips()}`);
                }
            },
        },
        {
            content: "Type a prefix",
            trigger: TO_INPUT,
            run() {
                typeInto(this.$anchor[0], "custo");
            },
        },
        { content: "Suggested", trigger: '.o_maildesk_suggestion:contains("customer1@example.org")', isCheck: true },
        {
            content: "Erase it and type another address at once, then Enter before any new answer",
            trigger: TO_INPUT,
            async run() {
                const input = this.$anchor[0];
                typeInto(input, "");
                typeInto(input, "zed@example.org");
                keydown(input, "Enter"); // at once: before any render or answer
                await sleep(50);
                if (document.querySelector(".o_maildesk_suggestion")) {
                    fail("a suggestion of the erased prefix is still offered");
                }
                await sleep(700); // a late answer for an old text must not come back
                if (document.querySelector(".o_maildesk_suggestion")) {
                    fail("a stale suggestion came back after the field was cleared");
                }
                if (chips().join("|") !== "tomer1@example.org|zed@example.org") {
                    fail(`expected the two typed addresses, got ${chips()}`);
                }
            },
        },
        {
            content: "Type a prefix again",
            trigger: TO_INPUT,
            run() {
                typeInto(this.$anchor[0], "custo");
            },
        },
        { content: "Suggested again", trigger: '.o_maildesk_suggestion:contains("customer1@example.org")', isCheck: true },
        {
            content: "Moving to the suggestion (arrow) then Enter takes it",
            trigger: TO_INPUT,
            run() {
                keydown(this.$anchor[0], "ArrowDown");
                keydown(this.$anchor[0], "Enter");
            },
        },
        { content: "The chosen contact is added", trigger: `${TO_CHIPS}:contains("customer1@example.org")`, isCheck: true },
        { content: "Send without subject or text", trigger: ".o_maildesk_send" },
        {
            content: "It asks first, with the safe answer focused",
            trigger: '.o_maildesk_ask:contains("no subject and no text") .o_maildesk_ask_cancel',
            in_modal: false,
            run() {
                if (document.activeElement !== this.$anchor[0]) {
                    fail("'Keep writing' should have the focus");
                }
                this.$anchor[0].click();
            },
        },
        { content: "The composer is still open", trigger: ".o_maildesk_compose .o_maildesk_discard", in_modal: false },
        { content: "Closed", trigger: "body:not(:has(.o_maildesk_compose))", in_modal: false, isCheck: true },
        { content: "Open a thread", trigger: `${row("Quarterly report")} .o_maildesk_thread_subject`, in_modal: false },
        {
            content: "r replies",
            trigger: '.o_maildesk_reading_subject:contains("Quarterly report")',
            in_modal: false,
            run() {
                pressKey("r");
            },
        },
        {
            content: "The reply starts in the body, never on Send; Enter stays in the body",
            trigger: ".o_maildesk_compose .o_maildesk_editable",
            in_modal: false,
            async run() {
                await sleep(300);
                const active = document.activeElement;
                if (!this.$anchor[0].contains(active)) {
                    fail(`focus should be in the body, is on ${active.outerHTML.slice(0, 80)}`);
                }
                keydown(active, "Enter");
                if (document.activeElement.closest(".o_maildesk_send")) {
                    fail("Send has the focus");
                }
            },
        },
        { content: "Send the reply with nothing written", trigger: ".o_maildesk_compose .o_maildesk_send", in_modal: false },
        {
            content: "It asks: the body has no text of the user's (quote and signature do not count)",
            trigger: '.o_maildesk_ask:contains("has no text") .o_maildesk_ask_cancel',
            in_modal: false,
        },
        { content: "Discard", trigger: ".o_maildesk_compose .o_maildesk_discard", in_modal: false },
        { content: "Nothing was sent, composer closed", trigger: "body:not(:has(.o_maildesk_compose))", in_modal: false, isCheck: true },
    ],
});

/** Undo send, undo archive, undo delete (with its question). */
tours.add("maildesk_tour_undo", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => [
        ...openClient(),
        { content: "Open the thread", trigger: `${row("Quarterly report")} .o_maildesk_thread_subject` },
        { content: "Reply", trigger: ".o_maildesk_message.o_expanded .o_maildesk_reply" },
        {
            content: "Type the answer",
            trigger: ".o_maildesk_editable",
            run() {
                const el = this.$anchor[0];
                el.innerHTML = "<p>Thanks Carol, the figures look right.</p>" + el.innerHTML;
                el.dispatchEvent(new InputEvent("input", { bubbles: true }));
            },
        },
        { content: "Send", trigger: ".o_maildesk_send" },
        { content: "Sending, with Undo", trigger: ".o_maildesk_undo_send .o_notification_buttons button:contains(Undo)", in_modal: false },
        {
            content: "Undo brings the message back into the composer",
            trigger: '.o_maildesk_compose .o_maildesk_editable:contains("Thanks Carol")',
            in_modal: false,
            isCheck: true,
        },
        { content: "With its recipient", trigger: '.o_maildesk_compose .o_maildesk_chip:contains("carol@example.com")', in_modal: false, isCheck: true },
        { content: "Send again", trigger: ".o_maildesk_compose .o_maildesk_send", in_modal: false },
        { content: "Sending…", trigger: ".o_maildesk_undo_send", in_modal: false, isCheck: true },
        {
            content: "It leaves after the delay and shows in the thread",
            trigger: ".o_maildesk_message.o_outgoing.o_expanded .o_maildesk_body_frame",
            in_modal: false,
            run() {
                return waitFrameText(this.$anchor[0], "Thanks Carol");
            },
        },
        {
            content: "Each message names its own folder: the reply Sent, the others Inbox",
            trigger: '.o_maildesk_message.o_outgoing .o_maildesk_message_folder:contains("Sent")',
            in_modal: false,
            run() {
                const incoming = [...document.querySelectorAll(".o_maildesk_message:not(.o_outgoing) .o_maildesk_message_folder")];
                if (!incoming.length || incoming.some((el) => !el.textContent.includes("Inbox"))) {
                    fail("incoming messages should say Inbox");
                }
            },
        },
        { content: "Select a thread", trigger: `${row("Payment reminder")} .o_maildesk_thread_check`, in_modal: false },
        { content: "Archive it", trigger: ".o_maildesk_actions [data-action=archive]", in_modal: false },
        { content: "It leaves the inbox", trigger: `.o_maildesk_thread_list:not(:has(${row("Payment reminder")}))`, in_modal: false, isCheck: true },
        { content: "Undo", trigger: ".o_maildesk_undo_notice .o_notification_buttons button:contains(Undo)", in_modal: false },
        { content: "It is back", trigger: row("Payment reminder"), in_modal: false, isCheck: true },
        { content: "Open another", trigger: `${row("Contract draft")} .o_maildesk_thread_subject`, in_modal: false },
        { content: "It is open", trigger: '.o_maildesk_reading_subject:contains("Contract draft")', in_modal: false, isCheck: true },
        { content: "Delete it", trigger: ".o_maildesk_reading_actions [data-action=delete]", in_modal: false },
        { content: "A question first", trigger: '.o_maildesk_ask:contains("Contract draft"):contains("to Trash") .o_maildesk_ask_confirm', in_modal: false },
        { content: "It leaves the inbox", trigger: `.o_maildesk_thread_list:not(:has(${row("Contract draft")}))`, in_modal: false, isCheck: true },
        { content: "Undo the delete", trigger: '.o_maildesk_undo_notice:contains("Trash") .o_notification_buttons button:contains(Undo)', in_modal: false },
        { content: "It is back too", trigger: row("Contract draft"), in_modal: false, isCheck: true },
    ],
});

/** The page follows the server: counts after reading, sync status from the bus, keyboard, labels. */
tours.add("maildesk_tour_live", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => {
        const workInboxCount = '.o_maildesk_account:contains("Work") .o_maildesk_folder[data-role=inbox] .o_maildesk_count';
        let before = 0;
        return [
            ...openClient(),
            {
                content: "The Work inbox counts unread conversations",
                trigger: workInboxCount,
                run() {
                    before = Number(this.$anchor[0].textContent);
                    if (!/unread conversations?/.test(this.$anchor[0].title)) {
                        fail(`the badge should say its unit, says "${this.$anchor[0].title}"`);
                    }
                },
            },
            {
                content: "Toolbar icons carry accessible names",
                trigger: `${row("Payment reminder")} .o_maildesk_thread_check`,
                async run() {
                    this.$anchor[0].click();
                    await sleep(200);
                    const unnamed = [...document.querySelectorAll(".o_maildesk_client button, .o_maildesk_client a.o_maildesk_star")]
                        .filter((el) => !el.textContent.trim() && !el.getAttribute("aria-label"));
                    if (unnamed.length) {
                        fail(`icon buttons without a name: ${unnamed.map((el) => el.outerHTML.slice(0, 60)).join(" | ")}`);
                    }
                    this.$anchor[0].click();
                },
            },
            {
                content: "Keyboard: focus a row, o opens it",
                trigger: `${row("Payment reminder")}:not(.o_selected)`,
                run() {
                    const el = this.$anchor[0];
                    el.focus();
                    keydown(el, "o");
                },
            },
            { content: "Opened", trigger: '.o_maildesk_reading_subject:contains("Payment reminder")', isCheck: true },
            {
                content: "Opening an unread thread lowers the count at once",
                trigger: workInboxCount,
                run() {
                    const now = Number(this.$anchor[0].textContent);
                    if (now !== before - 1) {
                        fail(`expected ${before - 1} unread, shows ${now}`);
                    }
                },
            },
            {
                content: "Keyboard: arrow down moves the focus, Enter opens",
                trigger: `${row("Payment reminder")}.o_open`,
                async run() {
                    keydown(this.$anchor[0], "ArrowDown");
                    await sleep(200);
                    const focused = document.activeElement;
                    if (!focused.classList.contains("o_maildesk_thread") || focused === this.$anchor[0]) {
                        fail("the next row should have the focus");
                    }
                    keydown(focused, "Enter");
                },
            },
            { content: "The next thread opened", trigger: '.o_maildesk_reading_subject:not(:contains("Payment reminder"))', isCheck: true },
            {
                content: "The server says the mailbox is failing (bus)",
                trigger: '.o_maildesk_account:contains("Work") .o_maildesk_sync_text',
                run() {
                    const account = [...document.querySelectorAll(".o_maildesk_account")].find((el) => el.textContent.includes("Work"));
                    const id = Number(account.dataset.accountId);
                    window.__maildeskAccount = id;
                    odoo.__WOWL_DEBUG__.root.env.services.maildesk.bus.trigger("update", {
                        account_id: id, kind: "status", folder_ids: [],
                        status: { id, state: "error", sync_error: "Cannot reach imap.example.com on port 993",
                                  last_sync_at: false, sync: { running: false, phase: "error", progress: 100,
                                  error: "Cannot reach imap.example.com on port 993", last_sync_at: false } },
                    });
                },
            },
            { content: "The error shows", trigger: '.o_maildesk_account:contains("Work") .o_maildesk_sync_error:contains("Cannot reach")', isCheck: true },
            {
                content: "The server recovered (bus)",
                trigger: '.o_maildesk_account:contains("Work") .o_maildesk_sync_error',
                run() {
                    const id = window.__maildeskAccount;
                    const now = luxon.DateTime.utc().minus({ minutes: 3 }).toFormat("yyyy-MM-dd HH:mm:ss");
                    odoo.__WOWL_DEBUG__.root.env.services.maildesk.bus.trigger("update", {
                        account_id: id, kind: "status", folder_ids: [],
                        status: { id, state: "connected", sync_error: false, last_sync_at: now,
                                  sync: { running: false, phase: "idle", progress: 100, error: false, last_sync_at: now } },
                    });
                },
            },
            {
                content: "The error is gone, the time of the last sync shows",
                trigger: '.o_maildesk_account:contains("Work") .o_maildesk_sync_ok .o_maildesk_sync_text:contains("Synced")',
                run() {
                    if (!/3 minutes ago/.test(this.$anchor[0].textContent)) {
                        fail(`expected "Synced 3 minutes ago", got "${this.$anchor[0].textContent}"`);
                    }
                },
            },
        ];
    },
});

/** Remote images: blocked by default, shown per message, always for a trusted sender. */
tours.add("maildesk_tour_images", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => {
        const frameImage = (frame) => frame.contentDocument && frame.contentDocument.querySelector("img[alt=logo]");
        const waitImage = async (frame, wanted) => {
            for (let i = 0; i < 50; i++) {
                const img = frameImage(frame);
                if (img && (img.getAttribute("src") || "") === wanted) {
                    return;
                }
                await sleep(100);
            }
            const img = frameImage(frame);
            fail(`image src should be "${wanted}", is "${img && img.getAttribute("src")}"`);
        };
        return [
            ...openClient(),
            { content: "Open the newsletter", trigger: `${row("Weekly digest")} .o_maildesk_thread_subject` },
            {
                content: "Blocked by default: no src, the frame's policy refuses remote images",
                trigger: ".o_maildesk_message.o_expanded:has(.o_maildesk_images_bar) .o_maildesk_body_frame",
                async run() {
                    await waitFrameText(this.$anchor[0], "Five tips");
                    const img = frameImage(this.$anchor[0]);
                    if (!img || img.getAttribute("src") || !img.getAttribute("data-maildesk-src")) {
                        fail("the remote image should be kept aside, not loaded");
                    }
                    const csp = this.$anchor[0].contentDocument.querySelector("meta[http-equiv]").content;
                    if (/img-src[^;]*https/.test(csp)) {
                        fail("the policy must block remote images by default");
                    }
                },
            },
            { content: "Show images", trigger: ".o_maildesk_images_bar .o_maildesk_show_images" },
            {
                content: "The image gets its address back and the policy allows it",
                trigger: ".o_maildesk_message.o_expanded:not(:has(.o_maildesk_images_bar)) .o_maildesk_body_frame",
                async run() {
                    await waitImage(this.$anchor[0], "https://tracker.example.net/pixel.png");
                    const csp = this.$anchor[0].contentDocument.querySelector("meta[http-equiv]").content;
                    if (!/img-src[^;]*https:/.test(csp)) {
                        fail("the policy should allow the images now");
                    }
                },
            },
            { content: "Another newsletter of the same sender", trigger: `${row("Monthly digest")} .o_maildesk_thread_subject` },
            { content: "Still blocked there", trigger: '.o_maildesk_reading_subject:contains("Monthly digest")', isCheck: true },
            { content: "Always show from this sender", trigger: ".o_maildesk_images_bar .o_maildesk_trust_sender" },
            {
                content: "Shown",
                trigger: ".o_maildesk_message.o_expanded:not(:has(.o_maildesk_images_bar)) .o_maildesk_body_frame",
                run() {
                    return waitImage(this.$anchor[0], "https://tracker.example.net/monthly.png");
                },
            },
            { content: "Back to the first one", trigger: `${row("Weekly digest")} .o_maildesk_thread_subject` },
            {
                content: "The sender is trusted: its images show without asking",
                trigger: '.o_maildesk_reading_subject:contains("Weekly digest")',
                async run() {
                    await sleep(300);
                    if (document.querySelector(".o_maildesk_images_bar")) {
                        fail("a trusted sender's images should show without asking");
                    }
                    await waitImage(document.querySelector(".o_maildesk_message.o_expanded .o_maildesk_body_frame"),
                                    "https://tracker.example.net/pixel.png");
                },
            },
        ];
    },
});

/** A member's gear opens a read-only card of the shared mailbox. */
tours.add("maildesk_tour_member_card", {
    test: true,
    url: "/web#action=maildesk_mail_client.maildesk_client_action",
    steps: () => [
        { content: "The member sees the shared mailbox", trigger: '.o_maildesk_account:contains("Support")', isCheck: true },
        { content: "Its gear", trigger: '.o_maildesk_account:contains("Support") .o_maildesk_account_gear[aria-label="About this mailbox"]' },
        {
            content: "A read-only card: name, address, owner, sync state; nothing to edit or save",
            trigger: '.modal .o_maildesk_account_card:contains("Alice Martin")',
            in_modal: false,
            run() {
                const card = this.$anchor[0];
                if (card.querySelector("input:not([type=checkbox]):not([disabled]), .o_form_button_save, textarea")) {
                    fail("the member's card must not be editable");
                }
                if (!card.textContent.includes("Support")) {
                    fail("the card should name the mailbox");
                }
            },
        },
        { content: "Close it", trigger: ".modal .o_form_button_cancel, .modal button:contains(Close)", in_modal: false },
        { content: "Back in the client, no error", trigger: "body:not(:has(.modal)) .o_maildesk_client", in_modal: false, isCheck: true },
    ],
});
