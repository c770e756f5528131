import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from odoo.tests import tagged
from odoo.tests.common import BaseCase

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"


@tagged("post_install", "-at_install", "maildesk")
class TestRequirements(BaseCase):
    def test_openssl_still_imports(self):
        """With our requirements installed, Odoo's pyOpenSSL still imports in a fresh interpreter."""
        result = subprocess.run([sys.executable, "-c", "import OpenSSL, odoo, imapclient, nh3; print('ok')"],
                                capture_output=True, text=True, timeout=120, check=False)
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_requirements_are_installed(self):
        """Every line of requirements.txt is satisfied in the interpreter that runs Odoo."""
        if not REQUIREMENTS.exists():
            self.skipTest("requirements.txt is not next to the addons")
        for line in REQUIREMENTS.read_text().splitlines():
            line = line.split("#", 1)[0].split(";", 1)[0].strip()
            if not line:
                continue
            name = re.split(r"[<>=!~\[ ]", line, maxsplit=1)[0]
            self.assertTrue(metadata.version(name), f"{name} is not installed")
