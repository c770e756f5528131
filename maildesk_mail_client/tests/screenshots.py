"""README screenshots from a real headless-Chromium run, shared by the suite's screenshot tests.

Odoo 17's ``browser_js`` stops Chromium as soon as the page logs "test successful"; the
picture is taken in that moment, by wrapping ``ChromeBrowser.stop``. Screenshot tests run
only when ``MAILDESK_SCREENSHOTS`` names the folder to write to.
"""
import base64
import os
import time
from pathlib import Path
from unittest.mock import patch

from odoo.tests.common import ChromeBrowser

ENV = "MAILDESK_SCREENSHOTS"

# What the page code can use: `await wait(".selector")` resolves with the element once shown.
WAIT_FOR_JS = """
    const wait = (sel, tries = 300) => new Promise((resolve, reject) => {
        let n = 0;
        const timer = setInterval(() => {
            const el = document.querySelector(sel);
            if (el) { clearInterval(timer); resolve(el); }
            else if (++n > tries) { clearInterval(timer); reject(new Error("missing " + sel)); }
        }, 100);
    });
"""


def page_script(steps, settle_ms=1000):
    """Page code for ``capture``: ``steps`` (JS using ``wait``), a pause for the page to settle,
    then the "test successful" that makes browser_js stop (and ``capture`` take the picture)."""
    return (f"(async () => {{{WAIT_FOR_JS}{steps}\n"
            f"    await new Promise((r) => setTimeout(r, {settle_ms}));\n"
            f"    console.log(\"test successful\");\n}})();\n")


def screenshot_path(name):
    """<MAILDESK_SCREENSHOTS>/<name>.png"""
    return Path(os.environ[ENV]) / f"{name}.png"


def capture(case, name, url, code, *, login, ready="", size=None, timeout=90):
    """Run ``code`` at ``url`` as ``login`` in ``case`` (an HttpCase), then write the page to
    <MAILDESK_SCREENSHOTS>/<name>.png; ``size`` = (width, height) of the viewport."""
    target = screenshot_path(name)
    original_stop = ChromeBrowser.stop

    def capture_then_stop(browser):
        if size:
            browser._websocket_request("Emulation.setDeviceMetricsOverride", params={
                "width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False})
            time.sleep(2)  # relayout after the resize
        shot = browser._websocket_request("Page.captureScreenshot", params={"format": "png"}, timeout=30)
        if shot and shot.get("data"):
            target.write_bytes(base64.b64decode(shot["data"]))
        return original_stop(browser)

    with patch.object(ChromeBrowser, "stop", capture_then_stop):
        case.browser_js(url, code, ready=ready, login=login, timeout=timeout)
    case.assertTrue(target.exists() and target.stat().st_size > 10000, f"{target} looks empty")
    return target
