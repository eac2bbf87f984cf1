"""In-memory fakes of the tender ports, and a ready-made draft, for domain tests without IO."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType

from tests.unit.fakes import FakeAuditLog
from trading.errors import ConflictError, ObjectExistsError, ObjectNotFoundError
from trading.identity.model import Principal, Role
from trading.ports import ObjectStore, StoredObject, UploadPart, UploadSession
from trading.rules.packs import Regime
from trading.tenders.model import (
    BidSecurity,
    Clarification,
    EvaluationMethod,
    Lot,
    Procedure,
    Question,
    Tender,
    TenderDocument,
    TenderDraft,
    TenderStatus,
)
from trading.tenders.opening_data import FieldType, OpeningField
from trading.tenders.services import TenderQuery

AGENCY = Principal("agent-1", "agency-org", Role.AGENCY_OFFICER, "s1", "10.0.0.1")
OTHER_AGENCY = Principal("agent-2", "agency-org-2", Role.AGENCY_OFFICER, "s2", "10.0.0.2")
BIDDER = Principal("bidder-1", "bidder-org", Role.BIDDER_REP, "s3", "10.0.0.3")

# Monday 2026-03-02 09:00 China time.
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

PRICE = OpeningField("price", "投标报价", "Bid price", FieldType.MONEY, unit="元", min=None)
DURATION = OpeningField(
    "duration_days", "工期", "Duration", FieldType.INTEGER, unit="天", min=None, max=None
)


def draft(
    *,
    category: Regime = Regime.CONSTRUCTION,
    days: int = 25,
    budget_fen: int = 100_000_000,  # 100万元
    security_fen: int = 2_000_000,  # 2万元 = 2%
    documents_from: datetime = NOW,
) -> TenderDraft:
    deadline = documents_from + timedelta(days=days)
    return TenderDraft(
        title="某某道路改造工程",
        code="FZ-2026-001",
        category=category,
        procedure=Procedure.OPEN,
        region="福州市",
        evaluation_method=EvaluationMethod.COMPREHENSIVE,
        documents_from=documents_from,
        deadline=deadline,
        opening_at=deadline,
        lots=(
            Lot(
                id="lot-1",
                number=1,
                name="第一标段",
                budget_fen=budget_fen,
                opening_schema=(PRICE, DURATION),
                security=BidSecurity(amount_fen=security_fen),
            ),
        ),
    )


class FakeTenderRepository:
    def __init__(self) -> None:
        self.tenders: dict[str, Tender] = {}
        self.documents: dict[str, TenderDocument] = {}
        self.clarifications: dict[str, Clarification] = {}
        self.questions: dict[str, Question] = {}

    async def add(self, tender: Tender) -> None:
        self.tenders[tender.id] = copy.deepcopy(tender)

    async def get(self, tender_id: str, *, for_update: bool = False) -> Tender | None:
        tender = self.tenders.get(tender_id)
        return copy.deepcopy(tender) if tender else None

    async def save(self, tender: Tender) -> None:
        if self.tenders[tender.id].version != tender.version:
            raise ConflictError("stale", "过期")
        tender.version += 1
        self.tenders[tender.id] = copy.deepcopy(tender)

    async def search(self, query: TenderQuery) -> tuple[list[Tender], int]:
        found = [t for t in self.tenders.values() if t.status in query.statuses]
        start = (query.page - 1) * query.page_size
        return found[start : start + query.page_size], len(found)

    async def due(self, now: datetime, limit: int) -> list[Tender]:
        return [
            copy.deepcopy(t)
            for t in self.tenders.values()
            if t.status == TenderStatus.PUBLISHED and t.next_check and t.next_check <= now
        ][:limit]

    async def add_document(self, document: TenderDocument) -> None:
        self.documents[document.id] = document

    async def get_document(self, tender_id: str, document_id: str) -> TenderDocument | None:
        doc = self.documents.get(document_id)
        return doc if doc and doc.tender_id == tender_id else None

    async def list_documents(self, tender_id: str) -> list[TenderDocument]:
        return [d for d in self.documents.values() if d.tender_id == tender_id]

    async def attach_documents(self, document_ids: Sequence[str], clarification_id: str) -> None:
        for document_id in document_ids:
            self.documents[document_id] = replace(
                self.documents[document_id], clarification_id=clarification_id
            )

    async def add_clarification(self, clarification: Clarification) -> None:
        self.clarifications[clarification.id] = clarification

    async def list_clarifications(self, tender_id: str) -> list[Clarification]:
        return sorted(
            (c for c in self.clarifications.values() if c.tender_id == tender_id),
            key=lambda c: c.number,
        )

    async def add_question(self, question: Question) -> None:
        self.questions[question.id] = copy.deepcopy(question)

    async def get_question(self, tender_id: str, question_id: str) -> Question | None:
        q = self.questions.get(question_id)
        return copy.deepcopy(q) if q and q.tender_id == tender_id else None

    async def save_question(self, question: Question) -> None:
        self.questions[question.id] = copy.deepcopy(question)

    async def list_questions(self, tender_id: str) -> list[Question]:
        return [q for q in self.questions.values() if q.tender_id == tender_id]


class FakeTendersUnitOfWork:
    """Changes to the repository are kept only if committed (a snapshot is restored otherwise)."""

    def __init__(self) -> None:
        self.tenders = FakeTenderRepository()
        self.audit = FakeAuditLog()
        self.commits = 0
        self._snapshot: FakeTenderRepository | None = None

    async def __aenter__(self) -> FakeTendersUnitOfWork:
        self.audit.pending = []
        self._snapshot = copy.deepcopy(self.tenders)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._snapshot is not None:
            self.tenders = self._snapshot
        self.audit.pending = []

    async def commit(self) -> None:
        self.commits += 1
        for at, record in self.audit.pending:
            self.audit.events.append((len(self.audit.events) + 1, at, record))
        self.audit.pending = []
        self._snapshot = None


class MemoryObjectStore:
    """Only what the tender use cases need of :class:`trading.ports.ObjectStore`."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    async def put(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str = "application/octet-stream",
        retain_until: datetime | None = None,
    ) -> StoredObject:
        if key in self.objects:
            raise ObjectExistsError(key)
        data = b"".join([chunk async for chunk in chunks])
        self.objects[key] = data
        return StoredObject(
            key, len(data), hashlib.sha256(data).hexdigest(), content_type, NOW, retain_until
        )

    async def delete(self, key: str) -> None:
        if key not in self.objects:
            raise ObjectNotFoundError(key)
        del self.objects[key]

    async def download_url(self, key: str, *, expires: timedelta) -> str:
        return f"memory://{key}?expires={int(expires.total_seconds())}"

    # The rest of the port is not used by the tender use cases.

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        raise NotImplementedError

    async def stat(self, key: str) -> StoredObject:
        raise NotImplementedError

    async def exists(self, key: str) -> bool:
        return key in self.objects

    async def begin_upload(
        self,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        retain_until: datetime | None = None,
        part_size: int | None = None,
    ) -> UploadSession:
        raise NotImplementedError

    async def upload_part(
        self,
        upload_id: str,
        number: int,
        data: bytes | bytearray | memoryview,
        *,
        sha256: str | None = None,
    ) -> UploadPart:
        raise NotImplementedError

    async def upload_status(self, upload_id: str) -> UploadSession:
        raise NotImplementedError

    async def complete_upload(self, upload_id: str) -> StoredObject:
        raise NotImplementedError

    async def abort_upload(self, upload_id: str) -> None:
        raise NotImplementedError

    async def ping(self) -> None:
        return None


@dataclass(frozen=True)
class Verdict:
    status: str
    problems: tuple[str, ...] = ()


@dataclass
class FakeValidator:
    """Valid when the PDF contains ``signed-by:<org_id>``."""

    seen: list[str] = field(default_factory=list)

    async def validate(
        self, objects: ObjectStore, key: str, *, org_id: str, now: datetime
    ) -> Verdict:
        assert isinstance(objects, MemoryObjectStore)
        self.seen.append(key)
        if f"signed-by:{org_id}".encode() in objects.objects[key]:
            return Verdict("valid")
        return Verdict("invalid", ("no_signature_of_agency",))


def pdf(org_id: str = AGENCY.org_id, size: int = 100) -> bytes:
    body = f"%PDF-1.7\n signed-by:{org_id}\n".encode()
    return body + b"x" * max(0, size - len(body))


async def chunks_of(data: bytes, size: int = 64) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
