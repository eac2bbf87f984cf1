"""Every route from the OpenAPI document against every role: nothing reachable that should not be.

The expectations are written out here, independently of the policy table in the code, so a route
added without a decision here fails the test, and a policy that drifts from this list fails too.
"""

from __future__ import annotations

import re

from tests.http.conftest import World
from trading.identity.model import Role

PUBLIC = "public"
SIGNED_IN = "signed_in"
OWN_ORG = "own_org"  # allowed when the path's org_id is the caller's organisation
SELF = "self"  # allowed when the path's person_id is the caller

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
    return role in expected or (own_target and (OWN_ORG in expected or SELF in expected))


async def test_every_route_refuses_every_role_it_should(world: World) -> None:
    schema = (await world.client.get("/schema/openapi.json")).json()
    found = routes(schema)
    unknown = [r for r in found if r not in EXPECTED]
    assert unknown == [], "routes without an access decision in this test"
    assert {r for r in EXPECTED} <= set(found), "expected routes missing from the API"

    failures: list[str] = []
    roles: list[Role | None] = [*Role, None]
    for method, path in found:
        expected = EXPECTED[(method, path)]
        for own_target in (False, True):
            for role in roles:
                actor = world.actors[role] if role else None
                if own_target and actor is None:
                    continue
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
