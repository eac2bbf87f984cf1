"""Tender use cases with fakes: publication rules, documents, downloads, questions."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.tenders.fakes import (
    AGENCY,
    BIDDER,
    NOW,
    OTHER_AGENCY,
    FakeTendersUnitOfWork,
    FakeValidator,
    MemoryObjectStore,
    chunks_of,
    draft,
    pdf,
)
from trading.errors import ConflictError, ValidationError
from trading.rules.calendar import CHINA_TZ, days_between, is_working_day, local_date
from trading.rules.packs import Regime
from trading.tenders import services as svc
from trading.tenders.errors import (
    DocumentNotFoundError,
    DocumentRejectedError,
    DocumentsNotAvailableError,
    DocumentTooLargeError,
    NotYourTenderError,
    RuleViolationError,
    SubmissionClosedError,
    TenderStateError,
)
from trading.tenders.model import (
    Clarification,
    DocumentKind,
    Phase,
    Tender,
    TenderDocument,
    TenderDraft,
    TenderStatus,
)


@pytest.fixture
def uow() -> FakeTendersUnitOfWork:
    return FakeTendersUnitOfWork()


@pytest.fixture
def store() -> MemoryObjectStore:
    return MemoryObjectStore()


async def upload(
    uow: FakeTendersUnitOfWork,
    store: MemoryObjectStore,
    tender_id: str,
    kind: DocumentKind,
    data: bytes | None = None,
    *,
    now: datetime = NOW,
    max_bytes: int = svc.MAX_DOCUMENT_BYTES,
) -> TenderDocument:
    return await svc.upload_document(
        uow,
        store,
        FakeValidator(),
        tender_id,
        kind=kind,
        filename=f"{kind}.pdf",
        chunks=chunks_of(data if data is not None else pdf()),
        actor=AGENCY,
        ip="10.0.0.1",
        now=now,
        max_bytes=max_bytes,
    )


async def ready(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore, d: TenderDraft | None = None
) -> Tender:
    tender = await svc.create_tender(uow, d or draft(), actor=AGENCY, ip="10.0.0.1", now=NOW)
    await upload(uow, store, tender.id, DocumentKind.NOTICE)
    await upload(uow, store, tender.id, DocumentKind.DOCUMENTS)
    return tender


async def published(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore, d: TenderDraft | None = None
) -> Tender:
    tender = await ready(uow, store, d)
    return await svc.publish_tender(uow, tender.id, actor=AGENCY, ip="10.0.0.1", now=NOW)


# --- drafts and publication -------------------------------------------------------------------


async def test_an_agency_creates_a_draft_audited_with_the_tender_id(
    uow: FakeTendersUnitOfWork,
) -> None:
    tender = await svc.create_tender(uow, draft(), actor=AGENCY, ip="10.0.0.1", now=NOW)
    assert tender.status == TenderStatus.DRAFT and tender.org_id == AGENCY.org_id
    assert tender.phase(NOW) == Phase.DRAFT
    [(_, _, record)] = uow.audit.events
    assert (record.action, record.tender_id, record.ip) == ("tender.created", tender.id, "10.0.0.1")
    assert record.after is not None and record.after["lots"] == [
        {"number": 1, "name": "第一标段", "budget_fen": 100_000_000, "security_fen": 2_000_000}
    ]


async def test_only_agencies_create_and_only_the_owner_changes_a_tender(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    with pytest.raises(NotYourTenderError):
        await svc.create_tender(uow, draft(), actor=BIDDER, ip="", now=NOW)
    tender = await ready(uow, store)
    with pytest.raises(NotYourTenderError):
        await svc.publish_tender(uow, tender.id, actor=OTHER_AGENCY, ip="", now=NOW)
    with pytest.raises(NotYourTenderError):
        await svc.cancel_tender(uow, tender.id, "x", actor=OTHER_AGENCY, ip="", now=NOW)


async def test_a_draft_is_checked_for_sense(uow: FakeTendersUnitOfWork) -> None:
    d = draft()
    bad_lot = replace(d.lots[0], budget_fen=0)
    for broken in (
        replace(d, title=" "),
        replace(d, deadline=d.documents_from),
        replace(d, opening_at=d.deadline - timedelta(hours=1)),
        replace(d, lots=()),
        replace(d, lots=(bad_lot,)),
        replace(d, lots=(d.lots[0], d.lots[0])),
    ):
        with pytest.raises(ValidationError):
            await svc.create_tender(uow, broken, actor=AGENCY, ip="", now=NOW)
    assert uow.tenders.tenders == {}


async def test_publish_refuses_too_short_a_documents_period_naming_the_rule(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await ready(uow, store, draft(days=19))
    with pytest.raises(RuleViolationError) as caught:
        await svc.publish_tender(uow, tender.id, actor=AGENCY, ip="", now=NOW)
    error = caught.value
    assert error.code == "rule_documents_period"
    assert error.details == {"rule": "documents_period", "rule_pack": "cn-construction@2019-03-02"}
    assert "招标投标法第二十四条" in error.message_zh and "19" in error.message_zh
    assert "Tendering Law art. 24" in error.message_en
    assert (await uow.tenders.get(tender.id)).status == TenderStatus.DRAFT  # type: ignore[union-attr]


async def test_publish_refuses_security_above_two_percent_by_one_fen(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await ready(uow, store, draft(budget_fen=100_000_000, security_fen=2_000_001))
    with pytest.raises(RuleViolationError) as caught:
        await svc.publish_tender(uow, tender.id, actor=AGENCY, ip="", now=NOW)
    assert caught.value.code == "rule_security_cap"
    assert "20000.01" in caught.value.message_en and "20000.00" in caught.value.message_en


async def test_publish_refuses_an_opening_that_is_not_at_the_deadline(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    d = draft()
    tender = await ready(uow, store, replace(d, opening_at=d.deadline + timedelta(hours=2)))
    with pytest.raises(RuleViolationError) as caught:
        await svc.publish_tender(uow, tender.id, actor=AGENCY, ip="", now=NOW)
    assert caught.value.code == "rule_opening_at_deadline"


async def test_publish_needs_the_notice_and_the_documents(uow: FakeTendersUnitOfWork) -> None:
    tender = await svc.create_tender(uow, draft(), actor=AGENCY, ip="", now=NOW)
    with pytest.raises(ValidationError) as caught:
        await svc.publish_tender(uow, tender.id, actor=AGENCY, ip="", now=NOW)
    assert caught.value.details["missing"] == "notice"


async def test_publish_keeps_the_pack_in_force_and_is_idempotent(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await published(uow, store)
    assert tender.status == TenderStatus.PUBLISHED
    assert tender.rule_pack == "cn-construction@2019-03-02"
    assert tender.published_at == NOW and tender.next_check == tender.deadline
    events = len(uow.audit.events)
    again = await svc.publish_tender(
        uow, tender.id, actor=AGENCY, ip="", now=NOW + timedelta(minutes=5)
    )
    assert again.published_at == NOW and again.version == tender.version
    assert len(uow.audit.events) == events  # a retry changes nothing and logs nothing
    assert uow.audit.actions()[-1] == "tender.published"


async def test_a_procurement_tender_gets_the_procurement_pack(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await published(uow, store, draft(category=Regime.PROCUREMENT))
    assert tender.rule_pack == "cn-procurement@2017-10-01"


async def test_documents_from_in_the_past_counts_from_publication(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    # Drafted to start 10 days ago with a deadline 15 days ahead: only 15 days remain.
    d = draft(documents_from=NOW - timedelta(days=10), days=25)
    tender = await ready(uow, store, d)
    with pytest.raises(RuleViolationError):
        await svc.publish_tender(uow, tender.id, actor=AGENCY, ip="", now=NOW)


async def test_published_tenders_cannot_be_edited_and_cancelled_cannot_be_published(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await published(uow, store)
    with pytest.raises(TenderStateError):
        await svc.edit_tender(
            uow, tender.id, draft(), expected_version=None, actor=AGENCY, ip="", now=NOW
        )
    cancelled = await svc.cancel_tender(uow, tender.id, "项目取消", actor=AGENCY, ip="", now=NOW)
    assert cancelled.phase(NOW) == Phase.CANCELLED and cancelled.next_check is None
    with pytest.raises(TenderStateError):
        await svc.publish_tender(uow, tender.id, actor=AGENCY, ip="", now=NOW)
    with pytest.raises(TenderStateError):
        await svc.cancel_tender(uow, tender.id, "again", actor=AGENCY, ip="", now=NOW)
    assert uow.audit.actions()[-1] == "tender.cancelled"


async def test_edit_keeps_lot_ids_and_detects_a_concurrent_edit(
    uow: FakeTendersUnitOfWork,
) -> None:
    tender = await svc.create_tender(uow, draft(), actor=AGENCY, ip="", now=NOW)
    changed = draft(budget_fen=200_000_000)
    changed = replace(changed, lots=(replace(changed.lots[0], id="new-id"),))
    edited = await svc.edit_tender(
        uow, tender.id, changed, expected_version=tender.version, actor=AGENCY, ip="", now=NOW
    )
    assert edited.draft.lots[0].id == tender.draft.lots[0].id != "new-id"
    assert edited.draft.lots[0].budget_fen == 200_000_000
    with pytest.raises(ConflictError):
        await svc.edit_tender(
            uow, tender.id, changed, expected_version=tender.version, actor=AGENCY, ip="", now=NOW
        )


# --- time -------------------------------------------------------------------------------------


async def test_phase_follows_the_clock_and_next_check_the_phases(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    d = draft(documents_from=NOW + timedelta(days=1), days=25)
    tender = await published(uow, store, d)
    assert tender.phase(NOW) == Phase.ANNOUNCED
    assert tender.phase(d.documents_from) == Phase.SUBMISSION_OPEN
    assert tender.phase(d.deadline - timedelta(microseconds=1)) == Phase.SUBMISSION_OPEN
    assert tender.phase(d.deadline) == Phase.SUBMISSION_CLOSED
    assert tender.next_check == d.documents_from
    assert await svc.advance_due_tenders(uow, NOW) == 0
    assert await svc.advance_due_tenders(uow, d.documents_from) == 1
    assert await svc.advance_due_tenders(uow, d.documents_from) == 0  # idempotent
    stored = await uow.tenders.get(tender.id)
    assert stored is not None and stored.next_check == d.deadline
    assert await svc.advance_due_tenders(uow, d.deadline + timedelta(seconds=1)) == 1
    stored = await uow.tenders.get(tender.id)
    assert stored is not None and stored.next_check is None
    assert uow.audit.actions().count("tender.phase_reached") == 2


# --- documents --------------------------------------------------------------------------------


async def test_upload_records_hash_and_size_and_validates_the_signature(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await svc.create_tender(uow, draft(), actor=AGENCY, ip="", now=NOW)
    data = pdf(size=1000)
    doc = await upload(uow, store, tender.id, DocumentKind.NOTICE, data)
    assert doc.sha256 == hashlib.sha256(data).hexdigest() and doc.size == 1000
    assert store.objects[doc.object_key] == data
    assert AGENCY.org_id not in doc.object_key and tender.id in doc.object_key
    assert uow.audit.actions()[-1] == "tender.document_uploaded"


async def test_upload_refuses_unsigned_non_pdf_and_oversized_files(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await svc.create_tender(uow, draft(), actor=AGENCY, ip="", now=NOW)
    with pytest.raises(DocumentRejectedError) as caught:
        await upload(uow, store, tender.id, DocumentKind.NOTICE, pdf(org_id="someone-else"))
    assert caught.value.problems == ("invalid", "no_signature_of_agency")
    with pytest.raises(DocumentRejectedError):
        await upload(uow, store, tender.id, DocumentKind.NOTICE, b"PK\x03\x04 a zip file")
    with pytest.raises(DocumentTooLargeError):
        await upload(uow, store, tender.id, DocumentKind.NOTICE, pdf(size=5000), max_bytes=4096)
    with pytest.raises(ValidationError):
        await upload(uow, store, tender.id, DocumentKind.AMENDMENT)
    assert store.objects == {}  # nothing rejected stays stored
    assert await uow.tenders.list_documents(tender.id) == []


async def test_after_publication_only_amendments_are_uploaded(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await published(uow, store)
    with pytest.raises(ValidationError):
        await upload(uow, store, tender.id, DocumentKind.DOCUMENTS)
    amendment = await upload(uow, store, tender.id, DocumentKind.AMENDMENT)
    assert not amendment.is_published_with(tender)  # until a clarification publishes it


async def test_a_bidder_download_is_a_sealed_event_with_private_evidence(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await published(uow, store)
    [notice, documents] = await uow.tenders.list_documents(tender.id)
    evidence = svc.ClientEvidence("203.0.113.9", "curl/8", "tenderhall-cli/0.1", "fp-abc")
    grant = await svc.download_document(
        uow, store, tender.id, documents.id, actor=BIDDER, evidence=evidence, now=NOW
    )
    assert grant.url.startswith("memory://" + documents.object_key)
    _, _, record = uow.audit.events[-1]
    assert record.action == "tender.document_downloaded"
    assert record.sealed_until == tender.deadline and record.tender_id == tender.id
    assert record.actor_id == BIDDER.person_id and record.ip == "203.0.113.9"
    assert record.after is not None
    assert (record.after["client"], record.after["machine"]) == ("tenderhall-cli/0.1", "fp-abc")
    # The public may read the notice but not the tender documents, and neither is recorded.
    events = len(uow.audit.events)
    await svc.download_document(
        uow, store, tender.id, notice.id, actor=None, evidence=evidence, now=NOW
    )
    with pytest.raises(DocumentNotFoundError):
        await svc.download_document(
            uow, store, tender.id, documents.id, actor=None, evidence=evidence, now=NOW
        )
    assert len(uow.audit.events) == events


async def test_documents_are_not_served_before_they_are_available_or_while_draft(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    evidence = svc.ClientEvidence("1.2.3.4")
    draft_tender = await ready(uow, store)
    [doc, _] = await uow.tenders.list_documents(draft_tender.id)
    with pytest.raises(DocumentNotFoundError):
        await svc.download_document(
            uow, store, draft_tender.id, doc.id, actor=BIDDER, evidence=evidence, now=NOW
        )
    later = await published(uow, store, draft(documents_from=NOW + timedelta(days=2)))
    [doc, _] = await uow.tenders.list_documents(later.id)
    with pytest.raises(DocumentsNotAvailableError):
        await svc.download_document(
            uow, store, later.id, doc.id, actor=BIDDER, evidence=evidence, now=NOW
        )


# --- clarifications ---------------------------------------------------------------------------


async def test_a_clarification_well_before_the_deadline_keeps_it(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await published(uow, store, draft(days=30))
    clarification = await svc.issue_clarification(
        uow,
        tender.id,
        svc.IssueClarification("澄清一", "第3章表格更正"),
        actor=AGENCY,
        ip="",
        now=NOW + timedelta(days=10),
    )
    assert not clarification.moved_deadline and clarification.number == 1
    stored = await uow.tenders.get(tender.id)
    assert stored is not None and stored.deadline == tender.deadline
    assert stored.amendment_no == 1  # bids made before must be re-confirmed


async def test_a_late_clarification_moves_the_deadline_and_the_opening(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await published(uow, store, draft(days=25))
    hook_calls: list[tuple[str, int]] = []

    async def on_amended(u: object, t: Tender, c: Clarification) -> None:
        hook_calls.append((t.id, t.amendment_no))

    issued_at = tender.deadline - timedelta(days=10)
    amendment = await upload(uow, store, tender.id, DocumentKind.AMENDMENT, now=issued_at)
    clarification = await svc.issue_clarification(
        uow,
        tender.id,
        svc.IssueClarification("修改一", "工程量清单修改", document_ids=(amendment.id,)),
        actor=AGENCY,
        ip="",
        now=issued_at,
        on_amended=on_amended,
    )
    stored = await uow.tenders.get(tender.id)
    assert stored is not None
    assert clarification.moved_deadline and clarification.deadline == stored.deadline
    assert days_between(issued_at, stored.deadline) >= 15
    assert is_working_day(local_date(stored.deadline))
    assert (
        stored.deadline.astimezone(CHINA_TZ).time() == tender.deadline.astimezone(CHINA_TZ).time()
    )
    assert stored.opening_at == stored.deadline
    assert stored.next_check == stored.deadline
    assert hook_calls == [(tender.id, 1)]
    doc = await uow.tenders.get_document(tender.id, amendment.id)
    assert doc is not None and doc.is_published_with(stored)
    _, _, record = uow.audit.events[-1]
    assert record.action == "tender.clarified" and record.after is not None
    assert record.after["deadline_moved"] is True


async def test_a_clarification_cannot_bring_the_deadline_forward(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await published(uow, store, draft(days=25))
    with pytest.raises(RuleViolationError) as caught:
        await svc.issue_clarification(
            uow,
            tender.id,
            svc.IssueClarification("x", "y", new_deadline=tender.deadline - timedelta(days=1)),
            actor=AGENCY,
            ip="",
            now=NOW,
        )
    assert caught.value.code == "rule_clarification_period"
    with pytest.raises(SubmissionClosedError):
        await svc.issue_clarification(
            uow,
            tender.id,
            svc.IssueClarification("x", "y"),
            actor=AGENCY,
            ip="",
            now=tender.deadline,
        )


# --- questions --------------------------------------------------------------------------------


async def test_questions_are_anonymous_to_the_agency(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await published(uow, store)
    question = await svc.ask_question(
        uow,
        tender.id,
        "第5页的工期要求是否可调整？",
        actor=BIDDER,
        evidence=svc.ClientEvidence("203.0.113.9"),
        now=NOW + timedelta(days=1),
    )
    [listed] = await uow.tenders.list_questions(tender.id)
    assert BIDDER.org_id not in repr(listed) and BIDDER.person_id not in repr(listed)
    _, _, record = uow.audit.events[-1]
    assert record.action == "tender.question_asked" and record.sealed_until == tender.deadline
    clarification = await svc.answer_question(
        uow, tender.id, question.id, "不可调整。", actor=AGENCY, ip="", now=NOW + timedelta(days=2)
    )
    assert "第5页" in clarification.body and "不可调整" in clarification.body
    assert clarification.question_id == question.id
    assert BIDDER.org_id not in repr(clarification)
    with pytest.raises(TenderStateError):
        await svc.answer_question(
            uow, tender.id, question.id, "again", actor=AGENCY, ip="", now=NOW + timedelta(days=3)
        )


async def test_objections_close_ten_days_before_the_deadline_in_construction(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    tender = await published(uow, store, draft(days=25))
    evidence = svc.ClientEvidence("1.1.1.1")
    last_day = local_date(tender.deadline) - timedelta(days=10)
    late_on_last_day = datetime.combine(last_day, datetime.min.time(), CHINA_TZ) + timedelta(
        hours=23
    )
    await svc.ask_question(
        uow, tender.id, "ok", actor=BIDDER, evidence=evidence, now=late_on_last_day
    )
    with pytest.raises(RuleViolationError) as caught:
        await svc.ask_question(
            uow,
            tender.id,
            "too late",
            actor=BIDDER,
            evidence=evidence,
            now=late_on_last_day + timedelta(hours=1),
        )
    assert caught.value.code == "rule_objection_period"


async def test_procurement_questions_close_after_the_notice_and_seven_working_days(
    uow: FakeTendersUnitOfWork, store: MemoryObjectStore
) -> None:
    # Documents from Monday 2 March 2026: notice 5 + questions 7 working days -> Wed 18 March.
    tender = await published(uow, store, draft(category=Regime.PROCUREMENT, days=30))
    evidence = svc.ClientEvidence("1.1.1.1")
    on_18th = datetime(2026, 3, 18, 20, 0, tzinfo=CHINA_TZ)
    await svc.ask_question(uow, tender.id, "ok", actor=BIDDER, evidence=evidence, now=on_18th)
    with pytest.raises(RuleViolationError) as caught:
        await svc.ask_question(
            uow,
            tender.id,
            "late",
            actor=BIDDER,
            evidence=evidence,
            now=datetime(2026, 3, 19, 0, 0, tzinfo=CHINA_TZ),
        )
    assert caught.value.code == "rule_question_period"


def test_money_is_integer_fen_in_messages() -> None:
    from trading.tenders.model import yuan

    assert yuan(123456789) == "1234567.89" and yuan(5) == "0.05" and yuan(-150) == "-1.50"
    assert isinstance(draft().lots[0].budget_fen, int)
    assert NOW.tzinfo is UTC
