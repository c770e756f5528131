/** @odoo-module **/

import { Component, onWillStart, onWillUnmount, useRef, useState } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";
import { useService } from "@web/core/utils/hooks";
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
        onSent: { type: Function, optional: true },
    };
    static defaultProps = { mode: "new" };

    setup() {
        this.orm = useService("orm");
        this.http = useService("http");
        this.notification = useService("notification");
        this.maildesk = useService("maildesk");
        this.fileRef = useRef("file");
        this.editor = {}; // filled by HtmlEditor with its api
        this.humanSize = humanSize;
        this.state = useState({
            loaded: false, accounts: [], accountId: false, to: [], cc: [], bcc: [], showCc: false,
            subject: "", body: "", attachments: [], draftId: this.props.draftId || false,
            parentId: false, dirty: false, saving: false, savedAt: false, sending: false, uploading: 0,
        });
        onWillStart(async () => {
            const values = await this.orm.call("maildesk.client", "compose_defaults", [], {
                mode: this.props.mode === "draft" ? "new" : this.props.mode,
                message_id: this.props.messageId || false,
                account_id: this.props.accountId || false,
                draft_id: this.props.draftId || false,
            });
            this.applyDefaults(values);
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
        state.loaded = true;
    }

    /**
     * Put the mailbox's signature above the quoted text (Outlook/Gmail "above quote" style)
     * unless the server's defaults already carry one (drafts being resumed do).
     */
    withSignature(body, account) {
        if (!account || !account.signature || body.includes("o_maildesk_signature") || this.props.draftId) {
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
            mode: this.props.mode,
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
    async send() {
        const state = this.state;
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
        state.sending = true;
        try {
            const result = await this.orm.call("maildesk.client", "send", [this.values]);
            state.dirty = false;
            if (result && result.delivery_error) {
                // Delivered to the others and filed in Sent: say who did not get it.
                this.notification.add(result.delivery_error, {
                    title: "Sent, but not to everyone", type: "warning", sticky: true,
                });
            } else {
                this.notification.add("Message sent.", { type: "success" });
            }
            this.maildesk.notifyChanged({ thread_ids: result && result.thread_id ? [result.thread_id] : [] });
            this.props.onSent && this.props.onSent(result);
            this.props.close();
        } finally {
            state.sending = false;
        }
    }
}

/** Open the composer from anywhere (client action, systray, shortcuts). */
export function openCompose(env, dialogService, params = {}) {
    const { onSent, ...props } = params;
    return dialogService.add(ComposeDialog, { ...props, onSent: onSent || (() => {}) });
}
