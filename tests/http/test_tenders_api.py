"""Tenders over HTTP: agency publishes, bidder downloads, sealed download records, anonymous
questions, the public portal, and bad input answered with problem+json."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.conftest import Actor, app_settings, make_app, populate
from trading.identity.model import OrgType, Role
from trading.ports import FixedClock, ObjectStore

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 China time


@dataclass(frozen=True)
class Verdict:
    status: str
    problems: tuple[str, ...] = ()


class MarkerValidator:
    """Stands in for the PDF signature check: valid when the file names the agency's org."""

    async def validate(
        self, objects: ObjectStore, key: str, *, org_id: str, now: datetime
    ) -> Verdict:
        data = b"".join([chunk async for chunk in objects.get(key)])
        if f"signed-by:{org_id}".encode() in data:
            return Verdict("valid")
        return Verdict("invalid", ("agency_signature_missing",))


@dataclass
class TenderWorld:
    client: AsyncTestClient[Litestar]
    clock: FixedClock
    actors: dict[Role, Actor]
    orgs: dict[OrgType, str]

    def h(self, role: Role, **extra: str) -> dict[str, str]:
        return {**self.actors[role].headers, **extra}


@pytest.fixture
async def tw(tmp_path: Path, database_url: str) -> AsyncIterator[TenderWorld]:
    clock = FixedClock(START)
    app = make_app(app_settings(tmp_path, database_url), clock)
    app.state.services.document_validator = MarkerValidator()
    async with AsyncTestClient(app) as client:
        actors, orgs = await populate(app)
        yield TenderWorld(client, clock, actors, orgs)


def pdf_for(org_id: str, text: str = "") -> bytes:
    return f"%PDF-1.7\n% signed-by:{org_id}\n{text}\n%%EOF\n".encode()


def tender_body(days: int = 25, **overrides: Any) -> dict[str, Any]:
    documents_from = START
    deadline = documents_from + timedelta(days=days)
    body: dict[str, Any] = {
        "title": "鼓楼区道路改造工程",
        "code": "FZ-2026-007",
        "category": "construction",
        "procedure": "open",
        "evaluation_method": "comprehensive",
        "region": "福州市鼓楼区",
        "documents_from": documents_from.isoformat(),
        "deadline": deadline.isoformat(),
        "opening_at": deadline.isoformat(),
        "lots": [
            {
                "number": 1,
                "name": "第一标段",
                "budget_fen": 500_000_000,
                "security": {"amount_fen": 10_000_000, "forms": ["guarantee", "deposit"]},
                "opening_schema": [
                    {
                        "name": "price",
                        "label_zh": "投标报价",
                        "label_en": "Bid price",
                        "type": "money",
                        "unit": "元",
                        "min": "0",
                    },
                    {
                        "name": "duration_days",
                        "label_zh": "工期",
                        "label_en": "Duration",
                        "type": "integer",
                        "unit": "天",
                    },
                ],
            }
        ],
    }
    body.update(overrides)
    return body


