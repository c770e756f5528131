"""Plain-Python core of the cockpit: business hours, message facts, KPI SQL, SLA and escalation.

Nothing here imports Odoo; the models load rows, call these functions and write results back.
"""
