from . import maildesk_tag
from . import maildesk_account
from . import maildesk_folder
from . import maildesk_thread
from . import maildesk_message
from . import maildesk_sync_log
