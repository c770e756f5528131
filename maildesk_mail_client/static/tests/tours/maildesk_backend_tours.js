/** @odoo-module **/
/**
 * Backend views that show mail (tests/test_security.py, TestBackendBodySandbox): the message
 * form renders the body only inside the sandboxed frame, never in Odoo's own page.
 */
import { registry } from "@web/core/registry";

function fail(message) {
    throw new Error(`maildesk backend tour: ${message}`);
}

registry.category("web_tour.tours").add("maildesk_tour_message_form_sandbox", {
    test: true,
    steps: () => [
        { content: "The message form is open", trigger: ".o_form_view .o_field_maildesk_sandboxed_html", isCheck: true },
        {
            content: "The body is in a sandboxed frame without scripts, and only there",
            trigger: ".o_field_maildesk_sandboxed_html iframe.o_maildesk_body_frame",
            async run() {
                const frame = this.$anchor[0];
                if ((frame.getAttribute("sandbox") || "").includes("allow-scripts")) {
                    fail("the body frame must not allow scripts");
                }
                for (let i = 0; i < 50 && !(frame.contentDocument?.body?.textContent || "").includes("Sandboxed"); i++) {
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
                if (!frame.contentDocument.body.textContent.includes("Sandboxed body")) {
                    fail("the body text is not rendered in the frame");
                }
                if (document.querySelector(".o_form_view").textContent.includes("Sandboxed body")) {
                    fail("the mail's markup was inserted into Odoo's page");
                }
            },
        },
    ],
});
