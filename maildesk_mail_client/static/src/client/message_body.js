/** @odoo-module **/

import { Component, onMounted, onWillUnmount, onWillUpdateProps, useRef } from "@odoo/owl";

/**
 * The body of one email, isolated from Odoo in a sandboxed iframe.
 *
 * - `sandbox` without `allow-scripts`: nothing in the mail can run, whatever the sanitizer
 *   missed. `allow-same-origin` only lets this component measure the document's height;
 *   without scripts the frame cannot use that origin itself.
 * - A Content-Security-Policy in the document blocks every remote fetch (tracking pixels,
 *   remote images, fonts, CSS imports) unless the user chose to show images.
 * - The mail's own styles stay inside the frame; Odoo's stay outside.
 * - Links open in a new tab, outside the sandbox.
 */
/**
 * The sanitizer (engine/sanitize.py) moves a remote image's URL from `src` / `background`
 * to `data-maildesk-src` / `data-maildesk-background`: blocked by default. When the reader
 * shows images, put them back, in an inert document (nothing loads or runs while parsing),
 * and only http(s) URLs: the CSP of the frame then lets exactly those load.
 */
export function restoreRemoteImages(html) {
    const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
    for (const [data, attr] of [["data-maildesk-src", "src"], ["data-maildesk-background", "background"]]) {
        for (const el of doc.body.querySelectorAll(`[${data}]`)) {
            const url = el.getAttribute(data).trim();
            if (/^https?:\/\//i.test(url)) {
                el.setAttribute(attr, url);
            }
            el.removeAttribute(data);
        }
    }
    return doc.body.innerHTML;
}

export class MessageBody extends Component {
    static template = "maildesk_mail_client.MessageBody";
    static props = { html: { type: String, optional: true }, text: { type: String, optional: true },
                     allowRemote: Boolean };

    setup() {
        this.frameRef = useRef("frame");
        this.resize = this.resize.bind(this);
        onMounted(() => this.render_frame(this.props));
        onWillUpdateProps((next) => {
            if (next.html !== this.props.html || next.allowRemote !== this.props.allowRemote ||
                next.text !== this.props.text) {
                this.render_frame(next);
            }
        });
        onWillUnmount(() => this.observer && this.observer.disconnect());
    }

    buildDocument(props) {
        const imgSrc = props.allowRemote ? "data: cid: 'self' https: http:" : "data: cid: 'self'";
        const csp = `default-src 'none'; img-src ${imgSrc}; style-src 'unsafe-inline'; font-src data:; media-src 'none'`;
        const escapeText = (text) => text.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]);
        const html = props.allowRemote && props.html ? restoreRemoteImages(props.html) : props.html;
        const body = html || `<pre class="o_plain">${escapeText(props.text || "")}</pre>`;
        return `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<base target="_blank">
<style>
html,body{margin:0;padding:0;}
body{padding:1px 0;}
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;font-size:14px;
line-height:1.45;color:#212529;word-wrap:break-word;overflow-wrap:anywhere;}
img{max-width:100%;height:auto;}
pre.o_plain{white-space:pre-wrap;font-family:inherit;margin:0;}
blockquote{margin:0 0 0 .8ex;border-left:2px solid #ccc;padding-left:1ex;color:#555;}
table{max-width:100%;}
</style></head><body>${body}</body></html>`;
    }

    render_frame(props) {
        const frame = this.frameRef.el;
        if (!frame) {
            return;
        }
        frame.onload = () => {
            this.resize();
            const doc = frame.contentDocument;
            if (doc && window.ResizeObserver) {
                this.observer && this.observer.disconnect();
                this.observer = new ResizeObserver(this.resize);
                this.observer.observe(doc.body);
            }
        };
        frame.srcdoc = this.buildDocument(props);
    }

    resize() {
        const frame = this.frameRef.el;
        const doc = frame && frame.contentDocument;
        if (doc && doc.body) {
            // The body, not the document: the document is at least as tall as the frame itself.
            const height = Math.max(doc.body.scrollHeight, Math.ceil(doc.body.getBoundingClientRect().height));
            frame.style.height = `${Math.max(40, height + 16)}px`;
        }
    }
}
