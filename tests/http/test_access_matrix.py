"""Every route from the OpenAPI document against every role: nothing reachable that should not be.

The expectations are written out here, independently of the policy table in the code, so a route
added without a decision here fails the test, and a policy that drifts from this list fails too.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from tests.http.conftest import World
from trading.credit_code import make_credit_code
from trading.identity import services as identity
from trading.identity.model import OrgType, Role
from trading.rules.packs import Regime
from trading.tenders.model import (
    EvaluationMethod,
    Lot,
    Procedure,
    Tender,
    TenderDraft,
    TenderStatus,
)
from trading.tenders.opening_data import FieldType, OpeningField

PUBLIC = "public"
SIGNED_IN = "signed_in"
OWN_ORG = "own_org"  # allowed when the path's org_id is the caller's organisation
SELF = "self"  # allowed when the path's person_id is the caller
OWN_TENDER = "own_tender"  # allowed for an agency officer when the tender is their organisation's

EXPECTED: dict[tuple[str, str], str | set[object]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/objects/{key}"): PUBLIC,  # the HMAC-signed, expiring link is the credential
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/challenge"): PUBLIC,
    ("POST", "/api/auth/certificate"): PUBLIC,
    ("GET", "/api/auth/me"): SIGNED_IN,
    ("POST", "/api/auth/logout"): SIGNED_IN,
    ("POST", "/api/organisations"): PUBLIC,
    ("GET", "/api/organisations"): {Role.ADMIN, Role.SUPERVISOR},
    ("GET", "/api/organisations/{org_id}"): {Role.ADMIN, Role.SUPERVISOR, OWN_ORG},
    ("POST", "/api/organisations/{org_id}/approval"): {Role.ADMIN},
    ("POST", "/api/people"): {Role.ADMIN},
    ("POST", "/api/people/{person_id}/certificates"): {Role.ADMIN, SELF},
    ("GET", "/api/people/{person_id}/certificates"): {Role.ADMIN, Role.SUPERVISOR, SELF},
    ("GET", "/api/audit/tree-head"): PUBLIC,
    ("GET", "/api/audit/public-key"): PUBLIC,
    ("GET", "/api/audit/consistency"): PUBLIC,
    ("POST", "/api/audit/tree-heads"): {Role.ADMIN, Role.SUPERVISOR},
    ("GET", "/api/audit/events/{seq}/inclusion"): {Role.ADMIN, Role.SUPERVISOR, SELF},
    ("GET", "/api/audit/events/{seq}"): {Role.SUPERVISOR, SELF},
    ("GET", "/api/audit/events"): {Role.SUPERVISOR},
    ("GET", "/api/audit/export"): {Role.SUPERVISOR},
    ("GET", "/api/ca-providers"): {Role.ADMIN, Role.SUPERVISOR},
    ("POST", "/api/ca-providers"): {Role.ADMIN},
    ("DELETE", "/api/ca-providers/{name}"): {Role.ADMIN},
    ("POST", "/api/ca-providers/refresh"): {Role.ADMIN},
    ("POST", "/api/tsa"): SIGNED_IN,
    ("GET", "/api/tsa/certificate"): PUBLIC,
    # tenders (the matrix's tenders are published; drafts are covered in test_tenders_api)
    ("POST", "/api/tenders"): {Role.AGENCY_OFFICER},
    ("GET", "/api/tenders"): SIGNED_IN,
    ("GET", "/api/tenders/{tender_id}"): SIGNED_IN,
    ("PUT", "/api/tenders/{tender_id}"): {OWN_TENDER},
    ("POST", "/api/tenders/{tender_id}/publish"): {OWN_TENDER},
    ("POST", "/api/tenders/{tender_id}/cancel"): {OWN_TENDER},
    ("POST", "/api/tenders/{tender_id}/documents"): {OWN_TENDER},
    ("GET", "/api/tenders/{tender_id}/documents"): SIGNED_IN,
    ("GET", "/api/tenders/{tender_id}/documents/{document_id}/download"): {
        Role.BIDDER_REP,
        Role.SUPERVISOR,
        OWN_TENDER,
    },
    # reachable, but answered 403 downloads_sealed until the deadline
    ("GET", "/api/tenders/{tender_id}/downloads"): {Role.SUPERVISOR, OWN_TENDER},
    ("POST", "/api/tenders/{tender_id}/clarifications"): {OWN_TENDER},
    ("GET", "/api/tenders/{tender_id}/clarifications"): SIGNED_IN,
    ("POST", "/api/tenders/{tender_id}/questions"): {Role.BIDDER_REP},
    ("GET", "/api/tenders/{tender_id}/questions"): {Role.SUPERVISOR, OWN_TENDER},
    ("POST", "/api/tenders/{tender_id}/questions/{question_id}/answer"): {OWN_TENDER},
    # bids: lot opening keys (custodians are decided by the handler: 403 not_a_custodian)
    ("POST", "/api/tenders/{tender_id}/lots/{lot_number}/opening-key"): {OWN_TENDER},
    ("GET", "/api/tenders/{tender_id}/lots/{lot_number}/opening-key"): SIGNED_IN,
    ("GET", "/api/tenders/{tender_id}/lots/{lot_number}/opening-key/shares/mine"): SIGNED_IN,
    ("POST", "/api/tenders/{tender_id}/lots/{lot_number}/opening-key/releases"): SIGNED_IN,
    # bids: submission, withdrawal and receipts, each confined to the bidder's own organisation
    ("POST", "/api/tenders/{tender_id}/lots/{lot_number}/uploads"): {Role.BIDDER_REP},
    ("PUT", "/api/uploads/{upload_id}/parts/{number}"): {Role.BIDDER_REP},
    ("GET", "/api/uploads/{upload_id}"): {Role.BIDDER_REP},
    ("DELETE", "/api/uploads/{upload_id}"): {Role.BIDDER_REP},
    ("POST", "/api/uploads/{upload_id}/complete"): {Role.BIDDER_REP},
    ("POST", "/api/bids/{bid_id}/withdrawal"): {Role.BIDDER_REP},
    ("GET", "/api/receipts"): {Role.BIDDER_REP},
    ("GET", "/api/receipts/{receipt_id}"): {Role.BIDDER_REP},
    # the public portal
    ("GET", "/api/portal/tenders"): PUBLIC,
    ("GET", "/api/portal/tenders/{tender_id}"): PUBLIC,
    ("GET", "/api/portal/tenders/{tender_id}/documents"): PUBLIC,
    ("GET", "/api/portal/tenders/{tender_id}/documents/{document_id}/download"): PUBLIC,
    ("GET", "/api/portal/tenders/{tender_id}/clarifications"): PUBLIC,
    ("GET", "/api/portal/tenders/{tender_id}/results"): PUBLIC,
}


def routes(openapi: dict[str, object]) -> list[tuple[str, str]]:
    found = []
    paths = openapi["paths"]
    assert isinstance(paths, dict)
    for path, operations in paths.items():
        for method in operations:
            if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                found.append((method.upper(), re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", path)))
    # Logging out ends the caller's session, so it goes last.
    return sorted(found, key=lambda r: (r[1] == "/api/auth/logout", r))


def allowed(expected: str | set[object], role: Role | None, own_target: bool) -> bool:
    if expected == PUBLIC:
        return True
    if role is None:
        return False
    if expected == SIGNED_IN:
        return True
    assert isinstance(expected, set)
    if own_target and OWN_TENDER in expected and role == Role.AGENCY_OFFICER:
        return True
    return role in expected or (own_target and (OWN_ORG in expected or SELF in expected))


async def published_tender(world: World, org_id: str) -> str:
    """A published tender of ``org_id``, stored directly (the matrix needs only its owner)."""
    services = world.app.state.services
    now = services.clock.now()
    deadline = now + timedelta(days=25)
    tender = Tender(
        id=str(uuid.uuid4()),
        org_id=org_id,
        created_by="matrix",
        created_at=now,
        draft=TenderDraft(
            title="矩阵测试项目",
            code="M-1",
            category=Regime.CONSTRUCTION,
            procedure=Procedure.OPEN,
            region="福州",
            evaluation_method=EvaluationMethod.COMPREHENSIVE,
            documents_from=now,
            deadline=deadline,
            opening_at=deadline,
            lots=(
                Lot(
                    str(uuid.uuid4()),
                    1,
                    "第一标段",
                    100_000_000,
                    (OpeningField("price", "报价", "Price", FieldType.MONEY),),
                ),
            ),
        ),
        status=TenderStatus.PUBLISHED,
        rule_pack="cn-construction@2019-03-02",
        published_at=now,
    )
    async with services.uow() as uow:
        await uow.tenders.add(tender)
        await uow.commit()
    return tender.id


async def other_agency(world: World) -> str:
    services = world.app.state.services
    org = await identity.register_organisation(
        services.uow(),
        identity.RegisterOrganisation(
            "另一代理机构", make_credit_code("91350100MA0000088"), OrgType.AGENCY, "福州"
        ),
        actor=None,
        ip="",
        now=services.clock.now(),
    )
    return org.id


async def test_every_route_refuses_every_role_it_should(world: World) -> None:
    schema = (await world.client.get("/schema/openapi.json")).json()
    found = routes(schema)
    unknown = [r for r in found if r not in EXPECTED]
    assert unknown == [], "routes without an access decision in this test"
    assert {r for r in EXPECTED} <= set(found), "expected routes missing from the API"

    own_tender = await published_tender(world, world.orgs[OrgType.AGENCY])
    foreign_tender = await published_tender(world, await other_agency(world))

    failures: list[str] = []
    roles: list[Role | None] = [*Role, None]
    for method, path in found:
        expected = EXPECTED[(method, path)]
        for own_target in (False, True):
            for role in roles:
                actor = world.actors[role] if role else None
                if own_target and (actor is None or "{" not in path):
                    continue  # an own target only matters for routes about one object
                # A foreign target is another role's organisation / person.
                other = world.actors[
                    Role.BIDDER_REP if role != Role.BIDDER_REP else Role.ISSUER_OFFICER
                ]
                target = actor if own_target and actor else other
                url = (
                    path.replace("{org_id}", target.org_id)
                    .replace("{person_id}", target.person_id)
                    .replace("{key}", "some/object")
                    .replace("{seq}", str(target.event_seq))
                    .replace("{name}", "no-such-provider")
                    .replace(
                        "{tender_id}",
                        own_tender
                        if own_target and role == Role.AGENCY_OFFICER
                        else foreign_tender,
                    )
                    .replace("{document_id}", "no-such-document")
                    .replace("{question_id}", "no-such-question")
                    .replace("{lot_number}", "1")
                    .replace("{upload_id}", "0" * 32)
                    .replace("{number}", "1")
                    .replace("{bid_id}", "no-such-bid")
                    .replace("{receipt_id}", "no-such-receipt")
                )
                if path == "/objects/{key}":
                    url += "?expires=1&signature=00"
                headers = actor.headers if actor else {}
                response = await world.client.request(
                    method, url, headers=headers, json={} if method == "POST" else None
                )
                should = allowed(expected, role, own_target)
                refused = response.status_code in (401, 403) and (
                    response.json().get("code") in {"session_invalid", "forbidden"}
                )
                if should and refused:
                    failures.append(f"{role} refused {method} {url}: {response.text}")
                if not should:
                    want = 401 if role is None else 403
                    if response.status_code != want:
                        failures.append(f"{role} reached {method} {url}: {response.status_code}")
    assert failures == []
