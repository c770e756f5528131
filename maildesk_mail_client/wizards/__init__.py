from . import maildesk_compose
