"""Plain-Python layer of maildesk_automation: no Odoo imports (tests/engine/test_engine_has_no_odoo_import.py)."""
