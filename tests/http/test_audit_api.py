"""The audit log over HTTP: signed heads, proofs a client checks itself, search, export."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from signing import log_key
from storage.audit_tables import audit_events
from tests.http.conftest import World
from trading.audit.events import canonical_json, parse_tree_head_payload
from trading.audit.merkle import (
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from trading.audit.verify import verify_export
from trading.identity.model import Role
from trading.ports import AuditRecord
from webapp.api.audit import publish_when_due


async def _head(world: World, role: Role = Role.SUPERVISOR) -> dict[str, object]:
    response = await world.client.post("/api/audit/tree-heads", headers=world.actors[role].headers)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def test_a_published_head_is_signed_and_matches_the_exported_leaves(world: World) -> None:
    assert (await world.client.get("/api/audit/tree-head")).json()["code"] == "audit_no_tree_head"
    head = await _head(world)
    public = await world.client.get("/api/audit/public-key")
    check = log_key.verifier(public.content)

    latest = (await world.client.get("/api/audit/tree-head")).json()
    assert latest == head
    signed = base64.b64decode(str(head["signed"]))
    assert check(signed, base64.b64decode(str(head["signature"])))
    assert not check(signed + b" ", base64.b64decode(str(head["signature"])))
    size, root, _ = parse_tree_head_payload(signed)
    assert (size, root.hex()) == (head["size"], head["root"])

    # Page through the export as a supervisor and recompute the root from the leaf bytes.
    supervisor = world.actors[Role.SUPERVISOR].headers
    leaves: list[bytes] = []
    after = -1
    while True:
        page = (
            await world.client.get(
                "/api/audit/export",
                params={"after": after, "limit": 3, "size": size},
                headers=supervisor,
            )
        ).json()
        for line in page["lines"]:
            leaf = base64.b64decode(line["leaf"])
            assert leaf_hash(leaf).hex() == line["leaf_hash"]
            leaves.append(leaf)
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert len(leaves) == size
    assert root_from_leaf_hashes([leaf_hash(leaf) for leaf in leaves]) == root


async def test_inclusion_proofs_are_for_the_actor_and_supervisors(world: World) -> None:
    bidder = world.actors[Role.BIDDER_REP]
    own = await world.client.get(
        f"/api/audit/events/{bidder.event_seq}/inclusion", headers=bidder.headers
    )
    assert own.status_code == 200, own.text
    proof = own.json()
    verdict = verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        bidder.event_seq,
        proof["size"],
        [bytes.fromhex(h) for h in proof["path"]],
        bytes.fromhex(proof["root"]),
    )
    assert verdict.valid, verdict
    # A tampered path does not verify.
    if proof["path"]:
        bad = [bytes.fromhex(h) for h in proof["path"]]
        bad[0] = bytes(32)
        assert not verify_inclusion(
            bytes.fromhex(proof["leaf_hash"]),
            bidder.event_seq,
            proof["size"],
            bad,
            bytes.fromhex(proof["root"]),
        ).valid

    other = world.actors[Role.AGENCY_OFFICER].event_seq
    refused = await world.client.get(f"/api/audit/events/{other}", headers=bidder.headers)
    assert refused.status_code == 403
    missing = await world.client.get("/api/audit/events/999999", headers=bidder.headers)
    assert missing.status_code == 404
    garbage = await world.client.get("/api/audit/events/-1", headers=bidder.headers)
    assert garbage.status_code == 422
    assert garbage.json()["code"] == "audit_seq_invalid"


async def test_consistency_between_two_heads(world: World) -> None:
    first = await _head(world)
    await world.client.post(
        "/api/auth/login",
        json={"username": "user.bidder_rep", "password": "wrong"},
    )
    second = await _head(world, Role.ADMIN)
    assert int(str(second["size"])) > int(str(first["size"]))
    proof = (
        await world.client.get(
            "/api/audit/consistency",
            params={"first": first["size"], "second": second["size"]},
        )
    ).json()
    verdict = verify_consistency(
        int(str(first["size"])),
        int(str(second["size"])),
        bytes.fromhex(str(first["root"])),
        bytes.fromhex(str(second["root"])),
        [bytes.fromhex(h) for h in proof["path"]],
    )
    assert verdict.valid, verdict
    too_big = await world.client.get("/api/audit/consistency", params={"first": 1, "second": 10**6})
    assert too_big.status_code == 422


async def test_supervisors_search_and_the_search_is_logged(world: World) -> None:
    supervisor = world.actors[Role.SUPERVISOR]
    bidder = world.actors[Role.BIDDER_REP]
    found = (
        await world.client.get(
            "/api/audit/events",
            params={"organisation_id": bidder.org_id, "action": "auth.logged_in"},
            headers=supervisor.headers,
        )
    ).json()
    assert [e["actor_id"] for e in found["events"]] == [bidder.person_id]
    assert found["next_after"] is None

    logged = (
        await world.client.get(
            "/api/audit/events",
            params={"actor_id": supervisor.person_id, "action": "audit.searched"},
            headers=supervisor.headers,
        )
    ).json()["events"]
    assert logged and logged[0]["after"]["organisation_id"] == bidder.org_id

    refused = await world.client.get("/api/audit/events", headers=bidder.headers)
    assert refused.status_code == 403


async def test_sealed_events_stay_hidden_from_supervisors_until_their_deadline(
    world: World,
) -> None:
    services = world.app.state.services
    bidder = world.actors[Role.BIDDER_REP]
    supervisor = world.actors[Role.SUPERVISOR]
    deadline = services.clock.now() + timedelta(days=3)
    async with services.uow() as uow:
        seq = await uow.audit.append(
            AuditRecord(
                action="bid.submitted",
                object_type="bid",
                object_id="b-1",
                actor_id=bidder.person_id,
                organisation_id=bidder.org_id,
                role=str(Role.BIDDER_REP),
                ip="127.0.0.1",
                tender_id="t-1",
                sealed_until=deadline,
            ),
            at=services.clock.now(),
        )
        await uow.commit()

    mine = (await world.client.get(f"/api/audit/events/{seq}", headers=bidder.headers)).json()
    assert mine["action"] == "bid.submitted" and mine["tender_id"] == "t-1"
    hidden = (await world.client.get(f"/api/audit/events/{seq}", headers=supervisor.headers)).json()
    assert hidden == {"seq": seq, "sealed": True, "commitment": hidden["commitment"]}
    by_tender = (
        await world.client.get(
            "/api/audit/events", params={"tender_id": "t-1"}, headers=supervisor.headers
        )
    ).json()
    assert by_tender["events"] == []


async def test_the_tick_publishes_when_due_and_an_export_verifies_offline(
    world: World, tmp_path: Path
) -> None:
    services = world.app.state.services
    assert await publish_when_due(services) == 1
    assert await publish_when_due(services) == 0  # not due again within the period

    out = tmp_path / "export"
    async with services.uow() as uow:
        await uow.audit.export(out, services.clock.now())
    pem = (await world.client.get("/api/audit/public-key")).content
    verdict = verify_export(out, log_key.verifier(pem))
    assert verdict.intact and verdict.heads_checked >= 1 and verdict.signatures_checked


async def test_an_event_edited_in_the_database_fails_its_inclusion_proof(world: World) -> None:
    supervisor = world.actors[Role.SUPERVISOR]
    bidder = world.actors[Role.BIDDER_REP]
    seq = bidder.event_seq
    engine = world.app.state.services.engine
    async with engine.begin() as conn:  # someone with the database owner's rights
        if conn.dialect.name == "postgresql":
            await conn.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            for name in ("audit_events_no_update", "audit_events_no_delete"):
                await conn.execute(sa.text(f"DROP TRIGGER {name}"))
        leaf = (
            await conn.execute(sa.select(audit_events.c.leaf).where(audit_events.c.seq == seq))
        ).scalar_one()
        event = json.loads(leaf)
        event["ip"] = "192.0.2.66"
        await conn.execute(
            audit_events.update()
            .where(audit_events.c.seq == seq)
            .values(leaf=canonical_json(event))
        )
    proof = (
        await world.client.get(f"/api/audit/events/{seq}/inclusion", headers=supervisor.headers)
    ).json()
    assert base64.b64decode(proof["leaf"]) == canonical_json(event)
    verdict = verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        seq,
        proof["size"],
        [bytes.fromhex(h) for h in proof["path"]],
        bytes.fromhex(proof["root"]),
    )
    assert not verdict.valid and verdict.code == "root_mismatch"
