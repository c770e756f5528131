from . import maildesk_rule_dry_run
