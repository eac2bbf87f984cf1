"""Session fixtures: the demo PKI (``signing.demo_pki``) built once, with typed access by role.

Enabled for the whole suite by ``pytest_plugins = ["tests.pki_fixtures"]`` in ``tests/conftest.py``.

    def test_x(demo_pki: DemoPkiFiles) -> None:
        bidder = demo_pki.entity("bidder-1-org")      # files, cert, key, chain
        store = demo_pki.trust_store()                # fresh TrustStore, CRLs loaded
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from signing import demo_pki as generator
from signing.keys import KeyBundle, PrivateKey
from signing.trust import TrustStore, demo_trust_store

PASSWORD = "demo-test-pw"


@dataclass(frozen=True)
class EntityFiles:
    """One end entity of the demo PKI: its files, and the loaded certificate and key."""

    id: str
    role: str
    provider: str
    status: str
    credit_code: str | None
    person_id: str | None
    p12: Path
    key_pem: Path
    cert_pem: Path
    chain_pem: Path
    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]

    @property
    def bundle(self) -> KeyBundle:
        return KeyBundle(self.key, self.cert, self.chain)


@dataclass(frozen=True)
class ProviderFiles:
    name: str
    directory: Path
    root_pem: Path
    intermediate_pem: Path
    crl_der: Path
    crl_pem: Path
    root: x509.Certificate
    intermediate: x509.Certificate


@dataclass(frozen=True)
class DemoPkiFiles:
    """The demo PKI on disk (``root``) and in memory (``generated``)."""

    root: Path
    password: str
    now: datetime
    index: dict[str, Any]
    generated: generator.DemoPki

    def entity(self, entity_id: str) -> EntityFiles:
        entry = next(e for e in self.index["entities"] if e["id"] == entity_id)
        made = self.generated.entities[entity_id]
        files = entry["files"]
        return EntityFiles(
            id=entity_id,
            role=entry["role"],
            provider=entry["provider"],
            status=entry["status"],
            credit_code=entry["credit_code"],
            person_id=entry["person_id"],
            p12=self.root / files["p12"],
            key_pem=self.root / files["key"],
            cert_pem=self.root / files["cert"],
            chain_pem=self.root / files["chain"],
            cert=made.cert,
            key=made.key,
            chain=tuple(made.chain),
        )

    def provider(self, name: str) -> ProviderFiles:
        made = self.generated.providers[name]
        directory = self.root / name
        return ProviderFiles(
            name=name,
            directory=directory,
            root_pem=directory / "root.pem",
            intermediate_pem=directory / "intermediate.pem",
            crl_der=directory / "intermediate.crl",
            crl_pem=directory / "intermediate.crl.pem",
            root=made.root.cert,
            intermediate=made.intermediate.cert,
        )

    def by_role(self, role: str, status: str = "valid") -> list[EntityFiles]:
        return [
            self.entity(e["id"])
            for e in self.index["entities"]
            if e["role"] == role and e["status"] == status
        ]

    def trust_store(self) -> TrustStore:
        """A fresh store trusting both demo providers, CRLs loaded (tests may change it)."""
        return demo_trust_store(self.root, now=self.now)


def _build(root: Path) -> DemoPkiFiles:
    now = datetime.now(UTC).replace(microsecond=0)
    generated = generator.generate(now)
    index = generator.write(generated, root, PASSWORD)
    return DemoPkiFiles(root, PASSWORD, now, index, generated)


@pytest.fixture(scope="session")
def demo_pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPkiFiles:
    """The demo PKI, generated once per test session."""
    return _build(tmp_path_factory.mktemp("demo-pki"))


@pytest.fixture(scope="session")
def foreign_pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPkiFiles:
    """A second, unrelated demo PKI: same names, different keys — trusted by nobody."""
    return _build(tmp_path_factory.mktemp("foreign-pki"))


@pytest.fixture
def trust_store(demo_pki: DemoPkiFiles) -> Iterator[TrustStore]:
    yield demo_pki.trust_store()


# --- an OCSP responder for the demo RSA intermediate ----------------------------------------


class Responder:
    """An OCSP responder for the demo RSA intermediate; ``revoked`` holds revoked serials."""

    def __init__(self, demo_pki: DemoPkiFiles) -> None:
        provider = demo_pki.generated.providers["demo-rsa"]
        self.ca_cert, self.ca_key = provider.intermediate.cert, provider.intermediate.key
        self.now = demo_pki.now
        self.revoked: set[int] = set()
        self.requests = 0
        self.certs = [demo_pki.entity(e["id"]).cert for e in demo_pki.index["entities"]]

    def answer(self, body: bytes) -> bytes:
        self.requests += 1
        request = ocsp.load_der_ocsp_request(body)
        cert = next(c for c in self.certs if c.serial_number == request.serial_number)
        revoked = cert.serial_number in self.revoked
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=cert,
            issuer=self.ca_cert,
            algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=self.now - timedelta(minutes=1),
            next_update=self.now + timedelta(days=1),
            revocation_time=self.now - timedelta(days=1) if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        )
        response = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.ca_cert).sign(
            self.ca_key,
            hashes.SHA256(),
        )
        return response.public_bytes(serialization.Encoding.DER)


@pytest.fixture
def responder(demo_pki: DemoPkiFiles) -> Iterator[tuple[Responder, str]]:
    state = Responder(demo_pki)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            data = state.answer(body)
            self.send_response(200)
            self.send_header("content-type", "application/ocsp-response")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_port}/ocsp"
    finally:
        server.shutdown()


def with_responder(demo_pki: DemoPkiFiles, name: str, url: str) -> x509.Certificate:
    """A copy of a demo certificate that names ``url`` as its OCSP responder (AIA)."""
    original = demo_pki.entity(name).cert
    provider = demo_pki.generated.providers["demo-rsa"]
    builder = (
        x509.CertificateBuilder()
        .subject_name(original.subject)
        .issuer_name(original.issuer)
        .public_key(original.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(original.not_valid_before_utc)
        .not_valid_after(original.not_valid_after_utc)
    )
    for extension in original.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    builder = builder.add_extension(
        x509.AuthorityInformationAccess(
            [
                x509.AccessDescription(
                    AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url)
                )
            ]
        ),
        critical=False,
    )
    return builder.sign(provider.intermediate.key, hashes.SHA256())
