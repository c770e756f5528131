"""Plain-Python layer of maildesk_mail_client_pro: no Odoo imports (tests/engine/test_engine_has_no_odoo_import.py)."""
