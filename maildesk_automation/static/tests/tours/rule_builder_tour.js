/** @odoo-module **/

import { registry } from "@web/core/registry";

/**
 * A mailbox owner builds a rule (condition + two actions) with the form's builder, keeps it
 * disabled, dry-runs it, then enables it. The Python side checks the dry run changed nothing
 * and that a new mail is tagged and assigned once the rule is on.
 */
registry.category("web_tour.tours").add("maildesk_automation_rule_builder", {
    test: true,
    url: "/web#action=maildesk_automation.maildesk_rule_action_window",
    steps: () => [
        { trigger: ".o_list_button_add", run: "click" },
        { trigger: ".o_field_widget[name=name] input", run: "text Invoices to the member" },
        { trigger: ".o_field_widget[name=account_ids] input", run: "text Tour" },
        { trigger: ".o-autocomplete--dropdown-item:contains('Tour mailbox')", run: "click" },
        // Condition: subject contains "invoice".
        { trigger: "div[name=condition_ids] .o_field_x2many_list_row_add a", run: "click" },
        { trigger: "div[name=condition_ids] .o_data_row .o_field_widget[name=kind] select",
          run: "text Subject contains" },
        { trigger: "div[name=condition_ids] .o_data_row .o_field_widget[name=value] input", run: "text invoice" },
        // Action 1: add the owner's tag (inline row; details of long actions open in a form).
        { trigger: "div[name=action_ids] .o_field_x2many_list_row_add a", run: "click" },
        // A new action row starts as "Add tags".
        { trigger: "div[name=action_ids] .o_data_row .o_field_widget[name=summary]:contains('Add tags')",
          isCheck: true },
        { trigger: "div[name=action_ids] .o_data_row .o_field_widget[name=tag_ids] input", run: "text Billing" },
        { trigger: ".o-autocomplete--dropdown-item:contains('Billing')", run: "click" },
        // Action 2: assign the member.
        { trigger: "div[name=action_ids] .o_field_x2many_list_row_add a", run: "click" },
        { trigger: "div[name=action_ids] .o_data_row:nth-child(2) .o_field_widget[name=kind] select",
          run: "text Assign to a user" },
        { trigger: "div[name=action_ids] .o_data_row:nth-child(2) .o_field_widget[name=summary]:contains('Assign')",
          isCheck: true },
        { trigger: "div[name=action_ids] .o_data_row:nth-child(2) .o_field_widget[name=user_id] input",
          run: "text Tour Member" },
        { trigger: ".o-autocomplete--dropdown-item:contains('Tour Member')", run: "click" },
        { trigger: "div[name=action_ids] .o_data_row .o_field_widget[name=tag_ids] .o_tag:contains('Billing')",
          isCheck: true },
        // Keep it disabled while trying it: the toggle saves the rule (autosave).
        { trigger: ".o_field_widget[name=active] input", run: "click" },
        { trigger: ".o_form_status_indicator_buttons.invisible", isCheck: true },
        // Saved: the dry run button appears; run it on the mailbox's mail.
        { trigger: "button[name=action_dry_run]", run: "click" },
        { trigger: ".modal-footer button[name=action_run]", run: "click" },
        // Done: the wizard offers to run again (the Python side checks the lines it wrote).
        { trigger: ".modal-footer button:contains('Run Again')", isCheck: true },
        { trigger: ".modal-footer button:contains('Close')", run: "click" },
        // Enable it.
        { trigger: "body:not(:has(.modal))", isCheck: true },
        { trigger: ".o_field_widget[name=active] input:not(:checked)", run: "click" },
        { trigger: ".o_field_widget[name=active] input:checked", isCheck: true },
        { trigger: ".o_form_status_indicator_buttons.invisible", isCheck: true },
    ],
});
