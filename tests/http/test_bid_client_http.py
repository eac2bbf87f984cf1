"""The bidder's client (``webapp.cli.bid_client``) against the real bids API, in process.

Runs once the bids server (``tests.http.bid_world``) is merged; skipped before. The client is
synchronous, so it runs in a worker thread and reaches the app through a transport that hands
each request to the test client on the event loop.
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import httpx
import pytest

from signing.receipt import verify_receipt
from signing.verdicts import Status
from trading.errors import DomainError
from webapp.cli.bid_client import ApiClient, UploadResult, upload_envelope

bid_world = pytest.importorskip("tests.http.bid_world", reason="the bids server is not merged yet")
BidWorld = bid_world.BidWorld


class _Bridge(httpx.BaseTransport):
    """A sync transport forwarding to the app's async test client (from an anyio worker)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = anyio.from_thread.run(
            partial(
                self._client.request,
                request.method,
                request.url.raw_path.decode(),
                content=request.read(),
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            )
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


class _Stop(Exception):
    """Simulates the line going down after some parts."""


def _token(bw: Any, bidder: str) -> str:
    return str(bw.bidders[bidder].headers["Authorization"].split(" ", 1)[1])


async def _upload(
    bw: Any, envelope: Path, tender_id: str, bidder: str = "bidder-1-org", **kw: Any
) -> UploadResult:
    def run() -> UploadResult:
        client = ApiClient(
            "http://testserver.local",
            token=_token(bw, bidder),
            transport=_Bridge(bw.client),
        )
        with client:
            return upload_envelope(
                client,
                envelope,
                tender_id=tender_id,
                lot_number=1,
                state_path=envelope.with_name(envelope.name + ".upload.json"),
                **kw,
            )

    return await anyio.to_thread.run_sync(run)


async def test_submit_resume_and_verify_against_the_real_server(bw: Any) -> None:
    tender = await bid_world.open_tender(bw)
    data = bid_world.bid_for(bw, "bidder-1-org", tender, size=3 * bid_world.CHUNK + 1000)
    envelope = bw.tmp / "bid.cms"
    envelope.write_bytes(data)

    def stop_after_two_parts(done: int) -> None:
        if done >= 2 * bid_world.CHUNK:
            raise _Stop

    with pytest.raises(_Stop):
        await _upload(bw, envelope, tender.id, progress=stop_after_two_parts)
    assert envelope.with_name("bid.cms.upload.json").exists()

    result = await _upload(bw, envelope, tender.id)
    assert result.resumed
    assert result.parts_total == 4
    assert result.parts_sent == 2  # parts 1 and 2 were on the server already

    verdict = await verify_receipt(json.dumps(result.receipt).encode(), envelope=envelope)
    assert verdict.status is Status.VALID, verdict.to_json()
    assert verdict.receipt is not None
    assert verdict.receipt["tender_id"] == tender.id
    assert verdict.receipt["bidder_credit_code"] == bw.bidders["bidder-1-org"].credit_code

    # A rerun with the state file of the completed upload fetches the receipt, no second bid.
    state = envelope.with_name("bid.cms.upload.json")
    state.write_text(
        json.dumps(
            {
                "format": "tenderhall-upload-state/1",
                "server": "http://testserver.local",
                "tender_id": tender.id,
                "lot_number": 1,
                "upload_id": result.upload_id,
                "size": len(data),
                "sha256": result.receipt["receipt"]["envelope_sha256"],
            }
        )
    )
    again = await _upload(bw, envelope, tender.id)
    assert again.receipt["receipt"]["bid_id"] == result.receipt["receipt"]["bid_id"]


async def test_three_bidders_replace_withdraw_and_a_late_bid_all_through_the_client(
    bw: Any,
) -> None:
    """The issue's whole story: three bidders submit with the client, one replaces its bid, one
    withdraws, a bid completed after the deadline is refused, and every receipt verifies offline."""
    tender = await bid_world.open_tender(bw)
    receipts: dict[str, dict[str, Any]] = {}

    async def submit(bidder: str, name: str) -> UploadResult:
        envelope = bw.tmp / f"{name}.cms"
        envelope.write_bytes(bid_world.bid_for(bw, bidder, tender, size=2 * bid_world.CHUNK + 7))
        result = await _upload(bw, envelope, tender.id, bidder)
        verdict = await verify_receipt(json.dumps(result.receipt).encode(), envelope=envelope)
        assert verdict.status is Status.VALID, verdict.to_json()
        receipts[name] = result.receipt
        return result

    for bidder in bid_world.BIDDERS:
        await submit(bidder, bidder)
    replaced = await submit("bidder-2-org", "bidder-2-org-again")
    assert replaced.receipt["receipt"]["replaces"] == receipts["bidder-2-org"]["receipt"]["bid_id"]

    bid_id = receipts["bidder-3-org"]["receipt"]["bid_id"]
    withdrawn = await bw.client.post(
        f"/api/bids/{bid_id}/withdrawal", headers=bw.bidders["bidder-3-org"].headers
    )
    assert withdrawn.status_code == 201, withdrawn.text
    assert (await verify_receipt(withdrawn.content)).status is Status.VALID

    # A late bid: the upload started in time, the deadline passed before it completed.
    late = bw.tmp / "late.cms"
    late.write_bytes(bid_world.bid_for(bw, "bidder-1-org", tender, size=3 * bid_world.CHUNK))

    def stop_after_one_part(done: int) -> None:
        if done >= bid_world.CHUNK:
            raise _Stop

    with pytest.raises(_Stop):
        await _upload(bw, late, tender.id, progress=stop_after_one_part)
    bw.clock.advance(timedelta(days=26))
    with pytest.raises(DomainError) as refused:
        await _upload(bw, late, tender.id)
    assert "409 (submission_closed)" in refused.value.message_en

    mine = await bw.client.get("/api/receipts", headers=bw.bidders["bidder-1-org"].headers)
    assert [r["receipt"]["kind"] for r in mine.json()] == ["submission"]  # the late one is not


async def test_custodians_hand_over_their_shares_with_the_client_at_the_opening(bw: Any) -> None:
    from webapp.cli.custody_upload import hand_over_share

    tender = await bid_world.open_tender(bw)
    bw.clock.advance(timedelta(days=25, hours=1))  # the opening time has come
    answers = []
    for entity_id, role in list(bid_world.CUSTODIANS.items())[:2]:
        entity = bw.pki.entity(entity_id)
        token = bw.actors[role].headers["Authorization"].split(" ", 1)[1]

        def run(token: str = token, entity: Any = entity) -> dict[str, Any]:
            with ApiClient(
                "http://testserver.local", token=token, transport=_Bridge(bw.client)
            ) as client:
                _released, answer = hand_over_share(
                    client,
                    tender_id=tender.id,
                    lot_number=1,
                    key=entity.key,
                    certificate=entity.cert,
                )
            return answer

        answers.append(await anyio.to_thread.run_sync(run))
    assert answers == [
        {"released": 1, "threshold": 2, "reconstructed": False},
        {"released": 2, "threshold": 2, "reconstructed": True},
    ]
