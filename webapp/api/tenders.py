"""Tenders over HTTP: agencies draft, publish, document and clarify; bidders read, download and
ask; the public portal reads what is published.

Every route names its policy action; routes about one tender load it as the policy's resource
(its organisation and status). Bidders' downloads and questions carry private evidence (address,
user agent, the CLI's ``X-Tenderhall-Client`` and ``X-Tenderhall-Machine`` headers) into sealed
audit events; nobody can list who downloaded before the deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from litestar import Request, Router, get, post, put
from litestar.connection import ASGIConnection
from litestar.params import Parameter

from storage.audit_store import AuditQuery
from trading.errors import ValidationError
from trading.identity.model import Principal, Role
from trading.identity.policy import Resource
from trading.rules.calendar import CHINA_TZ, end_of_local_day
from trading.rules.packs import Regime
from trading.tenders import services as tenders
from trading.tenders.errors import DownloadsSealedError, TenderNotFoundError
from trading.tenders.model import (
    BidSecurity,
    Clarification,
    DecryptionMode,
    DecryptionPolicy,
    DocumentKind,
    EvaluationMethod,
    Lot,
    Phase,
    Procedure,
    Question,
    SecurityForm,
    Tender,
    TenderDocument,
    TenderDraft,
    TenderStatus,
    yuan,
)
from trading.tenders.opening_data import FieldType, OpeningField
from webapp.auth import client_ip, record_read
from webapp.bids import reconfirmation_hook
from webapp.jobs import due_work_source
from webapp.services import Services

CLIENT_HEADER = "x-tenderhall-client"
"""Tool and version of the client (the CLI sends ``tenderhall-cli/<version>``)."""
MACHINE_HEADER = "x-tenderhall-machine"
"""The machine fingerprint the CLI reports (see the CLI's documentation for its definition)."""


# --- models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpeningFieldModel:
    name: str
    label_zh: str
    label_en: str
    type: FieldType
    unit: str = ""
    min: str | None = None
    """Decimal as a string (yuan for money)."""
    max: str | None = None
    required: bool = True
    choices: list[str] = field(default_factory=list)
    max_length: int = 500

    def to_domain(self) -> OpeningField:
        def dec(value: str | None, name: str) -> Decimal | None:
            if value is None:
                return None
            try:
                return Decimal(value)
            except InvalidOperation:
                raise ValidationError(
                    f"{name} must be a decimal number.",
                    f"{name} 须为十进制数。",
                    field=f"opening_schema.{self.name}.{name}",
                ) from None

        return OpeningField(
            name=self.name,
            label_zh=self.label_zh,
            label_en=self.label_en,
            type=self.type,
            unit=self.unit,
            min=dec(self.min, "min"),
            max=dec(self.max, "max"),
            required=self.required,
            choices=tuple(self.choices),
            max_length=self.max_length,
        )

    @classmethod
    def of(cls, f: OpeningField) -> OpeningFieldModel:
        return cls(
            name=f.name,
            label_zh=f.label_zh,
            label_en=f.label_en,
            type=f.type,
            unit=f.unit,
            min=None if f.min is None else str(f.min),
            max=None if f.max is None else str(f.max),
            required=f.required,
            choices=list(f.choices),
            max_length=f.max_length,
        )


@dataclass(frozen=True)
class SecurityModel:
    amount_fen: int = 0
    """Bid security in fen (integer); 0 = none required."""
    forms: list[SecurityForm] = field(
        default_factory=lambda: [SecurityForm.GUARANTEE, SecurityForm.DEPOSIT]
    )


@dataclass(frozen=True)
class LotModel:
    number: int
    name: str
    budget_fen: int
    """The estimate (工程建设) or budget (政府采购), in fen (integer)."""
    opening_schema: list[OpeningFieldModel]
    security: SecurityModel = field(default_factory=SecurityModel)


@dataclass(frozen=True)
class DecryptionModel:
    mode: DecryptionMode = DecryptionMode.BIDDER_ONLY
    threshold: int = 0
    custodians: int = 0


@dataclass(frozen=True)
class TenderRequest:
    title: str
    category: Regime
    procedure: Procedure
    evaluation_method: EvaluationMethod
    documents_from: datetime
    """ISO 8601 with an offset, e.g. ``2026-12-01T09:00:00+08:00``."""
    deadline: datetime
    opening_at: datetime
    lots: list[LotModel]
    code: str = ""
    region: str = ""
    description: str = ""
    decryption: DecryptionModel = field(default_factory=DecryptionModel)
    version: int | None = None
    """On edits: the version read; a concurrent change then answers 409."""

    def to_domain(self) -> TenderDraft:
        return TenderDraft(
            title=self.title.strip(),
            code=self.code.strip(),
            category=self.category,
            procedure=self.procedure,
            region=self.region.strip(),
            evaluation_method=self.evaluation_method,
            documents_from=self.documents_from,
            deadline=self.deadline,
            opening_at=self.opening_at,
            lots=tuple(
                Lot(
                    id=tenders.new_id(),
                    number=lot.number,
                    name=lot.name.strip(),
                    budget_fen=lot.budget_fen,
                    opening_schema=tuple(f.to_domain() for f in lot.opening_schema),
                    security=BidSecurity(lot.security.amount_fen, tuple(lot.security.forms)),
                )
                for lot in self.lots
            ),
            decryption=DecryptionPolicy(
                self.decryption.mode, self.decryption.threshold, self.decryption.custodians
            ),
            description=self.description,
        )


@dataclass(frozen=True)
class LotResponse:
    id: str
    number: int
    name: str
    budget_fen: int
    budget_yuan: str
    security_fen: int
    security_forms: list[SecurityForm]
    opening_schema: list[OpeningFieldModel]


@dataclass(frozen=True)
class TenderResponse:
    id: str
    org_id: str
    title: str
    code: str
    category: Regime
    procedure: Procedure
    region: str
    evaluation_method: EvaluationMethod
    description: str
    status: TenderStatus
    phase: Phase
    """Computed from the clock on every request."""
    documents_from: datetime
    deadline: datetime
    opening_at: datetime
    decryption: DecryptionModel
    lots: list[LotResponse]
    rule_pack: str | None
    published_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str
    amendment_no: int
    version: int

    @classmethod
    def of(cls, tender: Tender, now: datetime) -> TenderResponse:
        d = tender.draft
        return cls(
            id=tender.id,
            org_id=tender.org_id,
            title=d.title,
            code=d.code,
            category=d.category,
            procedure=d.procedure,
            region=d.region,
            evaluation_method=d.evaluation_method,
            description=d.description,
            status=tender.status,
            phase=tender.phase(now),
            documents_from=d.documents_from,
            deadline=d.deadline,
            opening_at=d.opening_at,
            decryption=DecryptionModel(
                d.decryption.mode, d.decryption.threshold, d.decryption.custodians
            ),
            lots=[
                LotResponse(
                    id=lot.id,
                    number=lot.number,
                    name=lot.name,
                    budget_fen=lot.budget_fen,
                    budget_yuan=yuan(lot.budget_fen),
                    security_fen=lot.security.amount_fen,
                    security_forms=list(lot.security.forms),
                    opening_schema=[OpeningFieldModel.of(f) for f in lot.opening_schema],
                )
                for lot in d.lots
            ],
            rule_pack=tender.rule_pack,
            published_at=tender.published_at,
            cancelled_at=tender.cancelled_at,
            cancel_reason=tender.cancel_reason,
            amendment_no=tender.amendment_no,
            version=tender.version,
        )


@dataclass(frozen=True)
class TenderPage:
    items: list[TenderResponse]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class CancelRequest:
    reason: str


@dataclass(frozen=True)
class DocumentResponse:
    id: str
    kind: DocumentKind
    filename: str
    sha256: str
    size: int
    uploaded_at: datetime
    signature_status: str
    published: bool
    clarification_id: str | None

    @classmethod
    def of(cls, doc: TenderDocument, tender: Tender) -> DocumentResponse:
        return cls(
            id=doc.id,
            kind=doc.kind,
            filename=doc.filename,
            sha256=doc.sha256,
            size=doc.size,
            uploaded_at=doc.uploaded_at,
            signature_status=doc.signature_status,
            published=doc.is_published_with(tender),
            clarification_id=doc.clarification_id,
        )


@dataclass(frozen=True)
class DownloadResponse:
    url: str
    """Short-lived link to the file; supports ``Range`` requests."""
    expires_at: datetime
    filename: str
    sha256: str
    size: int


@dataclass(frozen=True)
class DownloadRecord:
    document_id: str
    org_id: str | None
    person_id: str | None
    at: datetime
    ip: str | None = None
    """Evidence fields: supervisors only."""
    user_agent: str | None = None
    client: str | None = None
    machine: str | None = None


@dataclass(frozen=True)
class ClarificationRequest:
    title: str
    body: str
    document_ids: list[str] = field(default_factory=list)
    """Amendment files (uploaded with ``kind=amendment``) this clarification publishes."""
    new_deadline: datetime | None = None


@dataclass(frozen=True)
class ClarificationResponse:
    id: str
    number: int
    title: str
    body: str
    issued_at: datetime
    previous_deadline: datetime
    deadline: datetime
    deadline_moved: bool
    document_ids: list[str]

    @classmethod
    def of(cls, c: Clarification) -> ClarificationResponse:
        return cls(
            id=c.id,
            number=c.number,
            title=c.title,
            body=c.body,
            issued_at=c.issued_at,
            previous_deadline=c.previous_deadline,
            deadline=c.deadline,
            deadline_moved=c.moved_deadline,
            document_ids=list(c.document_ids),
        )


@dataclass(frozen=True)
class QuestionRequest:
    text: str


@dataclass(frozen=True)
class QuestionResponse:
    """A question as the agency sees it: the text, never who asked."""

    id: str
    text: str
    asked_at: datetime
    answer: str | None
    answered_at: datetime | None
    clarification_id: str | None

    @classmethod
    def of(cls, q: Question) -> QuestionResponse:
        return cls(q.id, q.text, q.asked_at, q.answer, q.answered_at, q.clarification_id)


@dataclass(frozen=True)
class AnswerRequest:
    answer: str
    new_deadline: datetime | None = None


@dataclass(frozen=True)
class ResultsResponse:
    """Placeholder until openings and awards exist: what the portal will publish here."""

    tender_id: str
    status: str
    """``not_available`` until candidates are publicised."""
    candidates: list[dict[str, str]]
    award: dict[str, str] | None


# --- helpers ----------------------------------------------------------------------------------


async def tender_resource(
    connection: ASGIConnection[Any, Any, Any, Any], services: Services
) -> Resource:
    """The policy's resource for routes about one tender: its organisation and status."""
    tender_id = str(connection.path_params["tender_id"])
    async with services.uow() as uow:
        tender = await uow.tenders.get(tender_id)
    if tender is None:
        return Resource(attributes={"missing": "1"})
    return Resource(org_id=tender.org_id, attributes={"status": str(tender.status)})


RESOURCE = {"resource": tender_resource}


def evidence(request: Request[Any, Any, Any]) -> tenders.ClientEvidence:
    return tenders.ClientEvidence(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        client=request.headers.get(CLIENT_HEADER, ""),
        machine=request.headers.get(MACHINE_HEADER, ""),
    )


async def _tender(services: Services, tender_id: str, *, public: bool = False) -> Tender:
    async with services.uow() as uow:
        tender = await uow.tenders.get(tender_id)
    if tender is None or (public and tender.status == TenderStatus.DRAFT):
        raise TenderNotFoundError(tender_id)
    return tender


def _owner(tender: Tender, principal: Principal | None) -> bool:
    return principal is not None and principal.org_id == tender.org_id


async def _documents(services: Services, tender: Tender, *, all_: bool) -> list[DocumentResponse]:
    async with services.uow() as uow:
        docs = await uow.tenders.list_documents(tender.id)
    return [DocumentResponse.of(d, tender) for d in docs if all_ or d.is_published_with(tender)]


async def _clarifications(services: Services, tender_id: str) -> list[ClarificationResponse]:
    async with services.uow() as uow:
        found = await uow.tenders.list_clarifications(tender_id)
    return [ClarificationResponse.of(c) for c in found]


@due_work_source
async def advance_tenders(services: Services) -> int:
    """Scheduler tick source: record each tender's time-driven phase changes once."""
    return await tenders.advance_due_tenders(services.uow(), services.clock.now())


# --- agency: drafts and publication -----------------------------------------------------------


@post("/", opt={"action": "tender.create"}, summary="Create a draft tender (项目/标段)")
async def create_tender(
    request: Request[Any, Any, Any], data: TenderRequest, services: Services, principal: Principal
) -> TenderResponse:
    now = services.clock.now()
    tender = await tenders.create_tender(
        services.uow(), data.to_domain(), actor=principal, ip=client_ip(request), now=now
    )
    return TenderResponse.of(tender, now)


@get("/", opt={"action": "tender.list"}, summary="Tenders: an agency's own, or all published")
async def list_tenders(
    services: Services,
    principal: Principal,
    page: Annotated[int, Parameter(ge=1)] = 1,
    page_size: Annotated[int, Parameter(ge=1, le=100)] = 20,
) -> TenderPage:
    if principal.role == Role.AGENCY_OFFICER:
        query = tenders.TenderQuery(
            statuses=tuple(TenderStatus), org_id=principal.org_id, page=page, page_size=page_size
        )
    else:
        query = tenders.TenderQuery(
            statuses=(TenderStatus.PUBLISHED, TenderStatus.CANCELLED),
            page=page,
            page_size=page_size,
        )
    async with services.uow() as uow:
        found, total = await uow.tenders.search(query)
    now = services.clock.now()
    return TenderPage([TenderResponse.of(t, now) for t in found], total, page, page_size)


@get("/{tender_id:str}", opt={"action": "tender.read", **RESOURCE}, summary="One tender")
async def get_tender(tender_id: str, services: Services) -> TenderResponse:
    return TenderResponse.of(await _tender(services, tender_id), services.clock.now())


@put("/{tender_id:str}", opt={"action": "tender.edit", **RESOURCE}, summary="Edit a draft")
async def edit_tender(
    request: Request[Any, Any, Any],
    tender_id: str,
    data: TenderRequest,
    services: Services,
    principal: Principal,
) -> TenderResponse:
    now = services.clock.now()
    tender = await tenders.edit_tender(
        services.uow(),
        tender_id,
        data.to_domain(),
        expected_version=data.version,
        actor=principal,
        ip=client_ip(request),
        now=now,
    )
    return TenderResponse.of(tender, now)


@post(
    "/{tender_id:str}/publish",
    opt={"action": "tender.publish", **RESOURCE},
    status_code=200,
    summary="Publish (checks the rule pack; safe to retry)",
)
async def publish_tender(
    request: Request[Any, Any, Any], tender_id: str, services: Services, principal: Principal
) -> TenderResponse:
    now = services.clock.now()
    tender = await tenders.publish_tender(
        services.uow(), tender_id, actor=principal, ip=client_ip(request), now=now
    )
    return TenderResponse.of(tender, now)


@post(
    "/{tender_id:str}/cancel",
    opt={"action": "tender.cancel", **RESOURCE},
    status_code=200,
    summary="Cancel (终止) a tender",
)
async def cancel_tender(
    request: Request[Any, Any, Any],
    tender_id: str,
    data: CancelRequest,
    services: Services,
    principal: Principal,
) -> TenderResponse:
    now = services.clock.now()
    tender = await tenders.cancel_tender(
        services.uow(), tender_id, data.reason, actor=principal, ip=client_ip(request), now=now
    )
    return TenderResponse.of(tender, now)


# --- documents --------------------------------------------------------------------------------


@post(
    "/{tender_id:str}/documents",
    opt={"action": "tender.document.upload", **RESOURCE},
    summary="Upload a signed PDF (request body streamed into the object store)",
)
async def upload_document(
    request: Request[Any, Any, Any],
    tender_id: str,
    services: Services,
    principal: Principal,
    kind: DocumentKind,
    filename: str = "document.pdf",
) -> DocumentResponse:
    now = services.clock.now()
    document = await tenders.upload_document(
        services.uow(),
        services.objects,
        services.document_validator,
        tender_id,
        kind=kind,
        filename=filename,
        chunks=request.stream(),
        actor=principal,
        ip=client_ip(request),
        now=now,
        max_bytes=min(tenders.MAX_DOCUMENT_BYTES, services.settings.max_request_bytes),
    )
    tender = await _tender(services, tender_id)
    return DocumentResponse.of(document, tender)


@get(
    "/{tender_id:str}/documents",
    opt={"action": "tender.read", **RESOURCE},
    summary="A tender's documents (its agency also sees unpublished ones)",
)
async def list_documents(
    tender_id: str, services: Services, principal: Principal
) -> list[DocumentResponse]:
    tender = await _tender(services, tender_id)
    return await _documents(services, tender, all_=_owner(tender, principal))


async def _download(
    request: Request[Any, Any, Any],
    services: Services,
    tender_id: str,
    document_id: str,
    actor: Principal | None,
) -> DownloadResponse:
    """A signed download link; the download is recorded (sealed until the deadline)."""
    grant = await tenders.download_document(
        services.uow(),
        services.objects,
        tender_id,
        document_id,
        actor=actor,
        evidence=evidence(request),
        now=services.clock.now(),
    )
    doc = grant.document
    return DownloadResponse(grant.url, grant.expires_at, doc.filename, doc.sha256, doc.size)


@get(
    "/{tender_id:str}/documents/{document_id:str}/download",
    opt={"action": "tender.document.download", **RESOURCE},
    summary="A download link; a bidder's download is recorded, sealed until the deadline",
)
async def download_document(
    request: Request[Any, Any, Any],
    tender_id: str,
    document_id: str,
    services: Services,
    principal: Principal,
) -> DownloadResponse:
    return await _download(request, services, tender_id, document_id, principal)


@get(
    "/{tender_id:str}/downloads",
    opt={"action": "tender.downloads.list", **RESOURCE},
    summary="Who downloaded the documents (only after the deadline)",
)
async def list_downloads(
    request: Request[Any, Any, Any], tender_id: str, services: Services, principal: Principal
) -> list[DownloadRecord]:
    tender = await _tender(services, tender_id)
    now = services.clock.now()
    if now < tender.deadline:
        raise DownloadsSealedError(tender.deadline)
    query = AuditQuery(tender_id=tender.id, action="tender.document_downloaded")
    records: list[DownloadRecord] = []
    after = -1
    supervisor = principal.role == Role.SUPERVISOR
    async with services.uow() as uow:
        while True:
            found, cursor = await uow.audit.search(query, now=now, after=after, limit=500)
            for event in found:
                details = event.after or {}
                records.append(
                    DownloadRecord(
                        document_id=event.object_id,
                        org_id=event.organisation_id,
                        person_id=event.actor_id,
                        at=event.at,
                        ip=str(details.get("ip", "")) if supervisor else None,
                        user_agent=str(details.get("user_agent", "")) if supervisor else None,
                        client=str(details.get("client", "")) if supervisor else None,
                        machine=str(details.get("machine", "")) if supervisor else None,
                    )
                )
            if cursor is None:
                break
            after = cursor
    await record_read(request, services, principal, "tender.downloads_read", "tender", tender.id)
    return records


# --- clarifications and questions -------------------------------------------------------------


@post(
    "/{tender_id:str}/clarifications",
    opt={"action": "tender.clarify", **RESOURCE},
    summary="Publish a clarification or amendment (may move the deadline)",
)
async def issue_clarification(
    request: Request[Any, Any, Any],
    tender_id: str,
    data: ClarificationRequest,
    services: Services,
    principal: Principal,
) -> ClarificationResponse:
    clarification = await tenders.issue_clarification(
        services.uow(),
        tender_id,
        tenders.IssueClarification(
            data.title, data.body, tuple(data.document_ids), data.new_deadline
        ),
        actor=principal,
        ip=client_ip(request),
        now=services.clock.now(),
        on_amended=reconfirmation_hook,
    )
    return ClarificationResponse.of(clarification)


@get(
    "/{tender_id:str}/clarifications",
    opt={"action": "tender.read", **RESOURCE},
    summary="A tender's clarifications and amendments",
)
async def list_clarifications(tender_id: str, services: Services) -> list[ClarificationResponse]:
    return await _clarifications(services, tender_id)


@post(
    "/{tender_id:str}/questions",
    opt={"action": "tender.question.ask", **RESOURCE},
    summary="Ask a question about the documents (anonymous to the agency)",
)
async def ask_question(
    request: Request[Any, Any, Any],
    tender_id: str,
    data: QuestionRequest,
    services: Services,
    principal: Principal,
) -> QuestionResponse:
    question = await tenders.ask_question(
        services.uow(),
        tender_id,
        data.text,
        actor=principal,
        evidence=evidence(request),
        now=services.clock.now(),
    )
    return QuestionResponse.of(question)


@get(
    "/{tender_id:str}/questions",
    opt={"action": "tender.question.list", **RESOURCE},
    summary="Questions received (text only; never who asked)",
)
async def list_questions(tender_id: str, services: Services) -> list[QuestionResponse]:
    await _tender(services, tender_id)
    async with services.uow() as uow:
        found = await uow.tenders.list_questions(tender_id)
    return [QuestionResponse.of(q) for q in found]


@post(
    "/{tender_id:str}/questions/{question_id:str}/answer",
    opt={"action": "tender.question.answer", **RESOURCE},
    summary="Answer a question by publishing a clarification to everyone",
)
async def answer_question(
    request: Request[Any, Any, Any],
    tender_id: str,
    question_id: str,
    data: AnswerRequest,
    services: Services,
    principal: Principal,
) -> ClarificationResponse:
    clarification = await tenders.answer_question(
        services.uow(),
        tender_id,
        question_id,
        data.answer,
        actor=principal,
        ip=client_ip(request),
        now=services.clock.now(),
        new_deadline=data.new_deadline,
        on_amended=reconfirmation_hook,
    )
    return ClarificationResponse.of(clarification)


# --- the public portal ------------------------------------------------------------------------


@get(
    "/tenders",
    opt={"action": "portal.read"},
    summary="Search published notices by category, region, publication dates (China time, "
    "inclusive) and keyword",
)
async def portal_search(
    services: Services,
    category: Regime | None = None,
    region: str | None = None,
    published_from: date | None = None,
    published_to: date | None = None,
    q: str | None = None,
    page: Annotated[int, Parameter(ge=1)] = 1,
    page_size: Annotated[int, Parameter(ge=1, le=100)] = 20,
) -> TenderPage:
    query = tenders.TenderQuery(
        statuses=(TenderStatus.PUBLISHED, TenderStatus.CANCELLED),
        category=category,
        region=region,
        published_from=(
            datetime.combine(published_from, datetime.min.time(), CHINA_TZ)
            if published_from
            else None
        ),
        published_until=end_of_local_day(published_to) if published_to else None,
        keyword=q,
        page=page,
        page_size=page_size,
    )
    async with services.uow() as uow:
        found, total = await uow.tenders.search(query)
    now = services.clock.now()
    return TenderPage([TenderResponse.of(t, now) for t in found], total, page, page_size)


@get("/tenders/{tender_id:str}", opt={"action": "portal.read"}, summary="A published notice")
async def portal_tender(tender_id: str, services: Services) -> TenderResponse:
    return TenderResponse.of(await _tender(services, tender_id, public=True), services.clock.now())


@get(
    "/tenders/{tender_id:str}/documents",
    opt={"action": "portal.read"},
    summary="Published documents of a tender (the tender documents download needs sign-in)",
)
async def portal_documents(tender_id: str, services: Services) -> list[DocumentResponse]:
    tender = await _tender(services, tender_id, public=True)
    return await _documents(services, tender, all_=False)


@get(
    "/tenders/{tender_id:str}/documents/{document_id:str}/download",
    opt={"action": "portal.read"},
    summary="Download link for a public file (the notice, published amendments)",
)
async def portal_download(
    request: Request[Any, Any, Any], tender_id: str, document_id: str, services: Services
) -> DownloadResponse:
    await _tender(services, tender_id, public=True)
    return await _download(request, services, tender_id, document_id, None)


@get(
    "/tenders/{tender_id:str}/clarifications",
    opt={"action": "portal.read"},
    summary="Published clarifications and amendments",
)
async def portal_clarifications(tender_id: str, services: Services) -> list[ClarificationResponse]:
    await _tender(services, tender_id, public=True)
    return await _clarifications(services, tender_id)


@get(
    "/tenders/{tender_id:str}/results",
    opt={"action": "portal.read"},
    summary="Results (candidates, award): not yet available",
)
async def portal_results(tender_id: str, services: Services) -> ResultsResponse:
    await _tender(services, tender_id, public=True)
    return ResultsResponse(tender_id=tender_id, status="not_available", candidates=[], award=None)


tenders_router = Router(
    path="/api/tenders",
    route_handlers=[
        create_tender,
        list_tenders,
        get_tender,
        edit_tender,
        publish_tender,
        cancel_tender,
        upload_document,
        list_documents,
        download_document,
        list_downloads,
        issue_clarification,
        list_clarifications,
        ask_question,
        list_questions,
        answer_question,
    ],
    tags=["tenders"],
)
portal_router = Router(
    path="/api/portal",
    route_handlers=[
        portal_search,
        portal_tender,
        portal_documents,
        portal_download,
        portal_clarifications,
        portal_results,
    ],
    tags=["portal"],
)
ROUTERS = [tenders_router, portal_router]
