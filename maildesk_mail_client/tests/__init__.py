from . import test_requirements
from . import test_secrets
from . import test_security
from . import test_sync
from . import test_faults
from . import test_two_way
from . import test_client_api
from . import test_client_tours