async def create(tw: TenderWorld, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await tw.client.post(
        "/api/tenders", json=body or tender_body(), headers=tw.h(Role.AGENCY_OFFICER)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def upload(tw: TenderWorld, tender_id: str, kind: str, data: bytes | None = None) -> Any:
    return await tw.client.post(
        f"/api/tenders/{tender_id}/documents",
        params={"kind": kind, "filename": f"{kind}.pdf"},
        content=data if data is not None else pdf_for(tw.orgs[OrgType.AGENCY], kind),
        headers=tw.h(Role.AGENCY_OFFICER, **{"content-type": "application/pdf"}),
    )


async def published(tw: TenderWorld, body: dict[str, Any] | None = None) -> dict[str, Any]:
    tender = await create(tw, body)
    for kind in ("notice", "documents"):
        assert (await upload(tw, tender["id"], kind)).status_code == 201
    response = await tw.client.post(
        f"/api/tenders/{tender['id']}/publish", headers=tw.h(Role.AGENCY_OFFICER)
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code and body["status"] == status
    return body


async def test_agency_creates_uploads_and_publishes_idempotently(tw: TenderWorld) -> None:
    tender = await published(tw)
    assert tender["status"] == "published" and tender["phase"] == "submission_open"
    assert tender["rule_pack"] == "cn-construction@2019-03-02"
    assert tender["lots"][0]["budget_fen"] == 500_000_000
    assert tender["lots"][0]["budget_yuan"] == "5000000.00"
    again = await tw.client.post(
        f"/api/tenders/{tender['id']}/publish", headers=tw.h(Role.AGENCY_OFFICER)
    )
    assert again.status_code == 200 and again.json()["version"] == tender["version"]
    edit = await tw.client.put(
        f"/api/tenders/{tender['id']}", json=tender_body(), headers=tw.h(Role.AGENCY_OFFICER)
    )
    assert_problem(edit, 409, "tender_state")


async def test_publish_refusal_names_the_rule_in_both_languages(tw: TenderWorld) -> None:
    tender = await create(tw, tender_body(days=10))
    for kind in ("notice", "documents"):
        assert (await upload(tw, tender["id"], kind)).status_code == 201
    url = f"/api/tenders/{tender['id']}/publish"
    body = assert_problem(
        await tw.client.post(url, headers=tw.h(Role.AGENCY_OFFICER)), 422, "rule_documents_period"
    )
    assert body["details"]["rule"] == "documents_period"
    assert "招标投标法第二十四条" in body["detail"]
    english = await tw.client.post(
        url, headers=tw.h(Role.AGENCY_OFFICER, **{"accept-language": "en"})
    )
    assert "Tendering Law art. 24" in english.json()["detail"]


async def test_bad_input_is_answered_with_problem_json_and_a_code(tw: TenderWorld) -> None:
    agency = tw.h(Role.AGENCY_OFFICER)
    negative = tender_body()
    negative["lots"][0]["budget_fen"] = -5
    assert_problem(
        await tw.client.post("/api/tenders", json=negative, headers=agency), 422, "invalid"
    )
    naive = tender_body(deadline="2026-04-01T09:00:00", opening_at="2026-04-01T09:00:00")
    assert_problem(await tw.client.post("/api/tenders", json=naive, headers=agency), 422, "invalid")
    bad_schema = tender_body()
    bad_schema["lots"][0]["opening_schema"][0]["min"] = "zero"
    assert_problem(
        await tw.client.post("/api/tenders", json=bad_schema, headers=agency), 422, "invalid"
    )
    missing = {"title": "x"}
    assert_problem(
        await tw.client.post("/api/tenders", json=missing, headers=agency), 400, "invalid_request"
    )
    tender = await create(tw)
    not_pdf = await upload(tw, tender["id"], "notice", b"PK\x03\x04 not a pdf")
    assert_problem(not_pdf, 422, "document_rejected")
    unsigned = await upload(tw, tender["id"], "notice", pdf_for("someone-else"))
    body = assert_problem(unsigned, 422, "document_rejected")
    assert "agency_signature_missing" in body["detail"]
    assert_problem(
        await tw.client.post(f"/api/tenders/{tender['id']}/publish", headers=agency),
        422,
        "invalid",
    )
    assert_problem(
        await tw.client.get("/api/tenders/no-such-tender", headers=agency), 404, "tender_not_found"
    )


async def test_bidder_downloads_and_nobody_lists_downloaders_before_the_deadline(
    tw: TenderWorld,
) -> None:
    tender = await published(tw)
    tid = tender["id"]
    docs = (
        await tw.client.get(f"/api/tenders/{tid}/documents", headers=tw.h(Role.BIDDER_REP))
    ).json()
    documents = next(d for d in docs if d["kind"] == "documents")
    link = await tw.client.get(
        f"/api/tenders/{tid}/documents/{documents['id']}/download",
        headers=tw.h(
            Role.BIDDER_REP,
            **{"x-tenderhall-client": "tenderhall-cli/0.1", "x-tenderhall-machine": "fp-1234"},
        ),
    )
    assert link.status_code == 200, link.text
    url = urlsplit(link.json()["url"])
    fetched = await tw.client.get(f"{url.path}?{url.query}")
    assert fetched.status_code == 200
    assert (
        hashlib.sha256(fetched.content).hexdigest() == documents["sha256"] == link.json()["sha256"]
    )

    for role in (Role.AGENCY_OFFICER, Role.SUPERVISOR):
        sealed = await tw.client.get(f"/api/tenders/{tid}/downloads", headers=tw.h(role))
        assert_problem(sealed, 403, "downloads_sealed")
    search = await tw.client.get(
        "/api/audit/events", params={"tender_id": tid}, headers=tw.h(Role.SUPERVISOR)
    )
    assert search.status_code == 200
    assert tw.actors[Role.BIDDER_REP].org_id not in search.text
    assert "document_downloaded" not in search.text

    tw.clock.advance(timedelta(days=26))
    agency_view = await tw.client.get(
        f"/api/tenders/{tid}/downloads", headers=tw.h(Role.AGENCY_OFFICER)
    )
    assert agency_view.status_code == 200
    [record] = agency_view.json()
    assert record["org_id"] == tw.actors[Role.BIDDER_REP].org_id and record["ip"] is None
    supervisor_view = await tw.client.get(
        f"/api/tenders/{tid}/downloads", headers=tw.h(Role.SUPERVISOR)
    )
    [record] = supervisor_view.json()
    assert (record["client"], record["machine"]) == ("tenderhall-cli/0.1", "fp-1234")


async def test_questions_are_anonymous_and_answers_are_published(tw: TenderWorld) -> None:
    tender = await published(tw)
    tid = tender["id"]
    bidder = tw.actors[Role.BIDDER_REP]
    asked = await tw.client.post(
        f"/api/tenders/{tid}/questions",
        json={"text": "工期是否可以调整？"},
        headers=tw.h(Role.BIDDER_REP),
    )
    assert asked.status_code == 201, asked.text
    listed = await tw.client.get(f"/api/tenders/{tid}/questions", headers=tw.h(Role.AGENCY_OFFICER))
    assert listed.status_code == 200 and listed.json()[0]["text"] == "工期是否可以调整？"
    assert bidder.org_id not in listed.text and bidder.person_id not in listed.text
    answered = await tw.client.post(
        f"/api/tenders/{tid}/questions/{asked.json()['id']}/answer",
        json={"answer": "不可以。"},
        headers=tw.h(Role.AGENCY_OFFICER),
    )
    assert answered.status_code == 201, answered.text
    public = await tw.client.get(f"/api/portal/tenders/{tid}/clarifications")
    assert public.status_code == 200 and "不可以" in public.json()[0]["body"]
    assert bidder.org_id not in public.text and bidder.person_id not in public.text


async def test_a_late_clarification_moves_the_deadline(tw: TenderWorld) -> None:
    tender = await published(tw)
    tw.clock.advance(timedelta(days=20))  # 5 days before the deadline
    response = await tw.client.post(
        f"/api/tenders/{tender['id']}/clarifications",
        json={"title": "修改一", "body": "工程量清单第3项修改"},
        headers=tw.h(Role.AGENCY_OFFICER),
    )
    assert response.status_code == 201, response.text
    assert response.json()["deadline_moved"] is True
    after = (await tw.client.get(f"/api/portal/tenders/{tender['id']}")).json()
    new_deadline = datetime.fromisoformat(after["deadline"])
    assert new_deadline - tw.clock.now() >= timedelta(days=15)
    assert after["amendment_no"] == 1 and after["opening_at"] == after["deadline"]


async def test_the_public_portal_searches_published_tenders_only(tw: TenderWorld) -> None:
    road = await published(tw)
    await published(
        tw,
        tender_body(title="办公设备采购", category="procurement", region="厦门市", code="XM-1"),
    )
    draft = await create(tw, tender_body(title="草稿项目"))

    async def titles(**params: Any) -> list[str]:
        response = await tw.client.get("/api/portal/tenders", params=params)
        assert response.status_code == 200, response.text
        return [t["title"] for t in response.json()["items"]]

    assert sorted(await titles()) == ["办公设备采购", "鼓楼区道路改造工程"]
    assert await titles(category="procurement") == ["办公设备采购"]
    assert await titles(region="福州") == ["鼓楼区道路改造工程"]
    assert await titles(q="道路") == ["鼓楼区道路改造工程"]
    assert len(await titles(published_from="2026-03-02", published_to="2026-03-02")) == 2
    assert await titles(published_from="2026-03-03") == []
    page = (await tw.client.get("/api/portal/tenders", params={"page_size": 1})).json()
    assert page["total"] == 2 and len(page["items"]) == 1
    assert_problem(
        await tw.client.get(f"/api/portal/tenders/{draft['id']}"), 404, "tender_not_found"
    )
    docs = (await tw.client.get(f"/api/portal/tenders/{road['id']}/documents")).json()
    assert {d["kind"] for d in docs} == {"notice", "documents"}
    notice = next(d for d in docs if d["kind"] == "notice")
    link = await tw.client.get(
        f"/api/portal/tenders/{road['id']}/documents/{notice['id']}/download"
    )
    assert link.status_code == 200
    documents = next(d for d in docs if d["kind"] == "documents")
    hidden = await tw.client.get(
        f"/api/portal/tenders/{road['id']}/documents/{documents['id']}/download"
    )
    assert_problem(hidden, 404, "document_not_found")
    results = (await tw.client.get(f"/api/portal/tenders/{road['id']}/results")).json()
    assert results["status"] == "not_available" and results["candidates"] == []


async def test_drafts_are_private_to_their_agency_and_supervisors(tw: TenderWorld) -> None:
    draft = await create(tw)
    url = f"/api/tenders/{draft['id']}"
    assert (await tw.client.get(url, headers=tw.h(Role.AGENCY_OFFICER))).status_code == 200
    assert (await tw.client.get(url, headers=tw.h(Role.SUPERVISOR))).status_code == 200
    assert_problem(await tw.client.get(url, headers=tw.h(Role.BIDDER_REP)), 403, "forbidden")
    assert_problem(
        await tw.client.get(f"/api/portal/tenders/{draft['id']}"), 404, "tender_not_found"
    )
    listed = await tw.client.get("/api/tenders", headers=tw.h(Role.BIDDER_REP))
    assert listed.status_code == 200 and listed.json()["total"] == 0
    own = await tw.client.get("/api/tenders", headers=tw.h(Role.AGENCY_OFFICER))
    assert [t["id"] for t in own.json()["items"]] == [draft["id"]]


async def test_the_scheduler_tick_records_phase_changes_once(tw: TenderWorld) -> None:
    from webapp.jobs import tick

    tender = await published(tw)
    services = tw.client.app.state.services
    tw.clock.advance(timedelta(days=25, seconds=1))
    await tick(services)
    await tick(services)
    search = await tw.client.get(
        "/api/audit/events",
        params={"tender_id": tender["id"], "action": "tender.phase_reached"},
        headers=tw.h(Role.SUPERVISOR),
    )
    assert search.status_code == 200, search.text
    assert search.text.count("submission_closed") == 1
