from . import maildesk_team
from . import maildesk_thread
from . import maildesk_message
