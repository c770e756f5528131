/** @odoo-module **/

import { Component, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";
import { FileModel } from "@web/core/file_viewer/file_model";
import { useFileViewer } from "@web/core/file_viewer/file_viewer_hook";
import { displayName, humanSize, initials, longDate, shortDate } from "../core/format";
import { MessageBody } from "./message_body";

const FOLDER_ICONS = {
    inbox: "fa-inbox", sent: "fa-paper-plane", drafts: "fa-file-text-o", archive: "fa-archive",
    trash: "fa-trash", spam: "fa-ban", custom: "fa-folder-o",
};

export class ReadingPane extends Component {
    static template = "maildesk_mail_client.ReadingPane";
    static components = { MessageBody };
    static props = { store: Object, onCompose: Function };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.notification = useService("notification");
        this.fileViewer = useFileViewer();
        // Keyed by message id (unique across threads): explicit expand/collapse, shown images.
        this.state = useState({ toggled: {}, showImages: {} });
        this.humanSize = humanSize;
        this.longDate = longDate;
        this.shortDate = shortDate;
        this.displayName = displayName;
        this.initials = initials;
    }

    get store() {
        return this.props.store;
    }

    get data() {
        return this.store.openThread;
    }

    /** The newest message and the ones unread when opened start expanded, like Gmail. */
    isExpanded(message) {
        if (message.id in this.state.toggled) {
            return this.state.toggled[message.id];
        }
        const messages = this.data.messages;
        return message.id === messages[messages.length - 1].id || Boolean(message.was_unread);
    }

    toggle(message) {
        this.state.toggled[message.id] = !this.isExpanded(message);
    }

    get threadTags() {
        const ids = this.data.thread.tag_ids || [];
        return this.store.tags.filter((tag) => ids.includes(tag.id));
    }

    compose(mode, message) {
        this.props.onCompose({ mode, messageId: message.id });
    }

    act(operation, args) {
        return this.store.runAction(operation, [this.data.thread.id], args);
    }

    /** The folder each message is in (a thread spans Inbox, Sent...), in people's words. */
    folderLabel(message) {
        const name = message.folder_name || "";
        return message.folder_role === "inbox" && name.toUpperCase() === "INBOX" ? "Inbox" : name;
    }

    folderIcon(message) {
        return FOLDER_ICONS[message.folder_role] || FOLDER_ICONS.custom;
    }

    // ------------------------------------------------------------------ images
    remoteAllowed(message) {
        return Boolean(message.remote_images_allowed || this.state.showImages[message.id]);
    }

    showImagesOnce(message) {
        this.state.showImages[message.id] = true;
    }

    async trustSender(message) {
        await this.orm.call("maildesk.client", "allow_remote_images", [message.id], { scope: "sender" });
        this.state.showImages[message.id] = true;
        await this.store.reloadOpenThread();
        this.notification.add(`Images from ${message.from_address || displayName(message.from)} will always be shown.`,
            { type: "success" });
    }

    // ------------------------------------------------------------------ attachments
    fileModel(attachment) {
        const file = new FileModel();
        Object.assign(file, {
            id: attachment.id,
            name: attachment.name,
            filename: attachment.name,
            mimetype: attachment.mimetype,
            checksum: attachment.checksum,
        });
        return file;
    }

    canPreview(attachment) {
        const file = this.fileModel(attachment);
        return file.isImage || file.isPdf;
    }

    preview(attachment, message) {
        const files = message.attachments.filter((a) => this.canPreview(a)).map((a) => this.fileModel(a));
        const file = files.find((f) => f.id === attachment.id);
        this.fileViewer.open(file, files);
    }

    downloadUrl(attachment) {
        return `/web/content/${attachment.id}?download=true`;
    }

    attachmentIcon(attachment) {
        const mime = attachment.mimetype || "";
        if (mime.startsWith("image/")) {
            return "fa-file-image-o";
        }
        if (mime === "application/pdf") {
            return "fa-file-pdf-o";
        }
        if (mime.includes("zip") || mime.includes("compressed")) {
            return "fa-file-archive-o";
        }
        if (mime.startsWith("text/")) {
            return "fa-file-text-o";
        }
        return "fa-file-o";
    }

    // ------------------------------------------------------------------ contacts
    async createContact(message) {
        const partner = await this.orm.call("maildesk.client", "create_partner_from_sender", [message.id]);
        await this.store.reloadOpenThread();
        this.notification.add(`Contact ${partner.name || ""} created.`, { type: "success" });
    }

    openPartner(partner) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "res.partner",
            res_id: partner.id,
            views: [[false, "form"]],
            target: "new",
        });
    }

    partnerThreads(partner) {
        this.store.showPartnerThreads(partner);
    }
}
