from . import test_ai_actions
from . import test_ai_controls
from . import test_ai_http
from . import test_ai_tour
from . import test_backfill
from . import test_security_level
