/** @odoo-module **/
/**
 * Client of the AI streaming routes (`POST /maildesk/ai/stream`, controllers/main.py, and the
 * cockpit's): newline-delimited JSON events read as they arrive. `streamJsonLines(url,
 * payload, handlers)` resolves with the final result, rejects with an Error carrying the
 * server's readable message; `handlers.signal` (an AbortSignal) cancels, which closes the
 * connection and stops the model on the server side.
 */
export function streamAi(payload, handlers) {
    return streamJsonLines("/maildesk/ai/stream", payload, handlers);
}

export async function streamJsonLines(url, payload, { onMeta, onDelta, signal } = {}) {
    const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(payload),
        signal,
    });
    if (!response.body) {
        throw new Error("The AI answer could not be read.");
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let result = null;
    const handle = (event) => {
        if (event.type === "meta") {
            onMeta && onMeta(event);
        } else if (event.type === "delta") {
            onDelta && onDelta(event.text);
        } else if (event.type === "done") {
            result = event.result;
        } else if (event.type === "error") {
            throw new Error(event.message);
        }
    };
    for (;;) {
        const { done, value } = await reader.read();
        if (done) {
            break;
        }
        buffer += decoder.decode(value, { stream: true });
        let index;
        while ((index = buffer.indexOf("\n")) >= 0) {
            const line = buffer.slice(0, index);
            buffer = buffer.slice(index + 1);
            if (line.trim()) {
                handle(JSON.parse(line));
            }
        }
    }
    if (buffer.trim()) {
        handle(JSON.parse(buffer));
    }
    if (!result) {
        throw new Error("The AI answer ended early.");
    }
    return result;
}
