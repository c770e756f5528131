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

Caveats
-------
One more connection from Odoo's pool while a large batch is stored; batches smaller than
``MIN_BATCH`` (incremental syncs) do not use it.
"""
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


def _sources(vals):
    return tuple(vals.get(name) or None for name in SOURCES)


class SearchVectors:
    """The search vectors of ``vals_list``, being computed on another connection (module docstring)."""

    def __init__(self, dbname, vals_list):
        self._sent = [_sources(vals) for vals in vals_list]
        self._index = {id(vals): i for i, vals in enumerate(vals_list)}
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

    def column(self, vals_list):
        """The vectors for ``vals_list``, in its order; None unless all are known and current."""
        self._thread.join()
        vectors = self._vectors
        if vectors is None or len(vectors) != len(self._sent):
            return None
        result = []
        for vals in vals_list:
            index = self._index.get(id(vals))
            if index is None or _sources(vals) != self._sent[index]:
                return None
            result.append(vectors[index])
        return result
