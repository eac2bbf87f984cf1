"""The tender repository and use cases on SQLite and a real PostgreSQL, migrations applied."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.audit_store import AuditQuery
from storage.uow import SqlUnitOfWork, StaleVersionError
from tests.tenders.fakes import (
    AGENCY,
    BIDDER,
    NOW,
    FakeValidator,
    MemoryObjectStore,
    chunks_of,
    draft,
    pdf,
)
from trading.credit_code import make_credit_code
from trading.identity import services as identity
from trading.identity.model import OrgType
from trading.ports import FixedClock
from trading.rules.packs import Regime
from trading.tenders import services as svc
from trading.tenders.model import (
    Clarification,
    DocumentKind,
    Lot,
    Question,
    Tender,
    TenderDocument,
    TenderStatus,
)


@pytest.fixture
async def agency(engine: AsyncEngine) -> str:
    """An agency organisation, with the id the fake principal uses."""
    org = await identity.register_organisation(
        SqlUnitOfWork(engine),
        identity.RegisterOrganisation(
            "测试代理", make_credit_code("91350100MA0000009"), OrgType.AGENCY, "福州"
        ),
        actor=None,
        ip="",
        now=NOW,
    )
    return org.id


def uow(engine: AsyncEngine) -> SqlUnitOfWork:
    return SqlUnitOfWork(engine, clock=FixedClock(NOW))


def tender_of(org_id: str, **kwargs: object) -> Tender:
    d = draft()
    d = replace(d, lots=tuple(replace(lot, id=svc.new_id()) for lot in d.lots))
    if kwargs:
        d = replace(d, **kwargs)  # type: ignore[arg-type]
    return Tender(
        id=svc.new_id(), org_id=org_id, created_by=AGENCY.person_id, created_at=NOW, draft=d
    )


async def test_a_tender_round_trips_with_lots_money_and_schema(
    engine: AsyncEngine, agency: str
) -> None:
    tender = tender_of(agency)
    async with uow(engine) as u:
        await u.tenders.add(tender)
        await u.commit()
    async with uow(engine) as u:
        loaded = await u.tenders.get(tender.id)
    assert loaded == tender
    assert isinstance(loaded.draft.lots[0].budget_fen, int)


async def test_save_is_optimistic_and_keeps_lot_ids(engine: AsyncEngine, agency: str) -> None:
    tender = tender_of(agency)
    async with uow(engine) as u:
        await u.tenders.add(tender)
        await u.commit()
    second = Lot(
        id="lot-2",
        number=2,
        name="第二标段",
        budget_fen=5_000_000,
        opening_schema=(draft().lots[0].opening_schema),
    )
    async with uow(engine) as u:
        loaded = await u.tenders.get(tender.id, for_update=True)
        assert loaded is not None
        loaded.edit(replace(loaded.draft, lots=(*loaded.draft.lots, second)))
        await u.tenders.save(loaded)
        await u.commit()
    async with uow(engine) as u:
        reloaded = await u.tenders.get(tender.id)
        assert reloaded is not None and [lot.id for lot in reloaded.draft.lots] == [
            tender.draft.lots[0].id,
            "lot-2",
        ]
        reloaded.edit(replace(reloaded.draft, lots=reloaded.draft.lots[1:]))
        await u.tenders.save(reloaded)
        await u.commit()
    async with uow(engine) as u:
        final = await u.tenders.get(tender.id)
        assert final is not None and [lot.id for lot in final.draft.lots] == ["lot-2"]
        assert final.version == 3
    with pytest.raises(StaleVersionError):
        async with uow(engine) as u:
            await u.tenders.save(tender)  # still version 1


async def test_search_filters_pages_and_escapes_the_keyword(
    engine: AsyncEngine, agency: str
) -> None:
    made = []
    for i, (title, category, region) in enumerate(
        [
            ("道路改造工程 100%", Regime.CONSTRUCTION, "福州市"),
            ("办公设备采购", Regime.PROCUREMENT, "厦门市"),
            ("桥梁维修工程", Regime.CONSTRUCTION, "福州市鼓楼区"),
        ]
    ):
        tender = tender_of(agency, title=title, category=category, region=region)
        tender.status = TenderStatus.PUBLISHED
        tender.published_at = NOW + timedelta(days=i)
        made.append(tender)
    unpublished = tender_of(agency, title="草稿工程")
    async with uow(engine) as u:
        for tender in [*made, unpublished]:
            await u.tenders.add(tender)
        await u.commit()

    async def titles(**kwargs: object) -> tuple[list[str], int]:
        async with uow(engine) as u:
            found, total = await u.tenders.search(svc.TenderQuery(**kwargs))  # type: ignore[arg-type]
        return [t.draft.title for t in found], total

    assert await titles() == (["桥梁维修工程", "办公设备采购", "道路改造工程 100%"], 3)
    assert (await titles(category=Regime.CONSTRUCTION))[1] == 2
    assert (await titles(region="福州"))[0] == ["桥梁维修工程", "道路改造工程 100%"]
    assert (await titles(keyword="工程"))[1] == 2
    assert (await titles(keyword="100%"))[0] == ["道路改造工程 100%"]
    assert (await titles(keyword="%"))[0] == ["道路改造工程 100%"]  # a literal percent sign
    assert (await titles(published_from=NOW + timedelta(days=1)))[1] == 2
    assert (await titles(published_until=NOW + timedelta(days=1)))[0] == ["道路改造工程 100%"]
    assert await titles(page=2, page_size=2) == (["道路改造工程 100%"], 3)
    assert (await titles(statuses=(TenderStatus.DRAFT,), org_id=agency))[0] == ["草稿工程"]


async def test_documents_clarifications_and_questions_round_trip(
    engine: AsyncEngine, agency: str
) -> None:
    tender = tender_of(agency)
    doc = TenderDocument(
        id=svc.new_id(),
        tender_id=tender.id,
        kind=DocumentKind.AMENDMENT,
        filename="修改.pdf",
        object_key=svc.document_key(tender.id, "d1"),
        sha256="ab" * 32,
        size=12345678901,
        content_type="application/pdf",
        uploaded_at=NOW,
        uploaded_by=AGENCY.person_id,
        signature_status="valid",
        signature_problems=("note",),
    )
    clarification = Clarification(
        id=svc.new_id(),
        tender_id=tender.id,
        number=1,
        title="澄清",
        body="正文",
        issued_at=NOW,
        issued_by=AGENCY.person_id,
        previous_deadline=tender.deadline,
        deadline=tender.deadline + timedelta(days=3),
        document_ids=(doc.id,),
    )
    question = Question(id=svc.new_id(), tender_id=tender.id, text="问题？", asked_at=NOW)
    async with uow(engine) as u:
        await u.tenders.add(tender)
        await u.tenders.add_document(doc)
        await u.tenders.add_clarification(clarification)
        await u.tenders.attach_documents([doc.id], clarification.id)
        await u.tenders.add_question(question)
        question.answer, question.answered_at = "答复", NOW
        await u.tenders.save_question(question)
        await u.commit()
    async with uow(engine) as u:
        assert await u.tenders.list_documents(tender.id) == [
            replace(doc, clarification_id=clarification.id)
        ]
        assert await u.tenders.get_document("other", doc.id) is None
        assert await u.tenders.list_clarifications(tender.id) == [clarification]
        assert await u.tenders.get_question(tender.id, question.id) == question
        assert await u.tenders.list_questions(tender.id) == [question]


async def test_use_cases_on_the_real_unit_of_work_audit_with_the_tender_id(
    engine: AsyncEngine, agency: str
) -> None:
    actor = replace(AGENCY, org_id=agency)
    store, validator = MemoryObjectStore(), FakeValidator()
    tender = await svc.create_tender(uow(engine), draft(), actor=actor, ip="10.1.1.1", now=NOW)
    for kind in (DocumentKind.NOTICE, DocumentKind.DOCUMENTS):
        await svc.upload_document(
            uow(engine),
            store,
            validator,
            tender.id,
            kind=kind,
            filename="a.pdf",
            chunks=chunks_of(pdf(org_id=agency)),
            actor=actor,
            ip="10.1.1.1",
            now=NOW,
        )
    published = await svc.publish_tender(uow(engine), tender.id, actor=actor, ip="", now=NOW)
    again = await svc.publish_tender(uow(engine), tender.id, actor=actor, ip="", now=NOW)
    assert again.version == published.version and again.status == TenderStatus.PUBLISHED
    documents = await svc.download_document(
        uow(engine),
        store,
        tender.id,
        next(d.id for d in await _documents(engine, tender.id) if d.kind == DocumentKind.DOCUMENTS),
        actor=BIDDER,
        evidence=svc.ClientEvidence("203.0.113.7", machine="fp"),
        now=NOW,
    )
    assert documents.document.kind == DocumentKind.DOCUMENTS
    async with uow(engine) as u:
        events, _ = await u.audit.search(AuditQuery(tender_id=tender.id), now=NOW)
        assert [e.action for e in events] == [
            "tender.created",
            "tender.document_uploaded",
            "tender.document_uploaded",
            "tender.published",
        ]  # the download is sealed: not found before the deadline
        after, _ = await u.audit.search(
            AuditQuery(tender_id=tender.id, action="tender.document_downloaded"),
            now=tender.deadline,
        )
    assert [e.actor_id for e in after] == [BIDDER.person_id]
    assert after[0].after is not None and after[0].after["machine"] == "fp"
    async with uow(engine) as u:
        due = await u.tenders.due(tender.deadline, 10)
    assert [t.id for t in due] == [tender.id]
    assert await svc.advance_due_tenders(uow(engine), tender.deadline) == 1
    assert await svc.advance_due_tenders(uow(engine), tender.deadline) == 0


async def _documents(engine: AsyncEngine, tender_id: str) -> list[TenderDocument]:
    async with uow(engine) as u:
        return await u.tenders.list_documents(tender_id)


def test_now_is_a_monday_morning_in_china() -> None:
    assert NOW.isoformat() == "2026-03-02T01:00:00+00:00"
    assert isinstance(NOW, datetime)
