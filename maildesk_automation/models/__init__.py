from . import maildesk_team
from . import maildesk_thread
from . import maildesk_message
from . import maildesk_account
from . import maildesk_rule
from . import maildesk_rule_action
from . import maildesk_rule_runner
from . import maildesk_rule_run
