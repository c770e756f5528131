from . import oauth
from . import push
