#!/bin/sh
# Seed the demo mailbox once (the volume keeps it), then run Dovecot in the foreground.
set -e
python3 /opt/maildesk/seed.py /srv/mail/demo@maildesk.test/Maildir "${DEMO_MESSAGES:-400}"
chown -R vmail:vmail /srv/mail
exec dovecot -F
