from . import maildesk_ai_provider
from . import maildesk_ai_usage
from . import maildesk_ai_service
from . import maildesk_account
from . import maildesk_message
from . import maildesk_client
from . import res_config_settings
