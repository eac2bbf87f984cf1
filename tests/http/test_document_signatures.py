"""Tender documents are checked for real: a PAdES signature by the uploading agency itself."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pyhanko.sign import signers

from signing.seal import seal_pdf
from tests.http.conftest import World, member_for
from tests.http.test_tenders_api import tender_body
from tests.http.test_trust_api import provider_body
from tests.pdf.pdfs import write_pdf
from tests.pki_fixtures import DemoPkiFiles, EntityFiles
from trading.identity.model import OrgType, Role


async def sealed_by(world: World, entity: EntityFiles, tmp_path: Path, password: str) -> bytes:
    source = write_pdf(tmp_path / f"{entity.id}.pdf", text="Tender documents")
    target = tmp_path / f"{entity.id}.sealed.pdf"
    signer = signers.SimpleSigner.load_pkcs12_data(
        entity.p12.read_bytes(), other_certs=[], passphrase=password.encode()
    )
    await seal_pdf(
        source,
        target,
        signer=signer,
        timestamper=world.app.state.services.timestamper(),
        reason="招标文件",
        location="福州",
    )
    return target.read_bytes()


async def test_only_pdfs_signed_by_the_agency_itself_are_accepted(
    world: World, demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    admin = world.actors[Role.ADMIN].headers
    for name in ("demo-rsa", "demo-ecc"):
        saved = await world.client.post(
            "/api/ca-providers", json=provider_body(demo_pki, name), headers=admin
        )
        assert saved.status_code == 201, saved.text
    await world.client.post("/api/ca-providers/refresh", headers=admin)

    agency = demo_pki.entity("agency-org")
    _, headers = await member_for(world, agency, OrgType.AGENCY, Role.AGENCY_OFFICER)
    now = world.app.state.services.clock.now()
    body: dict[str, Any] = tender_body(
        documents_from=now.isoformat(),
        deadline=(now + timedelta(days=30)).isoformat(),
        opening_at=(now + timedelta(days=30)).isoformat(),
    )
    created = await world.client.post("/api/tenders", json=body, headers=headers)
    assert created.status_code == 201, created.text
    url = f"/api/tenders/{created.json()['id']}/documents"

    async def upload(data: bytes) -> Any:
        return await world.client.post(
            url,
            params={"kind": "notice", "filename": "notice.pdf"},
            content=data,
            headers={**headers, "content-type": "application/pdf"},
        )

    good = await upload(await sealed_by(world, agency, tmp_path, demo_pki.password))
    assert good.status_code == 201, good.text
    assert good.json()["signature_status"] == "valid"

    bidder = demo_pki.entity("bidder-1-org")
    foreign = await upload(await sealed_by(world, bidder, tmp_path, demo_pki.password))
    assert foreign.status_code == 422
    assert foreign.json()["code"] == "document_rejected"
    assert "not_signed_by_organisation" in foreign.json()["detail"]

    unsigned = await upload(write_pdf(tmp_path / "plain.pdf").read_bytes())
    assert unsigned.status_code == 422 and "no_signature" in unsigned.json()["detail"]
    garbage = await upload(b"not a pdf at all")
    assert garbage.status_code == 422 and "not_a_pdf" in garbage.json()["detail"]
