"""Fixtures of the cockpit Odoo tier: a tier ladder of least-privilege users and a seeded dataset.

Mailboxes: ``support`` (team Support, members: viewer, operator, manager, cockpit admin,
colleague) and ``sales`` (another owner; only the Mailbox Admin sees it), ``other_co``
(a second company). Messages are stored as the sync does: ``create`` then the batch hook.
"""
import random
from datetime import datetime, timedelta

from odoo.tests import new_test_user
from odoo.tests.common import TransactionCase

USER = "maildesk_mail_client.group_maildesk_user"
VIEWER = "maildesk_mail_client_cockpit.group_cockpit_viewer"
OPERATOR = "maildesk_mail_client_cockpit.group_cockpit_operator"
MANAGER = "maildesk_mail_client_cockpit.group_cockpit_manager"
ADMIN = "maildesk_mail_client_cockpit.group_cockpit_admin"
NOW = datetime(2026, 3, 4, 12, 0)  # a Wednesday
SHOWCASE_SUBJECTS = ["Invoice 4711 is wrong", "Delivery delayed", "Cannot log in", "Quote for 40 chairs",
                     "Refund request", "Contract renewal", "API rate limit", "Broken link in newsletter"]


class CockpitSetup:
    @classmethod
    def setup_cockpit(cls, env):
        cls.env = env(context=dict(env.context, tracking_disable=True))
        env = cls.env
        cls.company = env.ref("base.main_company")
        cls.company2 = env["res.company"].create({"name": "Other Co"})
        mk = lambda login, groups, **kw: new_test_user(env, login=login, groups=groups, tz="UTC", **kw)  # noqa: E731
        cls.owner = mk("ck_owner", USER)
        cls.viewer = mk("ck_viewer", VIEWER)
        cls.operator = mk("ck_operator", OPERATOR)
        cls.colleague = mk("ck_colleague", OPERATOR)
        cls.manager = mk("ck_manager", MANAGER)
        cls.cockpit_admin = mk("ck_admin", ADMIN, company_ids=[(6, 0, [cls.company.id, cls.company2.id])])
        cls.outsider = mk("ck_outsider", MANAGER)
        cls.plain = mk("ck_plain", USER)
        members = cls.viewer | cls.operator | cls.colleague | cls.manager | cls.cockpit_admin
        Account = env["maildesk.account"]
        base = {"imap_host": "127.0.0.1", "imap_port": 143, "imap_security": "none", "imap_password": "x"}
        cls.support = Account.create(dict(base, name="Support", email="support@acme.test", owner_id=cls.owner.id,
                                          imap_login="support", user_ids=[(6, 0, members.ids)], is_shared=True))
        cls.sales = Account.create(dict(base, name="Sales", email="sales@acme.test", owner_id=cls.plain.id,
                                        imap_login="sales"))
        cls.other_co = Account.create(dict(base, name="Other Co box", email="box@other.test", owner_id=cls.owner.id,
                                           imap_login="other", company_id=cls.company2.id,
                                           user_ids=[(6, 0, cls.cockpit_admin.ids)]))
        cls.team = env["maildesk.team"].create({
            "name": "Support team", "leader_id": cls.manager.id, "account_ids": [(6, 0, cls.support.ids)],
            "member_ids": [(6, 0, (cls.operator | cls.colleague | cls.viewer).ids)]})
        cls.folders = {}
        for account in (cls.support, cls.sales, cls.other_co):
            for role, path in (("inbox", "INBOX"), ("sent", "Sent"), ("spam", "Junk")):
                cls.folders[account.id, role] = env["maildesk.folder"].create(
                    {"account_id": account.id, "name": path, "path": path, "role": role})
        cls.customer = env["res.partner"].create({"name": "Carla Customer", "email": "carla@customer.test"})
        cls._seq = 0

    @classmethod
    def thread(cls, account=None, subject="Question"):
        return cls.env["maildesk.thread"].create({"account_id": (account or cls.support).id, "subject": subject})

    @classmethod
    def seed_showcase(cls, count, days, gap_hours, seed):
        """A lifelike support mailbox for the README screenshots, up to now: ``count``
        conversations starting ``days`` (first, last) days ago, 1-4 messages each ``gap_hours``
        apart, one in three assigned; SLA state computed."""
        rng = random.Random(seed)
        now = datetime.now().replace(microsecond=0)
        for i in range(count):
            thread = cls.thread(cls.support, f"{SHOWCASE_SUBJECTS[i % len(SHOWCASE_SUBJECTS)]} #{i + 1}")
            when = now - timedelta(days=rng.randint(*days), hours=rng.randint(1, 12))
            for step in range(rng.randint(1, 4)):
                if when >= now:
                    break
                cls.store(thread, "incoming" if step % 2 == 0 else "outgoing", when)
                when += timedelta(hours=rng.choice(gap_hours))
            if i % 3 == 0:
                thread.sudo().user_id = [cls.operator, cls.colleague, cls.manager][i % 9 // 3]
        cls.env["maildesk.thread"]._cron_cockpit_sla(full=True)

    @classmethod
    def store(cls, thread, direction="incoming", date=None, folder_role=None, **kwargs):
        """Store one message as the sync does (create, then the batch hook); returns it."""
        cls._seq += 1
        account = thread.account_id
        incoming = direction == "incoming"
        vals = {"account_id": account.id, "thread_id": thread.id, "direction": direction,
                "folder_id": cls.folders[account.id, folder_role or ("inbox" if incoming else "sent")].id,
                "subject": thread.subject, "message_id": f"<ck{cls._seq}@test>",
                "email_from": "Carla <carla@customer.test>" if incoming else account.email,
                "from_address": "carla@customer.test" if incoming else account.email,
                "email_to": account.email if incoming else "carla@customer.test",
                "partner_id": cls.customer.id, "date": date or NOW,
                "body_html": f"<p>Body {cls._seq}</p>", "body_text": f"Body {cls._seq}"}
        vals.update(kwargs)
        message = cls.env["maildesk.message"].with_context(maildesk_from_sync=True).sudo().create(vals)
        message._on_messages_stored()
        return message


class CockpitCase(CockpitSetup, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_cockpit(cls.env)

    def cockpit(self, user):
        return self.env["maildesk.cockpit"].with_user(user)
