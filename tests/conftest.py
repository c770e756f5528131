"""Suite-level pytest setup for the engine tier: addons importable without Odoo, real servers.

Importing an engine without Odoo
--------------------------------
An addon's ``__init__.py`` imports ``models``, which imports ``odoo``. Each addon folder at
the repo root named ``maildesk_*`` is therefore registered in ``sys.modules`` as a bare
package (its ``__path__`` set, its ``__init__`` never executed), so
``import maildesk_mail_client.engine.provider`` works on a machine without Odoo. Everything
below the addon (``engine/``, ``lib/``) imports normally, ``__init__`` included; those
packages must not import ``odoo`` (``engine/test_engine_has_no_odoo_import.py``).

Fixtures
--------
``dovecot``       (session) a running ``harness.dovecot.DovecotServer``
``imap_account``  a fresh user on it: ``.host .port .ssl_port .login .password .server``
``smtp_sink``     a running ``harness.smtp_sink.SmtpSink`` (no AUTH, no TLS), emptied
                  before each test
``make_smtp_sink``  factory for sinks with other options (AUTH, STARTTLS, SMTPS), stopped
                  after the test

Tests that need Dovecot are marked ``imap`` automatically and skipped with a clear
reason when the ``dovecot`` binary is missing (``.ci/run`` installs it).
"""
import collections
import importlib.machinery
import sys
import types
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
IMAP_FIXTURES = {"dovecot", "imap_account"}
NO_DOVECOT = "Dovecot is not installed (apt-get install dovecot-imapd); IMAP engine tests need a real server"

ImapAccount = collections.namedtuple("ImapAccount", "host port ssl_port login password server")


def _register_addons():
    """Make ``maildesk_*`` addons importable as bare packages (see module docstring)."""
    for path in sorted(REPO_DIR.glob("maildesk_*")):
        if not path.is_dir() or path.name in sys.modules:
            continue
        spec = importlib.machinery.ModuleSpec(path.name, None, is_package=True)
        spec.submodule_search_locations = [str(path)]
        module = types.ModuleType(path.name, f"Addon {path.name}, registered without running its __init__.")
        module.__spec__ = spec
        module.__path__ = spec.submodule_search_locations
        sys.modules[path.name] = module


# At import time, before pytest imports any test module.
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))  # ``from harness import ...``
_register_addons()

from harness.dovecot import DovecotServer, dovecot_binary  # noqa: E402
from harness.smtp_sink import SmtpSink  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "imap: needs a real Dovecot (Debian dovecot-imapd) on loopback")
    # pytest resets warning filters per test, so smtp_sink's own filter is not enough.
    config.addinivalue_line("filterwarnings", "ignore:Requiring AUTH while not requiring TLS:UserWarning")


def pytest_collection_modifyitems(config, items):
    have_dovecot = bool(dovecot_binary())
    for item in items:
        if IMAP_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.imap)
            if not have_dovecot:
                item.add_marker(pytest.mark.skip(reason=NO_DOVECOT))


@pytest.fixture(scope="session")
def dovecot():
    """One private Dovecot for the whole session; tests isolate themselves by user."""
    if not dovecot_binary():
        pytest.skip(NO_DOVECOT)
    server = DovecotServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def imap_account(dovecot):
    """A new user with an empty mailbox (INBOX + the SPECIAL-USE folders)."""
    login, password = dovecot.new_user()
    return ImapAccount(dovecot.host, dovecot.port, dovecot.ssl_port, login, password, dovecot)


@pytest.fixture(scope="session")
def _smtp_sink_server():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_sink(_smtp_sink_server):
    """The session's plain SMTP sink, with no messages from earlier tests."""
    _smtp_sink_server.clear()
    return _smtp_sink_server


@pytest.fixture
def make_smtp_sink():
    """``make_smtp_sink(**SmtpSink kwargs)`` -> a started sink, stopped after the test."""
    sinks = []

    def make(**kwargs):
        sink = SmtpSink(**kwargs)
        sinks.append(sink)
        return sink.start()

    yield make
    for sink in sinks:
        sink.stop()
