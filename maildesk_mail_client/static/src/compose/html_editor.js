/** @odoo-module **/

import { Component, onMounted, useRef } from "@odoo/owl";

const DROP_TAGS = "script, style, iframe, object, embed, link, meta, base, form, input, button, textarea, select";

/**
 * Defence in depth for HTML put into the editor (quoted replies, drafts, signatures): the
 * server already sanitizes it, but the editor lives in the Odoo page, so anything active is
 * dropped again here, in an inert document, before it is inserted.
 */
export function cleanHtml(html) {
    const doc = new DOMParser().parseFromString(`<body>${html || ""}</body>`, "text/html");
    doc.querySelectorAll(DROP_TAGS).forEach((el) => el.remove());
    for (const el of doc.body.querySelectorAll("*")) {
        for (const attr of [...el.attributes]) {
            const name = attr.name.toLowerCase();
            const value = attr.value.trim().toLowerCase();
            if (name.startsWith("on") || ((name === "href" || name === "src") && value.startsWith("javascript:"))) {
                el.removeAttribute(attr.name);
            }
        }
    }
    return doc.body.innerHTML;
}

const COMMANDS = [
    { command: "bold", icon: "fa-bold", title: "Bold" },
    { command: "italic", icon: "fa-italic", title: "Italic" },
    { command: "underline", icon: "fa-underline", title: "Underline" },
    { command: "strikeThrough", icon: "fa-strikethrough", title: "Strikethrough" },
    { command: "insertUnorderedList", icon: "fa-list-ul", title: "Bulleted list" },
    { command: "insertOrderedList", icon: "fa-list-ol", title: "Numbered list" },
    { command: "formatBlock", arg: "blockquote", icon: "fa-quote-right", title: "Quote" },
    { command: "createLink", icon: "fa-link", title: "Link" },
    { command: "removeFormat", icon: "fa-eraser", title: "Clear formatting" },
];

/**
 * A small rich-text editor (contenteditable + the browser's editing commands) that emails
 * well: plain tags, no classes that need Odoo's CSS to make sense.
 */
export class HtmlEditor extends Component {
    static template = "maildesk_mail_client.HtmlEditor";
    static props = { initialHtml: { type: String, optional: true }, onChange: Function,
                     editorRef: { type: Object, optional: true } };

    setup() {
        this.commands = COMMANDS;
        this.editableRef = useRef("editable");
        onMounted(() => {
            this.editableRef.el.innerHTML = cleanHtml(this.props.initialHtml);
            if (this.props.editorRef) {
                this.props.editorRef.api = this;
            }
        });
    }

    /** Put the caret at the very start (above the signature and the quote), like a reply in any client. */
    focus() {
        const el = this.editableRef.el;
        if (!el) {
            return;
        }
        el.focus();
        const range = document.createRange();
        let first = el;
        while (first.firstChild && first.firstChild.nodeType === Node.ELEMENT_NODE &&
               !["BR", "IMG"].includes(first.firstChild.nodeName)) {
            first = first.firstChild;
        }
        range.setStart(first, 0);
        range.collapse(true);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
    }

    get html() {
        return this.editableRef.el ? this.editableRef.el.innerHTML : "";
    }

    setHtml(html) {
        this.editableRef.el.innerHTML = cleanHtml(html);
        this.props.onChange(this.html);
    }

    run(item) {
        this.editableRef.el.focus();
        if (item.command === "createLink") {
            const url = window.prompt("Link address", "https://");
            if (!url || /^\s*javascript:/i.test(url)) {
                return;
            }
            document.execCommand("createLink", false, url);
        } else {
            document.execCommand(item.command, false, item.arg || null);
        }
        this.props.onChange(this.html);
    }

    onInput() {
        this.props.onChange(this.html);
    }

    onPaste(ev) {
        // Pasted HTML goes through the same cleaning as everything else.
        const html = ev.clipboardData && ev.clipboardData.getData("text/html");
        if (html) {
            ev.preventDefault();
            document.execCommand("insertHTML", false, cleanHtml(html));
            this.props.onChange(this.html);
        }
    }
}
