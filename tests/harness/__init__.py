"""Test harness for the engine tier: real servers on loopback and realistic mail.

- ``dovecot``     ``DovecotServer``: a private Dovecot 2.3 (IMAP, STARTTLS, IMAPS)
- ``smtp_sink``   ``SmtpSink``: an aiosmtpd server that records what it receives
- ``mailgen``     deterministic realistic mail (``generate``) and hostile mail
                  (``hostile_corpus``, ``huge_message``)

Everything here listens on 127.0.0.1 only, stops itself at interpreter exit and uses
bounded timeouts. The small helpers below are shared by the two servers.
"""
import datetime
import ipaddress
import socket
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port():
    """A TCP port on loopback that is free right now.

    There is a short window before the server binds it; the servers retry their
    start on a bind failure rather than rely on that window being empty.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def self_signed_cert(directory):
    """Write ``cert.pem`` and ``key.pem`` for ``localhost``/127.0.0.1 into ``directory``.

    A P-256 key keeps generation instant. Clients must connect with verification off
    (or trust ``cert.pem``), which is what the "untrusted certificate" tests rely on.
    Returns ``(cert_path, key_path)``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path
