"""Bid submission over HTTP against the contract: real demo-PKI certificates, real envelopes made
with ``signing.envelope.seal``, receipts verified with ``signing.cms`` and ``signing.tsa``."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from signing.cms import verify_detached
from signing.trust import CaProvider, TrustStore
from signing.tsa import verify_token
from storage.bid_tables import bids
from tests.http.bid_world import (
    CHUNK,
    BidWorld,
    bid_for,
    chunks,
    complete,
    open_tender,
    put,
    sealed,
    start,
    submit,
    upload_all,
)
from tests.http.test_tenders_api import assert_problem, create
from tests.signing.helpers import openssl
from trading.bids.model import canonical
from trading.errors import StorageUnavailableError
from trading.identity.model import Role


def trust_of(chain: list[str]) -> TrustStore:
    root = x509.load_pem_x509_certificate(chain[-1].encode())
    return TrustStore([CaProvider("receipt", (root.public_bytes(serialization.Encoding.DER),))])


async def verify_receipt(receipt: dict[str, Any]) -> None:
    body = receipt["receipt"]
    cms = await verify_detached(
        io.BytesIO(canonical(body)),
        base64.b64decode(receipt["signature"]),
        trust_of(receipt["platform_chain"]),
    )
    assert cms.status.value == "valid", cms.to_dict()
    token = await verify_token(
        base64.b64decode(receipt["timestamp_token"]),
        bytes.fromhex(body["envelope_sha256"]),
        trust_of(receipt["tsa_chain"]),
    )
    assert token.status.value == "valid", token.to_dict()


async def bid_count(bw: BidWorld) -> int:
    async with bw.app.state.services.uow() as uow:
        return int(await uow.connection.scalar(select(func.count()).select_from(bids)) or 0)


async def test_submission_yields_a_receipt_that_verifies(bw: BidWorld) -> None:
    tender = await open_tender(bw)
    envelope = bid_for(bw, "bidder-1-org", tender)
    receipt = await submit(bw, "bidder-1-org", tender, envelope)
    body = receipt["receipt"]
    assert body["format"] == "tenderhall-receipt/1" and body["kind"] == "submission"
    assert body["tender_id"] == tender.id and body["lot_number"] == 1
    assert body["bidder_credit_code"] == bw.bidders["bidder-1-org"].credit_code
    assert body["envelope_size"] == len(envelope) and body["replaces"] is None
    assert body["received_at"].endswith("Z") and body["audit_seq"] > 0
    await verify_receipt(receipt)

    # A changed receipt no longer verifies.
    forged = {**receipt, "receipt": {**body, "envelope_size": body["envelope_size"] + 1}}
    cms = await verify_detached(
        io.BytesIO(canonical(forged["receipt"])),
        base64.b64decode(receipt["signature"]),
        trust_of(receipt["platform_chain"]),
    )
    assert cms.status.value == "invalid"

    mine = bw.bidders["bidder-1-org"].headers
    listed = await bw.client.get("/api/receipts", headers=mine)
    assert listed.status_code == 200 and listed.json() == [receipt]
    one = await bw.client.get(f"/api/receipts/{body['receipt_id']}", headers=mine)
    assert one.json() == receipt
    other = bw.bidders["bidder-2-org"].headers
    assert (await bw.client.get("/api/receipts", headers=other)).json() == []
    assert_problem(
        await bw.client.get(f"/api/receipts/{body['receipt_id']}", headers=other),
        404,
        "receipt_not_found",
    )
    # The audit event is the bidder's own: it may read it; the agency may not.
    event = await bw.client.get(f"/api/audit/events/{body['audit_seq']}", headers=mine)
    assert event.status_code == 200, event.text
    agency = await bw.client.get(
        f"/api/audit/events/{body['audit_seq']}", headers=bw.h(Role.AGENCY_OFFICER)
    )
    assert agency.status_code in (403, 404)


async def test_upload_resumes_after_a_dropped_connection(bw: BidWorld) -> None:
    tender = await open_tender(bw)
    envelope = bid_for(bw, "bidder-2-org", tender, size=5 * CHUNK)
    parts = chunks(envelope)
    started = await start(bw, "bidder-2-org", tender.id, envelope)
    assert started.status_code == 201
    upload = started.json()
    assert upload["chunk_size"] == CHUNK and upload["parts"] == []
    for number in (1, 2):
        assert (
            await put(bw, "bidder-2-org", upload["upload_id"], number, parts[number - 1])
        ).status_code == 200
    # The connection drops; the client asks what arrived and sends the rest.
    status = await bw.client.get(
        f"/api/uploads/{upload['upload_id']}", headers=bw.bidders["bidder-2-org"].headers
    )
    assert [p["number"] for p in status.json()["parts"]] == [1, 2]
    # Nothing is visible to another organisation, not even that the upload exists.
    assert_problem(
        await bw.client.get(
            f"/api/uploads/{upload['upload_id']}", headers=bw.bidders["bidder-1-org"].headers
        ),
        404,
        "upload_not_found",
    )
    assert await bid_count(bw) == 0
    for number in range(3, len(parts) + 1):
        assert (
            await put(bw, "bidder-2-org", upload["upload_id"], number, parts[number - 1])
        ).status_code == 200
    response = await complete(bw, "bidder-2-org", upload["upload_id"])
    assert response.status_code == 201, response.text
    await verify_receipt(response.json())
    assert_problem(await complete(bw, "bidder-2-org", upload["upload_id"]), 409, "upload_completed")


async def test_late_completion_is_refused_and_nothing_is_recorded(bw: BidWorld) -> None:
    tender = await open_tender(bw)
    upload_id = await upload_all(bw, "bidder-1-org", tender.id, bid_for(bw, "bidder-1-org", tender))
    bw.clock.advance(timedelta(days=26))  # the upload started in time; it finishes late
    assert_problem(await complete(bw, "bidder-1-org", upload_id), 409, "submission_closed")
    assert await bid_count(bw) == 0
    headers = bw.bidders["bidder-1-org"].headers
    assert (await bw.client.get("/api/receipts", headers=headers)).json() == []


async def test_no_upload_to_a_draft_or_cancelled_tender_or_unknown_lot(bw: BidWorld) -> None:
    draft = await create(bw.tender_world)
    envelope = b"x" * 100
    assert_problem(await start(bw, "bidder-1-org", draft["id"], envelope), 404, "tender_not_found")
    tender = await open_tender(bw)
    assert_problem(
        await start(bw, "bidder-1-org", tender.id, envelope, lot=2), 404, "lot_not_found"
    )
    cancel = await bw.client.post(
        f"/api/tenders/{tender.id}/cancel",
        json={"reason": "项目取消"},
        headers=bw.h(Role.AGENCY_OFFICER),
    )
    assert cancel.status_code == 200, cancel.text
    assert_problem(await start(bw, "bidder-1-org", tender.id, envelope), 409, "submission_not_open")


async def test_envelope_must_be_addressed_to_the_lot_key_and_a_bound_certificate(
    bw: BidWorld,
) -> None:
    tender = await open_tender(bw)
    bidder = bw.bidders["bidder-1-org"].entity.cert
    outsider = bw.pki.entity("bidder-3-org").cert  # bound to nobody here
    cases = {
        "no_opening_key": sealed(bw, [bidder, outsider], name="a"),
        "unbound_org": sealed(bw, [outsider, tender.opening_cert], name="b"),
        "other_bidder": sealed(
            bw, [bw.bidders["bidder-2-org"].entity.cert, tender.opening_cert], name="c"
        ),
    }
    for case, envelope in cases.items():
        upload_id = await upload_all(bw, "bidder-1-org", tender.id, envelope)
        body = assert_problem(
            await complete(bw, "bidder-1-org", upload_id), 422, "envelope_not_addressed"
        )
        assert body["details"]["reason"], case
    not_cms = await upload_all(bw, "bidder-1-org", tender.id, b"PK\x03\x04" + b"0" * 500)
    assert_problem(await complete(bw, "bidder-1-org", not_cms), 422, "envelope_not_addressed")
    assert await bid_count(bw) == 0


async def test_bad_chunks_are_refused(bw: BidWorld) -> None:
    tender = await open_tender(bw)
    envelope = bid_for(bw, "bidder-1-org", tender)
    upload_id = (await start(bw, "bidder-1-org", tender.id, envelope)).json()["upload_id"]
    headers = bw.bidders["bidder-1-org"].headers
    too_big = b"z" * (CHUNK + 1)
    assert_problem(await put(bw, "bidder-1-org", upload_id, 1, too_big), 422, "chunk_too_large")
    wrong = await bw.client.put(
        f"/api/uploads/{upload_id}/parts/1",
        content=envelope[:CHUNK],
        headers={**headers, "X-Content-SHA256": "0" * 64},
    )
    assert_problem(wrong, 422, "chunk_hash_mismatch")
    status = await bw.client.get(f"/api/uploads/{upload_id}", headers=headers)
    assert status.json()["parts"] == []
    # The declared digest is checked when the parts are joined.
    liar = await bw.client.post(
        f"/api/tenders/{tender.id}/lots/1/uploads",
        json={"size": len(envelope), "sha256": "0" * 64},
        headers=headers,
    )
    for number, data in enumerate(chunks(envelope), start=1):
        await put(bw, "bidder-1-org", liar.json()["upload_id"], number, data)
    assert_problem(
        await complete(bw, "bidder-1-org", liar.json()["upload_id"]), 422, "envelope_mismatch"
    )


async def _down(*_: Any) -> Any:
    raise StorageUnavailableError("connection refused")


async def _tsa_down(*_: Any) -> Any:
    raise ConnectionError("TSA unreachable")


@pytest.mark.parametrize(
    ("component", "method", "failure", "code"),
    [
        ("objects", "complete_upload", _down, "storage_unavailable"),
        (None, "timestamp", _tsa_down, "receipt_unavailable"),  # Services.timestamp: the TSA
    ],
)
async def test_store_or_tsa_down_answers_503_records_nothing_and_a_retry_succeeds(
    bw: BidWorld,
    monkeypatch: pytest.MonkeyPatch,
    component: str | None,
    method: str,
    failure: Callable[..., Awaitable[Any]],
    code: str,
) -> None:
    tender = await open_tender(bw)
    upload_id = await upload_all(bw, "bidder-1-org", tender.id, bid_for(bw, "bidder-1-org", tender))
    services = bw.app.state.services
    monkeypatch.setattr(getattr(services, component) if component else services, method, failure)
    assert_problem(await complete(bw, "bidder-1-org", upload_id), 503, code)
    assert await bid_count(bw) == 0
    monkeypatch.undo()
    retry = await complete(bw, "bidder-1-org", upload_id)
    assert retry.status_code == 201, retry.text
    assert await bid_count(bw) == 1


async def test_replace_then_withdraw(bw: BidWorld) -> None:
    tender = await open_tender(bw)
    first = await submit(bw, "bidder-1-org", tender, bid_for(bw, "bidder-1-org", tender))
    second = await submit(bw, "bidder-1-org", tender, bid_for(bw, "bidder-1-org", tender))
    assert second["receipt"]["replaces"] == first["receipt"]["bid_id"]
    headers = bw.bidders["bidder-1-org"].headers
    # The replaced bid is no longer live: it cannot be withdrawn.
    assert_problem(
        await bw.client.post(f"/api/bids/{first['receipt']['bid_id']}/withdrawal", headers=headers),
        409,
        "bid_not_live",
    )
    # Another organisation cannot even see the bid.
    assert_problem(
        await bw.client.post(
            f"/api/bids/{second['receipt']['bid_id']}/withdrawal",
            headers=bw.bidders["bidder-2-org"].headers,
        ),
        404,
        "bid_not_found",
    )
    withdrawn = await bw.client.post(
        f"/api/bids/{second['receipt']['bid_id']}/withdrawal", headers=headers
    )
    assert withdrawn.status_code == 201, withdrawn.text
    receipt = withdrawn.json()
    assert receipt["receipt"]["kind"] == "withdrawal"
    assert receipt["receipt"]["bid_id"] == second["receipt"]["bid_id"]
    await verify_receipt(receipt)
    kinds = [
        r["receipt"]["kind"] for r in (await bw.client.get("/api/receipts", headers=headers)).json()
    ]
    assert kinds == ["submission", "submission", "withdrawal"]
    # After the deadline nothing can be withdrawn.
    third = await submit(bw, "bidder-1-org", tender, bid_for(bw, "bidder-1-org", tender))
    bw.clock.advance(timedelta(days=26))
    assert_problem(
        await bw.client.post(f"/api/bids/{third['receipt']['bid_id']}/withdrawal", headers=headers),
        409,
        "submission_closed",
    )


async def test_an_amendment_flags_earlier_bids_for_reconfirmation(bw: BidWorld) -> None:
    tender = await open_tender(bw)
    receipt = await submit(bw, "bidder-1-org", tender, bid_for(bw, "bidder-1-org", tender))
    issued = await bw.client.post(
        f"/api/tenders/{tender.id}/clarifications",
        json={"title": "澄清一", "body": "工期调整"},
        headers=bw.h(Role.AGENCY_OFFICER),
    )
    assert issued.status_code == 201, issued.text
    async with bw.app.state.services.uow() as uow:
        bid = await uow.bids.get_bid(receipt["receipt"]["bid_id"])
    assert bid is not None and bid.needs_reconfirmation and bid.amendment_no == 0


# SQLite only: the receipt is the same whatever the database; openssl is what is tested here.
@pytest.mark.interop
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_openssl_accepts_the_receipt_signature_and_token(bw: BidWorld) -> None:
    tender = await open_tender(bw)
    envelope = bid_for(bw, "bidder-2-org", tender)
    receipt = await submit(bw, "bidder-2-org", tender, envelope)
    tmp = bw.tmp
    (tmp / "receipt.json").write_bytes(canonical(receipt["receipt"]))
    (tmp / "receipt.p7s").write_bytes(base64.b64decode(receipt["signature"]))
    (tmp / "platform-root.pem").write_text(receipt["platform_chain"][-1])
    (tmp / "envelope.p7m").write_bytes(envelope)
    (tmp / "token.der").write_bytes(base64.b64decode(receipt["timestamp_token"]))
    (tmp / "tsa-root.pem").write_text(receipt["tsa_chain"][-1])
    (tmp / "tsa-untrusted.pem").write_text("".join(receipt["tsa_chain"][:-1]))
    cms = openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp / "receipt.p7s"),
        "-content", str(tmp / "receipt.json"), "-CAfile", str(tmp / "platform-root.pem"),
        "-out", os.devnull,
    )  # fmt: skip
    assert cms.returncode == 0, cms.stderr
    token = openssl(
        "ts", "-verify", "-data", str(tmp / "envelope.p7m"), "-token_in",
        "-in", str(tmp / "token.der"), "-CAfile", str(tmp / "tsa-root.pem"),
        "-untrusted", str(tmp / "tsa-untrusted.pem"),
    )  # fmt: skip
    assert token.returncode == 0, token.stdout + token.stderr
    (tmp / "receipt.json").write_bytes(canonical({**receipt["receipt"], "lot_number": 2}))
    forged = openssl(
        "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp / "receipt.p7s"),
        "-content", str(tmp / "receipt.json"), "-CAfile", str(tmp / "platform-root.pem"),
        "-out", os.devnull,
    )  # fmt: skip
    assert forged.returncode != 0


async def test_an_aborted_upload_cannot_be_completed(bw: BidWorld) -> None:
    tender = await open_tender(bw)
    upload_id = await upload_all(bw, "bidder-1-org", tender.id, bid_for(bw, "bidder-1-org", tender))
    other = await bw.client.delete(
        f"/api/uploads/{upload_id}", headers=bw.bidders["bidder-2-org"].headers
    )
    assert_problem(other, 404, "upload_not_found")
    mine = bw.bidders["bidder-1-org"].headers
    aborted = await bw.client.delete(f"/api/uploads/{upload_id}", headers=mine)
    assert aborted.status_code == 204, aborted.text
    assert_problem(await complete(bw, "bidder-1-org", upload_id), 409, "upload_completed")
    assert await bid_count(bw) == 0
