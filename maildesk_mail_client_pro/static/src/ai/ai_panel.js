/** @odoo-module **/

import { Component, onWillUnmount, useState } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";
import { streamAi } from "./ai_stream";

const LEVEL_CLASS = { low: "text-bg-success", medium: "text-bg-warning", high: "text-bg-danger" };

/**
 * The AI side panel of the reading pane: Summarize, Ask AI (a chat about this thread), Draft
 * reply (opens the compose dialog with the draft) and Security scan. Text answers stream in
 * and can be stopped; everything shown is plain text (t-esc), never HTML from the model.
 * The server decides what is allowed (`ai` from get_thread only hides buttons).
 */
export class AiPanel extends Component {
    static template = "maildesk_mail_client_pro.AiPanel";
    static props = { store: Object, onOpenDraft: Function };

    setup() {
        this.orm = useService("orm");
        this.notification = useService("notification");
        this.levelClass = LEVEL_CLASS;
        // One panel per thread (t-key in the template): another thread starts afresh and the
        // previous thread's stream is stopped when its panel goes.
        this.state = useState({
            open: false, tab: "summary", busy: false, error: "", note: "", summary: null, question: "",
            chat: [], scan: null, tone: "neutral", language: "auto", instructions: "",
            includeAttachments: false, draftText: "",
        });
        onWillUnmount(() => this.stop());
    }

    get data() {
        return this.props.store.openThread;
    }

    get ai() {
        return (this.data && this.data.ai) || { features: {}, provider: false };
    }

    get newestIncoming() {
        const messages = this.data.messages.filter((m) => m.direction === "incoming");
        return messages[messages.length - 1] || this.data.messages[this.data.messages.length - 1];
    }

    show(tab) {
        this.state.open = true;
        this.state.tab = tab;
        this.state.error = "";
        if (tab === "scan" && !this.state.scan) {
            this.scan(false);
        }
    }

    stop() {
        if (this.abort) {
            this.abort.abort();
            this.abort = null;
        }
    }

    async run(payload, onDelta) {
        this.stop();
        this.abort = new AbortController();
        const state = this.state;
        state.busy = true;
        state.error = "";
        state.note = "";
        try {
            return await streamAi({ thread_id: this.data.thread.id, ...payload }, {
                signal: this.abort.signal,
                onMeta: (event) => (state.note = event.note || ""),
                onDelta,
            });
        } catch (error) {
            if (error.name !== "AbortError") {
                state.error = error.message;
            }
            return null;
        } finally {
            state.busy = false;
            this.abort = null;
        }
    }

    async summarize() {
        this.state.summary = null;
        const result = await this.run({ feature: "summarize", include_attachments: this.state.includeAttachments });
        if (result) {
            this.state.summary = result;
        }
    }

    async ask() {
        const question = this.state.question.trim();
        if (!question) {
            return;
        }
        const history = this.state.chat.filter((turn) => turn.answer).map((turn) => [turn.question, turn.answer]);
        const turn = { question, answer: "" };
        this.state.chat.push(turn);
        this.state.question = "";
        const live = this.state.chat[this.state.chat.length - 1];
        const result = await this.run(
            { feature: "ask", question, history, include_attachments: this.state.includeAttachments },
            (text) => (live.answer += text)
        );
        if (result) {
            live.answer = result.answer;
        } else if (!live.answer) {
            this.state.chat.pop();
        }
    }

    onQuestionKeydown(ev) {
        if (ev.key === "Enter" && !ev.shiftKey) {
            ev.preventDefault();
            this.ask();
        }
    }

    async draft() {
        this.state.draftText = "";
        const result = await this.run(
            {
                feature: "draft", message_id: this.newestIncoming.id, tone: this.state.tone,
                language: this.state.language, instructions: this.state.instructions,
            },
            (text) => (this.state.draftText += text)
        );
        if (result) {
            this.state.draftText = result.text;
            this.props.onOpenDraft(result.draft_id);
        }
    }

    async scan(explain) {
        this.state.busy = true;
        this.state.error = "";
        try {
            this.state.scan = await this.orm.call("maildesk.client", "ai_scan", [this.newestIncoming.id], { explain });
        } catch (error) {
            this.state.error = (error.data && error.data.message) || error.message;
        } finally {
            this.state.busy = false;
        }
    }

    copy(text) {
        navigator.clipboard && navigator.clipboard.writeText(text);
        this.notification.add("Copied.", { type: "success" });
    }

    summaryText(summary) {
        const lines = [summary.summary];
        if (summary.open_questions.length) {
            lines.push("", "Open questions:", ...summary.open_questions.map((q) => `- ${q}`));
        }
        if (summary.action_items.length) {
            lines.push("", "Action items:", ...summary.action_items.map((a) => `- ${a}`));
        }
        return lines.join("\n");
    }
}
