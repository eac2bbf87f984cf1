"""A world for bid tests: a fixed clock, two bidders whose demo-PKI certificates are bound to
their representatives, custodians with bound certificates, and helpers that publish a tender, set
a lot's opening key with ``signing.custody`` and submit real sealed envelopes."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from litestar import Litestar
from litestar.testing import AsyncTestClient

from signing.custody import CERTIFICATE_NAME, MANIFEST_NAME, create_custody
from signing.envelope import seal
from signing.platform_cert import ensure_platform_signer
from signing.tsa import ensure_platform_tsa
from tests.http.conftest import Actor, World, app_settings, make_app, member_for, populate
from tests.http.test_tenders_api import MarkerValidator, TenderWorld, published, tender_body
from tests.pki_fixtures import DemoPkiFiles, EntityFiles
from trading.identity.model import OrgType, Role
from trading.identity.services import CertificateBinding
from trading.ports import FixedClock

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 China time
CHUNK = 64 * 1024
BIDDERS = ("bidder-1-org", "bidder-2-org", "bidder-3-org")
CUSTODIANS = {  # custodian certificate -> the signed-in role whose person holds it
    "custodian-1": Role.AGENCY_OFFICER,
    "custodian-2": Role.SUPERVISOR,
    "custodian-3": Role.ADMIN,
}


@dataclass(frozen=True)
class Bidder:
    entity: EntityFiles
    person_id: str
    org_id: str
    credit_code: str
    headers: dict[str, str]


@dataclass
class BidWorld:
    client: AsyncTestClient[Litestar]
    app: Litestar
    clock: FixedClock
    actors: dict[Role, Actor]
    orgs: dict[OrgType, str]
    pki: DemoPkiFiles
    tmp: Path
    bidders: dict[str, Bidder]

    def h(self, role: Role) -> dict[str, str]:
        return self.actors[role].headers

    @property
    def tender_world(self) -> TenderWorld:
        return TenderWorld(self.client, self.clock, self.actors, self.orgs)


async def bind(app: Litestar, person_id: str, org_id: str, cert: x509.Certificate) -> None:
    """Bind a certificate directly (the binding route's own checks are tested elsewhere)."""
    der = cert.public_bytes(serialization.Encoding.DER)
    services = app.state.services
    async with services.uow() as uow:
        await uow.identity.bind_certificate(
            CertificateBinding(
                fingerprint=hashlib.sha256(der).hexdigest(),
                person_id=person_id,
                org_id=org_id,
                subject=cert.subject.rfc4514_string(),
                serial=str(cert.serial_number),
                not_after=cert.not_valid_after_utc,
                bound_at=services.clock.now(),
            ),
            der,
        )
        await uow.commit()


@pytest.fixture(scope="session")
def platform_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The platform's TSA and receipt-signer keys, made once (RSA-3072 generation is slow) and
    copied into each test's data directory."""
    keys = tmp_path_factory.mktemp("platform") / "keys"
    ensure_platform_tsa(keys / "tsa", now=START)
    ensure_platform_signer(keys / "platform", now=START)
    return keys


@pytest.fixture
async def bw(
    tmp_path: Path, database_url: str, demo_pki: DemoPkiFiles, platform_keys: Path
) -> AsyncIterator[BidWorld]:
    shutil.copytree(platform_keys, tmp_path / "keys")
    clock = FixedClock(START)
    settings = replace(app_settings(tmp_path, database_url), upload_chunk_bytes=CHUNK)
    app = make_app(settings, clock)
    app.state.services.document_validator = MarkerValidator()
    async with AsyncTestClient(app) as client:
        actors, orgs = await populate(app)
        world = World(client, app, actors, orgs)
        bidders: dict[str, Bidder] = {}
        for entity_id in BIDDERS:
            entity = demo_pki.entity(entity_id)
            person_id, headers = await member_for(world, entity, OrgType.BIDDER, Role.BIDDER_REP)
            async with app.state.services.uow() as uow:
                assert entity.credit_code is not None
                org = await uow.identity.find_organisation_by_code(entity.credit_code)
            assert org is not None
            await bind(app, person_id, org.id, entity.cert)
            bidders[entity_id] = Bidder(entity, person_id, org.id, org.credit_code, headers)
        for entity_id, role in CUSTODIANS.items():
            actor = actors[role]
            await bind(app, actor.person_id, actor.org_id, demo_pki.entity(entity_id).cert)
        yield BidWorld(client, app, clock, actors, orgs, demo_pki, tmp_path, bidders)


@dataclass(frozen=True)
class OpenTender:
    id: str
    body: dict[str, Any]
    opening_cert: x509.Certificate
    custody_dir: Path


async def custody_request(
    bw: BidWorld, lot_label: str, directory: Path, threshold: int = 2
) -> dict[str, Any]:
    custodians = [bw.pki.entity(e) for e in CUSTODIANS]
    manifest = create_custody(
        lot_label, threshold, [c.cert for c in custodians], directory, now=bw.clock.now()
    )
    by_sha = {c.certificate_sha256: c for c in manifest.custodians}
    shares = []
    for entity in custodians:
        entry = by_sha[entity.cert.fingerprint(hashes.SHA256()).hex()]
        shares.append(
            {
                "custodian_certificate": entity.cert_pem.read_text(),
                "share": base64.b64encode((directory / entry.file).read_bytes()).decode(),
            }
        )
    return {
        "certificate": (directory / CERTIFICATE_NAME).read_text(),
        "threshold": threshold,
        "shares": shares,
        "manifest": json.loads((directory / MANIFEST_NAME).read_text()),
    }


async def open_tender(bw: BidWorld, body: dict[str, Any] | None = None) -> OpenTender:
    """A published tender accepting bids, with lot 1's opening key in custody (2 of 3)."""
    tender = await published(bw.tender_world, body or tender_body())
    directory = bw.tmp / f"custody-{tender['id']}"
    request = await custody_request(bw, f"{tender['id']}/1", directory)
    response = await bw.client.post(
        f"/api/tenders/{tender['id']}/lots/1/opening-key",
        json=request,
        headers=bw.h(Role.AGENCY_OFFICER),
    )
    assert response.status_code == 201, response.text
    cert = x509.load_pem_x509_certificate(request["certificate"].encode())
    return OpenTender(tender["id"], tender, cert, directory)


def sealed(
    bw: BidWorld, recipients: list[x509.Certificate], size: int = 150_000, name: str = "bid"
) -> bytes:
    """A real sealed envelope (CMS AuthEnvelopedData) of ``size`` random plaintext bytes."""
    source = bw.tmp / f"{name}.zip"
    source.write_bytes(os.urandom(size))
    out = bw.tmp / f"{name}.p7m"
    seal(source, out, recipients)
    return out.read_bytes()


def bid_for(bw: BidWorld, bidder: str, tender: OpenTender, size: int = 150_000) -> bytes:
    return sealed(bw, [bw.bidders[bidder].entity.cert, tender.opening_cert], size, bidder)


async def start(bw: BidWorld, bidder: str, tender_id: str, envelope: bytes, lot: int = 1) -> Any:
    return await bw.client.post(
        f"/api/tenders/{tender_id}/lots/{lot}/uploads",
        json={"size": len(envelope), "sha256": hashlib.sha256(envelope).hexdigest()},
        headers={
            **bw.bidders[bidder].headers,
            "X-Tenderhall-Client": "tenderhall-cli/0.1",
            "X-Tenderhall-Machine": "ab" * 32,
        },
    )


def chunks(envelope: bytes) -> list[bytes]:
    return [envelope[i : i + CHUNK] for i in range(0, len(envelope), CHUNK)]


async def put(bw: BidWorld, bidder: str, upload_id: str, number: int, data: bytes) -> Any:
    return await bw.client.put(
        f"/api/uploads/{upload_id}/parts/{number}",
        content=data,
        headers={
            **bw.bidders[bidder].headers,
            "X-Content-SHA256": hashlib.sha256(data).hexdigest(),
            "content-type": "application/octet-stream",
        },
    )


async def upload_all(bw: BidWorld, bidder: str, tender_id: str, envelope: bytes) -> str:
    """Start an upload and send every part; returns the upload id (not completed)."""
    response = await start(bw, bidder, tender_id, envelope)
    assert response.status_code == 201, response.text
    upload_id: str = response.json()["upload_id"]
    for number, data in enumerate(chunks(envelope), start=1):
        part = await put(bw, bidder, upload_id, number, data)
        assert part.status_code == 200, part.text
    return upload_id


async def complete(bw: BidWorld, bidder: str, upload_id: str) -> Any:
    return await bw.client.post(
        f"/api/uploads/{upload_id}/complete", headers=bw.bidders[bidder].headers
    )


async def submit(bw: BidWorld, bidder: str, tender: OpenTender, envelope: bytes) -> dict[str, Any]:
    response = await complete(bw, bidder, await upload_all(bw, bidder, tender.id, envelope))
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt
