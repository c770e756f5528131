/** @odoo-module **/

import { Component, onMounted, onWillStart, onWillUnmount, useRef, useState } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { useService } from "@web/core/utils/hooks";
import { ask } from "../core/ask_dialog";
import { humanSize } from "../core/format";
import { HtmlEditor } from "./html_editor";
import { RecipientInput, looksLikeAddress, splitAddresses } from "./recipient_input";

export const AUTOSAVE_DELAY = 5000; // ms between draft saves while the user types
const TITLES = { new: "New message", reply: "Reply", reply_all: "Reply all", forward: "Forward", draft: "Draft" };

/**
 * Compose, reply, reply-all and forward. Defaults (recipients, subject, quote, forwarded
 * attachments, signature) come from `compose_defaults`; the draft is saved every few seconds
 * while it changes, so closing the dialog or the browser never loses it.
 */
export class ComposeDialog extends Component {
    static template = "maildesk_mail_client.ComposeDialog";
    static components = { Dialog, HtmlEditor, RecipientInput };
    static props = {
        close: Function,
        mode: { type: String, optional: true },
        messageId: { type: [Number, Boolean], optional: true },
        accountId: { type: [Number, Boolean], optional: true },
        draftId: { type: [Number, Boolean], optional: true },
        to: { type: String, optional: true },
        // Values to start from (an undone send without a draft): {account_id, mode, to, cc, ...}
        values: { type: Object, optional: true },
        onSent: { type: Function, optional: true },
    };
    static defaultProps = { mode: "new" };

    setup() {
        this.orm = useService("orm");
        this.http = useService("http");
        this.notification = useService("notification");
        this.maildesk = useService("maildesk");
        this.dialogService = useService("dialog");
        this.rootRef = useRef("root");
        this.fileRef = useRef("file");
        this.editor = {}; // filled by HtmlEditor with its api
        this.humanSize = humanSize;
        this.state = useState({
            loaded: false, accounts: [], accountId: false, to: [], cc: [], bcc: [], showCc: false,
            subject: "", body: "", attachments: [], draftId: this.props.draftId || false,
            parentId: false, dirty: false, saving: false, savedAt: false, sending: false, uploading: 0,
            mode: this.props.mode, undoSeconds: 0,
        });
        this.initialBody = "";
        // After the Dialog's own focus (its first button): the body for a reply, To otherwise.
        // Never Send, so `r` then Enter types a new line instead of sending an empty reply.
        onMounted(() => this.focusStart());
        onWillStart(async () => {
            const given = this.props.values;
            const values = await this.orm.call("maildesk.client", "compose_defaults", [], {
                mode: this.props.mode === "draft" || given ? "new" : this.props.mode,
                message_id: this.props.messageId || false,
                account_id: (given && given.account_id) || this.props.accountId || false,
                draft_id: this.props.draftId || false,
            });
            // An undone send comes back exactly as it was written (its signature included).
            this.applyDefaults(given ? { ...values, ...given, draft_id: given.draft_id || false } : values);
        });
        this.timer = setInterval(() => this.autosave(), AUTOSAVE_DELAY);
        onWillUnmount(() => {
            clearInterval(this.timer);
            // Closed with Escape or the cross: keep what was typed since the last autosave.
            if (this.state.dirty && this.hasContent && !this.state.sending) {
                this.saveDraft().then(() => this.maildesk.notifyChanged({}));
            }
        });
    }

    focusStart() {
        const root = this.rootRef.el;
        if (!root) {
            return;
        }
        const isReply = ["reply", "reply_all"].includes(this.state.mode);
        if (isReply && this.state.to.length && this.editor.api) {
            this.editor.api.focus();
        } else {
            root.querySelector(".o_maildesk_recipients[data-name=to] input")?.focus();
        }
    }

    get title() {
        return TITLES[this.props.mode] || TITLES.new;
    }

