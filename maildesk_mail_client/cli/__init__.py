from . import maildesk_listener
