import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import odoo
from odoo.tests import tagged
from odoo.tests.common import BaseCase

REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"
# The google-auth trap (requirements.txt): with the new cryptography, Odoo's pyOpenSSL and
# urllib3's pyopenssl bridge must still load, and Odoo's SMTP client-certificate code path
# (ir_mail_server: PyOpenSSLContext + crypto.load_*) must still work.
CHECK = """
import ssl
import OpenSSL, odoo, imapclient, nh3, msal, googleapiclient.discovery, google_auth_oauthlib.flow
import odoo.addons.base.models.ir_mail_server
from urllib3.contrib.pyopenssl import PyOpenSSLContext
from OpenSSL import crypto
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
import datetime
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "t")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256()))
context = PyOpenSSLContext(ssl.PROTOCOL_TLS)
pem = cert.public_bytes(serialization.Encoding.PEM)
context._ctx.use_certificate(crypto.load_certificate(crypto.FILETYPE_PEM, pem))
context._ctx.use_privatekey(crypto.load_privatekey(crypto.FILETYPE_PEM, key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
context._ctx.check_privatekey()
print("ok")
"""


def odoo_env():
    """The environment of a child interpreter that imports the Odoo running these tests.

    Odoo started from a source checkout (odoo-bin) is importable only because odoo-bin's
    folder is on its sys.path, not in site-packages: a fresh interpreter finds it through
    PYTHONPATH pointing at the running Odoo's location.
    """
    env = dict(os.environ)
    root = str(Path(odoo.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


@tagged("post_install", "-at_install", "maildesk")
class TestRequirements(BaseCase):
    def test_openssl_still_imports(self):
        """With our requirements installed, Odoo's TLS stack still works in a fresh interpreter."""
        result = subprocess.run([sys.executable, "-W", "ignore", "-c", CHECK], capture_output=True, text=True,
                                timeout=120, check=False, env=odoo_env())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("ok", result.stdout)

    def test_child_interpreter_finds_the_running_odoo(self):
        """Without site-packages (as when Odoo runs from a checkout), the child still finds this Odoo."""
        code = "import importlib.util; print(importlib.util.find_spec('odoo').origin)"
        result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60,
                                check=False, env=odoo_env())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(Path(result.stdout.strip()).resolve(), Path(odoo.__file__).resolve())

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
