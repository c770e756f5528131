/** @odoo-module **/
/**
 * "Test Connection" of the setup wizard that shows it is waiting and can be cancelled.
 *
 * A plain object button blocks the dialog without a word for as long as the server takes
 * (a firewall that drops packets: the whole timeout). This widget saves the wizard, calls
 * `action_test`, shows a spinner with the seconds spent and the server-side limit, and
 * offers Cancel, which drops the request (the server gives up by itself after
 * TEST_TIMEOUT seconds). The result (test_state / test_message) is read back into the form.
 */
import { Component, onWillUnmount, useState } from "@odoo/owl";
import { ConnectionAbortedError } from "@web/core/network/rpc_service";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { standardWidgetProps } from "@web/views/widgets/standard_widget_props";

export const TEST_TIMEOUT = 20; // seconds; models/maildesk_account.py INTERACTIVE_TIMEOUT

export class TestConnectionButton extends Component {
    static props = { ...standardWidgetProps };
    static template = "maildesk_mail_client.TestConnectionButton";

    setup() {
        this.orm = useService("orm");
        this.state = useState({ testing: false, seconds: 0 });
        this.request = null;
        this.timer = null;
        this.timeout = TEST_TIMEOUT;
        onWillUnmount(() => this.stop());
    }

    async test() {
        const record = this.props.record;
        if (!(await record.save())) {
            return;
        }
        this.state.testing = true;
        this.state.seconds = 0;
        this.timer = setInterval(() => this.state.seconds++, 1000);
        const request = this.orm.call(record.resModel, "action_test", [[record.resId]]);
        this.request = request;
        try {
            await request;
            if (this.request === request) {
                await record.load();
            }
        } catch (error) {
            if (!(error instanceof ConnectionAbortedError)) {
                throw error;
            }
        } finally {
            if (this.request === request) {
                this.stop();
            }
        }
    }

    cancel() {
        const request = this.request;
        this.stop();
        if (request) {
            request.abort(false);
        }
    }

    stop() {
        clearInterval(this.timer);
        this.timer = null;
        this.request = null;
        this.state.testing = false;
    }
}

registry.category("view_widgets").add("maildesk_test_connection", { component: TestConnectionButton });
