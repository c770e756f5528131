"""Rules planned before the sync's bulk INSERT give what the stored path gives."""
from datetime import datetime
from email.message import EmailMessage
from unittest import mock

from odoo.addons.maildesk_mail_client.engine.provider import RemoteMessage
from odoo.addons.maildesk_mail_client.models.maildesk_guard import trusted_ingest
from odoo.tests import tagged

from ..models.maildesk_message import PLANNED_KEY
from .common import AutomationCase, make_rule

D = datetime


class InsertCase(AutomationCase):
    """Helpers: message values as the sync prepares them, stored by its bulk INSERT."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag_a = cls.env["maildesk.tag"].create({"name": "A"})
        cls.tag_b = cls.env["maildesk.tag"].create({"name": "B"})
        cls.Run = cls.env["maildesk.rule.run"]

    def vals(self, thread=None, direction="incoming", **kwargs):
        """Values of a new message as ``_ingest`` prepares them."""
        type(self)._seq += 1
        seq = type(self)._seq
        thread = thread or self.env["maildesk.thread"].create({"account_id": self.account.id, "subject": "Hi"})
        vals = {"account_id": self.account.id, "thread_id": thread.id,
                "folder_id": (self.inbox if direction == "incoming" else self.sent).id, "direction": direction,
                "subject": "Hi", "message_id": f"<ins{seq}@example.com>",
                "email_from": "Customer <customer@example.org>" if direction == "incoming" else "owner@example.com",
                "from_address": "customer@example.org" if direction == "incoming" else "owner@example.com",
                "date": D(2026, 1, 5, 9, seq % 60), "body_html": "<p>Hello</p>", "body_text": "Hello",
                "is_read": False, "is_starred": False}
        vals.update(kwargs)
        return vals

    def ingest(self, vals_list, keep_plan=None):
        """Store as the sync does: the bulk INSERT, then the batch hook. ``keep_plan``: a list
        receiving the plan made before the INSERT."""
        Message = self.env["maildesk.message"].with_context(maildesk_from_sync=True).sudo()
        with trusted_ingest():
            records = Message._create_ingested(vals_list)
        if keep_plan is not None:
            keep_plan.append(self.env.cr.cache.get(PLANNED_KEY))
        records._on_messages_stored()
        return records

    def store_each(self, vals_list):
        """The same mail through ``create`` (the stored path), one message at a time."""
        return [self.store(**{k: v for k, v in vals.items() if k not in ("account_id",)}) for vals in vals_list]

    def outcome(self, message):
        runs = self.Run.search([("message_id", "=", message.id)], order="id")
        return (message.is_starred, message.is_read, sorted(message.tag_ids.mapped("name")),
                message.thread_id.user_id, [(r.rule_id.name, r.matched, r.actions_done, r.state) for r in runs])


@tagged("post_install", "-at_install", "maildesk")
class TestRulesAtInsert(InsertCase):
    def make_rules(self):
        make_rule(self.env, self.account, name="Urgent", sequence=1, stop_processing=True,
                  conditions=[{"kind": "subject_contains", "value": "urgent"}],
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_a.ids)]}, {"kind": "mark_read"}])
        make_rule(self.env, self.account, name="Star waiting", sequence=2,
                  conditions=[{"kind": "state", "choice": "waiting_for_us"}],
                  actions=[{"kind": "star"}, {"kind": "assign_user", "user_id": self.user_member.id}])
        make_rule(self.env, self.account, name="Star again", sequence=3,
                  actions=[{"kind": "star"}, {"kind": "add_tags", "tag_ids": [(6, 0, self.tag_b.ids)]}])

    def test_insert_path_equals_stored_path(self):
        """Flags, tags, assignee and run-log lines are the same whichever path stored the mail;
        the flags were in the INSERT values; stop-processing holds; a starred message is not
        starred again and logs no line for it."""
        self.make_rules()
        specs = [{"subject": "urgent invoice"}, {"subject": "Hello"}, {"subject": "Hi", "is_starred": True},
                 {"subject": "newsletter", "auto_submitted": "auto-generated"}]
        stored = self.store_each([self.vals(**spec) for spec in specs])
        vals_list = [self.vals(**spec) for spec in specs]
        with mock.patch.object(type(self.env["maildesk.message"]), "_push_flags", autospec=True) as push:
            inserted = self.ingest(vals_list)
        self.assertEqual([self.outcome(m) for m in inserted], [self.outcome(m) for m in stored])
        urgent, hello, starred, auto = inserted
        self.assertEqual(self.outcome(urgent)[:3], (False, True, ["A"]), "the stop rule ended the walk")
        self.assertEqual(self.outcome(hello)[:3], (True, False, ["B"]))
        self.assertEqual(len(self.outcome(hello)[4]), 2)
        self.assertEqual([r[2] for r in self.outcome(starred)[4]], [f"assigned {self.user_member.name}",
                                                                    "tagged: B"])
        self.assertEqual([r[0] for r in self.outcome(auto)[4]], ["Star again"], "auto-generated: no state")
        # Folded into the INSERT: the values carry the flags, and the server hears of them after.
        self.assertTrue(vals_list[0]["is_read"] and vals_list[1]["is_starred"])
        self.assertFalse(vals_list[0]["is_starred"])
        pushed = {(tuple(call.args[0].ids), tuple(sorted(call.kwargs.items()))) for call in push.call_args_list}
        self.assertIn(((urgent.id,), (("is_read", True),)), pushed)
        self.assertIn((tuple(sorted((hello | auto).ids)), (("is_starred", True),)), pushed)
        self.assertTrue(hello.thread_id.is_starred, "the conversation summary counts the folded star")

    def test_predicted_state_is_the_stored_state(self):
        """The conversation state planned before the INSERT is the one the batch leaves."""
        make_rule(self.env, self.account, actions=[{"kind": "star"}])
        make_rule(self.env, self.account, trigger="sent", actions=[{"kind": "star"}])
        answered = self.env["maildesk.thread"].create({"account_id": self.account.id, "subject": "Hi"})
        self.store(thread=answered, date=D(2026, 1, 1))
        self.store(thread=answered, direction="outgoing", date=D(2026, 1, 2))
        closed = self.env["maildesk.thread"].create({"account_id": self.account.id, "subject": "Hi"})
        self.store(thread=closed, date=D(2026, 1, 1))
        closed.sudo().write({"is_closed": True, "closed_at": D(2026, 1, 3)})
        closed.sudo()._refresh_conversation_state()
        quiet = self.env["maildesk.thread"].create({"account_id": self.account.id, "subject": "Hi"})
        self.store(thread=quiet, date=D(2026, 1, 1))
        quiet.sudo().write({"is_closed": True, "closed_at": D(2026, 1, 3)})
        quiet.sudo()._refresh_conversation_state()
        vals_list = [self.vals(), self.vals(thread=answered, direction="outgoing", date=D(2026, 1, 4)),
                     self.vals(thread=closed, date=D(2026, 1, 5)),
                     self.vals(thread=quiet, date=D(2026, 1, 6), auto_submitted="auto-replied"),
                     self.vals(subject="noise", auto_submitted="auto-generated")]
        plans = []
        messages = self.ingest(vals_list, keep_plan=plans)
        facts = {fact.id: fact for fact, *_rest in plans[0].items.values()}
        for message in messages:
            self.assertEqual(facts[message.id].state, message.thread_id.conversation_state or "",
                             message.subject)
        self.assertEqual([facts[m.id].state for m in messages],
                         ["waiting_for_us", "waiting_for_them", "waiting_for_us", "closed", ""])

    def test_failing_rule_keeps_its_flag_out_of_the_insert(self):
        """A rule with an immediate action sets its flag after the insert, in its savepoint:
        when it fails the message is not starred, and a later rule's tag still lands."""
        make_rule(self.env, self.account, name="Broken record", sequence=1, actions=[
            {"kind": "star"},
            {"kind": "create_record", "record_model": "other", "record_model_name": "res.partner",
             "field_mapping": "name = subject\ndate = \"not a date\""}])
        make_rule(self.env, self.account, name="Tagger", sequence=2,
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_b.ids)]}])
        vals_list = [self.vals(subject="Broken lead")]
        message = self.ingest(vals_list)
        self.assertFalse(vals_list[0]["is_starred"])
        self.assertFalse(message.is_starred)
        self.assertEqual(message.tag_ids, self.tag_b)
        broken = self.Run.search([("message_id", "=", message.id), ("rule_id.name", "=", "Broken record")])
        self.assertEqual(broken.state, "error")

    def test_copies_rules_off_and_file_types(self):
        """Copies of stored mail and mailboxes with rules off run nothing; with a file-type rule,
        messages with files are planned after the insert, in the same batch."""
        make_rule(self.env, self.account, name="Pdf", conditions=[{"kind": "attachment_type", "value": "pdf"}],
                  actions=[{"kind": "star"}])
        make_rule(self.env, self.account, name="All",
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_a.ids)]}])
        self.store(message_id="<seen@x>")
        with_file = self.vals(has_attachments=True)
        vals_list = [self.vals(message_id="<seen@x>"), with_file, self.vals(), self.vals(message_id="<twice@x>"),
                     self.vals(message_id="<twice@x>")]
        plans = []
        Message = self.env["maildesk.message"].with_context(maildesk_from_sync=True).sudo()
        with trusted_ingest():
            messages = Message._create_ingested(vals_list)
        plans.append(self.env.cr.cache.get(PLANNED_KEY))
        self.env["ir.attachment"].create({"name": "a.pdf", "raw": b"%PDF", "mimetype": "application/pdf",
                                          "res_model": "maildesk.message", "res_id": messages[1].id})
        messages._on_messages_stored()
        copy, filed, plain, first, second = messages
        self.assertNotIn(filed.id, plans[0].items, "planned after the insert: its files are stored then")
        self.assertIn(plain.id, plans[0].items)
        self.assertEqual([bool(m.tag_ids) for m in messages], [False, True, True, True, False])
        self.assertTrue(filed.is_starred)
        self.assertEqual(self.Run.search_count([("message_id", "in", filed.ids)]), 2)
        self.account.automation_incoming = False
        self.assertFalse(self.ingest([self.vals()]).tag_ids)

    def test_sync_ingest_plans_file_rules_from_the_parsed_files(self):
        """Through the sync's ``_ingest``: file conditions are decided on the parsed files before
        the INSERT (a PDF), except for a type ``ir.attachment`` may change (HTML), which waits for
        the stored files; both give the stored path's answer."""
        make_rule(self.env, self.account, name="Pdf", conditions=[{"kind": "attachment_type", "value": "pdf"}],
                  actions=[{"kind": "star"}])
        make_rule(self.env, self.account, name="Files", conditions=[{"kind": "has_attachment"}],
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_a.ids)]}])

        def raw(number, filename, mimetype):
            mail = EmailMessage()
            mail["From"], mail["To"], mail["Subject"] = "c@example.org", "owner@example.com", f"Files {number}"
            mail["Message-ID"], mail["Date"] = f"<files{number}@example.org>", "Mon, 05 Jan 2026 09:00:00 +0000"
            mail.set_content("See attached")
            if filename:
                maintype, subtype = mimetype.split("/")
                mail.add_attachment(b"%PDF-1.4 x" if subtype == "pdf" else b"<p>x</p>", maintype=maintype,
                                    subtype=subtype, filename=filename)
            return mail.as_bytes()
        remotes = [RemoteMessage(remote_id=f"9:{i}", raw=raw(i, *spec), size=100, internal_date=D(2026, 1, 5))
                   for i, spec in enumerate([("a.pdf", "application/pdf"), ("p.html", "text/html"), (None, None)])]
        Rule = type(self.env["maildesk.rule"])
        plans, original = [], Rule._plan_at_insert

        def capture(rule, vals_list):
            plans.append(original(rule, vals_list))
            return plans[-1]
        with mock.patch.object(Rule, "_plan_at_insert", capture):
            self.env["maildesk.message"].with_context(maildesk_from_sync=True).sudo()._ingest(self.inbox, remotes)
        self.assertEqual(len(plans), 1)
        planned = plans[0]
        messages = self.env["maildesk.message"].search([("remote_id", "like", "9:")], order="remote_id")
        pdf, html, plain = messages
        self.assertEqual(messages.mapped("subject"), ["Files 0", "Files 1", "Files 2"])
        self.assertIn(pdf.id, planned.items, "decided on the parsed file before the INSERT")
        self.assertNotIn(html.id, planned.items, "an HTML file's stored type depends on the user: after")
        self.assertIn(plain.id, planned.items)
        self.assertEqual([m.is_starred for m in messages], [True, False, False])
        self.assertEqual([bool(m.tag_ids) for m in messages], [True, True, False])
        self.assertEqual(self.Run.search_count([("message_id", "in", messages.ids)]), 3)


