from . import maildesk_compose
from . import maildesk_account_setup
