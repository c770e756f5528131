/** @odoo-module **/

import { Component, onMounted, useRef } from "@odoo/owl";
import { Dialog } from "@web/core/dialog/dialog";

/**
 * "Are you sure?" with the safe answer first and focused: Enter never confirms by accident
 * (Odoo's ConfirmationDialog focuses its confirm button).
 */
export class AskDialog extends Component {
    static template = "maildesk_mail_client.AskDialog";
    static components = { Dialog };
    static props = {
        close: Function, title: String, body: String, confirm: Function,
        confirmLabel: String, cancelLabel: { type: String, optional: true },
        danger: { type: Boolean, optional: true },
    };
    static defaultProps = { cancelLabel: "Cancel", danger: false };

    setup() {
        this.cancelRef = useRef("cancel");
        onMounted(() => this.cancelRef.el && this.cancelRef.el.focus());
    }

    onConfirm() {
        this.props.confirm(); // before close: close() alone means "cancelled"
        this.props.close();
    }
}

/** Ask through the dialog service; resolves true when confirmed, false otherwise. */
export function ask(dialogService, { title, body, confirmLabel, cancelLabel, danger }) {
    return new Promise((resolve) => {
        let answered = false;
        dialogService.add(AskDialog, {
            title, body, confirmLabel, cancelLabel, danger,
            confirm: () => {
                answered = true;
                resolve(true);
            },
        }, { onClose: () => !answered && resolve(false) });
    });
}
