"""Cockpit alerts end to end: rules, states, channels (loopback webhook, SMTP sink), tiers over RPC."""
import json
import os
import threading
import unittest
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import patch

from odoo.addons.maildesk_mail_client.tests.common import smtp_sink
from odoo.addons.maildesk_mail_client.tests.screenshots import capture, page_script
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, tagged

from ..engine import webhooks
from ..models.maildesk_cockpit_alert_channel import PARAM_ALLOW_HTTP, PARAM_ALLOW_LOOPBACK
from .common import NOW, CockpitCase, CockpitSetup

SECRET = "s3cret-signing-key"
MIN = timedelta(minutes=1)


class Receiver:
    """A webhook receiver on 127.0.0.1 that checks the HMAC signature of every request."""

    def __init__(self, secret=SECRET, status=200):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                valid = webhooks.verify(secret, body, self.headers.get(webhooks.HEADER_TIMESTAMP),
                                        self.headers.get(webhooks.HEADER_SIGNATURE))
                outer.requests.append({"headers": dict(self.headers), "json": json.loads(body), "valid": valid})
                self.send_response(status if valid else 401)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=abc"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class AlertSetup(CockpitSetup):
    @classmethod
    def setup_alerts(cls):
        env = cls.env
        params = env["ir.config_parameter"].sudo()
        params.set_param(PARAM_ALLOW_HTTP, "1")
        params.set_param(PARAM_ALLOW_LOOPBACK, "1")
        cls.company.email = "cockpit@acme.test"
        Channel = env["maildesk.cockpit.alert.channel"]
        cls.ch_inapp = Channel.create({"name": "In-app", "kind": "inapp"})

    @classmethod
    def make_rule(cls, user=None, **vals):
        values = {"name": "Needs reply", "kpi": "needs_reply", "operator": ">", "threshold": 0,
                  "scope_team_id": cls.team.id, "repeat_minutes": 240, "user_id": cls.manager.id,
                  "channel_ids": [(6, 0, cls.ch_inapp.ids)]}
        values.update(vals)
        Rule = cls.env["maildesk.cockpit.alert.rule"]
        return (Rule.with_user(user) if user else Rule).create(values)


