"""Rules on real mail: Dovecot ingest, sending through an SMTP sink, RFC 3834 loops."""
import email
from unittest.mock import patch

from odoo.tests import tagged

from .common import ImapCase, make_rule


def raw(sender, to, subject, message_id, headers=(), body="Hello, can you help me?"):
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Message-ID: {message_id}",
             "Date: Mon, 05 Jan 2026 09:00:00 +0000", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


@tagged("post_install", "-at_install", "maildesk")
class TestRulesImap(ImapCase):
    def setUp(self):
        super().setUp()
        self.sink = self.use_smtp_sink()
        self.tag = self.env["maildesk.tag"].create({"name": f"Rule tag {self.login}"})
        self.account.user_ids = [(4, self.user_member.id)]

    def send_rule_mail(self):
        """Run the cron that sends what rules queued (after the batch's commit in production)."""
        self.env["maildesk.rule.mail"]._cron_send()

    def auto_reply_rule(self, account, **kwargs):
        return make_rule(self.env, account, name=f"Away {account.email}", actions=[{
            "kind": "auto_reply", "reply_body": "<p>Hello {{ sender_name }}, I am away.</p>", "once_per_days": 4}],
            **kwargs)

    def test_rule_fires_on_real_ingest(self):
        """Mail synced from Dovecot is tagged and assigned by a matching rule, once."""
        make_rule(self.env, self.account, conditions=[{"kind": "sender_domain", "value": "*.example.org"}],
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag.ids)]},
                           {"kind": "assign_user", "user_id": self.user_member.id}])
        self.append([raw("Carol <carol@shop.example.org>", self.login, "Order 17", "<o17@shop.example.org>"),
                     raw("Dan <dan@other.example>", self.login, "Hi", "<hi@other.example>")])
        self.account.action_sync()
        tagged_mail = self.messages(message_id="<o17@shop.example.org>")
        self.assertEqual(tagged_mail.tag_ids, self.tag)
        self.assertEqual(tagged_mail.thread_id.user_id, self.user_member)
        self.assertEqual(tagged_mail.thread_id.conversation_state, "waiting_for_us")
        self.assertFalse(self.messages(message_id="<hi@other.example>").tag_ids)
        self.account.action_sync()
        self.assertEqual(self.env["maildesk.rule.run"].search_count([("account_id", "=", self.account.id)]), 1)

    def test_sent_rule_runs_after_send(self):
        """A 'message sent' rule acts on the Sent copy of mail sent from Odoo."""
        make_rule(self.env, self.account, trigger="sent",
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag.ids)]}])
        sent = self.account.with_user(self.user_owner)._send_mail("x@customer.example", "", "", "Quote", "<p>Quote</p>")
        self.assertEqual(sent.tag_ids, self.tag)
        self.assertEqual(len(self.sink.messages), 1)
        self.assertEqual(sent.thread_id.conversation_state, "waiting_for_them")

    def test_auto_reply_reaches_the_sink_once_per_sender(self):
        """Two mails from one sender get one auto-reply, marked Auto-Submitted and threaded."""
        self.auto_reply_rule(self.account)
        make_rule(self.env, self.account, trigger="sent",
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag.ids)]}])
        self.append([raw("Eve <eve@customer.example>", self.login, "Help", "<h1@customer.example>")])
        self.account.action_sync()
        self.assertEqual(len(self.sink.messages), 0, "nothing leaves inside the ingest transaction")
        self.send_rule_mail()
        self.append([raw("Eve <eve@customer.example>", self.login, "Help again", "<h2@customer.example>")])
        self.account.action_sync()
        self.send_rule_mail()
        self.assertEqual(len(self.sink.messages), 1)
        _from, rcpts, data = self.sink.messages[0]
        answer = email.message_from_bytes(data)
        self.assertEqual(rcpts, ["eve@customer.example"])
        self.assertEqual(answer["Auto-Submitted"], "auto-replied")
        self.assertEqual(answer["In-Reply-To"], "<h1@customer.example>")
        self.assertEqual(answer["Subject"], "Re: Help")
        stored = self.messages(direction="outgoing")
        self.assertTrue(stored.is_auto_generated)
        self.assertFalse(stored.tag_ids, "mail sent by a rule never triggers rules")
        self.assertEqual(stored.thread_id.conversation_state, "waiting_for_us")

    def test_forward_reaches_the_sink_marked_auto_generated(self):
        """A forward rule sends the mail on once, marked Auto-Submitted: auto-generated."""
        make_rule(self.env, self.account, actions=[{"kind": "forward", "forward_to": "desk@elsewhere.example"}])
        self.append([raw("Eve <eve@customer.example>", self.login, "Contract", "<c1@customer.example>")])
        self.account.action_sync()
        self.send_rule_mail()
        self.send_rule_mail()
        self.assertEqual(len(self.sink.messages), 1)
        _from, rcpts, data = self.sink.messages[0]
        sent = email.message_from_bytes(data)
        self.assertEqual(rcpts, ["desk@elsewhere.example"])
        self.assertEqual(sent["Auto-Submitted"], "auto-generated")
        self.assertEqual(sent["Subject"], "Fwd: Contract")

    def test_never_answers_list_or_auto_submitted_mail(self):
        """Bulk, list, auto-submitted and no-reply mail gets no auto-reply."""
        self.auto_reply_rule(self.account)
        self.append([
            raw("News <news@shop.example>", self.login, "Deals", "<n1@x>", ["Precedence: bulk"]),
            raw("List <l@lists.example>", self.login, "Digest", "<n2@x>", ["List-Id: <dev.lists.example>"]),
            raw("Bob <bob@x.example>", self.login, "Out of office", "<n3@x>", ["Auto-Submitted: auto-replied"]),
            raw("noreply@service.example", self.login, "Receipt", "<n4@x>"),
            raw("MAILER-DAEMON@mx.example", self.login, "Undelivered", "<n5@x>"),
        ])
        self.account.action_sync()
        self.send_rule_mail()
        self.assertEqual(len(self.sink.messages), 0)
        lines = self.env["maildesk.rule.run"].search([("account_id", "=", self.account.id)])
        self.assertEqual(len(lines), 5)
        self.assertTrue(all("no auto-reply" in line.actions_done for line in lines))

    def test_two_mailboxes_answering_each_other_stop(self):
        """Auto-responders answering each other stop after one answer (RFC 3834 Auto-Submitted)."""
        login_b, password_b = self.server.new_user()
        account_b = self.make_account(name="B", email=login_b, imap_login=login_b, imap_password=password_b,
                                      imap_host=self.server.host, imap_port=self.server.port, imap_security="none",
                                      smtp_host=self.sink.host, smtp_port=self.sink.port, smtp_security="none")
        self.auto_reply_rule(self.account)
        self.auto_reply_rule(account_b)
        self.append([raw("Eve <eve@customer.example>", self.login, "Help", "<h1@customer.example>")])
        self.account.action_sync()
        self.send_rule_mail()
        self.assertEqual(len(self.sink.messages), 1)
        answer = self.sink.messages[0][2]
        # Eve's own auto-responder answers A's auto-reply: A must not answer that.
        self.append([raw("Eve <eve@customer.example>", self.login, "Re: Help", "<ooo@customer.example>",
                         ["Auto-Submitted: auto-replied", "In-Reply-To: <h1@customer.example>"])])
        self.account.action_sync()
        # A's auto-reply delivered to mailbox B, which auto-replies too: B must not answer it.
        self.server.append(login_b, password_b, "INBOX", [answer])
        account_b.action_sync()
        self.send_rule_mail()
        self.assertEqual(len(self.sink.messages), 1)
        at_b = self.env["maildesk.message"].search([("account_id", "=", account_b.id), ("direction", "=", "incoming")])
        self.assertTrue(at_b.is_auto_generated)
        runs = self.env["maildesk.rule.run"].search([("account_id", "in", (self.account | account_b).ids)])
        self.assertEqual(len(runs), 3)
        self.assertEqual(len(runs.filtered(lambda r: r.actions_done.startswith("auto-reply to"))), 1)

    def test_auto_reply_survives_a_rolled_back_batch_once(self):
        """A batch that fails after the rule ran sends nothing; its retry answers once, never twice."""
        self.auto_reply_rule(self.account)
        self.append([raw("Eve <eve@customer.example>", self.login, "Help", "<h1@customer.example>")])
        Message = type(self.env["maildesk.message"])
        original = Message._on_messages_stored

        def fail_after_rules(records):
            original(records)
            raise RuntimeError("the batch fails after the rules ran")

        with patch.object(Message, "_on_messages_stored", fail_after_rules), self.assertRaises(RuntimeError), \
                self.env.cr.savepoint():
            self.account._sync_one()
        self.send_rule_mail()
        self.assertEqual(len(self.sink.messages), 0, "the rolled-back batch sent nothing")
        self.assertFalse(self.messages(message_id="<h1@customer.example>"), "the batch was rolled back")
        self.assertFalse(self.env["maildesk.rule.mail"].search([("account_id", "=", self.account.id)]))
        self.account.action_sync()  # the retry stores the same mail and runs the rule again
        self.account.action_sync()
        self.send_rule_mail()
        self.send_rule_mail()
        self.assertEqual(len(self.sink.messages), 1)
        queued = self.env["maildesk.rule.mail"].search([("account_id", "=", self.account.id)])
        self.assertEqual((len(queued), queued.state, queued.attempts), (1, "sent", 1))
        self.assertEqual(queued.sent_message_id.thread_id, self.messages(message_id="<h1@customer.example>").thread_id)

    def test_rule_mail_is_never_sent_twice(self):
        """A row interrupted while sending turns 'unknown' and is never sent again automatically."""
        self.auto_reply_rule(self.account)
        self.append([raw("Eve <eve@customer.example>", self.login, "Help", "<h1@customer.example>")])
        self.account.action_sync()
        row = self.env["maildesk.rule.mail"].search([("account_id", "=", self.account.id)])
        row.write({"state": "sending", "sending_since": "2000-01-01 00:00:00"})  # a worker died mid-send
        self.send_rule_mail()
        self.assertEqual(row.state, "unknown")
        self.send_rule_mail()
        self.assertEqual(len(self.sink.messages), 0)
