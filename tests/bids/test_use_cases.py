"""The bid rules on fakes (no IO): the moment of completion, replacement, withdrawal, sealing of
events, and the re-confirmation flag."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import timedelta
from typing import Any

import pytest

from tests.bids.fakes import FakeBidsUnitOfWork, FakeSigner, FixedInspector, UploadingStore
from tests.tenders.fakes import BIDDER, NOW, draft
from trading.bids import services as bids
from trading.bids.errors import BidNotLiveError, EnvelopeNotAddressedError, UploadNotFoundError
from trading.bids.model import BidStatus, Custodian, Evidence, OpeningKey, Receipt
from trading.identity.model import Principal, Role
from trading.tenders.errors import SubmissionClosedError
from trading.tenders.model import Tender, TenderStatus

ENVELOPE = b"sealed bid bytes" * 100
OTHER_BIDDER = Principal("bidder-2", "bidder-org-2", Role.BIDDER_REP, "s4", "10.0.0.4")


def body(receipt: Receipt) -> dict[str, Any]:
    signed: dict[str, Any] = receipt.document["receipt"]  # type: ignore[assignment]
    return signed


@pytest.fixture
async def world() -> tuple[FakeBidsUnitOfWork, UploadingStore, Tender]:
    uow = FakeBidsUnitOfWork()
    tender = Tender("t-1", "agency-org", "agent-1", NOW, draft(), TenderStatus.PUBLISHED, "p", NOW)
    async with uow:
        await uow.tenders.add(tender)
        await uow.bids.add_opening_key(
            OpeningKey(
                "t-1",
                "lot-1",
                1,
                "PEM",
                "fp",
                2,
                {},
                [Custodian(1, "c", "x", "PEM", b"s")],
                NOW,
                "a",
            )
        )
        await uow.commit()
    return uow, UploadingStore(), tender


async def upload(uow: FakeBidsUnitOfWork, store: UploadingStore, actor: Principal = BIDDER) -> str:
    started, _ = await bids.start_upload(
        uow,
        store,
        bids.StartUpload("t-1", 1, len(ENVELOPE), hashlib.sha256(ENVELOPE).hexdigest()),
        actor=actor,
        evidence=Evidence(ip="10.0.0.3", machine="m"),
        now=NOW,
        retain_until=None,
    )
    await bids.put_part(
        uow,
        store,
        started.id,
        1,
        lambda: contextlib.nullcontext(ENVELOPE),
        sha256=hashlib.sha256(ENVELOPE).hexdigest(),
        chunk_size=1 << 20,
        actor=actor,
        now=NOW,
    )
    return started.id


async def complete(
    uow: FakeBidsUnitOfWork,
    store: UploadingStore,
    upload_id: str,
    at: timedelta = timedelta(0),
    problem: str | None = None,
    actor: Principal = BIDDER,
) -> Receipt:
    return await bids.complete_upload(
        uow,
        store,
        FixedInspector(problem),
        FakeSigner(),
        upload_id,
        actor=actor,
        evidence=Evidence(ip="10.0.0.3"),
        clock=lambda: NOW + at,
    )


async def test_completion_at_the_deadline_records_nothing(
    world: tuple[FakeBidsUnitOfWork, UploadingStore, Tender],
) -> None:
    uow, store, tender = world
    upload_id = await upload(uow, store)
    with pytest.raises(SubmissionClosedError):
        await complete(uow, store, upload_id, at=tender.deadline - NOW)
    assert uow.bids.bids == {} and uow.bids.receipts == {} and uow.audit.events == []
    receipt = await complete(uow, store, upload_id, at=tender.deadline - NOW - timedelta(0, 1))
    assert body(receipt)["received_at"].endswith(".000000Z")


async def test_a_new_bid_replaces_the_old_and_events_are_sealed(
    world: tuple[FakeBidsUnitOfWork, UploadingStore, Tender],
) -> None:
    uow, store, tender = world
    first = await complete(uow, store, await upload(uow, store))
    second = await complete(uow, store, await upload(uow, store), at=timedelta(hours=1))
    assert body(second)["replaces"] == first.bid_id
    assert uow.bids.bids[first.bid_id].status == BidStatus.REPLACED
    assert uow.bids.bids[second.bid_id].status == BidStatus.SUBMITTED
    assert [r.action for _, _, r in uow.audit.events] == ["bid.submitted", "bid.replaced"]
    for _, _, record in uow.audit.events:
        assert record.sealed_until == tender.deadline and record.tender_id == tender.id
    assert body(second)["audit_seq"] == 2
    # Another organisation's bid is its own: both stay live.
    other = await complete(uow, store, await upload(uow, store, OTHER_BIDDER), actor=OTHER_BIDDER)
    assert uow.bids.bids[other.bid_id].status == BidStatus.SUBMITTED
    assert uow.bids.bids[second.bid_id].status == BidStatus.SUBMITTED


async def test_withdrawal_only_of_the_live_bid_and_only_before_the_deadline(
    world: tuple[FakeBidsUnitOfWork, UploadingStore, Tender],
) -> None:
    uow, store, tender = world
    receipt = await complete(uow, store, await upload(uow, store))
    with pytest.raises(SubmissionClosedError):
        await bids.withdraw_bid(
            uow, FakeSigner(), receipt.bid_id, actor=BIDDER, ip="", clock=lambda: tender.deadline
        )
    withdrawn = await bids.withdraw_bid(
        uow, FakeSigner(), receipt.bid_id, actor=BIDDER, ip="", clock=lambda: NOW
    )
    assert withdrawn.kind == "withdrawal" and uow.bids.bids[receipt.bid_id].withdrawn_at == NOW
    with pytest.raises(BidNotLiveError):
        await bids.withdraw_bid(
            uow, FakeSigner(), receipt.bid_id, actor=BIDDER, ip="", clock=lambda: NOW
        )


async def test_a_refused_envelope_or_a_foreign_upload_makes_no_bid(
    world: tuple[FakeBidsUnitOfWork, UploadingStore, Tender],
) -> None:
    uow, store, _ = world
    upload_id = await upload(uow, store)
    with pytest.raises(UploadNotFoundError):
        await complete(uow, store, upload_id, actor=OTHER_BIDDER)
    with pytest.raises(EnvelopeNotAddressedError):
        await complete(uow, store, upload_id, problem="no recipient for the lot's opening key")
    assert uow.bids.bids == {}


async def test_an_amendment_flags_bids_made_before_it(
    world: tuple[FakeBidsUnitOfWork, UploadingStore, Tender],
) -> None:
    uow, store, tender = world
    receipt = await complete(uow, store, await upload(uow, store))
    tender.amendment_no = 1
    async with uow:
        assert await bids.flag_bids_for_reconfirmation(uow, tender) == 1
        await uow.commit()
    assert uow.bids.bids[receipt.bid_id].needs_reconfirmation
