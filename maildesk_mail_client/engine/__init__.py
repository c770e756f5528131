"""MailDesk sync engine: plain Python, no Odoo import.

Everything that talks to a mail provider or turns raw mail into plain values lives
here, so it can be tested with pytest on any machine against real servers:

- ``provider``   the one interface every provider implements, and its value types
- ``errors``     the provider error taxonomy the Odoo layer turns into account state
- ``imap``       IMAP (imapclient) implementation of the provider interface
- ``smtp``       SMTP sending (smtplib)
- ``mime``       raw RFC 5322 bytes -> ``ParsedMessage`` (headers, bodies, attachments)
- ``sanitize``   hostile HTML -> safe HTML (nh3), remote images blocked
- ``parsepool``  ``mime`` parsing of large syncs in worker processes
- ``imapfetch``  IMAP FETCH responses read without imapclient's lexer in the common case
- ``threads``    JWZ threading keys (Message-ID / In-Reply-To / References, subject)
- ``compose``    outgoing MIME (replies carry In-Reply-To / References)
- ``secrets``    symmetric encryption of stored passwords and tokens
- ``ratelimit``  sliding-window rate limit per key (connection tests)

Modules here use relative imports only: the same code runs as
``maildesk_mail_client.engine`` under pytest and ``odoo.addons.maildesk_mail_client.engine``
inside Odoo.
"""
