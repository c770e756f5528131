"""The AI service: the one server-side chokepoint every AI call goes through.

Who calls it
------------
The mailbox client (``maildesk.client.ai_*`` and the streaming controller) for the four
thread actions, and any upper addon (the cockpit's briefings) through ``run()``. Nothing
else in the suite talks to a provider.

What it enforces, in this order (``_prepare``)
----------------------------------------------
1. the feature's database switch (Settings ▸ MailDesk ▸ AI);
2. the mailbox: the calling user may read it, and its AI switch is on (mailbox form);
3. the data boundary: thread features read only that thread's messages, as the calling
   user (record rules apply), never other mailboxes or Odoo records; attachments only when
   the mailbox is opted in by an admin AND the request asks for them;
4. an active provider for the company;
5. the user's daily limit for the feature (Mailbox Admins are unlimited);
then it reserves a ``maildesk.ai.usage`` row, and ``_finish`` completes it (outcome,
tokens, latency). A refused call raises ``UserError`` with a readable reason and calls
nothing.

Transactions
------------
No database transaction stays open while the model thinks. ``run()`` commits the caller's
transaction after preparing (outside tests, see ``_release_transaction``) and writes the
outcome in a short transaction of its own; the streaming controller prepares inside the
request, and streams after Odoo has committed and closed the request's cursor. A slow or
dead provider costs at most the provider's timeout; the browser can cancel a stream.
"""
import threading
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from time import monotonic

import pytz
from odoo import _, api, fields, models
from odoo.addons.maildesk_mail_client.engine import sanitize
from odoo.exceptions import UserError

from ..engine import llm, prompt, scan
from ..engine.runner import Job

PARAM = "maildesk_mail_client_pro.%s"
DEFAULT_LIMITS = {"summarize": 50, "ask": 100, "draft": 50, "scan": 50, "briefing": 20}
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024  # attachments above this are not read for the AI
ATTACHMENT_TOTAL_CHARS = 30000
THREAD_FEATURES = ("summarize", "ask", "draft", "scan")
SCAN_CONTEXT_TTL = 300  # seconds a worker reuses the organisation's names and domains for the scan
_SCAN_CONTEXTS = {}  # (dbname, company id) -> (monotonic time, scan.Context)


def _is_testing():
    return getattr(threading.current_thread(), "testing", False)


