"""The audit log in a real database (SQLite and PostgreSQL), exported and verified offline."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.audit_tables import audit_events, audit_nodes
from storage.uow import SqlUnitOfWork
from tests.audit import rfc6962_reference as ref
from trading.audit.events import (
    AuditEvent,
    Visibility,
    canonical_json,
    parse_sealed_leaf,
    visible_to,
)
from trading.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from trading.audit.verify import verify_export
from trading.identity.model import Principal, Role
from trading.ports import AuditRecord, FixedClock

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(days=20)
KEY = ed25519.Ed25519PrivateKey.generate()


def sign(payload: bytes) -> bytes:
    return KEY.sign(payload)


def check_signature(payload: bytes, signature: bytes) -> bool:
    try:
        KEY.public_key().verify(signature, payload)
    except Exception:
        return False
    return True


def record(i: int, *, sealed: bool = False, actor: str = "person-1") -> AuditRecord:
    return AuditRecord(
        action="bid.submitted" if sealed else "org.updated",
        object_type="bid" if sealed else "organisation",
        object_id=f"obj-{i}",
        actor_id=actor,
        organisation_id="org-1",
        role="bidder_rep",
        ip="198.51.100.7",
        after={"n": i, "tender_id": "T-9"},
        sealed_until=DEADLINE if sealed else None,
    )


def uow(engine: AsyncEngine) -> SqlUnitOfWork:
    return SqlUnitOfWork(engine, clock=FixedClock(NOW))


async def append_many(engine: AsyncEngine, n: int, *, sealed_every: int = 0) -> list[int]:
    seqs = []
    async with uow(engine) as u:
        for i in range(n):
            sealed = bool(sealed_every) and i % sealed_every == sealed_every - 1
            seqs.append(await u.audit.append(record(i, sealed=sealed), at=NOW))
        await u.commit()
    return seqs


async def leaves(engine: AsyncEngine) -> list[bytes]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(audit_events.c.leaf).order_by(audit_events.c.seq))
        return [r.leaf for r in rows]


async def test_appends_are_gapless_and_form_the_rfc6962_tree(engine: AsyncEngine) -> None:
    assert await append_many(engine, 23, sealed_every=4) == list(range(23))
    entries = await leaves(engine)
    async with uow(engine) as u:
        log = u.audit
        assert await log.size() == 23
        assert await log.root() == ref.mth(entries)
        for size in (1, 5, 16, 23):
            assert await log.root(size) == ref.mth(entries[:size])
            for seq in range(size):
                proof = await log.inclusion_proof(seq, size)
                assert proof == ref.path(seq, entries[:size])
                assert verify_inclusion(
                    leaf_hash(entries[seq]), seq, size, proof, ref.mth(entries[:size])
                )
        for m in range(24):
            proof = await log.consistency_proof(m, 23)
            assert proof == ref.proof(m, entries)
            assert verify_consistency(m, 23, ref.mth(entries[:m]), ref.mth(entries), proof)


async def test_a_rolled_back_change_leaves_no_hole(engine: AsyncEngine) -> None:
    await append_many(engine, 2)
    async with uow(engine) as u:
        assert await u.audit.append(record(2), at=NOW) == 2
        # leaving without commit rolls the event back together with the change
    async with uow(engine) as u:
        assert await u.audit.append(record(3), at=NOW) == 2
        await u.commit()
    async with uow(engine) as u:
        assert await u.audit.size() == 3
        assert (await u.audit.get_event(2)).object_id == "obj-3"


async def test_concurrent_appenders_get_distinct_gapless_seqs(engine: AsyncEngine) -> None:
    async def one(i: int) -> int:
        async with uow(engine) as u:
            seq = await u.audit.append(record(i), at=NOW)
            await asyncio.sleep(0)  # let the others run into the sequencer lock
            await u.commit()
            return seq

    seqs = await asyncio.gather(*(one(i) for i in range(12)))
    assert sorted(seqs) == list(range(12))
    async with uow(engine) as u:
        assert await u.audit.root() == ref.mth(await leaves(engine))


async def _refused(engine: AsyncEngine, statement: str) -> bool:
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement))
    except DBAPIError as exc:
        return "append-only" in str(exc)
    return False


async def test_the_database_refuses_update_delete_and_truncate(engine: AsyncEngine) -> None:
    await append_many(engine, 3)
    async with uow(engine) as u:
        await u.audit.sign_tree_head(sign, NOW)
        await u.commit()
    assert (
        await _refused(engine, "UPDATE audit_events SET ip_placeholder = 1") is False
    )  # no column
    assert await _refused(engine, "UPDATE audit_events SET at = at WHERE seq = 1")
    assert await _refused(engine, "DELETE FROM audit_events WHERE seq = 2")
    assert await _refused(engine, "UPDATE audit_nodes SET hash = hash")
    assert await _refused(engine, "DELETE FROM audit_tree_heads")
    if engine.dialect.name == "postgresql":
        assert await _refused(engine, "TRUNCATE audit_events")
    async with uow(engine) as u:
        assert await u.audit.size() == 3


async def _disable_protection(engine: AsyncEngine) -> None:
    # What an attacker with the owner's rights (or the SQLite file) can do; verify must notice.
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            for name in ("audit_events_no_update", "audit_events_no_delete"):
                await conn.execute(sa.text(f"DROP TRIGGER {name}"))


def _edited(leaf: bytes) -> bytes:
    event = json.loads(leaf)
    event["ip"] = "192.0.2.66"  # someone covering their tracks
    edited = canonical_json(event)
    assert edited != leaf
    return edited


async def _export(engine: AsyncEngine, out: Path, now: datetime = NOW) -> None:
    async with uow(engine) as u:
        await u.audit.export(out, now)


async def test_an_honest_export_verifies_with_signed_heads(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await append_many(engine, 10, sealed_every=3)
    async with uow(engine) as u:
        first = await u.audit.sign_tree_head(sign, NOW)
        await u.commit()
    await append_many(engine, 7)
    async with uow(engine) as u:
        second = await u.audit.sign_tree_head(sign, NOW + timedelta(hours=1))
        again = await u.audit.sign_tree_head(sign, NOW + timedelta(hours=2))
        await u.commit()
    assert (first.size, second.size) == (10, 17) and again == second
    await _export(engine, tmp_path / "x")
    verdict = verify_export(tmp_path / "x", check_signature)
    assert verdict.intact, verdict.problems
    assert (verdict.size, verdict.heads_checked, verdict.signatures_checked) == (17, 2, True)
    assert verdict.root == second.root
    # The same export checked against another key: the heads are not the platform's.
    other = ed25519.Ed25519PrivateKey.generate().public_key()

    def other_check(payload: bytes, signature: bytes) -> bool:
        try:
            other.verify(signature, payload)
        except Exception:
            return False
        return True

    forged = verify_export(tmp_path / "x", other_check)
    assert not forged.intact
    assert {p.code for p in forged.problems} == {"head_signature_invalid"}


async def test_a_row_edited_with_sql_is_named_by_verify(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await append_many(engine, 12)
    async with uow(engine) as u:
        await u.audit.sign_tree_head(sign, NOW)
        await u.commit()
    await _disable_protection(engine)
    async with engine.begin() as conn:
        row = (
            await conn.execute(sa.select(audit_events.c.leaf).where(audit_events.c.seq == 7))
        ).one()
        edited = _edited(row.leaf)
        await conn.execute(audit_events.update().where(audit_events.c.seq == 7).values(leaf=edited))
    await _export(engine, tmp_path / "x")
    verdict = verify_export(tmp_path / "x", check_signature)
    assert not verdict.intact
    assert verdict.first_bad_seq == 7
    assert "leaf_hash_mismatch" in {p.code for p in verdict.problems}
    assert "head_root_mismatch" in {p.code for p in verdict.problems}


async def test_an_edit_that_also_rewrites_the_hash_is_caught_by_the_signed_head(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await append_many(engine, 6)
    async with uow(engine) as u:
        await u.audit.sign_tree_head(sign, NOW)
        await u.commit()
    await append_many(engine, 6)
    async with uow(engine) as u:
        await u.audit.sign_tree_head(sign, NOW)
        await u.commit()
    await _disable_protection(engine)
    async with engine.begin() as conn:
        row = (
            await conn.execute(sa.select(audit_events.c.leaf).where(audit_events.c.seq == 9))
        ).one()
        edited = _edited(row.leaf)
        await conn.execute(
            audit_events.update()
            .where(audit_events.c.seq == 9)
            .values(leaf=edited, leaf_hash=leaf_hash(edited))
        )
    await _export(engine, tmp_path / "x")
    verdict = verify_export(tmp_path / "x", check_signature)
    assert not verdict.intact
    mismatch = [p for p in verdict.problems if p.code == "head_root_mismatch"]
    assert [(p.seq, p.seq_end) for p in mismatch] == [(6, 11)]  # the head of 6 still holds
    assert verdict.first_bad_seq == 6


async def test_a_deleted_row_is_detected(engine: AsyncEngine, tmp_path: Path) -> None:
    await append_many(engine, 5)
    await _disable_protection(engine)
    async with engine.begin() as conn:
        await conn.execute(audit_events.delete().where(audit_events.c.seq == 3))
    await _export(engine, tmp_path / "x")
    verdict = verify_export(tmp_path / "x")
    assert not verdict.intact and verdict.first_bad_seq == 3
    assert {"seq_gap", "manifest_mismatch"} <= {p.code for p in verdict.problems}


async def test_sealed_events_stay_sealed_until_the_deadline(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await append_many(engine, 6, sealed_every=2)  # seqs 1, 3, 5 are sealed
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_events).order_by(audit_events.c.seq))).all()
    for r in rows[1::2]:
        assert parse_sealed_leaf(r.leaf) is not None
        assert r.action is None and r.object_type is None and r.object_id is None
        assert b"T-9" not in r.leaf
    await _export(engine, tmp_path / "before", NOW)
    before_text = (tmp_path / "before" / "events.jsonl").read_text()
    assert "content" not in before_text
    before = verify_export(tmp_path / "before")
    assert before.intact and before.revealed_checked == 0
    await _export(engine, tmp_path / "after", DEADLINE)
    after = verify_export(tmp_path / "after")
    assert after.intact and after.revealed_checked == 3
    # A withheld content edited in the database is caught when it is revealed.
    await _disable_protection(engine)
    async with engine.begin() as conn:
        content = rows[3].content.replace(b'"n":3', b'"n":4')
        await conn.execute(
            audit_events.update().where(audit_events.c.seq == 3).values(content=content)
        )
    await _export(engine, tmp_path / "edited", DEADLINE)
    edited = verify_export(tmp_path / "edited")
    assert not edited.intact and edited.first_bad_seq == 3
    assert [p.code for p in edited.problems] == ["reveal_mismatch"]
    # The stored event reads back whole, and visibility follows the rules.
    async with uow(engine) as u:
        event = await u.audit.get_event(1)
    assert (
        isinstance(event, AuditEvent)
        and event.sealed
        and event.after == {"n": 1, "tender_id": "T-9"}
    )
    supervisor = Principal("sup", "org-s", Role.SUPERVISOR, "s")
    assert visible_to(event, supervisor, NOW) is Visibility.COMMITMENT
    assert visible_to(event, supervisor, DEADLINE) is Visibility.FULL


async def test_the_tick_pads_sealed_leaves_to_a_bucket_and_signs(engine: AsyncEngine) -> None:
    await append_many(engine, 10, sealed_every=2)  # 5 sealed
    async with uow(engine) as u:
        head = await u.audit.publish(sign, NOW, bucket=8, hold=timedelta(days=90))
        await u.commit()
    assert head.size == 13  # 3 covers make 8 sealed leaves in the period
    async with engine.connect() as conn:
        sealed = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(audit_events)
            .where(audit_events.c.sealed_until.is_not(None))
        )
        nodes = await conn.scalar(sa.select(sa.func.count()).select_from(audit_nodes))
    assert sealed == 8
    assert nodes == 13 - (13).bit_count()  # every completed interior subtree has a row
    async with uow(engine) as u:
        quiet = await u.audit.publish(
            sign, NOW + timedelta(hours=1), bucket=8, hold=timedelta(days=90)
        )
        await u.commit()
    assert quiet.size == 21  # a quiet period still grows by one bucket