    applyDefaults(values) {
        const state = this.state;
        state.accounts = values.accounts || [];
        state.accountId = values.account_id || (state.accounts[0] && state.accounts[0].id) || false;
        state.to = splitAddresses(this.props.to || values.to || "");
        state.cc = splitAddresses(values.cc || "");
        state.bcc = splitAddresses(values.bcc || "");
        state.showCc = Boolean(state.cc.length || state.bcc.length);
        state.subject = values.subject || "";
        state.body = this.withSignature(values.body_html || "", state.accounts.find((a) => a.id === state.accountId));
        state.attachments = values.attachments || [];
        state.parentId = values.parent_id || false;
        state.draftId = values.draft_id || state.draftId;
        state.mode = values.mode && this.props.mode === "draft" ? values.mode : this.props.mode;
        // null: the server did not say; it applies its own Undo delay (send_at tells how long).
        state.undoSeconds = values.undo_send_seconds ?? null;
        this.initialBody = state.body;
        state.loaded = true;
    }

    /**
     * Put the mailbox's signature above the quoted text (Outlook/Gmail "above quote" style)
     * unless the server's defaults already carry one (drafts being resumed do).
     */
    withSignature(body, account) {
        if (!account || !account.signature || body.includes("o_maildesk_signature") || this.props.draftId ||
            this.props.values) {
            return body;
        }
        return `<p><br></p><div class="o_maildesk_signature">${account.signature}</div>${body}`;
    }

    get currentAccount() {
        return this.state.accounts.find((account) => account.id === this.state.accountId);
    }

    markDirty() {
        this.state.dirty = true;
    }

    onBodyChange(html) {
        this.state.body = html;
        this.markDirty();
    }

    setRecipients(field, recipients) {
        this.state[field] = recipients;
        this.markDirty();
    }

    /** Switching the sending mailbox swaps the signature block for that mailbox's one. */
    onAccountChange(ev) {
        const previous = this.currentAccount;
        this.state.accountId = Number(ev.target.value);
        const next = this.currentAccount;
        const api = this.editor.api;
        if (api) {
            const doc = new DOMParser().parseFromString(`<body>${api.html}</body>`, "text/html");
            const block = doc.querySelector(".o_maildesk_signature");
            const signature = next && next.signature ? next.signature : "";
            if (block) {
                block.innerHTML = signature;
                api.setHtml(doc.body.innerHTML);
            } else if (signature && !(previous && previous.signature)) {
                api.setHtml(`${api.html}<div class="o_maildesk_signature">${signature}</div>`);
            }
        }
        this.markDirty();
    }

    get values() {
        const state = this.state;
        return {
            account_id: state.accountId,
            to: state.to.join(", "),
            cc: state.cc.join(", "),
            bcc: state.bcc.join(", "),
            subject: state.subject,
            body_html: state.body,
            attachment_ids: state.attachments.map((a) => a.id),
            parent_id: state.parentId,
            mode: state.mode === "draft" ? "new" : state.mode,
            draft_id: state.draftId,
        };
    }

    get hasContent() {
        const s = this.state;
        return Boolean(s.to.length || s.cc.length || s.subject.trim() || s.attachments.length ||
                       s.body.replace(/<[^>]*>|&nbsp;|\s/g, ""));
    }

    // ------------------------------------------------------------------ drafts
    async autosave() {
        if (!this.state.dirty || this.state.saving || this.state.sending || !this.hasContent) {
            return;
        }
        await this.saveDraft();
    }

    async saveDraft() {
        this.state.saving = true;
        this.state.dirty = false;
        try {
            const result = await this.orm.call("maildesk.client", "save_draft", [this.values]);
            this.state.draftId = result.draft_id;
            this.state.savedAt = new Date();
        } catch (error) {
            this.state.dirty = true;
            throw error;
        } finally {
            this.state.saving = false;
        }
    }

