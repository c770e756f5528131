/** @odoo-module **/

import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";
import { MessageBody } from "../client/message_body";

/**
 * A mail body in a backend form (widget="maildesk_sandboxed_html"): shown read-only in the
 * reading pane's sandboxed iframe (no script, remote content blocked), never inserted into
 * Odoo's own page as the stock html field would.
 */
export class SandboxedHtmlField extends Component {
    static template = "maildesk_mail_client.SandboxedHtmlField";
    static components = { MessageBody };
    static props = { ...standardFieldProps };

    get html() {
        const value = this.props.record.data[this.props.name];
        return value ? value.toString() : "";
    }
}

export const sandboxedHtmlField = {
    component: SandboxedHtmlField,
    displayName: "Mail body (sandboxed)",
    supportedTypes: ["html"],
};

registry.category("fields").add("maildesk_sandboxed_html", sandboxedHtmlField);
