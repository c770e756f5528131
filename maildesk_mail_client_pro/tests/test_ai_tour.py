"""Browser tour of the AI panel (static/tests/tours/maildesk_ai_tours.js) against the AI emulator.

``TestAiScreenshots`` (tag ``maildesk_screenshots``, only with ``MAILDESK_SCREENSHOTS=<dir>``)
writes the README's AI screenshots from the same fixture.
"""
import os
import unittest

from odoo.addons.maildesk_mail_client.tests.screenshots import capture
from odoo.tests import HttpCase, new_test_user, tagged

from .common import AiCaseMixin

CLIENT_URL = "/web#action=maildesk_mail_client.maildesk_client_action"


class AiTourCase(AiCaseMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        group = "maildesk_mail_client.group_maildesk_user"
        cls.user_owner = new_test_user(cls.env, login="tour_owner", groups=group)
        cls.user_member = new_test_user(cls.env, login="tour_member", groups=group, tz="UTC")
        cls.setup_ai()
        cls.make_thread(cls.account, [
            ('"billing@acme.com" <x@evil.example>', "2026-11-03 08:00:00",
             "Our bank details have changed, pay to the new IBAN immediately.")], subject="Bank change")


@tagged("post_install", "-at_install", "maildesk")
class TestAiTour(AiTourCase):
    def test_ai_tour(self):
        """Open a thread, summarize, draft a reply into compose, scan a phishing mail: High with reasons."""
        self.start_tour(CLIENT_URL, "maildesk_ai_tour", login="tour_member", timeout=180)
        self.assertTrue(self.env["maildesk.draft"].search([("user_id", "=", self.user_member.id)]))


@unittest.skipUnless(os.environ.get("MAILDESK_SCREENSHOTS"), "set MAILDESK_SCREENSHOTS=<dir> to write screenshots")
@tagged("post_install", "-at_install", "maildesk_screenshots")
class TestAiScreenshots(AiTourCase):
    browser_size = "1600,1000"

    def shoot(self, name, code):
        """Run ``code`` in the client, then capture the page into <dir>/<name>.png."""
        capture(self, name, CLIENT_URL, code, login="tour_member",
                ready="!!document.querySelector('.o_maildesk_thread[data-thread-id]')")

    def test_screenshots(self):
        wait = "const wait = (ms) => new Promise((r) => setTimeout(r, ms));"
        open_row = ("[...document.querySelectorAll('.o_maildesk_thread[data-thread-id]')]"
                    ".find((r) => r.textContent.includes('{subject}')).querySelector('.o_maildesk_thread_subject')"
                    ".click();")
        self.shoot("ai_panel", f"""(async () => {{ {wait}
            await wait(800);
            {open_row.format(subject="Order 200 units")}
            await wait(1500);
            document.querySelector('.o_maildesk_ai_summarize_tab').click();
            await wait(300);
            document.querySelector('.o_maildesk_ai_summarize').click();
            await wait(2500);
            console.log('test successful');
        }})()""")
        self.shoot("ai_safe_mode", f"""(async () => {{ {wait}
            await wait(800);
            {open_row.format(subject="Bank change")}
            await wait(1500);
            document.querySelector('.o_maildesk_ai_scan_tab').click();
            await wait(1500);
            console.log('test successful');
        }})()""")