    get savedLabel() {
        if (this.state.saving) {
            return "Saving…";
        }
        return this.state.savedAt ? `Draft saved ${luxon.DateTime.fromJSDate(this.state.savedAt).toLocaleString(luxon.DateTime.TIME_SIMPLE)}` : "";
    }

    async closeKeepingDraft() {
        if (this.state.dirty && this.hasContent) {
            await this.saveDraft();
            this.notification.add("Draft saved.", { type: "info" });
        }
        this.maildesk.notifyChanged({});
        this.props.close();
    }

    async discard() {
        if (this.state.draftId) {
            await this.orm.call("maildesk.client", "discard_draft", [this.state.draftId]);
        }
        this.state.dirty = false;
        this.maildesk.notifyChanged({});
        this.props.close();
    }

    // ------------------------------------------------------------------ attachments
    pickFiles() {
        this.fileRef.el.click();
    }

    async onFilesChosen(ev) {
        const files = [...ev.target.files];
        ev.target.value = "";
        await this.upload(files);
    }

    async onDrop(ev) {
        ev.preventDefault();
        const files = [...(ev.dataTransfer ? ev.dataTransfer.files : [])];
        if (files.length) {
            await this.upload(files);
        }
    }

    async upload(files) {
        this.state.uploading += files.length;
        try {
            const form = new FormData();
            form.append("csrf_token", odoo.csrf_token);
            form.append("model", "maildesk.message");
            form.append("id", "0");
            for (const file of files) {
                form.append("ufile", file);
            }
            const results = await this.http.post("/web/binary/upload_attachment", form);
            for (const result of results) {
                if (result.error) {
                    this.notification.add(result.error, { type: "danger" });
                } else {
                    this.state.attachments.push({ id: result.id, name: result.filename,
                                                  mimetype: result.mimetype, size: result.size });
                }
            }
            this.markDirty();
        } finally {
            this.state.uploading -= files.length;
        }
    }

    removeAttachment(attachment) {
        this.state.attachments = this.state.attachments.filter((a) => a.id !== attachment.id);
        this.markDirty();
    }

    // ------------------------------------------------------------------ send
    /** Text still in a recipient field (typed, no Enter yet) is a recipient too. */
    takeTypedRecipients() {
        for (const field of ["to", "cc", "bcc"]) {
            const input = this.rootRef.el?.querySelector(`.o_maildesk_recipients[data-name=${field}] input`);
            const typed = input ? splitAddresses(input.value) : [];
            const known = this.state[field].map((r) => r.toLowerCase());
            const added = typed.filter((r) => !known.includes(r.toLowerCase()));
            if (added.length) {
                this.state[field] = [...this.state[field], ...added];
            }
        }
    }

    /** What the user wrote, without the signature and the quoted message. */
    get ownText() {
        const doc = new DOMParser().parseFromString(`<body>${this.state.body || ""}</body>`, "text/html");
        doc.querySelectorAll(".o_maildesk_signature, blockquote").forEach((el) => {
            // The "On <date>, <sender> wrote:" line just above a quote belongs to it.
            const before = el.tagName === "BLOCKQUOTE" && el.previousElementSibling;
            if (before && before.tagName === "P" && /:\s*$/.test(before.textContent)) {
                before.remove();
            }
            el.remove();
        });
        return doc.body.textContent.replace(/\s+/g, " ").trim();
    }

    /** Ask before sending something that looks unfinished; resolves false to keep editing. */
    async confirmUnfinished() {
        const state = this.state;
        const noSubject = !state.subject.trim();
        // A forward with nothing added still carries the forwarded message.
        const noBody = !this.ownText && !(state.mode === "forward" && this.state.body.includes("<blockquote"))
            && !state.attachments.length;
        if (!noSubject && !noBody) {
            return true;
        }
        const what = noSubject && noBody ? "has no subject and no text" : noSubject ? "has no subject" : "has no text";
        return ask(this.dialogService, {
            title: "Send anyway?", body: `This message ${what}. Send it anyway?`,
            confirmLabel: "Send anyway", cancelLabel: "Keep writing",
        });
    }

