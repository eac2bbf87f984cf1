"""Lot opening keys over HTTP: custody setup by the agency, custodians fetching their sealed
shares, release only after the opening time, and reconstruction with k shares."""

from __future__ import annotations

import base64
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signing.custody import public_key_sha256, release_share
from signing.envelope import unseal_bytes
from tests.http.bid_world import (
    CUSTODIANS,
    BidWorld,
    bid_for,
    custody_request,
    open_tender,
    submit,
)
from tests.http.test_tenders_api import assert_problem, published, tender_body
from trading.bids.custody import key_context
from trading.identity.model import Role
from webapp.bids import secret_box


def custodian_role(entity_id: str) -> Role:
    return CUSTODIANS[entity_id]


async def test_agency_sets_a_lot_key_once_and_everyone_may_read_it(bw: BidWorld) -> None:
    tender = await published(bw.tender_world, tender_body())
    request = await custody_request(bw, f"{tender['id']}/1", bw.tmp / "c")
    url = f"/api/tenders/{tender['id']}/lots/1/opening-key"
    # Only the tender's agency may set it.
    refused = await bw.client.post(url, json=request, headers=bw.bidders["bidder-1-org"].headers)
    assert refused.status_code == 403
    tampered = {**request, "threshold": 3}
    assert_problem(
        await bw.client.post(url, json=tampered, headers=bw.h(Role.AGENCY_OFFICER)),
        422,
        "custody_invalid",
    )
    # A share sealed to another custodian than the one it is listed for.
    shares = request["shares"]
    misfiled = {**shares[0], "share": shares[1]["share"]}
    swapped = {**request, "shares": [misfiled, *shares[1:]]}
    assert_problem(
        await bw.client.post(url, json=swapped, headers=bw.h(Role.AGENCY_OFFICER)),
        422,
        "custody_invalid",
    )
    created = await bw.client.post(url, json=request, headers=bw.h(Role.AGENCY_OFFICER))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["lot_number"] == 1 and body["threshold"] == 2 and len(body["custodians"]) == 3
    assert body["fingerprint"] == request["manifest"]["public_key_sha256"]
    again = await bw.client.post(url, json=request, headers=bw.h(Role.AGENCY_OFFICER))
    assert_problem(again, 409, "opening_key_exists")
    for headers in (bw.h(Role.EXPERT), bw.bidders["bidder-2-org"].headers):
        read = await bw.client.get(url, headers=headers)
        assert read.status_code == 200 and read.json() == body
        assert "share" not in read.text
    # After the deadline no lot may get a key any more.
    bw.clock.advance(timedelta(days=26))
    late = await bw.client.post(
        f"/api/tenders/{tender['id']}/lots/1/opening-key",
        json=request,
        headers=bw.h(Role.AGENCY_OFFICER),
    )
    assert_problem(late, 409, "opening_key_exists")


async def test_custodians_release_after_the_opening_and_k_shares_rebuild_the_key(
    bw: BidWorld,
) -> None:
    tender = await open_tender(bw)
    envelope = bid_for(bw, "bidder-1-org", tender)
    await submit(bw, "bidder-1-org", tender, envelope)
    base = f"/api/tenders/{tender.id}/lots/1/opening-key"

    # Only a custodian gets a share, and only its own.
    assert_problem(
        await bw.client.get(f"{base}/shares/mine", headers=bw.bidders["bidder-1-org"].headers),
        403,
        "not_a_custodian",
    )
    released: dict[str, str] = {}
    for entity_id in CUSTODIANS:
        got = await bw.client.get(f"{base}/shares/mine", headers=bw.h(custodian_role(entity_id)))
        assert got.status_code == 200, got.text
        entity = bw.pki.entity(entity_id)
        share = release_share(base64.b64decode(got.json()["share"]), entity.key, entity.cert)
        released[entity_id] = base64.b64encode(share.to_json()).decode()

    first = {"share": released["custodian-1"]}
    agency = bw.h(Role.AGENCY_OFFICER)
    assert_problem(
        await bw.client.post(f"{base}/releases", json=first, headers=agency),
        409,
        "release_too_early",
    )
    bw.clock.advance(timedelta(days=25, hours=1))  # the opening time has come
    # A custodian cannot hand in someone else's share.
    assert_problem(
        await bw.client.post(
            f"{base}/releases",
            json={"share": released["custodian-2"]},
            headers=agency,
        ),
        422,
        "share_rejected",
    )
    one = await bw.client.post(f"{base}/releases", json=first, headers=agency)
    assert one.status_code == 201, one.text
    assert one.json() == {"released": 1, "threshold": 2, "reconstructed": False}
    assert_problem(
        await bw.client.post(f"{base}/releases", json=first, headers=agency),
        409,
        "share_released",
    )
    two = await bw.client.post(
        f"{base}/releases",
        json={"share": released["custodian-3"]},
        headers=bw.h(custodian_role("custodian-3")),
    )
    assert two.json() == {"released": 2, "threshold": 2, "reconstructed": True}

    # The platform now holds the lot's key, encrypted at rest, and it opens the bid.
    services = bw.app.state.services
    async with services.uow() as uow:
        key = await uow.bids.get_opening_key(tender.id, 1)
    assert key is not None and key.sealed_private_key is not None
    der = secret_box(services).decrypt(key.sealed_private_key, key_context(key))
    assert der not in key.sealed_private_key
    private = serialization.load_der_private_key(der, None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert public_key_sha256(private.public_key()) == key.fingerprint
    opened = unseal_bytes(envelope, private, tender.opening_cert, limit=1 << 20)
    assert len(opened) == 150_000
