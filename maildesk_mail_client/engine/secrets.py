"""Encryption at rest for passwords and OAuth tokens.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``,
which Odoo already depends on). Ciphertexts are prefixed with ``FERNET_PREFIX`` so a
value that is not ours (or a legacy plain value) is recognised instead of mis-decoded.

The key never lives in the database: the Odoo layer reads it from the server
configuration or from a key file outside the database (see ``models/maildesk_account``),
so a stolen database dump alone does not reveal any secret.
"""
import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

FERNET_PREFIX = "md1:"


class SecretError(Exception):
    """A stored secret could not be decrypted (wrong or rotated key)."""


def generate_key():
    """A fresh random key, as text suitable for a config file."""
    return Fernet.generate_key().decode()


def _fernet(key):
    if not key:
        raise SecretError("No encryption key is configured.")
    raw = key.encode() if isinstance(key, str) else key
    try:
        return Fernet(raw)
    except ValueError:
        # Accept any passphrase from a config file: derive a proper 32-byte key from it.
        return Fernet(base64.urlsafe_b64encode(hashlib.sha256(raw).digest()))


def encrypt(key, plaintext):
    if not plaintext:
        return False
    return FERNET_PREFIX + _fernet(key).encrypt(plaintext.encode()).decode()


def decrypt(key, ciphertext):
    if not ciphertext:
        return ""
    if not ciphertext.startswith(FERNET_PREFIX):
        raise SecretError("The stored secret is not in the expected format.")
    try:
        return _fernet(key).decrypt(ciphertext[len(FERNET_PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise SecretError("The stored secret cannot be decrypted with the configured key; "
                          "enter the password again or restore the key.") from exc