    async send() {
        const state = this.state;
        this.takeTypedRecipients();
        const all = [...state.to, ...state.cc, ...state.bcc];
        if (!all.length) {
            this.notification.add("Add at least one recipient.", { type: "warning" });
            return;
        }
        const invalid = all.filter((r) => !looksLikeAddress(r));
        if (invalid.length) {
            this.notification.add(`Not a valid address: ${invalid.join(", ")}`, { type: "warning" });
            return;
        }
        if (state.uploading) {
            this.notification.add("Wait for the attachments to finish uploading.", { type: "warning" });
            return;
        }
        if (!(await this.confirmUnfinished())) {
            this.focusStart();
            return;
        }
        state.sending = true;
        try {
            const result = await this.orm.call("maildesk.client", "send", [this.values],
                state.undoSeconds === null ? {} : { delay: state.undoSeconds });
            state.dirty = false;
            if (result && result.outbox_id) {
                offerUndoSend(this.env, result, state.undoSeconds, this.props.onSent);
            } else {
                announceSent(this.env, result, this.props.onSent);
            }
            this.props.close();
        } finally {
            state.sending = false;
        }
    }
}

function announceSent(env, result, onSent) {
    if (result && result.delivery_error) {
        // Delivered to the others and filed in Sent: say who did not get it.
        env.services.notification.add(result.delivery_error, {
            title: "Sent, but not to everyone", type: "warning", sticky: true,
        });
    } else {
        env.services.notification.add("Message sent.", { type: "success" });
    }
    env.services.maildesk.notifyChanged({ thread_ids: result && result.thread_id ? [result.thread_id] : [] });
    onSent && onSent(result);
}

/**
 * The message waits in the outbox: "Sending… Undo" until `send_at`, then this page asks the
 * server to send it (the server's cron does it if the page is gone). Undo brings the message
 * back into the composer, as a draft. Lives outside the dialog, which is closed by then.
 */
function offerUndoSend(env, queued, seconds, onSent) {
    const { notification, orm } = env.services;
    // The delay as asked (this page's clock may differ a little from the server's), else
    // what send_at says, within the server's limit.
    const untilSendAt = luxon.DateTime.fromSQL(queued.send_at, { zone: "utc" }).diffNow().as("milliseconds");
    const wait = seconds !== null ? seconds * 1000 : Math.min(60000, Math.max(0, untilSendAt || 0));
    let undone = false;
    let timer;
    const close = notification.add("Sending…", {
        type: "info", sticky: true, className: "o_maildesk_undo_send",
        buttons: [{
            name: "Undo", primary: true,
            onClick: async () => {
                clearTimeout(timer);
                close();
                undone = true;
                const values = await orm.call("maildesk.client", "cancel_send", [queued.outbox_id]);
                notification.add("Not sent: the message is back in the composer.", { type: "info" });
                openCompose(env, env.services.dialog, values.draft_id
                    ? { mode: "draft", draftId: values.draft_id, onSent }
                    : { mode: "draft", values, onSent });
            },
        }],
    });
    timer = setTimeout(async () => {
        close();
        if (undone) {
            return;
        }
        const result = await orm.call("maildesk.client", "dispatch_outbox", [queued.outbox_id]);
        if (result.pending) {
            notification.add("Not sent yet: the mail server could not be reached. MailDesk tries again in a few minutes.",
                             { type: "warning", sticky: true });
        } else if (result.error) {
            notification.add(result.error, { type: "danger", sticky: true });
            env.services.maildesk.notifyChanged({});
        } else {
            announceSent(env, result, onSent);
        }
    }, wait);
}

/** Open the composer from anywhere (client action, systray, shortcuts). */
export function openCompose(env, dialogService, params = {}) {
    const { onSent, ...props } = params;
    return dialogService.add(ComposeDialog, { ...props, onSent: onSent || (() => {}) });
}
