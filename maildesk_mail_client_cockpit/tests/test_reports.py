"""Scheduled reports end to end: the cron mails the files to an SMTP sink on loopback, computed
as the owner; history, Run now, download access and the tier matrix (also over HTTP / JSON-RPC)."""
import csv
import email
import io
import os
import shutil
import subprocess
import tempfile
import unittest
from datetime import datetime, timedelta
from email import policy
from pathlib import Path

from freezegun import freeze_time
from odoo.addons.maildesk_mail_client.tests.common import smtp_sink
from odoo.addons.maildesk_mail_client.tests.screenshots import capture, page_script
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

from ..models import maildesk_cockpit_report as report_module
from .common import MANAGER, NOW, VIEWER, CockpitCase, CockpitSetup

RUN_AT = datetime(2026, 3, 5, 8, 1)  # Thursday, just after a daily 08:00 (UTC) slot


class ReportSetup(CockpitSetup):
    """The cockpit dataset plus mail in and out of the manager's scope, an SLA, an SMTP sink."""

    @classmethod
    def setup_reports(cls):
        env = cls.env
        cls.company.email = "cockpit@acme.test"
        for user, address in ((cls.manager, "manager@acme.test"), (cls.viewer, "viewer@acme.test"),
                              (cls.operator, "operator@acme.test"), (cls.cockpit_admin, "admin@acme.test"),
                              (cls.outsider, "outsider@acme.test")):
            user.email = address
        env["maildesk.sla.policy"].create({"name": "One hour", "first_response_hours": 1,
                                           "next_response_hours": 1})
        with freeze_time(NOW):
            cls.t_wait = cls.thread(subject="Waiting one")
            cls.store(cls.t_wait, date=datetime(2026, 3, 3, 6, 0))
            cls.t_met = cls.thread(subject="Answered in time")
            cls.store(cls.t_met, date=datetime(2026, 3, 2, 10, 0))
            cls.store(cls.t_met, "outgoing", date=datetime(2026, 3, 2, 10, 30))
            cls.t_late = cls.thread(subject="Answered late")
            cls.store(cls.t_late, date=datetime(2026, 3, 2, 12, 0))
            cls.store(cls.t_late, "outgoing", date=datetime(2026, 3, 2, 15, 0))
            cls.t_sales = cls.thread(cls.sales, "Sales secret")
            cls.store(cls.t_sales, date=datetime(2026, 3, 3, 9, 0))
            cls.t_other = cls.thread(cls.other_co, "Other company secret")
            cls.store(cls.t_other, date=datetime(2026, 3, 3, 9, 0))

    def start_sink(self):
        """Odoo's outgoing mail path (ir.mail_server) pointed at a fresh SMTP sink."""
        if smtp_sink is None:
            self.skipTest("the repository's tests/harness is not importable")
        sink = smtp_sink.SmtpSink().start()
        self.addCleanup(sink.stop)
        self.env["ir.mail_server"].sudo().create({"name": "Test sink", "smtp_host": sink.host,
                                                  "smtp_port": sink.port, "smtp_encryption": "none"})
        # ir.mail_server does not connect in test mode; this test is about the real delivery.
        self.patch(type(self.env["ir.mail_server"]), "_is_test_mode", lambda self: False)
        return sink

    def new_report(self, user=None, **vals):
        values = {"name": "Support weekly", "report_format": "csv", "frequency": "daily", "run_hour": 8.0,
                  "period": "previous_7_days", "recipient_user_ids": [(6, 0, self.viewer.ids)]}
        values.update(vals)
        return self.env["maildesk.cockpit.report"].with_user(user or self.manager).create(values)


def mails(sink):
    return [(rcpts, email.message_from_bytes(raw, policy=policy.default)) for _f, rcpts, raw in sink.messages]


def files_of(message):
    return {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}


