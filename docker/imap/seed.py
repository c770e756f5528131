"""Fill a Maildir with demo mail from the test suite's generator, once.

Usage: seed.py MAILDIR COUNT. Does nothing when MAILDIR already holds mail, so the demo
mailbox survives restarts. Dates run up to now; all but the newest 15 messages are
marked read. Files go through tmp/ and are renamed into place, as a delivery agent does.
"""
import os
import sys
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import mailgen

UNREAD = 15


def header_date(raw):
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"date:"):
            try:
                return parsedate_to_datetime(line[5:].decode("ascii", "replace").strip()).timestamp()
            except (TypeError, ValueError):
                return None
    return None


def seed(maildir, count):
    if os.path.isdir(os.path.join(maildir, "cur")) and (
            os.listdir(os.path.join(maildir, "cur")) or os.listdir(os.path.join(maildir, "new"))):
        print(f"seed: {maildir} already holds mail, left as is")
        return 0
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    stamp, pid = int(time.time()), os.getpid()
    messages = mailgen.generate(count, seed=17, domain="maildesk.test", now=datetime.now(UTC))
    for i, raw in enumerate(messages):
        unread = i >= count - UNREAD
        name = f"{stamp}.M{i}P{pid}.demo,S={len(raw)}" + ("" if unread else ":2,S")
        tmp = os.path.join(maildir, "tmp", name)
        with open(tmp, "wb") as fh:
            fh.write(raw)
        when = header_date(raw)
        if when:  # Maildir keeps the internal date in the file's mtime
            os.utime(tmp, (when, when))
        os.rename(tmp, os.path.join(maildir, "new" if unread else "cur", name))
    print(f"seed: wrote {count} messages into {maildir}")
    return count


if __name__ == "__main__":
    seed(sys.argv[1], int(sys.argv[2]))