@tagged("post_install", "-at_install", "maildesk")
class TestAlerts(AlertSetup, CockpitCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_alerts()
        cls.waiting = cls.thread(subject="Where is my order?")
        cls.store(cls.waiting, date=NOW - timedelta(hours=3))

    def evaluate(self, rules, at):
        return rules.sudo()._evaluate(now=at)

    def kinds(self, rule):
        return rule.sudo().event_ids.sorted("id").mapped("kind")

    def start_receiver(self, **kwargs):
        receiver = Receiver(**kwargs).start()
        self.addCleanup(receiver.stop)
        return receiver

    def start_sink(self):
        if smtp_sink is None:
            self.skipTest("the repository's tests/harness (SMTP sink) is not importable")
        sink = smtp_sink.SmtpSink()
        sink.start()
        self.addCleanup(sink.stop)
        server = self.env["ir.mail_server"].create({"name": "Sink", "smtp_host": sink.host, "smtp_port": sink.port,
                                                     "smtp_encryption": "none"})
        # Odoo never sends mail while testing; this test is about sending it, to a local sink.
        self.patch(type(self.env["ir.mail_server"]), "_is_test_mode", lambda self: False)
        return sink, server

    def webhook_channel(self, receiver, **vals):
        return self.env["maildesk.cockpit.alert.channel"].create(dict({
            "name": "Generic hook", "kind": "webhook", "webhook_format": "generic", "webhook_url": receiver.url,
            "webhook_secret": SECRET}, **vals))

    # -- end to end ----------------------------------------------------------------------------------
    def test_fires_once_to_webhook_and_email_then_resolves(self):
        """Firing sends one signed webhook and one email; a later run sends nothing; the reply resolves it."""
        receiver = self.start_receiver()
        sink, server = self.start_sink()
        email = self.env["maildesk.cockpit.alert.channel"].create({
            "name": "Email", "kind": "email", "user_ids": [(6, 0, self.manager.ids)], "email_to": "oncall@acme.test",
            "mail_server_id": server.id})
        self.manager.email = "manager@acme.test"
        rule = self.make_rule(channel_ids=[(6, 0, (self.webhook_channel(receiver) | email | self.ch_inapp).ids)])
        self.evaluate(rule, NOW)
        self.assertEqual(rule.status, "firing")
        self.assertEqual(self.env["maildesk.cockpit.alert.delivery"]._send_queued(), 3)
        self.assertEqual(len(receiver.requests), 1)
        hit = receiver.requests[0]
        self.assertTrue(hit["valid"], "the HMAC over timestamp.body verifies with the shared secret")
        self.assertEqual(hit["json"]["status"], "firing")
        self.assertEqual(hit["json"]["value"], 1.0)
        self.assertEqual(hit["json"]["dedup_key"], rule.state_ids.dedup_key)
        delivery = rule.sudo().event_ids.delivery_ids.filtered(lambda d: d.kind == "webhook")
        self.assertEqual(hit["headers"][webhooks.HEADER_ID], delivery.delivery_uid)
        self.assertEqual((delivery.status, delivery.http_status, delivery.ip), ("delivered", 200, "127.0.0.1"))
        self.assertEqual(len(sink.messages), 1)
        mail_from, rcpts, raw = sink.messages[0]
        self.assertEqual(sorted(rcpts), ["manager@acme.test", "oncall@acme.test"])
        self.assertIn(b"Conversations needing a reply", raw)
        self.assertIn(self.manager, rule.sudo().event_ids.notified_user_ids)

        self.evaluate(rule, NOW + 30 * MIN)  # still firing, before the repeat interval: nothing new
        self.env["maildesk.cockpit.alert.delivery"]._send_queued()
        self.assertEqual((len(receiver.requests), len(sink.messages)), (1, 1))

        self.store(self.waiting, direction="outgoing", date=NOW + 40 * MIN)
        self.evaluate(rule, NOW + 45 * MIN)
        self.env["maildesk.cockpit.alert.delivery"]._send_queued()
        self.assertEqual(rule.status, "normal")
        self.assertEqual(self.kinds(rule), ["firing", "resolved"])
        self.assertEqual([r["json"]["status"] for r in receiver.requests], ["firing", "resolved"])
        self.assertTrue(all(r["valid"] for r in receiver.requests))
        self.assertEqual(len(sink.messages), 2)
        self.assertIn(b"back to normal", sink.messages[1][2])

    def test_repeat_after_the_interval_while_firing(self):
        """A firing alert repeats once its repeat interval has passed, not before."""
        rule = self.make_rule(repeat_minutes=60)
        for minutes in (0, 30, 59, 61, 100, 125):
            self.evaluate(rule, NOW + minutes * MIN)
        self.assertEqual(self.kinds(rule), ["firing", "repeat", "repeat"])

    def test_pending_before_firing(self):
        """With a pending duration the alert is pending first and fires once it held that long."""
        rule = self.make_rule(pending_minutes=10)
        self.evaluate(rule, NOW)
        self.assertEqual((rule.status, self.kinds(rule)), ("pending", []))
        self.evaluate(rule, NOW + 5 * MIN)
        self.assertEqual(rule.status, "pending")
        self.evaluate(rule, NOW + 11 * MIN)
        self.assertEqual((rule.status, self.kinds(rule)), ("firing", ["firing"]))

    def test_one_state_per_rule_and_mailbox_when_split(self):
        """Split per mailbox: one de-duplicated state per mailbox of the owner's scope."""
        rule = self.make_rule(scope_team_id=False, split_by_account=True, user_id=self.cockpit_admin.id)
        self.evaluate(rule, NOW)
        self.evaluate(rule, NOW + MIN)
        states = rule.sudo().state_ids
        self.assertEqual(states.account_id, self.support)
        self.assertEqual(len(states), 1)
        self.assertEqual(len(set(rule.sudo().event_ids.mapped("dedup_key"))), 1)

    def test_threshold_on_incoming_counts_the_window(self):
        """Message KPIs count the last window hours only."""
        rule = self.make_rule(kpi="incoming", operator=">=", threshold=2, window_hours=1)
        self.store(self.waiting, date=NOW - 20 * MIN)
        self.evaluate(rule, NOW)
        self.assertEqual((rule.status, rule.last_value), ("normal", 1))
        self.store(self.waiting, date=NOW - 10 * MIN)
        self.evaluate(rule, NOW + MIN)
        self.assertEqual((rule.status, rule.last_value), ("firing", 2))

    def test_anomaly_rule_fires_on_a_jump_against_the_same_weekday(self):
        """Anomaly: the last 24 hours far above the same weekday of previous weeks."""
        rule = self.make_rule(kpi="incoming", mode="anomaly", direction="up")
        for week in range(1, 5):
            for i in range(2):
                self.store(self.waiting, date=NOW - timedelta(weeks=week, hours=2 + i))
        for i in range(12):
            self.store(self.waiting, date=NOW - timedelta(hours=1, minutes=i))
        self.evaluate(rule, NOW)
        self.assertEqual(rule.status, "firing")
        event = rule.sudo().event_ids
        self.assertEqual(event.value, 13)  # the 12 of the last hour and the one of setUpClass, 3 hours ago
        self.assertEqual(json.loads(event.facts)["level"], "anomaly")

    def test_rules_sharing_a_scope_use_one_query_per_source(self):
        """Ten rules of one owner: one query for the backlog, one for message windows, one for gaps."""
        rules = self.env["maildesk.cockpit.alert.rule"]
        for i in range(4):
            rules |= self.make_rule(name=f"r{i}", threshold=i)
            rules |= self.make_rule(name=f"w{i}", kpi="incoming", window_hours=i + 1)
        rules |= self.make_rule(name="g", kpi="response_time", window_hours=24)
        rules |= self.make_rule(name="g2", kpi="first_response", window_hours=2)
        stats = self.evaluate(rules, NOW)
        self.assertEqual((stats["rules"], stats["queries"]), (10, 3))

    def test_ingest_evaluates_cheap_rules_and_queues_the_notice(self):
        """Storing a batch evaluates the cheap rules of its mailbox; the notice waits for the delivery cron."""
        rule = self.make_rule()
        thread = self.thread(subject="Fresh question")
        self.store(thread)
        self.assertEqual(rule.status, "firing")
        delivery = rule.sudo().event_ids.delivery_ids
        self.assertEqual(delivery.status, "queued")
        self.env["maildesk.cockpit.alert.delivery"]._send_queued()
        self.assertEqual(delivery.status, "delivered")

    def test_a_failing_alert_never_breaks_ingest(self):
        """An error in alert evaluation is logged; the messages are stored all the same."""
        self.make_rule()
        Rule = type(self.env["maildesk.cockpit.alert.rule"])
        with patch.object(Rule, "_evaluate", side_effect=RuntimeError("boom")), \
                self.assertLogs("odoo.addons.maildesk_mail_client_cockpit.models.maildesk_message_alerts",
                                "ERROR") as logs:
            message = self.store(self.thread(subject="Still stored"))
        self.assertTrue(message.exists())
        self.assertIn("the sync goes on", logs.output[0])

    def test_cron_evaluates_and_sends(self):
        rule = self.make_rule()
        stats = self.env["maildesk.cockpit.alert.rule"]._cron_evaluate()
        self.assertGreaterEqual(stats["rules"], 1)
        self.assertEqual(rule.sudo().event_ids.delivery_ids.status, "delivered")

    # -- channels and safety -------------------------------------------------------------------------
    def test_send_test_reaches_the_webhook_and_is_logged(self):
        """The Send test button posts a signed test notice and logs the delivery."""
        receiver = self.start_receiver()
        rule = self.make_rule(user=self.manager, channel_ids=[(6, 0, self.webhook_channel(receiver).ids)])
        action = rule.with_user(self.manager).action_send_test()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(receiver.requests[0]["json"]["status"], "test")
        self.assertTrue(receiver.requests[0]["valid"])
        with self.assertRaises(UserError):  # not twice in a row
            rule.with_user(self.manager).action_send_test()

    def test_failed_webhook_is_retried_then_logged_failed(self):
        receiver = self.start_receiver(status=503)
        rule = self.make_rule(channel_ids=[(6, 0, self.webhook_channel(receiver).ids)])
        with patch.object(webhooks, "BACKOFF_BASE", 0.01):
            self.evaluate(rule, NOW)
            self.env["maildesk.cockpit.alert.delivery"]._send_queued()
        delivery = rule.sudo().event_ids.delivery_ids
        self.assertEqual((delivery.status, delivery.http_status, delivery.attempts),
                         ("failed", 503, webhooks.MAX_ATTEMPTS))
        self.assertEqual(len(receiver.requests), webhooks.MAX_ATTEMPTS)
        self.assertEqual(len({r["headers"][webhooks.HEADER_ID] for r in receiver.requests}), 1)

    def test_webhook_safety_on_save_and_at_send_time(self):
        """https only unless allowed; private addresses never; loopback only with the test setting."""
        params = self.env["ir.config_parameter"].sudo()
        Channel = self.env["maildesk.cockpit.alert.channel"]
        for url in ("https://10.0.0.5/hook", "https://169.254.169.254/latest", "https://[::ffff:192.168.1.1]/",
                    "https://user:pw@hooks.example.com/x", "ftp://example.com/"):
            with self.subTest(url=url), self.assertRaises(UserError):
                Channel.create({"name": "Bad", "kind": "webhook", "webhook_url": url})
        params.set_param(PARAM_ALLOW_HTTP, "0")
        with self.assertRaises(UserError):
            Channel.create({"name": "Plain", "kind": "webhook", "webhook_url": "http://127.0.0.1:9/x"})
        params.set_param(PARAM_ALLOW_HTTP, "1")
        receiver = self.start_receiver()
        channel = self.webhook_channel(receiver)
        params.set_param(PARAM_ALLOW_LOOPBACK, "0")  # switched off after the save: refused at send time
        rule = self.make_rule(channel_ids=[(6, 0, channel.ids)])
        self.evaluate(rule, NOW)
        self.env["maildesk.cockpit.alert.delivery"]._send_queued()
        delivery = rule.sudo().event_ids.delivery_ids
        self.assertEqual(delivery.status, "refused")
        self.assertIn("loopback", delivery.error)
        self.assertEqual(receiver.requests, [])

    def test_secrets_are_encrypted_and_admin_only(self):
        """URL and secret are write-only, stored encrypted, and unreadable below the Settings group."""
        receiver = self.start_receiver()
        channel = self.webhook_channel(receiver)
        stored = channel.sudo().read(["webhook_url_encrypted", "webhook_secret_encrypted"])[0]
        self.assertTrue(stored["webhook_url_encrypted"].startswith("md1:"))
        self.assertNotIn("127.0.0.1", stored["webhook_url_encrypted"])
        self.assertNotIn(SECRET, stored["webhook_secret_encrypted"])
        self.assertFalse(channel.webhook_url)
        self.assertEqual(channel.webhook_target, "http://127.0.0.1:%s/…" % receiver.server.server_address[1])
        for user in (self.manager, self.cockpit_admin):
            as_user = channel.with_user(user)
            self.assertEqual(as_user.read(["webhook_url", "webhook_secret", "has_webhook_secret"])[0]
                             ["has_webhook_secret"], True)
            self.assertFalse(as_user.read(["webhook_url"])[0]["webhook_url"])
            with self.assertRaises(AccessError):
                as_user.read(["webhook_url_encrypted"])
            with self.assertRaises(AccessError):
                as_user.read(["webhook_secret_encrypted"])
        with self.assertRaises(AccessError):
            channel.with_user(self.manager).write({"webhook_url": "https://evil.example.com/"})
        for user in (self.viewer, self.operator):
            with self.assertRaises(AccessError):
                channel.with_user(user).read(["name"])

    def test_activity_channel_needs_the_mail_app(self):
        """With Odoo's mail app: a to-do for the responsible user; without it the channel is refused."""
        Channel = self.env["maildesk.cockpit.alert.channel"]
        if "mail.activity" not in self.env:
            with self.assertRaises(ValidationError):
                Channel.create({"name": "Activity", "kind": "activity"})
            return
        channel = Channel.create({"name": "Activity", "kind": "activity"})
        rule = self.make_rule(channel_ids=[(6, 0, channel.ids)])
        self.evaluate(rule, NOW)
        self.env["maildesk.cockpit.alert.delivery"]._send_queued()
        self.assertEqual(rule.sudo().event_ids.delivery_ids.status, "delivered")
        activity = self.env["mail.activity"].search([("user_id", "=", self.manager.id)])
        self.assertEqual(len(activity), 1)
        self.assertEqual((activity.res_model, activity.res_id), (rule._name, rule.id))
        self.assertIn("Needs reply", activity.summary)
        self.assertEqual(rule.with_user(self.manager).search([("activity_user_id", "=", self.manager.id)]), rule)
        activity.with_user(self.manager).action_feedback(feedback="Looked at it")  # marking it done works
        self.assertFalse(activity.exists() and activity.active)

    # -- who may do what (ORM as the user) -----------------------------------------------------------
    def test_viewer_and_operator_cannot_create_rules(self):
        for user in (self.viewer, self.operator):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.make_rule(user=user, user_id=user.id)

    def test_manager_cannot_leave_their_scope(self):
        """Mailboxes they cannot read, teams they are not in, other owners, system fields: refused."""
        with self.assertRaises(AccessError):
            self.make_rule(user=self.manager, scope_team_id=False, scope_account_id=self.sales.id)
        with self.assertRaises(AccessError):
            self.make_rule(user=self.outsider, user_id=self.outsider.id)  # not in the team
        with self.assertRaises(AccessError):
            self.make_rule(user=self.manager, scope_team_id=False, user_id=self.colleague.id)
        rule = self.make_rule(user=self.manager)
        with self.assertRaises(AccessError):
            rule.with_user(self.manager).write({"scope_team_id": False, "scope_account_id": self.sales.id})
        with self.assertRaises(AccessError):
            rule.with_user(self.manager).write({"last_evaluated_at": NOW})
        with self.assertRaises(AccessError):
            rule.with_user(self.outsider).write({"threshold": 99})
        self.assertTrue(self.make_rule(user=self.manager, user_id=self.colleague.id))  # a member of their team

    def test_rule_is_evaluated_with_its_owners_scope_only(self):
        """A rule never counts what its responsible user cannot read (the Sales mailbox here)."""
        t_sales = self.thread(self.sales, "Sales only")
        self.store(t_sales, date=NOW - timedelta(hours=1))
        mine = self.make_rule(scope_team_id=False, user_id=self.manager.id)
        admin = self.make_rule(scope_team_id=False, user_id=self.env.ref("base.user_admin").id)
        self.evaluate(mine | admin, NOW)
        self.assertEqual(mine.last_value, 1)
        self.assertEqual(admin.last_value, 2)


@tagged("post_install", "-at_install", "maildesk")
class TestAlertsRpc(AlertSetup, HttpCase):
    """Tier x action over the real JSON-RPC endpoint: create, write, Send test, delivery log, secrets."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_cockpit(cls.env)
        cls.setup_alerts()
        cls.rule = cls.make_rule(name="Manager's rule")
        cls.rule_sales = cls.make_rule(name="Admin's sales rule", scope_team_id=False, scope_account_id=cls.sales.id,
                                       user_id=cls.env.ref("base.user_admin").id)
        cls.hook = cls.env["maildesk.cockpit.alert.channel"].create({
            "name": "Hook", "kind": "webhook", "webhook_url": "https://127.0.0.1:9/x", "webhook_secret": SECRET})

    def call(self, login, model, method, *args, **kwargs):
        self.authenticate(login, login)
        return self.make_jsonrpc_request("/web/dataset/call_kw", {
            "model": model, "method": method, "args": list(args), "kwargs": kwargs})

    def expect(self, allowed, login, model, method, *args, **kwargs):
        if allowed:
            return self.call(login, model, method, *args, **kwargs)
        with self.assertRaises(Exception) as caught:
            self.call(login, model, method, *args, **kwargs)
        self.assertRegex(str(caught.exception), "AccessError|access|not allowed")
        return None

    def test_matrix(self):
        """Each tier x action, on an in-scope rule and an out-of-scope one."""
        R, D, C = "maildesk.cockpit.alert.rule", "maildesk.cockpit.alert.delivery", "maildesk.cockpit.alert.channel"
        expect = {"ck_plain": False, "ck_viewer": False, "ck_operator": False, "ck_manager": True, "ck_admin": True}
        for login, may in expect.items():
            with self.subTest(login=login):
                user = self.env["res.users"].search([("login", "=", login)])
                self.expect(may, login, R, "create", {
                    "name": f"by {login}", "kpi": "overdue", "threshold": 1, "scope_team_id": self.team.id,
                    "user_id": user.id})
                self.expect(may, login, R, "write", [self.rule.id], {"threshold": 5})
                # Nobody here reads the Sales mailbox: not even the Cockpit Administrator may change its rule.
                self.expect(False, login, R, "write", [self.rule_sales.id], {"threshold": 5})
                self.expect(False, login, R, "create", {
                    "name": "sneaky", "kpi": "overdue", "scope_account_id": self.sales.id, "user_id": user.id})
                self.expect(may, login, R, "action_send_test", [self.rule.id])
                self.rule.sudo().last_test_at = False
                self.expect(may, login, D, "search_read", [("rule_id", "=", self.rule.id)], fields=["status"])
                self.expect(False, login, C, "read", [self.hook.id], ["webhook_url_encrypted"])
                if login != "ck_admin":
                    self.expect(False, login, C, "write", [self.hook.id], {"webhook_url": "https://127.0.0.1:8/y"})
        admin_rows = self.call("ck_admin", D, "search_read", [("rule_id", "=", self.rule.id)], fields=["status"])
        self.assertTrue(admin_rows and all(r["status"] == "delivered" for r in admin_rows))
        self.assertEqual(self.call("ck_admin", C, "read", [self.hook.id], ["webhook_url"])[0]["webhook_url"], False)


SHOT_JS = page_script("""
    await wait(".o_form_view .o_field_widget[name='state_ids'] .o_data_row");
""", settle_ms=1000)


@tagged("post_install", "-at_install", "maildesk")
class TestAlertsScreenshot(AlertSetup, HttpCase):
    """README screenshot of a firing rule from a real browser run: MAILDESK_SCREENSHOTS=<dir> enables it."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.environ.get("MAILDESK_SCREENSHOTS"):
            raise unittest.SkipTest("set MAILDESK_SCREENSHOTS to take the README screenshot")
        cls.setup_cockpit(cls.env)
        cls.setup_alerts()
        cls.manager.name = "Maya Manager"
        now = datetime.now().replace(microsecond=0)
        for i in range(3):
            cls.store(cls.thread(subject=f"Order question {i + 1}"), date=now - timedelta(hours=3 - i))
        email = cls.env["maildesk.cockpit.alert.channel"].create({"name": "On-call email", "kind": "email",
                                                                  "email_to": "oncall@acme.test"})
        cls.rule = cls.make_rule(name="Support backlog", threshold=2, pending_minutes=10, repeat_minutes=60,
                                 channel_ids=[(6, 0, (cls.ch_inapp | email).ids)])
        for minutes in (-130, -115, -50, 0):
            cls.rule.sudo()._evaluate(now=now + timedelta(minutes=minutes))

    def test_screenshot(self):
        capture(self, "cockpit_alert_rule", f"/web#model=maildesk.cockpit.alert.rule&id={self.rule.id}&view_type=form",
                SHOT_JS, login="ck_manager", size=(1400, 1150))
