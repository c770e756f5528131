/** @odoo-module **/
/**
 * `maildesk` service: one subscription to the bus notifications of type "maildesk.update"
 * (the bus service has no unsubscribe, so components listen to this service's EventBus
 * instead of subscribing on every mount), and the channel the systray composer uses to tell
 * an open client that a message was sent.
 */
import { EventBus } from "@odoo/owl";
import { registry } from "@web/core/registry";

export const maildeskService = {
    dependencies: ["bus_service"],
    start(env, { bus_service }) {
        const bus = new EventBus();
        bus_service.subscribe("maildesk.update", (payload) => bus.trigger("update", payload || {}));
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
