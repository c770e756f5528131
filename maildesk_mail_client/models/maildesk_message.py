"""Messages: ingestion of sync batches and the two-way actions users take on mail.

Ingestion (``_apply_batch``) turns one provider ``SyncBatch`` into a fixed number of
queries whatever its size: one lookup of the batch's remote ids, one ``create`` of all
new messages (threads resolved per batch), one ``create`` of all attachments, grouped
flag writes. Bodies arrive sanitized by the engine; raw bytes are kept only for mail
that failed to parse, so nothing is ever lost.

Two-way: a change of ``is_read`` / ``is_starred`` and the move / archive / delete
actions go to the server first; the local record changes only when the server said yes,
so local and remote state never diverge silently. When the server cannot be reached the
change is made here and queued (``maildesk.pending.action``, replayed in order by the next
sync), and the messages carry ``pending_sync`` until it is. Writes coming from the sync carry the
context key ``maildesk_from_sync`` and are not pushed back; the key counts only on the
sync's own privileged paths (superuser or ``trusted_ingest``), never from an RPC caller.

What users write: only the reader's own state (read, starred, tags, contact, show
images); everything else comes from the server (``maildesk.guard.mixin``). Stored bodies
are sanitized whatever the context; only the sync's ingest, inside ``trusted_ingest()``,
passes the engine's already-sanitized bodies through as they are.

Deleting: mail is never deleted only in Odoo. ``unlink`` runs only with superuser rights
(never reachable over RPC, whatever the caller's groups or context); the sync and the
two-way actions reach it through ``_remove_local`` after the server removed the mail.
Delete moves to Trash; erasing for good is ``action_delete_permanently``, for mail that
is in Trash only, and the user confirms it first.
"""
import contextvars
import logging
import os
import threading
from collections import defaultdict

from markupsafe import Markup
from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..engine import mime, sanitize
from ..engine import threads as threading_keys
from ..engine.errors import NetworkError, ProviderError
from ..engine.provider import FlagState, RemoteMessage
from .maildesk_account import MailServerUnreachable
from .maildesk_bulk import bulk_create
from .maildesk_guard import is_trusted_ingest, trusted_ingest
from .maildesk_search_vector import AHEAD as SEARCH_VECTORS_AHEAD
from .maildesk_search_vector import MIN_BATCH, SearchVectors

_logger = logging.getLogger(__name__)

FROM_SYNC = "maildesk_from_sync"
QUEUED = object()  # _remote_call's result for a folder whose change was queued
# Large text columns compressed with lz4 when the server has it (see _init_compression).
LZ4_COLUMNS = ("body_html", "body_text", "search_vector")
# Set by ``_ingest`` around ``_create_ingested``: the batch's SearchVectors, or None.
SEARCH_VECTORS = contextvars.ContextVar("maildesk_search_vectors", default=None)
THREAD_SUMMARY_FIELDS = {"thread_id", "date", "is_read", "is_starred", "email_from", "has_attachments", "snippet"}


