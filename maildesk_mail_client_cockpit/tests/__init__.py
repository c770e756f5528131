from . import test_kpi
from . import test_security
from . import test_sla
from . import test_tour
from . import test_alerts
from . import test_ai_panel
from . import test_settings
from . import test_reports