class MaildeskAiService(models.AbstractModel):
    _name = "maildesk.ai.service"
    _description = "MailDesk AI service (the chokepoint)"

    # -- the generic entry point ------------------------------------------------------------
    @api.model
    def run(self, feature, messages=None, mailbox=None, thread=None, schema=None, **options):
        """Run one AI call through every check; returns a dict.

        :param feature: a key of ``maildesk.ai.usage`` FEATURES (switch, limit and log use it)
        :param messages: chat messages ``[{"role", "content"}]`` the caller built (e.g. the
            cockpit's facts, spotlighted with ``engine.prompt.envelope`` if they hold text
            from mail); ignored when ``thread`` is given
        :param mailbox: a ``maildesk.account`` the call is about (switch + read access checked)
        :param thread: a ``maildesk.thread``: the prompt is built here from that thread only,
            as the calling user (``options``: question, history, tone, language,
            instructions, include_attachments, signals)
        :param schema: ``{key: type}`` the answer must match (strict JSON), or None for text
        :returns: ``{"text", "data" (parsed JSON or None), "note" (what budgeting left out),
            "usage_id", "tokens_in", "tokens_out", "latency_ms"}``
        :raises UserError: refused (switch, limit, no provider, access) or the provider
            failed (readable message, never the key)
        """
        job, meta = self._prepare(feature, messages=messages, mailbox=mailbox, thread=thread, schema=schema,
                                  **options)
        self._release_transaction()
        try:
            outcome = job.execute()
        except llm.AiError as exc:
            self._finish(meta, error=exc)
            raise UserError(str(exc)) from None
        self._finish(meta, outcome=outcome)
        return {"text": outcome.text, "data": outcome.data, "note": meta["note"], "usage_id": meta["usage_id"],
                "tokens_in": outcome.tokens_in, "tokens_out": outcome.tokens_out, "latency_ms": outcome.latency_ms}

    # -- checks -----------------------------------------------------------------------------
    @api.model
    def _feature_enabled(self, feature):
        value = self.env["ir.config_parameter"].sudo().get_param(PARAM % f"feature_{feature}", "1")
        return value not in ("0", "False", "false", "")

    @api.model
    def _get_daily_limit(self, feature):
        """Calls per user and day for ``feature``; 0 = unlimited. Override to set limits by tier (cockpit)."""
        if self.env.user.has_group("maildesk_mail_client.group_maildesk_admin"):
            return 0
        value = self.env["ir.config_parameter"].sudo().get_param(PARAM % f"limit_{feature}")
        try:
            return int(value) if value not in (None, False, "") else DEFAULT_LIMITS.get(feature, 0)
        except ValueError:
            return DEFAULT_LIMITS.get(feature, 0)

    @api.model
    def _get_provider(self):
        """The company's active provider (sudo: users may use it, never read it)."""
        return self.env["maildesk.ai.provider"].sudo().search(
            [("is_active", "=", True), ("company_id", "=", self.env.company.id)], limit=1)

    @api.model
    def _user_today(self):
        """(today, next midnight as aware datetime) in the user's time zone."""
        tz = pytz.timezone(self.env.user.tz or "UTC")
        now = datetime.now(tz)
        midnight = tz.localize(datetime.combine(now.date() + timedelta(days=1), time()))
        return now.date(), midnight, now

    @api.model
    def _check_limit(self, feature):
        limit = self._get_daily_limit(feature)
        if limit <= 0:
            return
        today, midnight, now = self._user_today()
        # sudo: counting the user's own rows; the rule would allow it, sudo keeps it one cheap query.
        used = self.env["maildesk.ai.usage"].sudo().search_count(
            [("user_id", "=", self.env.uid), ("feature", "=", feature), ("day", "=", today),
             ("outcome", "!=", "cancelled")])
        if used >= limit:
            left = midnight - now
            hours, minutes = divmod(int(left.total_seconds()) // 60, 60)
            raise UserError(_("Daily limit reached: %(limit)s %(feature)s requests per day. It resets at midnight "
                              "(%(tz)s), in %(hours)s h %(minutes)s min.", limit=limit,
                              feature=dict(self.env["maildesk.ai.usage"]._fields["feature"].selection).get(
                                  feature, feature), tz=self.env.user.tz or "UTC",
                              hours=hours, minutes=minutes))

    @api.model
    def _check_mailbox(self, mailbox):
        if not mailbox:
            return
        mailbox = mailbox.with_env(self.env)  # as the calling user, whatever env the caller had
        mailbox.check_access_rights("read")
        mailbox.check_access_rule("read")
        if not mailbox.sudo().ai_enabled:  # sudo: the switch is admin-set; any reader may know it is off
            raise UserError(_("AI is switched off for the mailbox %s.", mailbox.name))

    @api.model
    def check_allowed(self, feature, mailbox=None, need_provider=True):
        """Raise a readable UserError unless ``feature`` may run now (switches, access, provider, limit)."""
        # The usage log's selection, so an upper addon adds a feature with selection_add (the cockpit).
        names = dict(self.env["maildesk.ai.usage"]._fields["feature"].selection)
        if feature not in names:
            raise UserError(_("Unknown AI feature %s.", feature))
        if not self._feature_enabled(feature):
            raise UserError(_("The AI feature '%s' is switched off in this database.", names[feature]))
        self._check_mailbox(mailbox)
        provider = self._get_provider()
        if need_provider and not provider:
            raise UserError(_("No AI provider is set up. An administrator can add one in Settings ▸ MailDesk ▸ AI."))
        self._check_limit(feature)
        return provider

    # -- preparing, finishing ---------------------------------------------------------------
    @api.model
    def _prepare(self, feature, messages=None, mailbox=None, thread=None, schema=None, **options):
        """Checks, prompt and a reserved usage row; returns ``(Job, meta)`` with plain values only."""
        if thread is not None:
            thread = thread.with_env(self.env)
            thread.check_access_rights("read")
            thread.check_access_rule("read")
            mailbox = thread.account_id
        provider = self.check_allowed(feature, mailbox)
        note = ""
        if thread is not None:
            include = bool(options.get("include_attachments")) and bool(mailbox.sudo().ai_attachments)
            history = [(str(q), str(a)) for q, a in (options.get("history") or [])][-10:]
            thread_messages = self._thread_messages(thread, include, options.get("message_id"))
            messages, budgeted = prompt.build(
                feature, thread_messages, self._input_budget(provider), question=options.get("question"),
                history=history, tone=options.get("tone") or "neutral", language=options.get("language") or "auto",
                user_name=self.env.user.name, instructions=options.get("instructions") or "",
                signals=options.get("signals"))
            note = budgeted.note
            schema = schema or prompt.FEATURE_SCHEMAS.get(feature)
        if not messages:
            raise UserError(_("Nothing to send to the AI."))
        config = provider._get_config()  # before the usage row: a key that cannot be decrypted reserves nothing
        today = self._user_today()[0]
        # sudo: the usage log is written by this chokepoint only (users have no write access).
        usage = self.env["maildesk.ai.usage"].sudo().create({
            "user_id": self.env.uid, "company_id": self.env.company.id, "day": today, "feature": feature,
            "account_id": mailbox.id if mailbox else False, "provider_id": provider.id, "model": provider.model})
        job = Job(config, messages, schema)
        meta = {"usage_id": usage.id, "note": note, "feature": feature, "dbname": self.env.cr.dbname,
                "uid": self.env.uid}
        return job, meta

    @api.model
    def _input_budget(self, provider):
        return max(1000, provider.context_tokens - provider.max_tokens - 600)

    @api.model
    def _release_transaction(self):
        """End the transaction before a provider call so nothing stays open while the model thinks.

        It only holds reads and the reserved usage row at this point. Never while testing
        (the test's transaction must stay whole).
        """
        if not _is_testing():
            self.env.cr.commit()  # commit: a long-lived idle transaction would hold a snapshot and locks

    @api.model
    def _finish(self, meta, outcome=None, error=None, cancelled=False, here=False):
        """Complete the reserved usage row; ``here``: in this env's cursor (the caller made it short-lived)."""
        vals = {"outcome": "cancelled" if cancelled else ("error" if error else "ok")}
        if outcome is not None:
            vals.update(tokens_in=outcome.tokens_in, tokens_out=outcome.tokens_out, latency_ms=outcome.latency_ms,
                        model=outcome.model or False)
        if error is not None:
            vals["error"] = str(error)[:250]
        if here:
            # sudo: the log is only written here.
            self.env["maildesk.ai.usage"].sudo().browse(meta["usage_id"]).write(vals)
            return
        with self._usage_env(meta) as env:
            env["maildesk.ai.usage"].sudo().browse(meta["usage_id"]).write(vals)

    @contextmanager
    def _usage_env(self, meta):
        """Where to write the outcome: a short transaction of its own, except in plain tests.

        In a TransactionCase (not in test mode) a second cursor cannot see the test's rows,
        so the test's own cursor is used; in an HttpCase the registry hands out test cursors.
        """
        registry = self.env.registry
        if _is_testing() and not registry.in_test_mode() and not self.env.cr.closed:
            yield self.env
            return
        with registry.cursor() as cr:
            yield api.Environment(cr, meta["uid"], {})

    # -- the thread, as the model may see it --------------------------------------------------
    @api.model
    def _thread_messages(self, thread, include_attachments=False, upto_message_id=None):
        """The thread's messages the user may read, oldest first, as prompt ``ThreadMessage``s."""
        # search_read of the few columns the prompt uses: loading whole records would also read
        # every body's HTML (tests/bench/bench_ai.py).
        rows = self.env["maildesk.message"].search_read(
            [("thread_id", "=", thread.id)], ["email_from", "from_address", "date", "body_text", "email_to",
                                              "subject", "direction"], order="date asc, id asc")
        if upto_message_id:
            ids = [row["id"] for row in rows]
            if upto_message_id in ids:
                rows = rows[:ids.index(upto_message_id) + 1]
        html_only = [row["id"] for row in rows if not row["body_text"]]
        html = {}
        if html_only:
            html = {row["id"]: sanitize.html_to_text(str(row["body_html"] or "")) for row in
                    self.env["maildesk.message"].browse(html_only).read(["body_html"])}
        files = self._attachment_texts(self.env["maildesk.message"].browse([r["id"] for r in rows])) \
            if include_attachments else {}
        return [prompt.ThreadMessage(
            sender=row["email_from"] or row["from_address"] or "",
            date=fields.Datetime.to_string(row["date"]) if row["date"] else "",
            body=row["body_text"] or html.get(row["id"], ""), to=row["email_to"] or "", subject=row["subject"] or "",
            direction=row["direction"], attachments=files.get(row["id"], [])) for row in rows]

    @api.model
    def _attachment_texts(self, messages):
        """Text of the messages' attachments (text, HTML, PDF), size-capped; as the calling user."""
        attachments = self.env["ir.attachment"].search(
            [("res_model", "=", "maildesk.message"), ("res_id", "in", messages.ids)], order="id")
        texts, total = {}, 0
        for attachment in attachments:
            if (attachment.description or "").startswith("cid:") or attachment.file_size > ATTACHMENT_MAX_BYTES:
                continue
            text = self._extract_text(attachment)
            if not text:
                continue
            text = text[:max(0, ATTACHMENT_TOTAL_CHARS - total)]
            if not text:
                break
            total += len(text)
            texts.setdefault(attachment.res_id, []).append((attachment.name or "attachment", text))
        return texts

    @api.model
    def _extract_text(self, attachment):
        """Plain text of one attachment, or "" for kinds we do not read; override to add kinds."""
        mimetype = attachment.mimetype or ""
        raw = attachment.raw or b""
        if mimetype == "text/html":
            return sanitize.html_to_text(raw.decode("utf-8", "replace"))
        if mimetype.startswith("text/") or mimetype in ("application/json", "application/xml"):
            return raw.decode("utf-8", "replace")
        if mimetype == "application/pdf":
            try:
                import io

                from odoo.tools.pdf import PdfFileReader
                reader = PdfFileReader(io.BytesIO(raw), strict=False)
                return "\n".join((page.extract_text() or "") for page in reader.pages[:30])
            except Exception:  # noqa: BLE001 - an unreadable PDF is skipped, the call goes on without it
                return ""
        return ""

    # -- security scan (code, no AI) ------------------------------------------------------------
    @api.model
    def _scan_context(self):
        """What the organisation knows, for look-alike and impersonation checks.

        Kept per worker for ``SCAN_CONTEXT_TTL`` seconds (reading every contact on each opened
        thread would cost more than the scan); a new colleague or contact counts within minutes.
        """
        key = (self.env.cr.dbname, self.env.company.id)
        cached = _SCAN_CONTEXTS.get(key)
        now = monotonic()
        if cached and now - cached[0] < SCAN_CONTEXT_TTL and not _is_testing():
            return cached[1]
        context = self._build_scan_context()
        _SCAN_CONTEXTS[key] = (now, context)
        return context

    @api.model
    def _build_scan_context(self):
        """Own domains, colleagues and contacts, read once; override to add known partners' domains."""
        # sudo: only addresses and names feed plain-string checks; nothing of it reaches a client or the AI.
        accounts = self.env["maildesk.account"].sudo().search_read([], ["email"])
        own = {scan.domain_of(a["email"]) for a in accounts if a["email"]}
        if self.env.company.email:
            own.add(scan.domain_of(self.env.company.email))
        users = self.env["res.users"].sudo().search_read([("share", "=", False)], ["name", "email", "login"])
        colleagues = [(u["name"], u["email"] or u["login"]) for u in users]
        # Known contacts: the people mail was exchanged with (linked on stored messages) and
        # companies; not the whole address book, which can hold 100,000 leads.
        self.env.cr.execute("SELECT DISTINCT partner_id FROM maildesk_message WHERE partner_id IS NOT NULL")
        linked = [row[0] for row in self.env.cr.fetchall()]
        partners = self.env["res.partner"].sudo().search_read(
            [("email", "!=", False), ("user_ids", "=", False), "|", ("id", "in", linked), ("is_company", "=", True)],
            ["name", "email"])
        contacts = [(p["name"], (p["email"] or "").strip().lower()) for p in partners]
        return scan.Context.build(own_domains={d for d in own if d}, known_addresses=[c[1] for c in contacts],
                                  colleagues=colleagues, contacts=contacts)

    @api.model
    def scan_messages(self, messages, context=None):
        """Code-only security scan of stored messages: ``{message_id: ScanResult}`` (no AI, no limit)."""
        messages = messages.filtered(lambda m: m.direction == "incoming")
        if not messages:
            return {}
        context = context or self._scan_context()
        firsts = self._first_dates(messages)
        results = {}
        for message in messages:
            first = firsts.get((message.account_id.id, message.from_address))
            results[message.id] = scan.scan(scan.ScanInput(
                from_header=message.email_from or "", from_address=message.from_address or "",
                reply_to=message.reply_to or "", return_path=message.return_path or "",
                authentication_results=message.authentication_results or "", subject=message.subject or "",
                body_text=message.body_text or "", body_html=str(message.body_html or ""),
                first_contact=bool(first) and (message.date or first) <= first), context)
        return results

    @api.model
    def _first_dates(self, messages):
        """Earliest stored date per (mailbox, sender): one grouped query for the whole batch."""
        addresses = list({m.from_address for m in messages if m.from_address})
        if not addresses:
            return {}
        # sudo: the earliest date of a sender in a mailbox the user reads; only compared, never shown.
        groups = self.env["maildesk.message"].sudo()._read_group(
            [("account_id", "in", messages.account_id.ids), ("from_address", "in", addresses)],
            ["account_id", "from_address"], ["date:min"])
        return {(account.id, address): first for account, address, first in groups}

