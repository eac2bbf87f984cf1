"""In-memory fakes of the bid ports, for use-case tests without IO."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from types import TracebackType

from tests.tenders.fakes import NOW, FakeTenderRepository, MemoryObjectStore
from tests.unit.fakes import FakeAuditLog
from trading.bids.model import Bid, BidStatus, BidUpload, OpeningKey, Receipt
from trading.bids.services import EnvelopeCheck
from trading.identity.model import Organisation, OrgStatus, OrgType
from trading.identity.services import CertificateBinding
from trading.ports import ObjectStore, StoredObject, UploadPart, UploadSession


class FakeBidRepository:
    def __init__(self) -> None:
        self.uploads: dict[str, BidUpload] = {}
        self.bids: dict[str, Bid] = {}
        self.receipts: dict[str, Receipt] = {}
        self.keys: dict[tuple[str, int], OpeningKey] = {}

    async def add_upload(self, upload: BidUpload) -> None:
        self.uploads[upload.id] = copy.deepcopy(upload)

    async def get_upload(self, upload_id: str) -> BidUpload | None:
        return copy.deepcopy(self.uploads.get(upload_id))

    async def save_upload(self, upload: BidUpload) -> None:
        self.uploads[upload.id] = copy.deepcopy(upload)

    async def add_bid(self, bid: Bid) -> None:
        self.bids[bid.id] = copy.deepcopy(bid)

    async def get_bid(self, bid_id: str) -> Bid | None:
        return copy.deepcopy(self.bids.get(bid_id))

    async def live_bid(self, tender_id: str, lot_id: str, org_id: str) -> Bid | None:
        for bid in self.bids.values():
            if (bid.tender_id, bid.lot_id, bid.org_id, bid.status) == (
                tender_id,
                lot_id,
                org_id,
                BidStatus.SUBMITTED,
            ):
                return copy.deepcopy(bid)
        return None

    async def save_bid(self, bid: Bid) -> None:
        self.bids[bid.id] = copy.deepcopy(bid)

    async def add_receipt(self, receipt: Receipt) -> None:
        self.receipts[receipt.id] = receipt

    async def get_receipt(self, receipt_id: str) -> Receipt | None:
        return self.receipts.get(receipt_id)

    async def list_receipts(self, org_id: str) -> list[Receipt]:
        return [r for r in self.receipts.values() if r.org_id == org_id]

    async def org_certificates(self, org_id: str) -> list[bytes]:
        return [b"bound-cert"]

    async def add_opening_key(self, key: OpeningKey) -> None:
        self.keys[(key.tender_id, key.lot_number)] = copy.deepcopy(key)

    async def get_opening_key(self, tender_id: str, lot_number: int) -> OpeningKey | None:
        return copy.deepcopy(self.keys.get((tender_id, lot_number)))

    async def save_opening_key(self, key: OpeningKey) -> None:
        self.keys[(key.tender_id, key.lot_number)] = copy.deepcopy(key)

    async def flag_reconfirmation(self, tender_id: str, amendment_no: int) -> int:
        flagged = 0
        for bid in self.bids.values():
            live = bid.status == BidStatus.SUBMITTED and bid.tender_id == tender_id
            if live and bid.amendment_no < amendment_no:
                bid.needs_reconfirmation = True
                flagged += 1
        return flagged


class FakeIdentity:
    def __init__(self) -> None:
        self.certificates: dict[str, list[CertificateBinding]] = {}

    async def get_organisation(self, org_id: str) -> Organisation | None:
        return Organisation(
            org_id, "投标人", "91350100MA0000002X", OrgType.BIDDER, OrgStatus.APPROVED, "", NOW
        )

    async def list_certificates(self, person_id: str) -> list[CertificateBinding]:
        return self.certificates.get(person_id, [])


class FakeBidsUnitOfWork:
    """Bids and tenders changes are kept only if committed."""

    def __init__(self) -> None:
        self.tenders = FakeTenderRepository()
        self.bids = FakeBidRepository()
        self.identity = FakeIdentity()
        self.audit = FakeAuditLog()
        self._snapshot: tuple[FakeTenderRepository, FakeBidRepository] | None = None

    async def __aenter__(self) -> FakeBidsUnitOfWork:
        self.audit.pending = []
        self._snapshot = (copy.deepcopy(self.tenders), copy.deepcopy(self.bids))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._snapshot is not None:
            self.tenders, self.bids = self._snapshot
        self.audit.pending = []

    async def commit(self) -> None:
        for at, record in self.audit.pending:
            self.audit.events.append((len(self.audit.events) + 1, at, record))
        self.audit.pending = []
        self._snapshot = None


class UploadingStore(MemoryObjectStore):
    """A memory store with resumable sessions."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, UploadSession] = {}
        self.data: dict[str, dict[int, bytes]] = {}

    async def begin_upload(
        self,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        retain_until: datetime | None = None,
        part_size: int | None = None,
    ) -> UploadSession:
        upload_id = hashlib.sha256(key.encode()).hexdigest()[:32]
        self.sessions[upload_id] = UploadSession(upload_id, key, content_type, retain_until, ())
        self.data[upload_id] = {}
        return self.sessions[upload_id]

    async def upload_part(
        self,
        upload_id: str,
        number: int,
        data: bytes | bytearray | memoryview,
        *,
        sha256: str | None = None,
    ) -> UploadPart:
        self.data[upload_id][number] = bytes(data)
        return UploadPart(number, len(data), hashlib.sha256(data).hexdigest())

    async def upload_status(self, upload_id: str) -> UploadSession:
        parts = tuple(
            UploadPart(n, len(d), hashlib.sha256(d).hexdigest())
            for n, d in sorted(self.data[upload_id].items())
        )
        return replace(self.sessions[upload_id], parts=parts)

    async def complete_upload(self, upload_id: str) -> StoredObject:
        session = self.sessions.pop(upload_id)
        content = b"".join(d for _, d in sorted(self.data.pop(upload_id).items()))

        async def once() -> AsyncIterator[bytes]:
            yield content

        return await self.put(session.key, once(), retain_until=session.retain_until)


class FixedInspector:
    def __init__(self, problem: str | None = None) -> None:
        self.problem = problem

    async def inspect(
        self, objects: ObjectStore, key: str, opening_certificate: str, bidder_certs: list[bytes]
    ) -> EnvelopeCheck:
        return EnvelopeCheck(self.problem)


class FakeSigner:
    async def sign(self, data: bytes) -> bytes:
        return b"sig:" + hashlib.sha256(data).digest()

    async def timestamp(self, digest: bytes) -> bytes:
        return b"tst:" + digest

    def platform_chain(self) -> list[str]:
        return ["platform"]

    def tsa_chain(self, token: bytes) -> list[str]:
        return ["tsa"]