class MaildeskMessage(models.Model):
    _name = "maildesk.message"
    _inherit = ["maildesk.guard.mixin"]
    _description = "Mail Message"
    _order = "date desc, id desc"
    _rec_name = "subject"

    account_id = fields.Many2one("maildesk.account", required=True, ondelete="cascade", index=True)
    # The mailbox's company. Computed, not related, so that the ingest's value goes into the
    # INSERT: a related field is always recomputed after it, by an UPDATE of every new row that
    # also rebuilt the row's search column and index entries. Users never write it (guard).
    company_id = fields.Many2one("res.company", compute="_compute_company_id", store=True, readonly=False,
                                 precompute=True)
    # No single-column index on folder_id, remote_id or direction: remote_uniq and
    # maildesk_message_folder_thread_idx lead with folder_id (remote ids are always looked up
    # within their folder) and a two-valued direction is never selective. Each index is one
    # more entry to write per stored message and per non-HOT update (see init).
    folder_id = fields.Many2one("maildesk.folder", ondelete="cascade")
    thread_id = fields.Many2one("maildesk.thread", ondelete="set null", index=True)
    remote_id = fields.Char(copy=False, readonly=True,
                            help="The provider's id of this copy (IMAP: uidvalidity:uid).")
    message_id = fields.Char("Message-ID", index=True, readonly=True)
    in_reply_to = fields.Char(index=True, readonly=True)
    references = fields.Text(readonly=True)
    provider_thread_id = fields.Char(readonly=True)
    subject = fields.Char()
    email_from = fields.Char("From")
    from_address = fields.Char(index=True)
    email_to = fields.Text("To")
    email_cc = fields.Text("Cc")
    reply_to = fields.Char()
    date = fields.Datetime(index=True)
    body_html = fields.Html(sanitize=False, readonly=True,
                            help="Sanitized by the engine at ingest: no script, remote images blocked.")
    body_text = fields.Text(readonly=True)
    snippet = fields.Char(readonly=True)
    has_remote_images = fields.Boolean(readonly=True)
    remote_images_allowed = fields.Boolean(help="The reader chose to show this message's remote images.")
    attachment_ids = fields.One2many("ir.attachment", "res_id", domain=[("res_model", "=", "maildesk.message")])
    has_attachments = fields.Boolean(readonly=True)
    is_read = fields.Boolean("Read", index=True)
    is_starred = fields.Boolean("Starred")
    folder_role = fields.Selection(related="folder_id.role", string="Folder Role")
    direction = fields.Selection([("incoming", "Incoming"), ("outgoing", "Outgoing")], default="incoming",
                                 required=True)
    tag_ids = fields.Many2many("maildesk.tag", "maildesk_message_tag_rel", "message_id", "tag_id", string="Tags")
    partner_id = fields.Many2one("res.partner", ondelete="set null", index=True)
    size = fields.Integer(readonly=True)
    body_state = fields.Selection([("full", "Complete"), ("partial", "Headers only"), ("error", "Unreadable")],
                                  default="full", required=True, readonly=True)
    parse_error = fields.Text(readonly=True)
    delivery_error = fields.Text(readonly=True, help="Sent mail: the recipients the server refused (the others "
                                                     "got it).")
    # Headers stored at ingest for the upper addons: automation tells auto-generated mail
    # from human mail (RFC 3834, list mail), pro's security scan reads the sender checks.
    auto_submitted = fields.Char("Auto-Submitted", readonly=True)
    precedence = fields.Char(readonly=True)
    list_id = fields.Char("List-Id", readonly=True)
    list_unsubscribe = fields.Char("List-Unsubscribe", readonly=True)
    authentication_results = fields.Text(readonly=True)
    return_path = fields.Char(readonly=True)
    pending_sync = fields.Boolean(readonly=True, help="A change of this message waits for the mail server "
                                                      "(it could not be reached); it is sent when it answers.")

    # The reader's own state; every other field comes from the server (see the module docstring).
    _md_user_fields = ("is_read", "is_starred", "tag_ids", "partner_id", "remote_images_allowed")

    _sql_constraints = [
        ("remote_uniq", "unique(folder_id, remote_id)", "This message is already stored in this folder."),
    ]

    # Full-text search of the web client (maildesk.client): words of subject, sender,
    # recipients and body, prefix-matched. A stored column kept by a trigger, so a search never
    # recomputes a vector (a common word matches most rows: recomputing cost 17 s at 100k
    # messages); the body is capped so one huge message cannot make a row unindexable.
    # Addresses are indexed whole (the parser keeps "ann@example.org" as one word) and in
    # parts ("ann", "example", "org") so a half-typed address finds them too. Accents are
    # removed on both sides when PostgreSQL's unaccent can be had ("zurich" finds
    # "Zürich"); maildesk_unaccent() is the immutable wrapper the function needs.
    # The trigger computes the vector of a row whose text changed, and of a new row unless the
    # INSERT brings it: the sync's INSERT does, computed meanwhile on a second connection with
    # the same function (maildesk_search_vector.py); it was most of that INSERT's time.
    _SEARCH_VECTOR = ("to_tsvector('simple', maildesk_unaccent(coalesce(subject, '') || ' ' || "
                      "coalesce(email_from, '') || ' ' || coalesce(email_to, '') || ' ' || coalesce(email_cc, '') "
                      "|| ' ' || translate(coalesce(email_from, '') || ' ' || coalesce(email_to, '') || ' ' || "
                      "coalesce(email_cc, ''), '@.<>\"', '     ') || ' ' || left(coalesce(body_text, ''), 100000)))")
    # v3: the same vector as v2's generated column, kept by the trigger (v2 columns are kept as they are).
    _SEARCH_VERSION = "maildesk search v3"
    _SEARCH_VERSION_KEPT = "maildesk search v2"

    def init(self):
        cr = self.env.cr
        # Superseded by the ones below (an expression index, a non-covering index) or redundant
        # (the fields' comment): Odoo creates a field's index but never drops it.
        cr.execute("DROP INDEX IF EXISTS maildesk_message_search_idx, maildesk_message_folder_date_idx, "
                   "maildesk_message__folder_id_index, maildesk_message__remote_id_index, "
                   "maildesk_message__direction_index")
        self._init_search_vector()
        # The thread list of a folder: an index-only scan gives its conversations and
        # dates, the record rules' columns included (tests/bench/bench_client.py).
        cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_message_folder_thread_idx
                          ON maildesk_message (folder_id, thread_id) INCLUDE (date, account_id, company_id)""")
        # Substring search on sender / recipient / subject ("ilike"), when pg_trgm can be had.
        if self._ensure_trigram():
            for column in ("email_from", "email_to", "subject"):
                cr.execute(f"""CREATE INDEX IF NOT EXISTS maildesk_message_{column}_trgm_idx
                                   ON maildesk_message USING gin ({column} gin_trgm_ops)""")
        self._init_compression()

    def _init_compression(self):
        """Compress the large columns with lz4 when PostgreSQL has it (14+, built with lz4).

        pglz (the default) was the largest single cost of the ingest's INSERT (perf, 15 % of
        the backend's time: bodies and search vectors are compressed as they are stored);
        lz4 compresses several times faster and reads back faster too. Values stored before
        keep their compression; a server without lz4 keeps pglz.
        """
        cr = self.env.cr
        if cr._cnx.server_version < 140000:  # column compression methods came with 14
            return
        cr.execute("""SELECT attname FROM pg_attribute WHERE attrelid = 'maildesk_message'::regclass
                         AND attname IN %s AND NOT attisdropped AND attcompression IS DISTINCT FROM 'l'""",
                   (LZ4_COLUMNS,))
        for (column,) in cr.fetchall():
            try:
                with cr.savepoint(flush=False):
                    cr.execute(f'ALTER TABLE maildesk_message ALTER COLUMN "{column}" SET COMPRESSION lz4')
            except Exception:  # noqa: BLE001 - PostgreSQL < 14 or built without lz4: pglz stays
                _logger.info("MailDesk: lz4 column compression unavailable, keeping PostgreSQL's default")
                return

    def _ensure_trigram(self):
        """pg_trgm is in PostgreSQL's contrib; creating it needs rights the DB user may lack."""
        return self._ensure_extension("pg_trgm")

    def _ensure_extension(self, name):
        """Create a contrib extension when possible; False (and a log line) when it cannot be."""
        cr = self.env.cr
        cr.execute("SELECT 1 FROM pg_extension WHERE extname = %s", (name,))
        if cr.fetchone():
            return True
        try:
            with cr.savepoint(flush=False):
                cr.execute(f'CREATE EXTENSION IF NOT EXISTS "{name}"')
        except Exception:  # noqa: BLE001 - missing contrib or rights: the feature degrades, see README
            _logger.info("MailDesk: PostgreSQL extension %s unavailable (see the README, Search)", name)
            return False
        return True

    def _init_search_vector(self):
        """(Re)build the search column when its definition or the unaccent state changed."""
        cr = self.env.cr
        unaccent = self._ensure_extension("unaccent")
        if unaccent:
            cr.execute("""SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
                           WHERE e.extname = 'unaccent'""")
            schema = cr.fetchone()[0]
            # Schema-qualified dictionary: the result must not depend on search_path (immutable).
            body = f"SELECT \"{schema}\".unaccent('\"{schema}\".unaccent'::regdictionary, $1)"
        else:
            body = "SELECT $1"
        state = f"unaccent {'on' if unaccent else 'off'}"
        version = f"{self._SEARCH_VERSION}, {state}"
        cr.execute("""SELECT col_description('maildesk_message'::regclass, attnum), attgenerated
                        FROM pg_attribute
                       WHERE attrelid = 'maildesk_message'::regclass AND attname = 'search_vector'
                         AND NOT attisdropped""")
        row = cr.fetchone()
        fill = False
        if row and row[0] == f"{self._SEARCH_VERSION_KEPT}, {state}" and row[1] == "s":
            # The v2 generated column holds the very vectors v3 keeps: a plain column now, no rewrite.
            cr.execute("ALTER TABLE maildesk_message ALTER COLUMN search_vector DROP EXPRESSION")
            cr.execute("COMMENT ON COLUMN maildesk_message.search_vector IS %s", (version,))
        elif row and row[0] != version:
            # Another definition (or unaccent appeared / went): the stored vectors are stale.
            cr.execute("ALTER TABLE maildesk_message DROP COLUMN search_vector")
            row = None
        cr.execute(f"""CREATE OR REPLACE FUNCTION maildesk_unaccent(text) RETURNS text
                       LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$ {body} $$""")
        cr.execute(f"""CREATE OR REPLACE FUNCTION maildesk_search_vector(
                           subject text, email_from text, email_to text, email_cc text, body_text text)
                       RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT {self._SEARCH_VECTOR} $$""")
        # A new row keeps the vector its INSERT brings (the sync's, made by this same function);
        # any change of the text (or of the vector itself) computes it again. An UPDATE of other
        # columns (flags, folder) does not fire it.
        cr.execute("""CREATE OR REPLACE FUNCTION maildesk_message_search_vector() RETURNS trigger
                      LANGUAGE plpgsql AS $$
                      BEGIN
                          IF TG_OP = 'INSERT' THEN
                              IF NEW.search_vector IS NOT NULL THEN
                                  RETURN NEW;
                              END IF;
                          ELSIF (NEW.subject, NEW.email_from, NEW.email_to, NEW.email_cc, NEW.body_text,
                                 NEW.search_vector)
                                IS NOT DISTINCT FROM (OLD.subject, OLD.email_from, OLD.email_to, OLD.email_cc,
                                                      OLD.body_text, OLD.search_vector) THEN
                              RETURN NEW;
                          END IF;
                          NEW.search_vector := maildesk_search_vector(NEW.subject, NEW.email_from, NEW.email_to,
                                                                      NEW.email_cc, NEW.body_text);
                          RETURN NEW;
                      END $$""")
        if not row:
            cr.execute("ALTER TABLE maildesk_message ADD COLUMN search_vector tsvector")
            cr.execute("COMMENT ON COLUMN maildesk_message.search_vector IS %s", (version,))
            fill = True
        cr.execute("""DROP TRIGGER IF EXISTS maildesk_message_search_vector ON maildesk_message;
                      CREATE TRIGGER maildesk_message_search_vector
                          BEFORE INSERT OR UPDATE OF subject, email_from, email_to, email_cc, body_text,
                                                     search_vector ON maildesk_message
                          FOR EACH ROW EXECUTE FUNCTION maildesk_message_search_vector()""")
        if fill:
            cr.execute("""UPDATE maildesk_message SET search_vector = maildesk_search_vector(
                              subject, email_from, email_to, email_cc, body_text)""")
        cr.execute("""CREATE INDEX IF NOT EXISTS maildesk_message_search_vector_idx
                          ON maildesk_message USING gin (search_vector)""")

    # -- computes ---------------------------------------------------------------------
    @api.depends("account_id.company_id")
    def _compute_company_id(self):
        for message in self:
            message.company_id = message.account_id.company_id

    # -- CRUD -------------------------------------------------------------------------
    def _from_sync(self):
        """A write of the sync itself (not pushed back to the server); never true for an RPC caller."""
        return bool(self.env.context.get(FROM_SYNC)) and self._md_privileged()

    @api.model
    def _sanitize_vals(self, vals):
        if vals.get("body_html") and not is_trusted_ingest():
            vals["body_html"] = sanitize.sanitize_html(vals["body_html"])[0]

    @api.model
    def _complete_vals(self, vals_list):
        """Complete the values of new messages before they are stored; returns nothing.

        Every path that stores mail runs it: ``create`` and the sync's bulk INSERT
        (``_create_ingested``), which does not go through ``create``. Override it (``super()``
        too) to derive stored columns from the values, e.g. from the headers.
        """
        for vals in vals_list:
            self._sanitize_vals(vals)

    @api.model_create_multi
    def create(self, vals_list):
        self._complete_vals(vals_list)
        records = super().create(vals_list)
        records.thread_id.sudo()._refresh_summary()
        return records

    @api.model
    def _create_ingested(self, vals_list):
        """Store the new messages of a synced batch: ``create``'s result in multi-row INSERTs.

        Trusted values only (parsed and sanitized by the engine, inside ``trusted_ingest()``);
        see ``maildesk_bulk``. ``_complete_vals`` runs as it does for ``create``.
        """
        self._complete_vals(vals_list)
        vectors = SEARCH_VECTORS.get()
        column = vectors.column(vals_list) if vectors is not None else None
        records = bulk_create(self, vals_list, raw_columns={"search_vector": column} if column else None)
        records.thread_id.sudo()._refresh_summary()
        return records

    def write(self, vals):
        self._sanitize_vals(vals)
        if not self._from_sync():
            flags = {k: vals[k] for k in ("is_read", "is_starred") if k in vals}
            if flags:
                # Checked before the server hears of it (the mixin's write checks too late for that).
                self._md_guard([vals])
                self._push_flags(**flags)
        touched = self.thread_id if THREAD_SUMMARY_FIELDS & set(vals) else None
        result = super().write(vals)
        if touched is not None:
            # sudo: the summary is derived data of the threads of messages the user may write.
            (touched | self.thread_id).sudo()._refresh_summary()
            (touched - self.thread_id).sudo()._drop_if_empty()
        return result

    def unlink(self):
        """Only the sync and the two-way actions delete mail (``_remove_local``).

        A delete made only in Odoo (backend list, RPC ``unlink``) would leave the server copy
        in place, never to come back: refused for every user, admins included. ``env.su`` is
        the gate because no RPC caller can set it (a context key could be).
        """
        if not self.env.su:
            raise AccessError(_("Mail cannot be deleted only in Odoo: use Delete in the mail client, which moves "
                                "it to Trash on the mail server first."))
        threads = self.thread_id
        result = super().unlink()
        threads.sudo()._refresh_summary()
        threads.sudo()._drop_if_empty()
        return result

    def _move_to_threads(self, targets):
        """Move every message of the threads ``{thread id: target thread id}`` to its target.

        For the folding of conversations (``maildesk.thread._fold``): one write per target,
        then one summary refresh of the targets and one removal of the emptied threads,
        instead of both for every write. Internal: the caller runs as superuser.
        """
        synced = self.sudo().with_context(**{FROM_SYNC: True})
        by_target = defaultdict(list)
        for message in synced.search([("thread_id", "in", list(targets))]):
            by_target[targets[message.thread_id.id]].append(message.id)
        for target_id, ids in by_target.items():
            # The ORM's write without this model's per-write summary refresh, done once below.
            super(MaildeskMessage, synced.browse(ids)).write({"thread_id": target_id})
        Thread = self.env["maildesk.thread"].sudo()
        Thread.browse(sorted(set(targets.values())))._refresh_summary()
        Thread.browse(list(targets)).exists().unlink()

    def _remove_local(self):
        """Remove these local copies: the server no longer has them (sync) or just removed them.

        The one route to ``unlink``: threads stay right (summary refreshed, emptied ones go)
        and the messages' attachments go with them (the ORM's unlink removes them).
        """
        # sudo: deleting mail is reserved to this internal route; the callers (sync, two-way
        # actions after the server said yes) checked the user's access first.
        return self.sudo().unlink()

    # -- two-way actions ------------------------------------------------------------------
    def action_mark_read(self):
        self.filtered(lambda m: not m.is_read).write({"is_read": True})

    def action_mark_unread(self):
        self.filtered("is_read").write({"is_read": False})

    def action_toggle_star(self):
        starred = self.filtered("is_starred")
        starred.write({"is_starred": False})
        (self - starred).write({"is_starred": True})

    def action_archive_mail(self):
        self._move_to_role("archive")

    def action_delete_mail(self):
        """Move to Trash (recoverable). Copies already in Trash are left as they are: erasing
        them is ``action_delete_permanently``, which the user confirms."""
        self.filtered(lambda m: m.folder_id.role != "trash")._move_to_role("trash")

    def action_delete_permanently(self):
        """Erase mail that is in Trash: on the server first, then here. Nothing else."""
        if any(m.folder_id.role != "trash" for m in self):
            raise UserError(_("Only mail in Trash can be deleted for good. Delete moves other mail to Trash."))
        self._remote_call(
            lambda provider, folder, ids: provider.delete(folder._remote(), ids),
            queue=lambda folder, messages: self.env["maildesk.pending.action"]._queue(
                "delete", folder, self.browse(), remote_ids=messages.mapped("remote_id")))
        self._remove_local()

    def action_move(self, folder_id):
        target = self.env["maildesk.folder"].browse(folder_id)
        self._move_to(target)

    def action_fetch_body(self):
        """Download the body of a message that was listed with headers only."""
        self.check_access_rights("read")
        self.check_access_rule("read")
        for folder, messages in self._by_folder().items():
            account = folder.account_id
            try:
                with account.sudo()._get_provider() as provider:
                    fetched = provider.fetch_messages(folder._remote(), messages.mapped("remote_id"))
            except NetworkError as exc:
                raise MailServerUnreachable(_("The full message stays on the server for now: %s", exc)) from exc
            except ProviderError as exc:
                raise UserError(_("The server did not give the full message: %s", exc)) from exc
            by_id = {m.remote_id: m for m in fetched}
            for message in messages:
                remote = by_id.get(message.remote_id)
                if remote and remote.raw:
                    vals, attachments, _keys = self._prepare_from_remote(account, folder, remote)
                    vals.pop("thread_id", None)
                    # Trusted: the values come from the server, parsed and sanitized by the engine.
                    with trusted_ingest():
                        message.with_context(**{FROM_SYNC: True}).write(vals)
                    self._create_attachments([(message, attachments, vals)])

    def action_reply(self):
        return self._open_compose("reply")

    def action_reply_all(self):
        return self._open_compose("reply_all")

    def action_forward(self):
        return self._open_compose("forward")

    def _open_compose(self, mode):
        self.ensure_one()
        return self.env["maildesk.compose"].action_open({"default_parent_id": self.id, "default_mode": mode})

    # -- two-way plumbing -------------------------------------------------------------------
    def _by_folder(self):
        groups = defaultdict(lambda: self.browse())
        for message in self:
            if message.folder_id and message.remote_id:
                groups[message.folder_id] |= message
        return groups

    def _remote_call(self, call, queue=None):
        """Run ``call(provider, folder, remote_ids)`` per folder; errors become UserError.

        With ``queue(folder, messages)``: when the server cannot be reached, or the mailbox
        already has changes waiting for it, the change is queued instead
        (``maildesk.pending.action``) and ``results[folder]`` is ``QUEUED``.
        """
        self.check_access_rights("write")
        self.check_access_rule("write")
        Pending = self.env["maildesk.pending.action"]
        results = {}
        for folder, messages in self._by_folder().items():
            if queue and Pending._has_pending(folder.account_id):
                queue(folder, messages)  # behind the changes already waiting: order kept
                results[folder] = QUEUED
                continue
            try:
                # sudo: credentials are admin-only; the user's access was checked above.
                with folder.account_id.sudo()._get_interactive_provider() as provider:
                    results[folder] = call(provider, folder, messages.mapped("remote_id"))
            except NetworkError as exc:
                if not queue:
                    raise MailServerUnreachable(str(exc)) from exc
                queue(folder, messages)
                results[folder] = QUEUED
            except ProviderError as exc:
                raise UserError(_("The mail server did not accept the change: %s", exc)) from exc
        return results

    def _push_flags(self, is_read=None, is_starred=None):
        values = {k: v for k, v in (("is_read", is_read), ("is_starred", is_starred)) if v is not None}
        self._remote_call(
            lambda provider, folder, ids: provider.set_flags(folder._remote(), ids, is_read=is_read,
                                                             is_starred=is_starred),
            queue=lambda folder, messages: self.env["maildesk.pending.action"]._queue(
                "flags", folder, messages, values=values))

    def _move_to_role(self, role):
        for account, messages in self._by_account().items():
            target = self.env["maildesk.folder"].search(
                [("account_id", "=", account.id), ("role", "=", role)], limit=1)
            if not target:
                raise UserError(_("The mailbox %(account)s has no %(role)s folder.", account=account.name, role=role))
            messages._move_to(target)

    def _by_account(self):
        groups = defaultdict(lambda: self.browse())
        for message in self:
            groups[message.account_id] |= message
        return groups

    def _move_to(self, target):
        movable = self.filtered(lambda m: m.folder_id != target)
        if any(m.account_id != target.account_id for m in movable):
            raise UserError(_("Messages can only be moved within their own mailbox."))
        results = movable._remote_call(
            lambda provider, folder, ids: provider.move(folder._remote(), ids, target._remote()),
            queue=lambda folder, messages: self.env["maildesk.pending.action"]._queue(
                "move", folder, messages, target=target))
        mapping, queued = {}, self.browse()
        for folder, folder_map in results.items():
            if folder_map is QUEUED:
                queued |= movable.filtered(lambda m, f=folder: m.folder_id == f)
            else:
                mapping.update(folder_map)
        # sudo: folder and remote id are the server's fields; _remote_call checked the user may
        # write these messages and the server has moved them (or the move is queued).
        synced = self.sudo().with_context(**{FROM_SYNC: True})
        for message in synced.filtered(lambda m: m in movable):
            new_id = mapping.get(message.remote_id)
            if message in queued:
                # Moved here now; the server's id comes when the queued move is replayed.
                message.write({"folder_id": target.id, "remote_id": False})
            elif message.remote_id and not new_id:
                # The server did not say where the copy went: the next sync of the
                # target folder brings it back; drop this stale copy now.
                message._remove_local()
            else:
                message.write({"folder_id": target.id, "remote_id": new_id or message.remote_id})

    # -- ingestion --------------------------------------------------------------------------
    @api.model
    def _apply_batch(self, folder, batch):
        """Apply one ``SyncBatch`` to ``folder``; returns created/updated/removed counts."""
        counts = {"created": 0, "updated": 0, "removed": 0}
        synced = self.with_context(**{FROM_SYNC: True}).sudo()
        if batch.rebind:
            counts["updated"] += synced._rebind(folder, batch.rebind)
        if batch.drop_unbound:
            keep = set(batch.keep)
            stale = synced.search([("folder_id", "=", folder.id), ("remote_id", "!=", False)]).filtered(
                lambda m: m.remote_id not in keep)
            counts["removed"] += len(stale)
            stale._remove_local()
        if batch.vanished:
            gone = synced.search([("folder_id", "=", folder.id), ("remote_id", "in", batch.vanished)])
            counts["removed"] += len(gone)
            gone._remove_local()
        flags = {f.remote_id: f for f in batch.flags}
        new_messages = []
        if batch.messages:
            incoming_ids = [m.remote_id for m in batch.messages]
            existing = set(synced.search([("folder_id", "=", folder.id),
                                          ("remote_id", "in", incoming_ids)]).mapped("remote_id"))
            for remote in batch.messages:
                if remote.remote_id in existing:
                    flags[remote.remote_id] = FlagState(remote.remote_id, remote.is_read, remote.is_starred)
                else:
                    new_messages.append(remote)
        if flags:
            counts["updated"] += synced._apply_flags(folder, flags)
        if new_messages:
            counts["created"] += synced._ingest(folder, new_messages)
        return counts

    def _apply_flags(self, folder, flags):
        records = self.search([("folder_id", "=", folder.id), ("remote_id", "in", list(flags))])
        groups = defaultdict(lambda: self.browse())
        for record in records:
            state = flags[record.remote_id]
            if (record.is_read, record.is_starred) != (state.is_read, state.is_starred):
                groups[(state.is_read, state.is_starred)] |= record
        for (is_read, is_starred), records_to_write in groups.items():
            records_to_write.write({"is_read": is_read, "is_starred": is_starred})
        return sum(len(r) for r in groups.values())

    def _rebind(self, folder, mapping):
        """Give stored records the ids the server now uses for the same mail."""
        records = self.search([("folder_id", "=", folder.id), ("message_id", "in", list(mapping))], order="id")
        by_key = defaultdict(list)
        for record in records:
            by_key[record.message_id].append(record)
        changed = 0
        for key, states in mapping.items():
            local = by_key.get(key, [])
            wanted = {s.remote_id: s for s in states}
            free = [s for s in states if s.remote_id not in {r.remote_id for r in local}]
            for record in local:
                state = wanted.get(record.remote_id)
                if state is None:
                    if not free:
                        continue  # more local copies than server copies: dropped as unbound
                    state = free.pop(0)
                vals = {"remote_id": state.remote_id, "is_read": state.is_read, "is_starred": state.is_starred}
                if any(record[k] != v for k, v in vals.items()):
                    record.write(vals)
                    changed += 1
        return changed

    def _ingest(self, folder, remotes):
        account = folder.account_id
        # Local-first copies (sent mail filed before the server gave an id) get bound.
        unbound = {}
        for record in self.search([("folder_id", "=", folder.id), ("remote_id", "=", False)]):
            unbound.setdefault(record.message_id, record)
        prepared, bound = [], 0
        for remote in remotes:
            vals, attachments, keys = self._prepare_from_remote(account, folder, remote)
            record = unbound.pop(vals["message_id"], None)
            if record is not None:
                record.write({"remote_id": remote.remote_id, "is_read": remote.is_read,
                              "is_starred": remote.is_starred})
                bound += 1
                continue
            prepared.append((vals, attachments, keys, remote.provider_thread_id))
        if not prepared:
            return 0
        # The search vectors are computed on another connection while partners and threads are found:
        # started when the provider's prefetch thread parsed the batch, or here.
        ahead = SEARCH_VECTORS_AHEAD.get()
        vectors = ahead.take([p[0]["remote_id"] for p in prepared]) if ahead else None
        if vectors is None and len(prepared) >= MIN_BATCH:
            vectors = SearchVectors(self.env.cr.dbname, [p[0] for p in prepared])
        self._link_partners(account, [p[0] for p in prepared])
        self.env["maildesk.thread"]._assign_threads(account, [(p[0], p[2], p[3]) for p in prepared])
        token = SEARCH_VECTORS.set(vectors)
        try:
            with trusted_ingest():  # bodies parsed and sanitized by the engine
                records = self._create_ingested([p[0] for p in prepared])
        finally:
            SEARCH_VECTORS.reset(token)
        self._create_attachments([(rec, p[1], p[0]) for rec, p in zip(records, prepared)])
        records._on_messages_stored()
        return len(records)

    def _prepare_from_remote(self, account, folder, remote):
        """Values for one new message; override to map extra headers."""
        parsed = remote.parsed or mime.parse_message(remote.raw or b"", headers_only=remote.partial)
        keys = threading_keys.thread_keys(parsed)
        own = (account.email or "").strip().lower()
        outgoing = folder.role in ("sent", "drafts") or (own and parsed.from_address == own)
        vals = {
            "account_id": account.id, "company_id": account.company_id.id, "folder_id": folder.id,
            "remote_id": remote.remote_id,
            "message_id": parsed.message_id, "in_reply_to": parsed.in_reply_to or False,
            "references": " ".join(parsed.references) or False,
            "provider_thread_id": remote.provider_thread_id or False,
            "subject": parsed.subject, "email_from": parsed.email_from, "from_address": parsed.from_address,
            "email_to": parsed.email_to, "email_cc": parsed.email_cc, "reply_to": parsed.reply_to or False,
            "date": parsed.date or remote.internal_date, "body_html": parsed.body_html,
            "body_text": parsed.body_text, "snippet": parsed.snippet, "has_remote_images": parsed.has_remote_images,
            "has_attachments": any(not a.inline for a in parsed.attachments),
            "is_read": remote.is_read, "is_starred": remote.is_starred,
            "direction": "outgoing" if outgoing else "incoming", "size": remote.size or len(remote.raw or b""),
            "body_state": "error" if parsed.error else ("partial" if remote.partial else "full"),
            "parse_error": parsed.error or False,
            "auto_submitted": parsed.auto_submitted or False, "precedence": parsed.precedence or False,
            "list_id": parsed.list_id or False, "list_unsubscribe": parsed.list_unsubscribe or False,
            "authentication_results": parsed.authentication_results or False,
            "return_path": parsed.return_path or False,
        }
        attachments = [(a.filename, a.data, a.content_type, a.content_id, a.inline) for a in parsed.attachments]
        if parsed.error and remote.raw:
            # Keep the original so nothing is lost: the user can download it.
            attachments.append(("original.eml", remote.raw, "message/rfc822", None, False))
            vals["has_attachments"] = True
        return vals, attachments, keys

    def _link_partners(self, account, vals_list):
        """Match each message to a contact by the correspondent's address (one query)."""
        addresses = set()
        for vals in vals_list:
            addresses.add(self._correspondent(vals))
        addresses.discard(None)
        if not addresses:
            return
        partners = self.env["res.partner"].sudo().search_read(
            [("email", "in", list(addresses))], ["email"], order="id")
        by_email = {}
        for partner in partners:
            by_email.setdefault(partner["email"].lower(), partner["id"])
        for vals in vals_list:
            vals["partner_id"] = by_email.get(self._correspondent(vals), False)

    @staticmethod
    def _correspondent(vals):
        if vals.get("direction") == "outgoing":
            first = (vals.get("email_to") or "").split(",")[0]
            address = first.split("<")[-1].rstrip(">").strip().lower()
            return address or None
        return vals.get("from_address") or None

    def _create_attachments(self, items):
        """Create the attachments of many messages at once; rewrite ``cid:`` images."""
        vals_list, owners = [], []
        for record, attachments, _vals in items:
            for filename, data, mimetype, content_id, _inline in attachments:
                vals_list.append({"name": filename, "raw": data, "mimetype": mimetype,
                                  "res_model": self._name, "res_id": record.id,
                                  "description": f"cid:{content_id}" if content_id else False})
                owners.append((record, content_id))
        if not vals_list:
            return
        self._write_files([vals["raw"] for vals in vals_list])
        # image_no_postprocess: a received file is kept as sent (Odoo would otherwise decode every
        # image and re-encode the large ones at 1920 px, quality 80; a mail client must not).
        created = self.env["ir.attachment"].sudo().with_context(image_no_postprocess=True).create(vals_list)
        cids = defaultdict(dict)
        for attachment, (record, content_id) in zip(created, owners):
            if content_id:
                cids[record][content_id] = f"/web/image/{attachment.id}"
        for record, mapping in cids.items():
            if record.body_html and "cid:" in record.body_html:
                # Trusted: a sanitized body with its cid: sources pointing at its own attachments.
                with trusted_ingest():
                    record.with_context(**{FROM_SYNC: True}).write(
                        {"body_html": Markup(sanitize.rewrite_cid(str(record.body_html), mapping))})

    @api.model
    def _write_files(self, payloads):
        """Put each payload whole into the filestore before ``ir.attachment`` looks for it.

        Odoo's ``_file_write`` opens the file under the content's sha1, then writes: a kill
        in between leaves an empty or partial file there. Every later write of the same
        content then meets that file in ``_get_path``, which refuses it ("The attachment
        collides with an existing file"): the batch rolls back on every retry, the folder's
        cursor never moves and later mail is never stored. Here a file is written aside and
        renamed into place, so a kill leaves no torn file (at worst a stray ``.tmp``), and a
        torn file already in place (shorter or longer than the content its name is the hash
        of) is replaced by the whole content. ``ir.attachment`` then finds the file complete
        and only adds its row.
        """
        # sudo: filestore plumbing of attachments created with sudo right after.
        Attachment = self.env["ir.attachment"].sudo()
        if Attachment._storage() != "file":
            return
        for data in {p for p in payloads if p}:
            checksum = Attachment._compute_checksum(data)
            fname = f"{checksum[:2]}/{checksum}"
            full_path = Attachment._full_path(fname)
            legacy_path = Attachment._full_path(f"{checksum[:3]}/{checksum}")  # where _get_path looks first
            present = False
            for path in (legacy_path, full_path):
                if os.path.isfile(path):
                    present = True
                    if os.path.getsize(path) != len(data):
                        _logger.warning("MailDesk: replacing torn filestore file %s (%s of %s bytes)",
                                        path, os.path.getsize(path), len(data))
                        self._replace_file(path, data)
            if not present:
                os.makedirs(os.path.dirname(full_path), exist_ok=True)
                self._replace_file(full_path, data)
                # If this transaction aborts, the filestore GC removes the unreferenced file.
                Attachment._mark_for_gc(fname)

    @staticmethod
    def _replace_file(path, data):
        """Write ``data`` to ``path`` atomically: aside, then rename over it."""
        tmp = f"{path}.{os.getpid()}-{threading.get_ident()}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    # -- sending --------------------------------------------------------------------------
    @api.model
    def _store_sent(self, account, folder, raw, result):
        """File a just-sent message locally at once (local-first Sent)."""
        remote = RemoteMessage(remote_id=result.sent_remote_id, raw=raw, is_read=True,
                               internal_date=fields.Datetime.now(), size=len(raw),
                               provider_thread_id=result.provider_thread_id)
        synced = self.with_context(**{FROM_SYNC: True}).sudo()
        vals, attachments, keys = synced._prepare_from_remote(account, folder, remote)
        vals["direction"] = "outgoing"
        vals["remote_id"] = result.sent_remote_id or False
        vals["delivery_error"] = self._refused_text(result.refused)
        synced._link_partners(account, [vals])
        self.env["maildesk.thread"].sudo()._assign_threads(account, [(vals, keys, result.provider_thread_id)])
        with trusted_ingest():  # the body was parsed and sanitized by the engine, as for synced mail
            record = synced.create(vals)
        synced._create_attachments([(record, attachments, vals)])
        record._on_messages_stored()
        return record

    @staticmethod
    def _refused_text(refused):
        """'Not delivered to: a@x (550 user unknown), …' or False when everyone got it."""
        if not refused:
            return False
        return _("Not delivered to: %s", ", ".join(f"{address} ({reason})" for address, reason in refused.items()))

    # -- the hook of the upper addons -----------------------------------------------------------
    def _on_messages_stored(self):
        """Called once per stored batch with the messages it created (incoming and sent).

        ``self`` is every message the batch created (sudo, sync context): mail synced from any
        folder, and each message sent from Odoo right after it is filed in Sent. Mail that was
        already stored (a re-bound local copy, a flag change) is not passed again. Override it
        with ``super()`` first and work on the whole recordset: automation runs its rules here,
        the cockpit keeps conversation and SLA state. Must not raise for one bad message: a
        failure here rolls back the batch and the sync retries it.
        """
        return True
