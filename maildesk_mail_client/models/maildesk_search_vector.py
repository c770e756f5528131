"""Search vectors of a synced batch, computed on a second connection while the batch is prepared.

What it is
----------
``maildesk_message.search_vector`` is kept by a trigger (``maildesk_search_vector()`` of the
row's subject, addresses and body, see ``maildesk.message._init_search_vector``). Computing it
is most of the ingest INSERT's database time (the text search parser and the sort of the
words: about 0.6 ms of the ~1 ms a message costs the server), and that INSERT waits on it
while the other core has room. ``SearchVectors(dbname, vals_list)`` asks a second connection
for the vectors of a batch at once, in a thread; the sync goes on with the batch's other
queries (partners, threads) on its own connection meanwhile, and the INSERT then passes the
vectors with the rows, so the trigger keeps them instead of computing them again.

Correctness
-----------
The helper calls the same SQL function the trigger calls, on the same text: the vectors are
the ones the trigger would have stored. ``column(vals_list)`` returns them only when every
row's text is still the text that was sent (an override that changed a subject or a body
between the two gets ``None``: the trigger computes them all). Any failure of the helper
(connection refused, pool exhausted, the function missing) gives ``None`` too: the rows are
stored the slow way, the sync never fails because of it.

A head start
------------
Started in ``_ingest``, the vectors of a batch were still being computed when its INSERT came
(a quarter of a 10,000-message first sync's wall time was that wait). So a folder's sync
starts them earlier: ``SearchVectorsAhead.start`` is the provider's ``SyncOptions.on_parsed``
hook, called from its prefetch thread as soon as batch N+1 is parsed, while batch N is being
stored; ``_ingest`` then ``take``s the ones started for its messages (keyed by remote id) and
starts its own only when there are none (providers without a prefetch thread, small syncs).

Caveats
-------
One more connection from Odoo's pool while a large batch is stored (two while one batch is
stored and the next one's vectors are computed); batches smaller than ``MIN_BATCH``
(incremental syncs) do not use it.
"""
import contextvars
import logging
import threading
from contextlib import closing

from odoo import sql_db

_logger = logging.getLogger(__name__)

SOURCES = ("subject", "email_from", "email_to", "email_cc", "body_text")
MIN_BATCH = 20  # below this the second connection costs more than it saves
_QUERY = """SELECT maildesk_search_vector(s, f, t, c, b)::text
              FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) WITH ORDINALITY
                   AS u(s, f, t, c, b, n)
             ORDER BY n"""


# Set by ``maildesk.folder._run_sync`` for the length of a folder's sync: its SearchVectorsAhead.
AHEAD = contextvars.ContextVar("maildesk_search_vectors_ahead", default=None)


def _sources(vals):
    return tuple(vals.get(name) or None for name in SOURCES)


class SearchVectors:
    """The search vectors of ``vals_list``, being computed on another connection (module docstring).

    Rows are known by their ``remote_id`` (unique in a synced batch), so vectors started from
    the parsed messages serve the values ``_ingest`` makes of them later."""

    def __init__(self, dbname, vals_list):
        self._sent = [_sources(vals) for vals in vals_list]
        self._index = {vals.get("remote_id"): i for i, vals in enumerate(vals_list)}
        self._vectors = None
        self._thread = threading.Thread(target=self._compute, args=(dbname,), name="maildesk-search-vectors",
                                        daemon=True)
        self._thread.start()

    def _compute(self, dbname):
        try:
            with closing(sql_db.db_connect(dbname).cursor()) as cr:
                cr.execute(_QUERY, [[row[i] for row in self._sent] for i in range(len(SOURCES))])
                self._vectors = [vector for vector, in cr.fetchall()]
        except Exception as exc:  # noqa: BLE001 - the trigger computes them instead (module docstring)
            _logger.info("MailDesk: search vectors of a batch computed at insert (%s)", exc)

    def wait(self):
        """Until the second connection answered (or failed)."""
        self._thread.join()

    def column(self, vals_list):
        """The vectors for ``vals_list``, in its order; None unless all are known and current."""
        self.wait()
        vectors = self._vectors
        if vectors is None or len(vectors) != len(self._sent):
            return None
        result = []
        for vals in vals_list:
            index = self._index.get(vals.get("remote_id"))
            if index is None or _sources(vals) != self._sent[index]:
                return None
            result.append(vectors[index])
        return result


class SearchVectorsAhead:
    """Search vectors started from the provider's prefetch thread (module docstring, A head start)."""

    def __init__(self, dbname):
        self.dbname = dbname
        self._lock = threading.Lock()
        self._started = []  # [(remote ids, SearchVectors)], oldest first

    def start(self, messages):
        """``SyncOptions.on_parsed``: start the vectors of a parsed batch (prefetch thread)."""
        rows = [{"remote_id": m.remote_id, **{name: getattr(m.parsed, name, None) for name in SOURCES}}
                for m in messages if m.parsed is not None]
        if len(rows) < MIN_BATCH:
            return
        vectors = SearchVectors(self.dbname, rows)
        with self._lock:
            self._started.append((frozenset(row["remote_id"] for row in rows), vectors))

    def take(self, remote_ids):
        """The vectors started for a batch holding every one of ``remote_ids``, or None.
        Batches started before it were not stored as new mail: they are dropped."""
        wanted = set(remote_ids)
        with self._lock:
            for position, (started, vectors) in enumerate(self._started):
                if wanted <= started:
                    del self._started[:position + 1]
                    return vectors
        return None

    def close(self):
        """Wait for the vectors still being computed: no thread outlives the folder's sync."""
        with self._lock:
            started, self._started = self._started, []
        for _ids, vectors in started:
            vectors.wait()
