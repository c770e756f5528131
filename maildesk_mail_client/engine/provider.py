"""The provider interface: one shape for IMAP, Gmail and Microsoft Graph.

How a sync works
----------------
The Odoo layer owns persistence; a provider owns the protocol. For each folder the
caller hands the provider the folder's stored ``cursor`` (a JSON-able dict whose content
only the provider understands) and a ``LocalView`` to ask what is already stored. The
provider yields ``SyncBatch`` objects, newest mail first. The caller applies each batch
and stores ``batch.cursor`` *in the same transaction*, then asks for the next one.
Killing the process between two batches therefore loses nothing: the next run starts
from the last stored cursor and re-applying a batch is harmless because messages are
upserted by ``(folder, remote_id)``.

Depth of history is bounded by ``SyncOptions``: the first sync of a folder lists the
``bootstrap`` newest messages; ``backfill`` then walks older history in the background
up to ``backfill_cap`` (mode ``progressive``), without limit (``full``) or not at all
(``from_now``).

Remote ids
----------
``remote_id`` is the provider's stable id of a message *within a folder*: for IMAP
``"<uidvalidity>:<uid>"`` (so ids from an old UIDVALIDITY never collide with new ones),
for Gmail the message id, for Graph the immutable id. ``message_id`` (the RFC 5322
header, normalised) is the second key used to re-bind local records when the provider
invalidates its ids.
"""
import dataclasses
from datetime import datetime
from typing import Callable, Iterable, Iterator, Optional

ROLES = ("inbox", "sent", "drafts", "trash", "spam", "archive", "custom")
BACKFILL_MODES = ("progressive", "full", "from_now")

DEFAULT_BOOTSTRAP = 1500
DEFAULT_BACKFILL_CAP = 20000
DEFAULT_BATCH_SIZE = 200


@dataclasses.dataclass
class SyncOptions:
    """Per-account knobs that bound how much history a sync pulls."""

    bootstrap: int = DEFAULT_BOOTSTRAP
    backfill_mode: str = "progressive"
    backfill_cap: int = DEFAULT_BACKFILL_CAP  # 0 = unlimited
    batch_size: int = DEFAULT_BATCH_SIZE
    # Messages larger than this are listed with headers only; the body stays on the
    # server and is fetched on demand (bounded memory, no multi-hundred-MB parses).
    max_body_bytes: int = 25 * 1024 * 1024
    # Fetch and parse the next batch in a background thread while the caller stores the
    # current one (the network and the database wait overlap with the MIME parsing).
    prefetch: bool = True
    # Worker processes that parse the prefetched batches (``parsepool``); None: one per
    # core beyond the first, 0: parse in the prefetch thread.
    parse_workers: Optional[int] = None
    # Called from the prefetch thread with each batch's messages once they are parsed, before
    # the caller gets the batch: the caller can start work of its own on them meanwhile (the
    # Odoo layer computes their search vectors). Must be quick; an exception is logged only.
    on_parsed: Optional[Callable[[list], None]] = dataclasses.field(default=None, repr=False, compare=False)

    def history_limit(self):
        """How many messages per folder a sync may hold in total (None = no limit)."""
        if self.backfill_mode == "full" or (self.backfill_mode == "progressive" and not self.backfill_cap):
            return None
        if self.backfill_mode == "from_now":
            return self.bootstrap
        return max(self.bootstrap, self.backfill_cap)


@dataclasses.dataclass(frozen=True)
class RemoteFolder:
    path: str  # provider path/id, what the provider needs to address it
    name: str  # display name (last path segment, decoded)
    role: str = "custom"  # one of ROLES
    parent_path: Optional[str] = None
    selectable: bool = True


@dataclasses.dataclass
class RemoteMessage:
    """One message as the provider returned it."""

    remote_id: str
    raw: Optional[bytes]  # full RFC 5322 bytes, or only the header block when ``partial``
    is_read: bool = False
    is_starred: bool = False
    internal_date: Optional[datetime] = None
    size: int = 0
    partial: bool = False  # True: ``raw`` holds headers only, body fetched on demand
    provider_thread_id: Optional[str] = None
    # ``mime.parse_message(raw, headers_only=partial)`` when the provider parsed it ahead
    # (prefetch); the caller parses itself when None.
    parsed: Optional[object] = dataclasses.field(default=None, repr=False, compare=False)


