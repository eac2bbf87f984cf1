"""Test identities for the envelope suite: a few RSA and EC certificates made with `cryptography`.

Session scoped and small on purpose; the shared demo PKI fixture will replace them later.
Each identity is available as objects and as files (PEM key + certificate, PKCS#12 with a
password), because the CLI and openssl take files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from signing.envelope_recipients import PrivateKey

P12_PASSWORD = "test-password"


@dataclass(frozen=True)
class Identity:
    name: str
    key: PrivateKey
    cert: x509.Certificate
    cert_path: Path
    key_path: Path
    """PEM: the private key (unencrypted) only."""
    p12_path: Path
    """PKCS#12 with key and certificate, protected by ``P12_PASSWORD``."""


def _make(name: str, key: PrivateKey, directory: Path) -> Identity:
    now = datetime.now(UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tenderhall test"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    p12_path = directory / f"{name}.p12"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    p12_path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            name.encode(),
            key,
            cert,
            None,
            serialization.BestAvailableEncryption(P12_PASSWORD.encode()),
        )
    )
    return Identity(name, key, cert, cert_path, key_path, p12_path)


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envelope-pki")


@pytest.fixture(scope="session")
def rsa_bidder(pki_dir: Path) -> Identity:
    return _make("rsa-bidder", rsa.generate_private_key(65537, 2048), pki_dir)


@pytest.fixture(scope="session")
def ec_bidder(pki_dir: Path) -> Identity:
    return _make("ec-bidder", ec.generate_private_key(ec.SECP256R1()), pki_dir)


@pytest.fixture(scope="session")
def ec384_bidder(pki_dir: Path) -> Identity:
    return _make("ec384-bidder", ec.generate_private_key(ec.SECP384R1()), pki_dir)


@pytest.fixture(scope="session")
def outsider(pki_dir: Path) -> Identity:
    """Someone no envelope in the tests is addressed to."""
    return _make("outsider", ec.generate_private_key(ec.SECP256R1()), pki_dir)


@pytest.fixture(scope="session")
def custodians(pki_dir: Path) -> list[Identity]:
    """Agency (RSA), supervisor and witness (EC)."""
    return [
        _make("agency", rsa.generate_private_key(65537, 2048), pki_dir),
        _make("supervisor", ec.generate_private_key(ec.SECP256R1()), pki_dir),
        _make("witness", ec.generate_private_key(ec.SECP384R1()), pki_dir),
    ]


@pytest.fixture(scope="session")
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("the openssl binary is not installed")
    return path
