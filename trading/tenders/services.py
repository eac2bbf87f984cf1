"""Tender use cases: drafts, publication, cancellation, documents, downloads, clarifications and
anonymous questions.

Each function is one use case in one unit of work, and every state change appends its audit event
(with ``tender_id``) in that same unit of work. The same functions serve the API and the CLI.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from trading.errors import ConflictError, ValidationError
from trading.identity.model import Principal, Role
from trading.ports import AuditLog, AuditRecord, ObjectStore
from trading.rules.calendar import local_date
from trading.rules.packs import RulePack, pack_by_key, pack_for
from trading.tenders.errors import (
    DocumentNotFoundError,
    DocumentRejectedError,
    DocumentsNotAvailableError,
    DocumentTooLargeError,
    NotYourTenderError,
    QuestionNotFoundError,
    RuleViolationError,
    SubmissionClosedError,
    TenderNotFoundError,
    TenderStateError,
)
from trading.tenders.model import (
    Category,
    Clarification,
    DocumentKind,
    Question,
    Tender,
    TenderDocument,
    TenderDraft,
    TenderStatus,
)

# --- ports ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TenderQuery:
    """A search of tenders; every field narrows it. Pages are 1-based."""

    statuses: tuple[TenderStatus, ...] = (TenderStatus.PUBLISHED,)
    org_id: str | None = None
    category: Category | None = None
    region: str | None = None
    published_from: datetime | None = None
    published_until: datetime | None = None
    """Exclusive."""
    keyword: str | None = None
    """Matched (SQL LIKE) against the title, the project number and the description."""
    page: int = 1
    page_size: int = 20


class TenderRepository(Protocol):
    async def add(self, tender: Tender) -> None: ...
    async def get(self, tender_id: str, *, for_update: bool = False) -> Tender | None: ...
    async def save(self, tender: Tender) -> None:
        """Store the changed tender if its ``version`` is unchanged since it was read, and bump
        the version; raise a stale-version conflict otherwise."""
        ...

    async def search(self, query: TenderQuery) -> tuple[list[Tender], int]:
        """One page of matching tenders (newest publication first) and the total count."""
        ...

    async def due(self, now: datetime, limit: int) -> list[Tender]:
        """Published tenders whose ``next_check`` has come."""
        ...

    async def add_document(self, document: TenderDocument) -> None: ...
    async def get_document(self, tender_id: str, document_id: str) -> TenderDocument | None: ...
    async def list_documents(self, tender_id: str) -> list[TenderDocument]: ...
    async def attach_documents(
        self, document_ids: Sequence[str], clarification_id: str
    ) -> None: ...

    async def add_clarification(self, clarification: Clarification) -> None: ...
    async def list_clarifications(self, tender_id: str) -> list[Clarification]: ...
    async def add_question(self, question: Question) -> None: ...
    async def get_question(self, tender_id: str, question_id: str) -> Question | None: ...
    async def save_question(self, question: Question) -> None: ...
    async def list_questions(self, tender_id: str) -> list[Question]: ...


class TendersUnitOfWork(Protocol):
    @property
    def tenders(self) -> TenderRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    async def commit(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class DocumentVerdict(Protocol):
    """What a signature check of an uploaded PDF says (e.g. ``signing.pdf_verify``'s verdict)."""

    @property
    def status(self) -> str:
        """``valid``, ``invalid`` or ``indeterminate``."""
        ...

    @property
    def problems(self) -> Sequence[object]:
        """Strings or objects with a ``code`` (``signing.verdicts.Problem``)."""
        ...


class DocumentValidator(Protocol):
    """Checks that a stored PDF carries a valid signature of the agency's organisation."""

    async def validate(
        self, objects: ObjectStore, key: str, *, org_id: str, now: datetime
    ) -> DocumentVerdict: ...


AmendmentHook = Callable[[TendersUnitOfWork, Tender, Clarification], Awaitable[None]]
"""Called inside the clarification's unit of work; the bids module marks bids already
submitted for re-confirmation here (``Tender.amendment_no`` is the flag it compares with)."""


# --- helpers ----------------------------------------------------------------------------------


def new_id() -> str:
    return str(uuid.uuid4())


def _record(
    action: str,
    tender: Tender,
    actor: Principal | None,
    ip: str,
    *,
    object_type: str = "tender",
    object_id: str | None = None,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
    sealed_until: datetime | None = None,
) -> AuditRecord:
    return AuditRecord(
        action=action,
        object_type=object_type,
        object_id=object_id or tender.id,
        actor_id=actor.person_id if actor else None,
        organisation_id=actor.org_id if actor else None,
        role=str(actor.role) if actor else None,
        ip=ip,
        before=before,
        after=after,
        tender_id=tender.id,
        sealed_until=sealed_until,
    )


def summary(tender: Tender) -> dict[str, object]:
    """What an audit event records about a tender's terms."""
    d = tender.draft
    return {
        "title": d.title,
        "code": d.code,
        "category": str(d.category),
        "procedure": str(d.procedure),
        "status": str(tender.status),
        "documents_from": d.documents_from.isoformat(),
        "deadline": d.deadline.isoformat(),
        "opening_at": d.opening_at.isoformat(),
        "lots": [
            {
                "number": lot.number,
                "name": lot.name,
                "budget_fen": lot.budget_fen,
                "security_fen": lot.security.amount_fen,
            }
            for lot in d.lots
        ],
        "rule_pack": tender.rule_pack,
        "amendment_no": tender.amendment_no,
    }


async def _load(uow: TendersUnitOfWork, tender_id: str, *, for_update: bool = False) -> Tender:
    tender = await uow.tenders.get(tender_id, for_update=for_update)
    if tender is None:
        raise TenderNotFoundError(tender_id)
    return tender


def _own(tender: Tender, actor: Principal) -> None:
    if actor.role != Role.AGENCY_OFFICER or actor.org_id != tender.org_id:
        raise NotYourTenderError()


def rule_pack_of(tender: Tender, now: datetime) -> RulePack:
    """The pack the tender was published under (or, for a draft, the one that would apply)."""
    if tender.rule_pack:
        return pack_by_key(tender.rule_pack)
    return pack_for(tender.category, local_date(now))


# --- drafts -----------------------------------------------------------------------------------


async def create_tender(
    uow: TendersUnitOfWork, draft: TenderDraft, *, actor: Principal, ip: str, now: datetime
) -> Tender:
    if actor.role != Role.AGENCY_OFFICER:
        raise NotYourTenderError()
    # Lot ids are the platform's (bids will refer to them), whatever the caller passed.
    draft = replace(draft, lots=tuple(replace(lot, id=new_id()) for lot in draft.lots))
    tender = Tender(
        id=new_id(), org_id=actor.org_id, created_by=actor.person_id, created_at=now, draft=draft
    )
    tender.edit(draft)  # the draft's structural checks
    async with uow:
        await uow.tenders.add(tender)
        await uow.audit.append(
            _record("tender.created", tender, actor, ip, after=summary(tender)), at=now
        )
        await uow.commit()
    return tender


async def edit_tender(
    uow: TendersUnitOfWork,
    tender_id: str,
    draft: TenderDraft,
    *,
    expected_version: int | None,
    actor: Principal,
    ip: str,
    now: datetime,
) -> Tender:
    """Replace a draft's terms. With ``expected_version``, a concurrent edit is a conflict."""
    async with uow:
        tender = await _load(uow, tender_id, for_update=True)
        _own(tender, actor)
        if expected_version is not None and expected_version != tender.version:
            raise ConflictError(
                "The tender was changed by someone else; reload and try again.",
                "招标项目已被他人修改，请刷新后重试。",
                version=tender.version,
            )
        before = summary(tender)
        tender.edit(draft)
        await uow.tenders.save(tender)
        await uow.audit.append(
            _record("tender.edited", tender, actor, ip, before=before, after=summary(tender)),
            at=now,
        )
        await uow.commit()
    return tender


# --- publication ------------------------------------------------------------------------------


async def publish_tender(
    uow: TendersUnitOfWork, tender_id: str, *, actor: Principal, ip: str, now: datetime
) -> Tender:
    """Publish under the rule pack in force today. A retry of a published tender is a no-op."""
    async with uow:
        tender = await _load(uow, tender_id, for_update=True)
        _own(tender, actor)
        if tender.status == TenderStatus.PUBLISHED:
            return tender  # idempotent: the first publication stands, nothing is re-audited
        if tender.status != TenderStatus.DRAFT:
            raise TenderStateError("publish", "发布", str(tender.status))
        pack = pack_for(tender.category, local_date(now))
        documents = await uow.tenders.list_documents(tender.id)
        kinds = {d.kind for d in documents}
        for kind, zh in ((DocumentKind.NOTICE, "招标公告"), (DocumentKind.DOCUMENTS, "招标文件")):
            if kind not in kinds:
                raise ValidationError(
                    f"Upload the signed {kind} PDF before publishing.",
                    f"发布前请上传已签章的{zh} PDF。",
                    field="documents",
                    missing=str(kind),
                )
        tender.publish(pack, now)
        await uow.tenders.save(tender)
        await uow.audit.append(
            _record("tender.published", tender, actor, ip, after=summary(tender)), at=now
        )
        await uow.commit()
    return tender


async def cancel_tender(
    uow: TendersUnitOfWork,
    tender_id: str,
    reason: str,
    *,
    actor: Principal,
    ip: str,
    now: datetime,
) -> Tender:
    async with uow:
        tender = await _load(uow, tender_id, for_update=True)
        _own(tender, actor)
        before = summary(tender)
        tender.cancel(reason, now)
        await uow.tenders.save(tender)
        await uow.audit.append(
            _record(
                "tender.cancelled",
                tender,
                actor,
                ip,
                before=before,
                after={"status": str(tender.status), "reason": tender.cancel_reason},
            ),
            at=now,
        )
        await uow.commit()
    return tender


# --- documents --------------------------------------------------------------------------------

MAX_DOCUMENT_BYTES = 200 * 1024 * 1024
PDF_MAGIC = b"%PDF-"


def document_key(tender_id: str, document_id: str) -> str:
    """Object keys name the tender and the document, never a person or an organisation."""
    return f"tenders/{tender_id}/documents/{document_id}.pdf"


async def _limited(
    chunks: AsyncIterator[bytes], limit: int, problems: list[str]
) -> AsyncIterator[bytes]:
    """Pass the chunks through, refusing more than ``limit`` bytes and anything not a PDF."""
    total = 0
    head = b""
    async for chunk in chunks:
        if not chunk:
            continue
        total += len(chunk)
        if total > limit:
            raise DocumentTooLargeError(limit)
        if len(head) < len(PDF_MAGIC):
            head = (head + chunk)[: len(PDF_MAGIC)]
            if len(head) == len(PDF_MAGIC) and head != PDF_MAGIC:
                problems.append("not_a_pdf")
                raise DocumentRejectedError(problems)
        yield chunk
    if head != PDF_MAGIC:
        problems.append("not_a_pdf")
        raise DocumentRejectedError(problems)


def _upload_allowed(tender: Tender, kind: DocumentKind, now: datetime) -> None:
    if tender.status == TenderStatus.DRAFT:
        if kind == DocumentKind.AMENDMENT:
            raise ValidationError(
                "A draft's documents are notices and tender documents; amendments come after "
                "publication.",
                "草稿阶段只能上传公告和招标文件，修改文件须在发布后上传。",
                field="kind",
            )
        return
    if tender.status != TenderStatus.PUBLISHED:
        raise TenderStateError("upload documents", "上传文件", str(tender.status))
    if kind != DocumentKind.AMENDMENT:
        raise ValidationError(
            "After publication, documents change only through an amendment.",
            "发布后只能通过澄清或修改文件变更招标文件。",
            field="kind",
        )
    if now >= tender.deadline:
        raise SubmissionClosedError(tender.deadline)


async def upload_document(
    uow: TendersUnitOfWork,
    objects: ObjectStore,
    validator: DocumentValidator,
    tender_id: str,
    *,
    kind: DocumentKind,
    filename: str,
    chunks: AsyncIterator[bytes],
    actor: Principal,
    ip: str,
    now: datetime,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> TenderDocument:
    """Stream a signed PDF into the object store, check its signature, record it.

    The file is stored first (memory stays bounded whatever its size) and validated from the
    store; a rejected file is deleted again. The tender's state is checked before and, in the
    recording transaction, again after the upload.
    """
    filename = filename.strip().replace("/", "_").replace("\\", "_")[:200] or "document.pdf"
    async with uow:
        tender = await _load(uow, tender_id)
    _own(tender, actor)
    _upload_allowed(tender, kind, now)
    document_id = new_id()
    key = document_key(tender.id, document_id)
    problems: list[str] = []
    stored = await objects.put(
        key, _limited(chunks, max_bytes, problems), content_type="application/pdf"
    )
    verdict = await validator.validate(objects, key, org_id=tender.org_id, now=now)
    problem_codes = [str(getattr(p, "code", p)) for p in verdict.problems]
    if str(verdict.status) != "valid":
        await objects.delete(key)
        raise DocumentRejectedError([str(verdict.status), *problem_codes])
    document = TenderDocument(
        id=document_id,
        tender_id=tender.id,
        kind=kind,
        filename=filename,
        object_key=key,
        sha256=stored.sha256,
        size=stored.size,
        content_type=stored.content_type,
        uploaded_at=now,
        uploaded_by=actor.person_id,
        signature_status=str(verdict.status),
        signature_problems=tuple(problem_codes),
    )
    async with uow:
        tender = await _load(uow, tender_id, for_update=True)
        _upload_allowed(tender, kind, now)
        await uow.tenders.add_document(document)
        await uow.audit.append(
            _record(
                "tender.document_uploaded",
                tender,
                actor,
                ip,
                object_type="tender_document",
                object_id=document.id,
                after={
                    "kind": str(kind),
                    "filename": filename,
                    "sha256": stored.sha256,
                    "size": stored.size,
                    "signature": str(verdict.status),
                },
            ),
            at=now,
        )
        await uow.commit()
    return document


@dataclass(frozen=True)
class ClientEvidence:
    """Who fetched something, recorded privately for later collusion screening (串标/围标)."""

    ip: str
    user_agent: str = ""
    client: str = ""
    """The ``X-Tenderhall-Client`` header: tool and version."""
    machine: str = ""
    """The machine fingerprint the CLI reports (``X-Tenderhall-Machine``)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "ip": self.ip,
            "user_agent": self.user_agent[:300],
            "client": self.client[:200],
            "machine": self.machine[:200],
        }


@dataclass(frozen=True)
class DownloadGrant:
    document: TenderDocument
    url: str
    expires_at: datetime


DOWNLOAD_LINK_LIFETIME = timedelta(minutes=15)


async def download_document(
    uow: TendersUnitOfWork,
    objects: ObjectStore,
    tender_id: str,
    document_id: str,
    *,
    actor: Principal | None,
    evidence: ClientEvidence,
    now: datetime,
) -> DownloadGrant:
    """A short-lived download link. A bidder's download is recorded as a sealed event.

    Sealed until the deadline: before it, no one but the bidder itself can see that it
    downloaded (not the agency, not supervisors, not the log's search columns). Notices and
    published amendments are public and may be fetched without signing in.
    """
    async with uow:
        tender = await _load(uow, tender_id)
        document = await uow.tenders.get_document(tender_id, document_id)
        if document is None:
            raise DocumentNotFoundError(document_id)
        owner = actor is not None and actor.org_id == tender.org_id
        if not owner:
            if not document.is_published_with(tender):
                raise DocumentNotFoundError(document_id)
            if tender.status == TenderStatus.PUBLISHED and now < tender.documents_from:
                raise DocumentsNotAvailableError(tender.documents_from)
            if document.kind == DocumentKind.DOCUMENTS and actor is None:
                raise DocumentNotFoundError(document_id)
        url = await objects.download_url(document.object_key, expires=DOWNLOAD_LINK_LIFETIME)
        if actor is not None and actor.role == Role.BIDDER_REP:
            await uow.audit.append(
                _record(
                    "tender.document_downloaded",
                    tender,
                    actor,
                    evidence.ip,
                    object_type="tender_document",
                    object_id=document.id,
                    after={
                        "kind": str(document.kind),
                        "sha256": document.sha256,
                        **evidence.as_dict(),
                    },
                    sealed_until=tender.deadline,
                ),
                at=now,
            )
            await uow.commit()
    return DownloadGrant(document=document, url=url, expires_at=now + DOWNLOAD_LINK_LIFETIME)


# --- clarifications and questions -------------------------------------------------------------


@dataclass(frozen=True)
class IssueClarification:
    title: str
    body: str
    document_ids: tuple[str, ...] = ()
    """Amendment files (kind ``amendment``) uploaded beforehand that this publishes."""
    new_deadline: datetime | None = None
    """Postpone further than the rule requires (never earlier than the current deadline)."""


async def _clarify(
    uow: TendersUnitOfWork,
    tender: Tender,
    cmd: IssueClarification,
    *,
    question_id: str | None,
    actor: Principal,
    ip: str,
    now: datetime,
    on_amended: AmendmentHook | None,
) -> Clarification:
    if not cmd.title.strip() or not cmd.body.strip():
        raise ValidationError(
            "A clarification needs a title and a text.", "澄清须有标题和正文。", field="body"
        )
    for document_id in cmd.document_ids:
        document = await uow.tenders.get_document(tender.id, document_id)
        if document is None or document.kind != DocumentKind.AMENDMENT:
            raise DocumentNotFoundError(document_id)
        if document.clarification_id is not None:
            raise ValidationError(
                "That amendment file is already published.",
                "该修改文件已发布。",
                field="document_ids",
            )
    pack = rule_pack_of(tender, now)
    old, new = tender.amend(pack, now, cmd.new_deadline)
    clarification = Clarification(
        id=new_id(),
        tender_id=tender.id,
        number=tender.amendment_no,
        title=cmd.title.strip(),
        body=cmd.body.strip(),
        issued_at=now,
        issued_by=actor.person_id,
        previous_deadline=old,
        deadline=new,
        document_ids=tuple(cmd.document_ids),
        question_id=question_id,
    )
    await uow.tenders.save(tender)
    await uow.tenders.add_clarification(clarification)
    if cmd.document_ids:
        await uow.tenders.attach_documents(cmd.document_ids, clarification.id)
    await uow.audit.append(
        _record(
            "tender.clarified",
            tender,
            actor,
            ip,
            object_type="clarification",
            object_id=clarification.id,
            before={"deadline": old.isoformat()},
            after={
                "number": clarification.number,
                "title": clarification.title,
                "deadline": new.isoformat(),
                "opening_at": tender.opening_at.isoformat(),
                "documents": list(cmd.document_ids),
                "deadline_moved": new != old,
                "question_id": question_id,
            },
        ),
        at=now,
    )
    if on_amended is not None:
        await on_amended(uow, tender, clarification)
    return clarification


async def issue_clarification(
    uow: TendersUnitOfWork,
    tender_id: str,
    cmd: IssueClarification,
    *,
    actor: Principal,
    ip: str,
    now: datetime,
    on_amended: AmendmentHook | None = None,
) -> Clarification:
    """Publish a clarification/amendment to everyone; may move the deadline (rule pack)."""
    async with uow:
        tender = await _load(uow, tender_id, for_update=True)
        _own(tender, actor)
        clarification = await _clarify(
            uow, tender, cmd, question_id=None, actor=actor, ip=ip, now=now, on_amended=on_amended
        )
        await uow.commit()
    return clarification


MAX_QUESTION_CHARS = 5000


async def ask_question(
    uow: TendersUnitOfWork,
    tender_id: str,
    text: str,
    *,
    actor: Principal,
    evidence: ClientEvidence,
    now: datetime,
) -> Question:
    """A bidder's anonymous question. The question row does not name the asker; the audit event
    that does is sealed until the deadline (then visible to supervisors)."""
    text = text.strip()
    if not text or len(text) > MAX_QUESTION_CHARS:
        raise ValidationError(
            f"The question must have 1-{MAX_QUESTION_CHARS} characters.",
            f"问题须为 1-{MAX_QUESTION_CHARS} 个字符。",
            field="text",
        )
    async with uow:
        tender = await _load(uow, tender_id)
        if tender.status != TenderStatus.PUBLISHED:
            raise TenderStateError("ask a question", "提问", str(tender.status))
        if now < tender.documents_from:
            raise DocumentsNotAvailableError(tender.documents_from)
        pack = rule_pack_of(tender, now)
        window_end = tender.question_window_end(pack)
        if now >= window_end:
            rule = "objection_period" if pack.objection_min_days is not None else "question_period"
            if now >= tender.deadline:
                raise SubmissionClosedError(tender.deadline)
            raise RuleViolationError(
                pack,
                rule,
                f"questions on the documents closed at {window_end.isoformat()}",
                f"对招标文件的提问已于 {window_end.isoformat()} 截止",
            )
        question = Question(id=new_id(), tender_id=tender.id, text=text, asked_at=now)
        await uow.tenders.add_question(question)
        await uow.audit.append(
            _record(
                "tender.question_asked",
                tender,
                actor,
                evidence.ip,
                object_type="question",
                object_id=question.id,
                after={"text": text, **evidence.as_dict()},
                sealed_until=tender.deadline,
            ),
            at=now,
        )
        await uow.commit()
    return question


async def answer_question(
    uow: TendersUnitOfWork,
    tender_id: str,
    question_id: str,
    answer: str,
    *,
    actor: Principal,
    ip: str,
    now: datetime,
    new_deadline: datetime | None = None,
    on_amended: AmendmentHook | None = None,
) -> Clarification:
    """Answer a question by publishing a clarification to everyone (question and answer)."""
    async with uow:
        tender = await _load(uow, tender_id, for_update=True)
        _own(tender, actor)
        question = await uow.tenders.get_question(tender_id, question_id)
        if question is None:
            raise QuestionNotFoundError(question_id)
        if question.answer is not None:
            raise TenderStateError("answer the question again", "重复答复该问题", "answered")
        number = tender.amendment_no + 1
        clarification = await _clarify(
            uow,
            tender,
            IssueClarification(
                title=f"答疑 {number} / Answer {number}",
                body=f"问 / Q: {question.text}\n\n答 / A: {answer.strip()}",
                new_deadline=new_deadline,
            ),
            question_id=question.id,
            actor=actor,
            ip=ip,
            now=now,
            on_amended=on_amended,
        )
        question.answer = answer.strip()
        question.answered_at = now
        question.clarification_id = clarification.id
        await uow.tenders.save_question(question)
        await uow.commit()
    return clarification


# --- time -------------------------------------------------------------------------------------


async def advance_due_tenders(uow: TendersUnitOfWork, now: datetime, *, limit: int = 100) -> int:
    """The scheduler tick: log each time-driven phase change once and move ``next_check`` on.

    The phase itself is always computed from the clock; this only records that the moment came
    (documents available, submission closed, opening due), so it is idempotent.
    """
    async with uow:
        due = await uow.tenders.due(now, limit)
        for tender in due:
            tender.next_check = tender.compute_next_check(now)
            await uow.tenders.save(tender)
            await uow.audit.append(
                _record(
                    "tender.phase_reached",
                    tender,
                    None,
                    "",
                    after={"phase": str(tender.phase(now)), "at": now.isoformat()},
                ),
                at=now,
            )
        await uow.commit()
    return len(due)