@tagged("post_install", "-at_install", "maildesk")
class TestRulesOnABatch(InsertCase):
    """Several messages in one batch: each message's rules run in order on it, whichever path."""

    def batch_rules(self):
        def rule(name, sequence, actions, subject=None, **kwargs):
            conditions = [{"kind": "subject_contains", "value": subject}] if subject else []
            return make_rule(self.env, self.account, name=name, sequence=sequence, conditions=conditions,
                             actions=actions, **kwargs)
        tags_a, tags_b = [(6, 0, self.tag_a.ids)], [(6, 0, self.tag_b.ids)]
        rule("Tag A", 1, [{"kind": "add_tags", "tag_ids": tags_a}])
        rule("Untag A, star", 2, [{"kind": "remove_tags", "tag_ids": tags_a}, {"kind": "star"}], subject="drop")
        rule("Tag A again", 3, [{"kind": "add_tags", "tag_ids": tags_a}], subject="again")
        rule("Stop", 4, [{"kind": "add_tags", "tag_ids": tags_b}], subject="stop", stop_processing=True)
        rule("Tag A+B late", 5, [{"kind": "add_tags", "tag_ids": [(6, 0, (self.tag_a | self.tag_b).ids)]},
                                 {"kind": "mark_read"}])
        rule("Nothing left to do", 6, [{"kind": "add_tags", "tag_ids": tags_a}, {"kind": "mark_read"}])

    def lines(self, message):
        return [(r.rule_id.name, r.actions_done, r.state)
                for r in self.Run.search([("message_id", "=", message.id)], order="id")]

    def check_batch(self, messages):
        hello, drop, stop, other = messages
        late = ("Tag A+B late", "tagged: A, B\nmarked read", "done")
        self.assertEqual(self.lines(hello), [("Tag A", "tagged: A", "done"), late])
        self.assertEqual(self.lines(drop), [("Tag A", "tagged: A", "done"),
                                            ("Untag A, star", "untagged: A\nstarred", "done"),
                                            ("Tag A again", "tagged: A", "done"), late])
        self.assertEqual(self.lines(stop), [("Tag A", "tagged: A", "done"), ("Stop", "tagged: B", "done")])
        self.assertEqual(self.lines(other), self.lines(hello))
        self.assertEqual([sorted(m.tag_ids.mapped("name")) for m in messages],
                         [["A", "B"], ["A", "B"], ["A", "B"], ["A", "B"]])
        self.assertEqual([(m.is_read, m.is_starred) for m in messages],
                         [(True, False), (True, True), (False, False), (True, False)])
        # The last rule that noted a conversation, in message order then rule order, wins.
        self.assertEqual(hello.thread_id, drop.thread_id)
        self.assertIn("Tag A+B late", hello.thread_id.rule_note)
        self.assertIn("Stop", stop.thread_id.rule_note)

    def batch_vals(self):
        shared = self.env["maildesk.thread"].create({"account_id": self.account.id, "subject": "Hi"})
        return [self.vals(thread=shared, subject="hello"), self.vals(thread=shared, subject="drop it again"),
                self.vals(subject="stop here"), self.vals(subject="hello too")]

    def test_batch_at_insert(self):
        """Two messages of one batch (one conversation) hitting the same rules, a rule undone by a
        later one and redone, a stopping rule, a rule with nothing left to do (no line)."""
        self.batch_rules()
        plans = []
        with mock.patch.object(type(self.env["maildesk.message"]), "_push_flags", autospec=True):
            messages = self.ingest(self.batch_vals(), keep_plan=plans)
        self.assertEqual(set(plans[0].items), set(messages.ids), "planned before the INSERT")
        self.check_batch(messages)

    def test_batch_stored(self):
        """The same batch stored by ``create`` and run by the hook on stored rows gives the same."""
        self.batch_rules()
        Message = self.env["maildesk.message"].with_context(maildesk_from_sync=True).sudo()
        with mock.patch.object(type(self.env["maildesk.message"]), "_push_flags", autospec=True):
            messages = Message.create(self.batch_vals())
            messages._on_messages_stored()
        self.check_batch(messages)

    def test_failing_action_fails_its_rule_on_that_message_only(self):
        """A rule whose action fails on one message of the batch is logged as an error there, its
        other actions there are dropped; it acts on the other messages; later rules run on all."""
        make_rule(self.env, self.account, name="Notify and star", sequence=1,
                  actions=[{"kind": "star"}, {"kind": "notify", "notify_user_ids": [(6, 0, self.user_member.ids)]}])
        make_rule(self.env, self.account, name="Tag B", sequence=2,
                  actions=[{"kind": "add_tags", "tag_ids": [(6, 0, self.tag_b.ids)]}])
        Rule = type(self.env["maildesk.rule"])
        original = Rule._action_notify

        def notify(runner, rule, action, message, fact, batch):
            if fact.subject == "boom":
                raise ValueError("notification refused")
            return original(runner, rule, action, message, fact, batch)
        with mock.patch.object(Rule, "_action_notify", notify), \
                mock.patch.object(type(self.env["maildesk.message"]), "_push_flags", autospec=True):
            messages = self.ingest([self.vals(subject="fine"), self.vals(subject="boom"), self.vals(subject="also")])
        fine, boom, also = messages
        self.assertEqual([m.is_starred for m in messages], [True, False, True])
        self.assertEqual([m.tag_ids for m in messages], [self.tag_b] * 3)
        self.assertEqual([state for _name, _done, state in self.lines(boom)], ["error", "done"])
        self.assertIn("notification refused", self.Run.search([("message_id", "=", boom.id),
                                                               ("state", "=", "error")]).error)
        self.assertEqual([state for _name, _done, state in self.lines(fine)], ["done", "done"])