def csv_rows(data):
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@tagged("post_install", "-at_install", "maildesk")
class TestScheduledReports(ReportSetup, CockpitCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_reports()

    def test_cron_delivers_the_owners_rows_once(self):
        """The cron mails a due CSV report with exactly the owner's scope, keeps it, and moves the schedule."""
        sink = self.start_sink()
        with freeze_time(NOW):
            report = self.new_report(recipient_emails="ceo@outside.test", external_content="full")
        self.assertEqual(report.next_run_at, datetime(2026, 3, 5, 8, 0))
        with freeze_time(RUN_AT):
            self.assertEqual(self.env["maildesk.cockpit.report"]._cron_send_due(), 1)
            self.assertEqual(self.env["maildesk.cockpit.report"]._cron_send_due(), 0)  # not due twice
        self.assertEqual(report.next_run_at, datetime(2026, 3, 6, 8, 0))
        got = mails(sink)
        self.assertEqual(sorted(r[0] for r, _m in got), ["ceo@outside.test", "viewer@acme.test"])
        rcpts, message = got[0]
        self.assertEqual(message["Auto-Submitted"], "auto-generated")
        self.assertIn("Support weekly (2026-02-26", message["Subject"])
        files = files_of(message)
        name = "support-weekly-2026-02-26-2026-03-04"
        self.assertEqual(sorted(files), sorted(f"{name}-{s}.csv" for s in (
            "kpi-summary", "per-mailbox", "per-person", "sla-breaches", "oldest-waiting-threads")))
        oldest = csv_rows(files[f"{name}-oldest-waiting-threads.csv"])
        self.assertEqual(oldest[0][:3], ["Waiting since", "Waiting", "Subject"])
        self.assertEqual([row[2] for row in oldest[1:]], ["Waiting one"])  # not Sales / Other company
        self.assertEqual(oldest[1][3], "Support")
        breaches = csv_rows(files[f"{name}-sla-breaches.csv"])
        self.assertEqual(sorted(row[1] for row in breaches[1:]), ["Answered late", "Waiting one"])
        mailboxes = csv_rows(files[f"{name}-per-mailbox.csv"])
        self.assertEqual([row[0] for row in mailboxes[1:]], ["Support"])
        self.assertEqual(mailboxes[1][1], "3")  # incoming of the three Support conversations
        summary = {row[0]: row for row in csv_rows(files[f"{name}-kpi-summary.csv"])}
        self.assertEqual(summary["Incoming messages"][1], "3")
        self.assertEqual(summary["SLA attainment (%)"][1], "33.3")
        run = report.run_ids
        self.assertEqual((run.state, run.trigger), ("done", "cron"))
        self.assertEqual(run.row_count, sum(len(csv_rows(data)) - 1 for data in files.values()))
        self.assertEqual(len(run.attachment_ids), 5)
        self.assertEqual(str(run.period_start), "2026-02-26")

    def test_xlsx_parsed_back_with_chart(self):
        openpyxl = self._import("openpyxl")
        sink = self.start_sink()
        with freeze_time(NOW):
            report = self.new_report(report_format="xlsx")
        with freeze_time(RUN_AT):
            report.action_run_now()
        run = report.run_ids
        self.assertEqual(run.trigger, "manual")
        self.assertEqual(report.next_run_at, datetime(2026, 3, 5, 8, 0))  # Run now does not move the schedule
        (_rcpts, message), = mails(sink)
        (name, data), = files_of(message).items()
        self.assertTrue(name.endswith(".xlsx"))
        self.assertEqual(data, run.attachment_ids.raw)
        book = openpyxl.load_workbook(io.BytesIO(data))
        self.assertEqual(book.sheetnames, ["Summary", "Trend", "KPI summary", "Per mailbox", "Per person",
                                           "SLA breaches", "Oldest waiting threads"])
        self.assertEqual(len(book["Summary"]._charts), 1)
        self.assertEqual(book["Summary"]["A1"].value, "Support weekly")
        oldest = book["Oldest waiting threads"]
        self.assertEqual(oldest["C2"].value, "Waiting one")
        self.assertEqual(oldest["A2"].value, datetime(2026, 3, 3, 6, 0))
        self.assertEqual(oldest["B2"].number_format, "0.0")
        self.assertEqual(oldest.max_row, 2)

    def test_pdf_has_the_expected_text(self):
        pypdf = self._import("PyPDF2")
        sink = self.start_sink()
        with freeze_time(NOW):
            report = self.new_report(report_format="pdf")
        with freeze_time(RUN_AT):
            report.action_run_now()
        (_rcpts, message), = mails(sink)
        (name, data), = files_of(message).items()
        self.assertTrue(name.endswith(".pdf"))
        text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
        for expected in ("Support weekly", "Incoming messages per day", "Oldest waiting threads", "Waiting one",
                         "SLA breaches", "Answered late", "33.3"):
            self.assertIn(expected, text)
        self.assertNotIn("Sales secret", text)

    def test_outside_addresses_get_what_the_owner_chose(self):
        """Summary only: the outside address gets a summary file without names or subjects;
        'nothing': it gets no mail at all; an internal user's address counts as internal."""
        sink = self.start_sink()
        with freeze_time(NOW):
            report = self.new_report(recipient_emails="ceo@outside.test, operator@acme.test",
                                     external_content="summary")
        with freeze_time(RUN_AT):
            report.action_run_now()
        by_address = {rcpts[0]: files_of(message) for rcpts, message in mails(sink)}
        self.assertEqual(sorted(by_address), ["ceo@outside.test", "operator@acme.test", "viewer@acme.test"])
        outside = by_address["ceo@outside.test"]
        self.assertEqual(list(outside), ["support-weekly-2026-02-26-2026-03-04-summary-kpi-summary.csv"])
        text = next(iter(outside.values())).decode("utf-8-sig")
        self.assertIn("Incoming messages", text)
        self.assertNotIn("Waiting one", text)
        self.assertEqual(len(by_address["operator@acme.test"]), 5)
        sink.clear()
        report.external_content = "none"
        with freeze_time(RUN_AT):
            report.action_run_now()
        self.assertEqual(sorted(r[0] for r, _m in mails(sink)), ["operator@acme.test", "viewer@acme.test"])
        self.assertEqual(report.run_ids.sorted("id")[-1].skipped_to, "ceo@outside.test")

    def test_a_user_of_another_company_counts_as_outside(self):
        """A recipient user who does not belong to the report's company gets the outside content."""
        sink = self.start_sink()
        elsewhere = new_test_user(self.env, login="ck_elsewhere", groups=VIEWER, email="elsewhere@other.test",
                                  company_id=self.company2.id, company_ids=[(6, 0, self.company2.ids)])
        with freeze_time(NOW):
            report = self.new_report(recipient_user_ids=[(6, 0, (self.viewer | elsewhere).ids)])
        with freeze_time(RUN_AT):
            report.action_run_now()
        by_address = {rcpts[0]: files_of(message) for rcpts, message in mails(sink)}
        self.assertEqual(len(by_address["viewer@acme.test"]), 5)
        self.assertEqual(list(by_address["elsewhere@other.test"]),
                         ["support-weekly-2026-02-26-2026-03-04-summary-kpi-summary.csv"])

    def test_computed_as_the_owner_whoever_runs_it(self):
        """An administrator running a manager's report gets the manager's scope, not their own."""
        self.start_sink()
        with freeze_time(NOW):
            report = self.new_report(section_oldest=True)
            report.with_user(self.cockpit_admin).action_run_now()
        files = {a.name: a.raw for a in report.run_ids.attachment_ids}
        oldest = next(data for name, data in files.items() if name.endswith("oldest-waiting-threads.csv"))
        self.assertEqual([row[2] for row in csv_rows(oldest)[1:]], ["Waiting one"])

    def test_one_failing_report_does_not_block_the_others(self):
        """The owner lost the Manager tier: that run fails with the reason; the next report is sent."""
        sink = self.start_sink()
        with freeze_time(NOW):
            broken = self.new_report(name="A broken")
            fine = self.new_report(self.cockpit_admin, name="B fine")
        self.manager.groups_id = [(3, self.env.ref(MANAGER).id)]
        with freeze_time(RUN_AT):
            self.assertEqual(self.env["maildesk.cockpit.report"]._cron_send_due(), 2)
        self.assertEqual(broken.run_ids.state, "failed")
        self.assertIn("no longer has the Cockpit Manager tier", broken.run_ids.error)
        self.assertEqual(broken.next_run_at, datetime(2026, 3, 6, 8, 0))
        self.assertEqual(fine.run_ids.state, "done")
        self.assertEqual(len(sink.messages), 1)

    def test_unreachable_smtp_is_logged_on_the_run(self):
        sink = self.start_sink()
        sink.refuse_recipients = {"viewer@acme.test"}
        with freeze_time(NOW):
            report = self.new_report()
        with freeze_time(RUN_AT):
            report.action_run_now()
        self.assertEqual(report.run_ids.state, "failed")
        self.assertIn("viewer@acme.test", report.run_ids.error)
        self.assertEqual(len(report.run_ids.attachment_ids), 5)  # kept: downloadable from the history

    def test_deleting_a_report_deletes_its_files(self):
        """No orphan file is left behind for anyone to fetch by id."""
        with freeze_time(NOW):
            report = self.new_report(recipient_user_ids=[(5, 0, 0)])
            report.with_user(self.manager).action_run_now()
        attachments = report.run_ids.attachment_ids
        self.assertEqual(len(attachments), 5)
        report.with_user(self.manager).unlink()
        self.assertFalse(attachments.exists())

    def test_large_list_is_read_in_chunks(self):
        """Rows come through keyset pages: a chunk of 1 still yields every waiting thread, in order."""
        with freeze_time(NOW):
            for i in range(4):
                thread = self.thread(subject=f"Extra {i}")
                self.store(thread, date=datetime(2026, 3, 1, 9, i))
            report = self.new_report(row_limit=0)
        self.patch(report_module, "CHUNK", 1)
        with freeze_time(RUN_AT):
            data = report.sudo()._collect(RUN_AT)
            rows = list(report.sudo()._waiting_rows(data))
        self.assertEqual([r[2] for r in rows], ["Extra 0", "Extra 1", "Extra 2", "Extra 3", "Waiting one"])

    def test_each_recipient_gets_it_at_their_local_time(self):
        """A daily 08:00 report: Berlin at 07:00 UTC, New York at 13:00 UTC (winter), each once a day,
        one history row per time zone; slots follow the recipients and are the system's to write."""
        sink = self.start_sink()
        self.viewer.tz = "Europe/Berlin"
        self.operator.tz = "America/New_York"
        Report = self.env["maildesk.cockpit.report"]
        with freeze_time(datetime(2026, 3, 4, 14, 0)):  # after both of that day's slots
            report = self.new_report(recipient_user_ids=[(6, 0, (self.viewer | self.operator).ids)])
        self.assertEqual(sorted((s.tz, s.next_run_at) for s in report.slot_ids), [
            ("America/New_York", datetime(2026, 3, 5, 13, 0)), ("Europe/Berlin", datetime(2026, 3, 5, 7, 0))])
        self.assertEqual(report.next_run_at, datetime(2026, 3, 5, 7, 0))
        berlin, new_york = "viewer@acme.test", "operator@acme.test"
        expected = [(datetime(2026, 3, 5, 7, 0), berlin), (datetime(2026, 3, 5, 13, 0), new_york),
                    (datetime(2026, 3, 6, 7, 0), berlin), (datetime(2026, 3, 6, 13, 0), new_york)]
        for moment, address in expected:
            with freeze_time(moment - timedelta(minutes=1)):
                self.assertEqual(Report._cron_send_due(), 0)  # not early
            before = len(sink.messages)
            with freeze_time(moment):
                self.assertEqual(Report._cron_send_due(), 1)
                self.assertEqual(Report._cron_send_due(), 0)  # not twice
            self.assertEqual([rcpts for _f, rcpts, _raw in sink.messages[before:]], [[address]])
        runs = report.run_ids.sorted("started_at")
        self.assertEqual([(r.started_at, r.tz, r.sent_to, r.state) for r in runs], [
            (moment, "Europe/Berlin" if address == berlin else "America/New_York", address, "done")
            for moment, address in expected])
        self.assertEqual(str(runs[2].period_start), "2026-02-27")  # the owner's (UTC) days
        self.assertEqual(report.next_run_at, datetime(2026, 3, 7, 7, 0))
        # Run now still mails everyone at once and moves no slot.
        with freeze_time(datetime(2026, 3, 6, 14, 0)):
            report.with_user(self.manager).action_run_now()
        self.assertEqual(sorted(r[0] for r, _m in mails(sink)[-2:]), ["operator@acme.test", "viewer@acme.test"])
        self.assertFalse(report.run_ids.filtered(lambda r: r.trigger == "manual").tz)
        # Slots follow the recipients: New York leaves, the free address joins the owner's (UTC) slot.
        with freeze_time(datetime(2026, 3, 6, 14, 0)):
            report.with_user(self.manager).write({"recipient_user_ids": [(3, self.operator.id)],
                                                  "recipient_emails": "ceo@outside.test"})
        self.assertEqual(sorted((s.tz, s.next_run_at, s.recipients) for s in report.slot_ids), [
            ("Europe/Berlin", datetime(2026, 3, 7, 7, 0), "viewer@acme.test"),
            ("UTC", datetime(2026, 3, 7, 8, 0), "ceo@outside.test")])
        # Users read the slots with the report, never write them.
        slot = report.slot_ids[0]
        self.assertEqual(slot.with_user(self.viewer).read(["tz"])[0]["tz"], slot.tz)
        with self.assertRaises(AccessError):
            slot.with_user(self.manager).write({"next_run_at": datetime(2026, 3, 6, 15, 0)})
        with self.assertRaises(AccessError):
            report.with_user(self.manager).write({"slot_ids": [(0, 0, {"tz": "Asia/Tokyo"})]})
        with self.assertRaises(AccessError):
            slot.with_user(self.cockpit_admin).unlink()
        with self.assertRaises(AccessError):
            slot.with_user(self.outsider).read(["tz"])

    def _import(self, name):
        try:
            return __import__(name)
        except ImportError:
            self.skipTest(f"{name} is not installed")


@tagged("post_install", "-at_install", "maildesk")
class TestReportTiers(ReportSetup, CockpitCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_reports()

    def test_viewer_and_operator_cannot_create(self):
        for user in (self.viewer, self.operator, self.plain):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.new_report(user)

    def test_scope_outside_the_owner_is_refused(self):
        """A mailbox of someone else, another company, or another owner: refused."""
        with self.assertRaises(AccessError):
            self.new_report(account_id=self.sales.id)
        with self.assertRaises(AccessError):
            self.new_report(account_id=self.other_co.id)
        with self.assertRaises(AccessError):
            self.new_report(owner_id=self.cockpit_admin.id)
        report = self.new_report()
        with self.assertRaises(AccessError):
            report.with_user(self.manager).write({"owner_id": self.cockpit_admin.id})
        with self.assertRaises(AccessError):
            report.with_user(self.manager).write({"account_id": self.sales.id})
        with self.assertRaises(ValidationError):
            self.new_report(recipient_emails="not an address")
        with self.assertRaises(ValidationError):
            self.new_report(frequency="monthly", monthday=40)

    def test_admin_sets_an_owner_within_that_owners_scope(self):
        report = self.new_report(self.cockpit_admin, owner_id=self.manager.id)
        self.assertEqual(report.owner_id, self.manager)
        with self.assertRaises(AccessError):
            self.new_report(self.cockpit_admin, owner_id=self.manager.id, account_id=self.sales.id)

    def test_who_reads_and_changes_a_report(self):
        report = self.new_report()
        Report = self.env["maildesk.cockpit.report"]
        self.assertEqual(Report.with_user(self.viewer).search([]), report)  # a recipient
        self.assertFalse(Report.with_user(self.outsider).search([]))
        self.assertFalse(Report.with_user(self.operator).search([]))
        with self.assertRaises(AccessError):
            report.with_user(self.viewer).write({"name": "Mine now"})
        with self.assertRaises(AccessError):
            report.with_user(self.viewer).action_run_now()
        with self.assertRaises(AccessError):
            report.with_user(self.outsider).action_run_now()
        with self.assertRaises(AccessError):
            report.with_user(self.outsider).unlink()
        with self.assertRaises(AccessError):
            self.env["maildesk.cockpit.report.run"].with_user(self.manager).create(
                {"report_id": report.id, "trigger": "manual", "company_id": self.company.id})


@tagged("post_install", "-at_install", "maildesk")
class TestReportDownloadRpc(ReportSetup, HttpCase):
    """Downloads through /web/content and calls through JSON-RPC, as a browser makes them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_cockpit(cls.env)
        cls.setup_reports()
        with freeze_time(NOW):
            cls.report = cls.env["maildesk.cockpit.report"].with_user(cls.manager).create({
                "name": "Support daily", "report_format": "xlsx", "frequency": "daily",
                "recipient_user_ids": [(6, 0, cls.viewer.ids)]})
            cls.report_run = cls.report.sudo()._run("manual")
        cls.attachment = cls.report_run.attachment_ids

    def rpc(self, login, model, method, *args):
        self.authenticate(login, login)
        return self.make_jsonrpc_request("/web/dataset/call_kw", {
            "model": model, "method": method, "args": list(args), "kwargs": {}})

    def test_download_follows_the_run(self):
        self.assertEqual(self.report_run.state, "done")  # no recipient mail in test mode: logged and skipped
        self.assertTrue(self.attachment)
        expect = {"ck_manager": 200, "ck_viewer": 200, "ck_admin": 200, "ck_outsider": 403, "ck_operator": 403}
        for login, status in expect.items():
            with self.subTest(login=login):
                self.authenticate(login, login)
                response = self.url_open(f"/web/content/{self.attachment.id}?download=true")
                self.assertIn(response.status_code, (status, 404) if status == 403 else (status,))
                if status == 200:
                    self.assertEqual(response.content, self.attachment.raw)
        action = self.rpc("ck_viewer", "maildesk.cockpit.report.run", "action_download", [self.report_run.id])
        self.assertEqual(action["url"], f"/web/content/{self.attachment.id}?download=true")

    def test_rpc_matrix(self):
        """Create and Run now over JSON-RPC per tier; nothing outside the scope, whatever is sent."""
        values = {"name": "Crafted", "report_format": "csv", "frequency": "daily"}
        for login in ("ck_plain", "ck_viewer", "ck_operator"):
            with self.subTest(login=login), self.assertRaises(Exception) as caught:
                self.rpc(login, "maildesk.cockpit.report", "create", values)
            self.assertIn("AccessError", str(caught.exception))
        self.assertTrue(self.rpc("ck_manager", "maildesk.cockpit.report", "create", values))
        for crafted in ({"account_id": self.sales.id}, {"owner_id": self.cockpit_admin.id},
                        {"account_id": self.other_co.id}):
            with self.subTest(crafted=crafted), self.assertRaises(Exception) as caught:
                self.rpc("ck_manager", "maildesk.cockpit.report", "create", dict(values, **crafted))
            self.assertIn("AccessError", str(caught.exception))
        for login in ("ck_viewer", "ck_outsider"):
            with self.subTest(login=login), self.assertRaises(Exception) as caught:
                self.rpc(login, "maildesk.cockpit.report", "action_run_now", [self.report.id])
            self.assertIn("AccessError", str(caught.exception))
        runs = self.rpc("ck_outsider", "maildesk.cockpit.report.run", "search_read", [], ["id"])
        self.assertEqual(runs, [])
        action = self.rpc("ck_manager", "maildesk.cockpit.report", "action_run_now", [self.report.id])
        self.assertEqual(action["res_model"], "maildesk.cockpit.report.run")


FORM_JS = page_script("""
    await wait(".o_form_view .o_field_one2many .o_data_row");
""", settle_ms=1000)


@unittest.skipUnless(os.environ.get("MAILDESK_SCREENSHOTS"), "set MAILDESK_SCREENSHOTS=<dir> to write screenshots")
@tagged("post_install", "-at_install", "maildesk")
class TestReportScreenshots(ReportSetup, HttpCase):
    """README pictures: page 1 of a real PDF run (pdftoppm) and the report form in Chromium."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_cockpit(cls.env)
        cls.setup_reports()
        for user, name in ((cls.manager, "Maria Manager"), (cls.viewer, "Victor Viewer"),
                           (cls.operator, "Olga Operator"), (cls.colleague, "Carl Colleague")):
            user.name = name
        cls.env["maildesk.sla.policy"].create({"name": "Standard", "sequence": 1, "first_response_hours": 8,
                                               "next_response_hours": 8})
        cls.seed_showcase(90, days=(1, 14), gap_hours=(1, 2, 3, 5, 7, 12, 20), seed=5)
        cls.report = cls.env["maildesk.cockpit.report"].with_user(cls.manager).create({
            "name": "Support weekly", "report_format": "pdf", "frequency": "weekly", "weekday": "0",
            "period": "previous_7_days", "row_limit": 50, "recipient_user_ids": [(6, 0, cls.viewer.ids)],
            "recipient_emails": "ceo@example.org", "external_content": "summary"})
        cls.report_run = cls.report.sudo()._run("manual")

    def test_pdf_page(self):
        if not shutil.which("pdftoppm"):
            self.skipTest("pdftoppm (Debian poppler-utils) is not installed")
        target = Path(os.environ["MAILDESK_SCREENSHOTS"]) / "report_pdf.png"
        pdf = self.report_run.attachment_ids.filtered(lambda a: not a.description)
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "report.pdf"
            source.write_bytes(pdf.raw)
            subprocess.run(["pdftoppm", "-png", "-r", "90", "-f", "1", "-l", "1", "-singlefile", str(source),
                            str(target.with_suffix(""))], check=True)
        self.assertTrue(target.exists())

    def test_report_form(self):
        capture(self, "report_form", f"/web#model=maildesk.cockpit.report&id={self.report.id}&view_type=form",
                FORM_JS, login="ck_manager", size=(1400, 1000))