@dataclasses.dataclass
class FlagState:
    remote_id: str
    is_read: bool
    is_starred: bool


@dataclasses.dataclass
class SyncBatch:
    """One unit of work the caller applies atomically together with ``cursor``.

    ``rebind`` maps a message key (normalised Message-ID) to the remote ids now carrying
    it: used after the provider invalidated its ids (or the sync state was reset); local
    records are re-bound instead of being deleted and downloaded again. ``drop_unbound``
    comes after all ``rebind`` batches and asks the caller to delete the folder's records
    whose remote id is not in ``keep`` (the server no longer has them).
    """

    cursor: dict
    messages: list = dataclasses.field(default_factory=list)  # [RemoteMessage]
    flags: list = dataclasses.field(default_factory=list)  # [FlagState]; caller writes diffs only
    vanished: list = dataclasses.field(default_factory=list)  # [remote_id]
    rebind: dict = dataclasses.field(default_factory=dict)  # {message_key: [FlagState]}
    drop_unbound: bool = False
    keep: list = dataclasses.field(default_factory=list)  # [remote_id] valid after a rebind
    phase: str = "sync"  # sync | bootstrap | backfill | rebind

    def is_empty(self):
        return not (self.messages or self.flags or self.vanished or self.rebind or self.drop_unbound)


@dataclasses.dataclass
class LocalView:
    """What the caller already stores for a folder, asked lazily by the provider."""

    known_remote_ids: Callable[[], Iterable[str]] = lambda: ()
    count: Callable[[], int] = lambda: 0


@dataclasses.dataclass
class SendResult:
    message_id: str  # the Message-ID header that went out
    sent_remote_id: Optional[str] = None  # id of the copy in the Sent folder, when known
    sent_folder_path: Optional[str] = None
    provider_thread_id: Optional[str] = None
    # Recipients the server refused while it accepted the others: {address: reason}.
    refused: dict = dataclasses.field(default_factory=dict)


class MailProvider:
    """Interface implemented by ``imap.ImapProvider`` and the OAuth providers.

    Instances hold one connection; use them as context managers. Every method raises
    only ``errors.ProviderError`` subclasses.
    """

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, *exc):
        self.close()

    def connect(self):
        raise NotImplementedError

    def close(self):
        raise NotImplementedError

    def test_connection(self):
        """Log in and return a dict describing the server (for the Test Connection button)."""
        raise NotImplementedError

    def list_folders(self) -> list:
        """All folders of the mailbox as ``RemoteFolder`` values, roles resolved."""
        raise NotImplementedError

    def sync_folder(self, folder: RemoteFolder, cursor: dict, local: LocalView,
                    options: SyncOptions) -> Iterator[SyncBatch]:
        """New mail, flag changes and removals since ``cursor`` (first run: bootstrap)."""
        raise NotImplementedError

    def backfill_folder(self, folder: RemoteFolder, cursor: dict, local: LocalView,
                        options: SyncOptions, limit: int) -> Iterator[SyncBatch]:
        """Older history below what ``cursor`` covers, at most ``limit`` messages."""
        raise NotImplementedError

    def fetch_messages(self, folder: RemoteFolder, remote_ids: list) -> list:
        """Full ``RemoteMessage`` values for ``remote_ids`` (bodies fetched on demand)."""
        raise NotImplementedError

    def set_flags(self, folder: RemoteFolder, remote_ids: list, is_read=None, is_starred=None):
        """Set read / starred on the server; ``None`` leaves a flag alone."""
        raise NotImplementedError

    def move(self, folder: RemoteFolder, remote_ids: list, target: RemoteFolder) -> dict:
        """Move messages; returns ``{old_remote_id: new_remote_id or None}``."""
        raise NotImplementedError

    def delete(self, folder: RemoteFolder, remote_ids: list):
        """Remove messages from the folder for good."""
        raise NotImplementedError

    def send(self, raw: bytes, sender: str, recipients: list, sent_folder: Optional[RemoteFolder]) -> SendResult:
        """Deliver ``raw`` and make sure a copy lands in ``sent_folder``.

        A partial delivery is not an error: ``SendResult.refused`` names who did not get it.
        """
        raise NotImplementedError
