"""The tender repository on the unit of work's connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.tender_tables import (
    tender_clarifications,
    tender_documents,
    tender_lots,
    tender_questions,
    tenders,
)
from storage.uow import StaleVersionError
from trading.tenders.model import (
    BidSecurity,
    Category,
    Clarification,
    DecryptionMode,
    DecryptionPolicy,
    DocumentKind,
    EvaluationMethod,
    Lot,
    Procedure,
    Question,
    SecurityForm,
    Tender,
    TenderDocument,
    TenderDraft,
    TenderStatus,
)
from trading.tenders.opening_data import field_from_dict, field_to_dict
from trading.tenders.services import TenderQuery


def _tender_values(tender: Tender) -> dict[str, Any]:
    d = tender.draft
    return {
        "code": d.code,
        "title": d.title,
        "description": d.description,
        "category": str(d.category),
        "procedure": str(d.procedure),
        "region": d.region,
        "evaluation_method": str(d.evaluation_method),
        "status": str(tender.status),
        "documents_from": d.documents_from,
        "deadline": d.deadline,
        "opening_at": d.opening_at,
        "decryption_mode": str(d.decryption.mode),
        "custodian_threshold": d.decryption.threshold,
        "custodian_count": d.decryption.custodians,
        "rule_pack": tender.rule_pack,
        "published_at": tender.published_at,
        "cancelled_at": tender.cancelled_at,
        "cancel_reason": tender.cancel_reason,
        "amendment_no": tender.amendment_no,
        "last_amended_at": tender.last_amended_at,
        "next_check": tender.next_check,
    }


def _lot_values(tender_id: str, lot: Lot) -> dict[str, Any]:
    return {
        "id": lot.id,
        "tender_id": tender_id,
        "number": lot.number,
        "name": lot.name,
        "budget_fen": lot.budget_fen,
        "security_fen": lot.security.amount_fen,
        "security_forms": [str(f) for f in lot.security.forms],
        "opening_schema": [field_to_dict(f) for f in lot.opening_schema],
    }


def _lot(row: Any) -> Lot:
    return Lot(
        id=row.id,
        number=row.number,
        name=row.name,
        budget_fen=int(row.budget_fen),
        opening_schema=tuple(field_from_dict(f) for f in row.opening_schema),
        security=BidSecurity(
            amount_fen=int(row.security_fen),
            forms=tuple(SecurityForm(f) for f in row.security_forms),
        ),
    )


def _tender(row: Any, lots: Sequence[Lot]) -> Tender:
    draft = TenderDraft(
        title=row.title,
        code=row.code,
        category=Category(row.category),
        procedure=Procedure(row.procedure),
        region=row.region,
        evaluation_method=EvaluationMethod(row.evaluation_method),
        documents_from=row.documents_from,
        deadline=row.deadline,
        opening_at=row.opening_at,
        lots=tuple(sorted(lots, key=lambda lot: lot.number)),
        decryption=DecryptionPolicy(
            mode=DecryptionMode(row.decryption_mode),
            threshold=row.custodian_threshold,
            custodians=row.custodian_count,
        ),
        description=row.description,
    )
    return Tender(
        id=row.id,
        org_id=row.org_id,
        created_by=row.created_by,
        created_at=row.created_at,
        draft=draft,
        status=TenderStatus(row.status),
        rule_pack=row.rule_pack,
        published_at=row.published_at,
        cancelled_at=row.cancelled_at,
        cancel_reason=row.cancel_reason,
        amendment_no=row.amendment_no,
        last_amended_at=row.last_amended_at,
        next_check=row.next_check,
        version=row.version,
    )


def _document(row: Any) -> TenderDocument:
    return TenderDocument(
        id=row.id,
        tender_id=row.tender_id,
        kind=DocumentKind(row.kind),
        filename=row.filename,
        object_key=row.object_key,
        sha256=row.sha256,
        size=int(row.size),
        content_type=row.content_type,
        uploaded_at=row.uploaded_at,
        uploaded_by=row.uploaded_by,
        signature_status=row.signature_status,
        signature_problems=tuple(row.signature_problems),
        clarification_id=row.clarification_id,
    )


def _clarification(row: Any) -> Clarification:
    return Clarification(
        id=row.id,
        tender_id=row.tender_id,
        number=row.number,
        title=row.title,
        body=row.body,
        issued_at=row.issued_at,
        issued_by=row.issued_by,
        previous_deadline=row.previous_deadline,
        deadline=row.deadline,
        document_ids=tuple(row.document_ids),
        question_id=row.question_id,
    )


def _question(row: Any) -> Question:
    return Question(
        id=row.id,
        tender_id=row.tender_id,
        text=row.text,
        asked_at=row.asked_at,
        answer=row.answer,
        answered_at=row.answered_at,
        clarification_id=row.clarification_id,
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


LockRow = Callable[[sa.Table, sa.Column[Any], object], Awaitable[None]]


class SqlTenderRepository:
    def __init__(self, connection: AsyncConnection, lock_row: LockRow) -> None:
        self._conn = connection
        self._lock_row = lock_row
        """``SqlUnitOfWork.lock_row``: what ``get(for_update=True)`` locks the tender with."""

    # tenders

    async def add(self, tender: Tender) -> None:
        await self._conn.execute(
            sa.insert(tenders).values(
                id=tender.id,
                org_id=tender.org_id,
                created_by=tender.created_by,
                created_at=tender.created_at,
                version=tender.version,
                **_tender_values(tender),
            )
        )
        if tender.draft.lots:
            await self._conn.execute(
                sa.insert(tender_lots), [_lot_values(tender.id, lot) for lot in tender.draft.lots]
            )

    async def _lots(self, tender_ids: Sequence[str]) -> dict[str, list[Lot]]:
        found: dict[str, list[Lot]] = {i: [] for i in tender_ids}
        if not tender_ids:
            return found
        rows = (
            await self._conn.execute(
                sa.select(tender_lots).where(tender_lots.c.tender_id.in_(tender_ids))
            )
        ).all()
        for row in rows:
            found[row.tender_id].append(_lot(row))
        return found

    async def get(self, tender_id: str, *, for_update: bool = False) -> Tender | None:
        if for_update:
            await self._lock_row(tenders, tenders.c.id, tender_id)
        row = (
            await self._conn.execute(sa.select(tenders).where(tenders.c.id == tender_id))
        ).first()
        if row is None:
            return None
        lots = await self._lots([row.id])
        return _tender(row, lots[row.id])

    async def save(self, tender: Tender) -> None:
        result = await self._conn.execute(
            sa.update(tenders)
            .where(tenders.c.id == tender.id, tenders.c.version == tender.version)
            .values(version=tender.version + 1, **_tender_values(tender))
        )
        if result.rowcount != 1:
            raise StaleVersionError("tender", tender.id)
        tender.version += 1
        existing = set(
            (
                await self._conn.scalars(
                    sa.select(tender_lots.c.id).where(tender_lots.c.tender_id == tender.id)
                )
            ).all()
        )
        wanted = {lot.id: lot for lot in tender.draft.lots}
        gone = existing - set(wanted)
        if gone:
            await self._conn.execute(sa.delete(tender_lots).where(tender_lots.c.id.in_(gone)))
        for lot_id, lot in wanted.items():
            values = _lot_values(tender.id, lot)
            if lot_id in existing:
                await self._conn.execute(
                    sa.update(tender_lots).where(tender_lots.c.id == lot_id).values(**values)
                )
            else:
                await self._conn.execute(sa.insert(tender_lots).values(**values))

    def _filters(self, query: TenderQuery) -> list[sa.ColumnElement[bool]]:
        c = tenders.c
        filters: list[sa.ColumnElement[bool]] = [c.status.in_([str(s) for s in query.statuses])]
        if query.org_id is not None:
            filters.append(c.org_id == query.org_id)
        if query.category is not None:
            filters.append(c.category == str(query.category))
        if query.region:
            filters.append(c.region.like(_like(query.region), escape="\\"))
        if query.published_from is not None:
            filters.append(c.published_at >= query.published_from)
        if query.published_until is not None:
            filters.append(c.published_at < query.published_until)
        if query.keyword:
            pattern = _like(query.keyword.strip())
            filters.append(
                sa.or_(
                    c.title.like(pattern, escape="\\"),
                    c.code.like(pattern, escape="\\"),
                    c.description.like(pattern, escape="\\"),
                )
            )
        return filters

    async def search(self, query: TenderQuery) -> tuple[list[Tender], int]:
        filters = self._filters(query)
        total = await self._conn.scalar(
            sa.select(sa.func.count()).select_from(tenders).where(*filters)
        )
        rows = (
            await self._conn.execute(
                sa.select(tenders)
                .where(*filters)
                .order_by(
                    tenders.c.published_at.desc().nulls_last(),
                    tenders.c.created_at.desc(),
                    tenders.c.id,
                )
                .limit(query.page_size)
                .offset((query.page - 1) * query.page_size)
            )
        ).all()
        lots = await self._lots([row.id for row in rows])
        return [_tender(row, lots[row.id]) for row in rows], int(total or 0)

    async def due(self, now: datetime, limit: int) -> list[Tender]:
        rows = (
            await self._conn.execute(
                sa.select(tenders)
                .where(
                    tenders.c.status == str(TenderStatus.PUBLISHED),
                    tenders.c.next_check.is_not(None),
                    tenders.c.next_check <= now,
                )
                .order_by(tenders.c.next_check)
                .limit(limit)
            )
        ).all()
        lots = await self._lots([row.id for row in rows])
        return [_tender(row, lots[row.id]) for row in rows]

    # documents

    async def add_document(self, document: TenderDocument) -> None:
        await self._conn.execute(
            sa.insert(tender_documents).values(
                id=document.id,
                tender_id=document.tender_id,
                kind=str(document.kind),
                filename=document.filename,
                object_key=document.object_key,
                sha256=document.sha256,
                size=document.size,
                content_type=document.content_type,
                uploaded_at=document.uploaded_at,
                uploaded_by=document.uploaded_by,
                signature_status=document.signature_status,
                signature_problems=list(document.signature_problems),
                clarification_id=document.clarification_id,
            )
        )

    async def get_document(self, tender_id: str, document_id: str) -> TenderDocument | None:
        row = (
            await self._conn.execute(
                sa.select(tender_documents).where(
                    tender_documents.c.id == document_id,
                    tender_documents.c.tender_id == tender_id,
                )
            )
        ).first()
        return _document(row) if row else None

    async def list_documents(self, tender_id: str) -> list[TenderDocument]:
        rows = (
            await self._conn.execute(
                sa.select(tender_documents)
                .where(tender_documents.c.tender_id == tender_id)
                .order_by(tender_documents.c.uploaded_at, tender_documents.c.id)
            )
        ).all()
        return [_document(row) for row in rows]

    async def attach_documents(self, document_ids: Sequence[str], clarification_id: str) -> None:
        await self._conn.execute(
            sa.update(tender_documents)
            .where(tender_documents.c.id.in_(list(document_ids)))
            .values(clarification_id=clarification_id)
        )

    # clarifications and questions

    async def add_clarification(self, clarification: Clarification) -> None:
        await self._conn.execute(
            sa.insert(tender_clarifications).values(
                id=clarification.id,
                tender_id=clarification.tender_id,
                number=clarification.number,
                title=clarification.title,
                body=clarification.body,
                issued_at=clarification.issued_at,
                issued_by=clarification.issued_by,
                previous_deadline=clarification.previous_deadline,
                deadline=clarification.deadline,
                document_ids=list(clarification.document_ids),
                question_id=clarification.question_id,
            )
        )

    async def list_clarifications(self, tender_id: str) -> list[Clarification]:
        rows = (
            await self._conn.execute(
                sa.select(tender_clarifications)
                .where(tender_clarifications.c.tender_id == tender_id)
                .order_by(tender_clarifications.c.number)
            )
        ).all()
        return [_clarification(row) for row in rows]

    async def add_question(self, question: Question) -> None:
        await self._conn.execute(
            sa.insert(tender_questions).values(
                id=question.id,
                tender_id=question.tender_id,
                text=question.text,
                asked_at=question.asked_at,
                answer=question.answer,
                answered_at=question.answered_at,
                clarification_id=question.clarification_id,
            )
        )

    async def get_question(self, tender_id: str, question_id: str) -> Question | None:
        row = (
            await self._conn.execute(
                sa.select(tender_questions).where(
                    tender_questions.c.id == question_id,
                    tender_questions.c.tender_id == tender_id,
                )
            )
        ).first()
        return _question(row) if row else None

    async def save_question(self, question: Question) -> None:
        await self._conn.execute(
            sa.update(tender_questions)
            .where(tender_questions.c.id == question.id)
            .values(
                answer=question.answer,
                answered_at=question.answered_at,
                clarification_id=question.clarification_id,
            )
        )

    async def list_questions(self, tender_id: str) -> list[Question]:
        rows = (
            await self._conn.execute(
                sa.select(tender_questions)
                .where(tender_questions.c.tender_id == tender_id)
                .order_by(tender_questions.c.asked_at, tender_questions.c.id)
            )
        ).all()
        return [_question(row) for row in rows]
