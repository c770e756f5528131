from . import test_conversation_state
from . import test_rules
from . import test_rules_imap
from . import test_tour
from . import test_rules_insert
