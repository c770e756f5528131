"""A sliding-window rate limit per key (e.g. connection tests per user per minute).

In memory, per process: it survives the rollback of the transaction that tripped it (a
failed test raises and rolls back, so a table of attempts would forget exactly the
failures). With several Odoo workers the bound is per worker, still a handful a minute
instead of thousands.
"""
import threading
import time
from collections import deque


class RateLimiter:
    def __init__(self, limit, window, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits = {}
        self._lock = threading.Lock()

    def hit(self, key):
        """Count one attempt for ``key``; False when it is past the limit (not counted then)."""
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def reset(self):
        with self._lock:
            self._hits.clear()
