"""Tier x action matrix over JSON-RPC, in and out of scope; crafted ids and values get nothing."""
from datetime import timedelta

from freezegun import freeze_time
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, tagged

from .common import NOW, CockpitCase, CockpitSetup


@tagged("post_install", "-at_install", "maildesk")
class TestCockpitTiers(CockpitCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with freeze_time(NOW):
            cls.t_unassigned = cls.thread(subject="Unassigned in team")
            cls.store(cls.t_unassigned, date=NOW - timedelta(hours=2))
            cls.t_colleague = cls.thread(subject="Colleague's")
            cls.store(cls.t_colleague, date=NOW - timedelta(hours=3))
            cls.t_colleague.sudo().user_id = cls.colleague
            cls.t_sales = cls.thread(cls.sales, "Sales only")
            cls.store(cls.t_sales, date=NOW - timedelta(hours=1))
            cls.t_other_co = cls.thread(cls.other_co, "Other company")
            cls.store(cls.t_other_co, date=NOW - timedelta(hours=1))

    def test_no_tier_no_cockpit(self):
        """A Mailbox User without a cockpit tier gets nothing."""
        with self.assertRaises(AccessError):
            self.cockpit(self.plain).get_dashboard({})
        with self.assertRaises(AccessError):
            self.cockpit(self.plain).get_drilldown("incoming", {})

    def test_viewer_reads_but_cannot_triage(self):
        cockpit = self.cockpit(self.viewer)
        self.assertTrue(cockpit.get_thread(self.t_unassigned.id)["thread"])
        for call in (lambda: cockpit.assign_to_me([self.t_unassigned.id]),
                     lambda: cockpit.mark_noise([self.t_unassigned.id]),
                     lambda: cockpit.override_sla(self.t_unassigned.id, "2026-03-05 10:00:00", "x"),
                     lambda: cockpit.save_board({"name": "Mine"})):
            with self.assertRaises(AccessError):
                call()
        with self.assertRaises(AccessError):
            self.env["maildesk.sla.policy"].with_user(self.viewer).create({"name": "Sneaky"})

    def test_foreign_ids_are_refused(self):
        """Mailboxes, teams and conversations outside the base rules raise, whatever the tier."""
        for user in (self.viewer, self.manager, self.cockpit_admin):
            cockpit = self.cockpit(user)
            with self.assertRaises(AccessError):
                cockpit.get_dashboard({"account_id": self.sales.id})
            with self.assertRaises(AccessError):
                cockpit.get_drilldown("incoming", {"account_id": self.sales.id})
            with self.assertRaises(AccessError):
                cockpit.get_thread(self.t_sales.id)
        with self.assertRaises(AccessError):
            self.cockpit(self.manager).assign_to_me([self.t_sales.id])
        with self.assertRaises(AccessError):
            self.cockpit(self.manager).get_thread(self.t_other_co.id)

    def test_crafted_values_are_plain_errors(self):
        cockpit = self.cockpit(self.manager)
        for bad in ({"account_id": "1 OR 1=1"}, {"team_id": [1]}, {"period": "forever"},
                    {"period": "custom", "date_from": "x", "date_to": "y"}):
            with self.assertRaises(UserError):
                cockpit.get_dashboard(bad)
        with self.assertRaises(UserError):
            cockpit.get_drilldown("incoming); DROP TABLE x; --", {})
        with self.assertRaises(UserError):
            cockpit.get_drilldown("incoming", {}, limit=10 ** 6)

    def test_context_keys_do_not_widen(self):
        """A foreign company in allowed_company_ids is refused; a fake uid in the context is ignored."""
        crafted = self.env["maildesk.cockpit"].with_user(self.manager).with_context(
            allowed_company_ids=[self.company.id, self.company2.id])
        with self.assertRaises(AccessError):
            crafted.get_dashboard({})
        cockpit = self.env["maildesk.cockpit"].with_user(self.manager).with_context(
            uid=self.env.ref("base.user_admin").id, active_test=False)
        data = cockpit.get_dashboard({})
        self.assertNotIn(self.other_co.id, [a["id"] for a in data["options"]["accounts"]])
        self.assertNotIn(self.sales.id, [a["id"] for a in data["options"]["accounts"]])

    def test_operator_own_threads_only(self):
        cockpit = self.cockpit(self.operator)
        cockpit.assign_to_me([self.t_unassigned.id])  # unassigned in their team: allowed
        self.assertEqual(self.t_unassigned.user_id, self.operator)
        cockpit.mark_noise([self.t_unassigned.id])
        with self.assertRaises(AccessError):
            cockpit.assign_to_me([self.t_colleague.id])  # someone else's
        with self.assertRaises(AccessError):
            cockpit.mark_noise([self.t_colleague.id])
        with self.assertRaises(AccessError):
            cockpit.assign([self.t_unassigned.id], self.colleague.id)  # reassigning needs Manager

    def test_manager_team_scope_and_reassign(self):
        cockpit = self.cockpit(self.manager)
        cockpit.assign([self.t_colleague.id], self.operator.id)
        self.assertEqual(self.t_colleague.user_id, self.operator)
        audit = self.env["maildesk.cockpit.audit"].search([("thread_id", "=", self.t_colleague.id)])
        self.assertEqual(audit.action, "assign")
        self.assertEqual(audit.user_id, self.manager)
        with self.assertRaises(AccessError):
            self.cockpit(self.outsider).get_thread(self.t_colleague.id)  # manager tier, not a mailbox member

    def test_admin_across_companies_within_base_rules(self):
        data = self.cockpit(self.cockpit_admin).get_dashboard({})
        ids = [a["id"] for a in data["options"]["accounts"]]
        self.assertIn(self.other_co.id, ids)  # their second company's mailbox they are member of
        self.assertNotIn(self.sales.id, ids)
        self.cockpit(self.cockpit_admin).assign_to_me([self.t_other_co.id])

    def test_override_needs_a_reason_and_is_audited(self):
        cockpit = self.cockpit(self.operator)
        cockpit.assign_to_me([self.t_unassigned.id])
        with self.assertRaises(UserError):
            cockpit.override_sla(self.t_unassigned.id, "2026-03-05 10:00:00", "  ")
        with self.assertRaises(UserError):
            cockpit.override_sla(self.t_unassigned.id, "tomorrow-ish", "because")
        cockpit.override_sla(self.t_unassigned.id, "2026-03-06 10:00:00", "Customer on holiday")
        self.assertEqual(str(self.t_unassigned.sla_override_due), "2026-03-06 10:00:00")
        audit = self.env["maildesk.cockpit.audit"].search([("action", "=", "sla_override")])
        self.assertEqual(audit.reason, "Customer on holiday")
        with self.assertRaises(AccessError):
            audit.with_user(self.operator).write({"reason": "rewritten"})

    def test_boards_personal_shared_and_owned(self):
        manager = self.cockpit(self.manager)
        personal = manager.save_board({"name": "Mine", "layout": ["overdue"], "filters": {"period": "today"}})
        shared = manager.save_board({"name": "Team", "layout": ["incoming"], "share_team_id": self.team.id})
        Board = self.env["maildesk.cockpit.board"]
        self.assertEqual(Board.with_user(self.operator).search([]).ids, [shared])
        self.assertFalse(Board.with_user(self.outsider).search([]))
        with self.assertRaises(AccessError):
            Board.with_user(self.colleague).browse(shared).write({"name": "Hijack"})
        with self.assertRaises(AccessError):
            self.cockpit(self.outsider).delete_board(personal)
        with self.assertRaises(AccessError):
            manager.save_board({"name": "Leak", "filters": {"account_id": self.sales.id}})
        with self.assertRaises(UserError):
            manager.save_board({"name": "Bad", "layout": ["bogus"]})


@tagged("post_install", "-at_install", "maildesk")
class TestCockpitRpc(CockpitSetup, HttpCase):
    """The same checks through the real JSON-RPC endpoint, as a browser would call them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_cockpit(cls.env)
        cls.t_team = cls.thread(subject="Team thread")
        cls.store(cls.t_team, date=NOW - timedelta(hours=2))
        cls.t_sales = cls.thread(cls.sales, "Sales only")
        cls.store(cls.t_sales, date=NOW - timedelta(hours=1))

    def call(self, login, method, *args, **kwargs):
        self.authenticate(login, login)
        return self.make_jsonrpc_request("/web/dataset/call_kw", {
            "model": "maildesk.cockpit", "method": method, "args": list(args), "kwargs": kwargs})

    def test_matrix(self):
        """Each tier x action, in scope (team thread) and out of scope (Sales thread)."""
        in_scope, out_scope = self.t_team.id, self.t_sales.id
        expect = {  # login -> (read in scope, triage in scope)
            "ck_plain": (False, False), "ck_viewer": (True, False), "ck_operator": (True, True),
            "ck_manager": (True, True), "ck_admin": (True, True),
        }
        for login, (can_read, can_triage) in expect.items():
            with self.subTest(login=login):
                self._check(login, "get_thread", can_read, in_scope)
                self._check(login, "get_thread", False, out_scope)
                self._check(login, "mark_noise", can_triage, [in_scope])
                self._check(login, "mark_noise", False, [out_scope])
                if can_triage:
                    self.call(login, "mark_noise", [in_scope], noise=False)

    def _check(self, login, method, allowed, *args):
        if allowed:
            self.assertTrue(self.call(login, method, *args))
        else:
            with self.assertRaises(Exception) as caught:
                self.call(login, method, *args)
            self.assertIn("AccessError", str(caught.exception) + repr(getattr(caught.exception, "args", "")))
