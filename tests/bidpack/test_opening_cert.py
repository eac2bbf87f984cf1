"""`tenderhall bid opening-cert` against a fake platform."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.bidpack.fake_server import TOKEN, FakeState, fake_server
from tests.bidpack.receipts import Issuer
from webapp.cli import main

TENDER = "tender-0001"


def opening_certificate() -> tuple[str, str]:
    """A self-signed certificate (PEM) and the SHA-256 of its SubjectPublicKeyInfo."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{TENDER} lot 1 opening key")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    return pem, hashlib.sha256(spki).hexdigest()


@pytest.fixture
def state(issuer: Issuer) -> FakeState:
    return FakeState(issuer=issuer)


@pytest.fixture
def server(state: FakeState) -> Iterator[str]:
    with fake_server(state) as url:
        yield url


def opening_cert(server: str, out: Path) -> Result:
    args = ["bid", "opening-cert", "--server", server, "--tender", TENDER, "--lot", "1"]
    return CliRunner().invoke(main, [*args, "--out", str(out), "--token", TOKEN])


def publish(state: FakeState, pem: str, fingerprint: str) -> None:
    state.published_keys[(TENDER, 1)] = {
        "lot_number": 1,
        "certificate": pem,
        "fingerprint": fingerprint,
        "threshold": 2,
        "custodians": ["CN=a", "CN=b", "CN=c"],
    }


def test_the_certificate_is_saved_and_its_fingerprint_printed(
    server: str, state: FakeState, tmp_path: Path
) -> None:
    pem, fingerprint = opening_certificate()
    publish(state, pem, fingerprint)
    out = tmp_path / "opening-cert.pem"
    result = opening_cert(server, out)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="ascii") == pem
    assert fingerprint in result.output
    assert "2 of 3" in result.output


def test_a_certificate_that_does_not_match_the_stated_fingerprint_is_not_saved(
    server: str, state: FakeState, tmp_path: Path
) -> None:
    pem, _ = opening_certificate()
    _, other = opening_certificate()
    publish(state, pem, other)
    out = tmp_path / "opening-cert.pem"
    result = opening_cert(server, out)
    assert result.exit_code != 0
    assert "fingerprint" in result.output and "指纹" in result.output
    assert not out.exists()


def test_a_lot_without_an_opening_key_is_a_clear_error(server: str, tmp_path: Path) -> None:
    out = tmp_path / "opening-cert.pem"
    result = opening_cert(server, out)
    assert result.exit_code != 0
    assert "opening_key_not_found" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
