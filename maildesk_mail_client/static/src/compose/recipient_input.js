/** @odoo-module **/

import { Component, useRef, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";
import { useDebounced } from "@web/core/utils/timing";

/** Split "a@x.com, Bob <b@y.com>; c@z.com" into addresses, keeping display names. */
export function splitAddresses(text) {
    const out = [];
    let current = "";
    let quoted = false;
    let angle = false;
    for (const char of text || "") {
        if (char === '"') {
            quoted = !quoted;
        } else if (char === "<") {
            angle = true;
        } else if (char === ">") {
            angle = false;
        }
        if ((char === "," || char === ";") && !quoted && !angle) {
            current.trim() && out.push(current.trim());
            current = "";
        } else {
            current += char;
        }
    }
    current.trim() && out.push(current.trim());
    return out;
}

export function addressOf(recipient) {
    const match = /<([^>]+)>/.exec(recipient);
    return (match ? match[1] : recipient).trim();
}

export function looksLikeAddress(recipient) {
    return /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(addressOf(recipient));
}

/**
 * A To/Cc/Bcc field: recipients as chips, contacts suggested as you type (res.partner and
 * the addresses seen in the user's mailboxes, from `search_contacts`).
 *
 * What the user typed wins: Enter, Tab, a comma or leaving the field take the typed text,
 * unless the user moved to a suggestion (arrow keys or the mouse) or clicked one. Every
 * keystroke narrows the suggestions shown to those matching the new text and asks the server
 * again; an answer that comes back for an older text is dropped, so a suggestion never
 * outlives its query.
 */
export class RecipientInput extends Component {
    static template = "maildesk_mail_client.RecipientInput";
    static props = { recipients: Array, onChange: Function, name: String, placeholder: { type: String, optional: true } };

    setup() {
        this.orm = useService("orm");
        this.inputRef = useRef("input");
        // active: index of the suggestion the user moved to; -1 = none (the typed text wins).
        this.state = useState({ text: "", suggestions: [], active: -1 });
        this.querySeq = 0; // bumped on every keystroke: answers for an older text are dropped
        this.search = useDebounced(this.fetchSuggestions.bind(this), 200);
    }

    async fetchSuggestions() {
        const query = this.state.text.trim();
        const seq = this.querySeq;
        if (query.length < 2) {
            this.state.suggestions = [];
            return;
        }
        const results = await this.orm.call("maildesk.client", "search_contacts", [query], { limit: 8 });
        if (seq !== this.querySeq || query !== this.state.text.trim()) {
            return; // typed on meanwhile: this answer is for a text that is gone
        }
        this.state.suggestions = results;
        this.state.active = -1;
    }

    /** Keep only the suggestions that still match what is typed now. */
    narrowSuggestions() {
        const query = this.state.text.trim().toLowerCase();
        this.state.active = -1;
        if (query.length < 2) {
            this.state.suggestions = [];
            return;
        }
        this.state.suggestions = this.state.suggestions.filter((contact) =>
            (contact.email || "").toLowerCase().includes(query) || (contact.name || "").toLowerCase().includes(query));
    }

    format(contact) {
        return contact.name && contact.name !== contact.email ? `${contact.name} <${contact.email}>` : contact.email;
    }

    add(recipient) {
        const value = recipient.trim();
        if (!value) {
            return;
        }
        const known = this.props.recipients.map((r) => addressOf(r).toLowerCase());
        if (!known.includes(addressOf(value).toLowerCase())) {
            this.props.onChange([...this.props.recipients, value]);
        }
        this.clearText();
    }

    clearText() {
        this.querySeq++;
        this.state.text = "";
        this.state.suggestions = [];
        this.state.active = -1;
        if (this.inputRef.el) {
            this.inputRef.el.value = "";
        }
    }

    remove(recipient) {
        this.props.onChange(this.props.recipients.filter((r) => r !== recipient));
    }

    commitTyped() {
        const parts = splitAddresses(this.state.text);
        this.clearText();
        for (const part of parts) {
            this.add(part);
        }
    }

    onInput(ev) {
        this.state.text = ev.target.value;
        this.querySeq++;
        if (/[,;]\s*$/.test(this.state.text)) {
            this.commitTyped();
            return;
        }
        this.narrowSuggestions();
        this.search();
    }

    onKeydown(ev) {
        const suggestions = this.state.suggestions;
        if (ev.key === "ArrowDown" && suggestions.length) {
            ev.preventDefault();
            this.state.active = (this.state.active + 1) % suggestions.length;
        } else if (ev.key === "ArrowUp" && suggestions.length) {
            ev.preventDefault();
            this.state.active = this.state.active <= 0 ? suggestions.length - 1 : this.state.active - 1;
        } else if (ev.key === "Enter" || (ev.key === "Tab" && this.state.text.trim())) {
            const chosen = this.state.active >= 0 && suggestions[this.state.active];
            if (chosen) {
                ev.preventDefault();
                this.add(this.format(chosen));
            } else if (this.state.text.trim()) {
                ev.preventDefault();
                this.commitTyped();
            }
        } else if (ev.key === "Backspace" && !this.state.text && this.props.recipients.length) {
            this.remove(this.props.recipients[this.props.recipients.length - 1]);
        } else if (ev.key === "Escape" && suggestions.length) {
            ev.stopPropagation();
            this.state.suggestions = [];
            this.state.active = -1;
        }
    }

    /** The pointer moved over a suggestion: that is moving to it (a resting pointer is not). */
    onSuggestionMove(index) {
        this.state.active = index;
    }

    onBlur() {
        // Leave time for a click on a suggestion before committing what was typed.
        setTimeout(() => {
            if (this.state.text.trim()) {
                this.commitTyped();
            }
            this.state.suggestions = [];
            this.state.active = -1;
        }, 150);
    }

    isValid(recipient) {
        return looksLikeAddress(recipient);
    }
}
