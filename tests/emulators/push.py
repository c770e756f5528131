"""What the emulators need to push notifications to a receiver, as Google and Microsoft do.

- ``OidcIssuer``: an RSA key pair that signs Google-style OIDC tokens (the ``Authorization:
  Bearer`` of a Pub/Sub push with authentication on) and publishes its public keys in
  Google's ``{kid: PEM}`` certificate format; mount ``certs`` on an emulator route and
  point the receiver's certificate URL there.
- ``PushSender``: POSTs to a receiver URL, synchronously (``sync=True``: the caller waits,
  handy in tests that share one database transaction with the receiver) or from a
  background thread (as the real services do). Every answer is logged in ``sent``.
"""
import json
import secrets
import threading
import time

import requests

GOOGLE_ISSUER = "https://accounts.google.com"


class OidcIssuer:
    def __init__(self):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self.private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode()
        self.public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def certs(self):
        return {self.kid: self.public_pem}

    def token(self, audience, email, lifetime=3600, issued_at=None, issuer=GOOGLE_ISSUER, email_verified=True):
        from google.auth import crypt, jwt

        now = int(time.time() if issued_at is None else issued_at)
        payload = {"iss": issuer, "aud": audience, "email": email, "email_verified": email_verified,
                   "sub": "1" + secrets.token_hex(8), "azp": "1" + secrets.token_hex(8),
                   "iat": now, "exp": now + lifetime}
        signer = crypt.RSASigner.from_string(self.private_pem, key_id=self.kid)
        return jwt.encode(signer, payload).decode()


class PushSender:
    def __init__(self, sync=False, timeout=10):
        self.sync, self.timeout = sync, timeout
        self.sent = []  # (url, status or exception name)
        self._threads = []

    def post(self, url, body, headers=None):
        if self.sync:
            return self._post(url, body, headers)
        thread = threading.Thread(target=self._post, args=(url, body, headers), daemon=True)
        thread.start()
        self._threads.append(thread)
        return None

    def _post(self, url, body, headers):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        try:
            resp = requests.post(url, data=data, headers={"Content-Type": "application/json", **(headers or {})},
                                 timeout=self.timeout)
            self.sent.append((url, resp.status_code))
            return resp
        except requests.RequestException as exc:
            self.sent.append((url, exc.__class__.__name__))
            return None

    def join(self, timeout=10):
        for thread in list(self._threads):
            thread.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]
