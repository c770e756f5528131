from . import maildesk_sla_policy
from . import maildesk_message
from . import maildesk_thread
from . import maildesk_cockpit_audit
from . import maildesk_cockpit_escalation
from . import maildesk_cockpit_board
from . import maildesk_cockpit
from . import res_config_settings
