/** @odoo-module **/
/**
 * `maildesk` service: one subscription to the bus notifications of type "maildesk.update"
 * (the bus service has no unsubscribe, so components listen to this service's EventBus
 * instead of subscribing on every mount), and the channel the systray composer uses to tell
 * an open client that a message was sent. Also shows the outcome of a delayed send that did
 * not go through ("maildesk.outbox": state "failed" or "unknown") as a sticky notification.
 */
import { EventBus } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { _t } from "@web/core/l10n/translation";

export const maildeskService = {
    dependencies: ["bus_service", "notification"],
    start(env, { bus_service, notification }) {
        const bus = new EventBus();
        bus_service.subscribe("maildesk.update", (payload) => bus.trigger("update", payload || {}));
        bus_service.subscribe("maildesk.outbox", (payload) => {
            if (payload && (payload.state === "failed" || payload.state === "unknown")) {
                notification.add(payload.error || _t("The message was not sent; it is back in your drafts."), {
                    title: payload.state === "unknown" ? _t("Maybe sent") : _t("Not sent"),
                    type: "warning",
                    sticky: true,
                });
            }
            bus.trigger("update", { account_id: payload && payload.account_id });
        });
        bus_service.start();
        return {
            bus,
            /** Announce a local change (e.g. a sent message) to every open client pane. */
            notifyChanged(payload = {}) {
                bus.trigger("update", payload);
            },
        };
    },
};

registry.category("services").add("maildesk", maildeskService);
