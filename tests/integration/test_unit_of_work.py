"""The unit of work and the job outbox, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import jobs as job_store
from storage.db import create_engine
from storage.tables import jobs
from storage.uow import SqlUnitOfWork, StaleVersionError
from trading.errors import ConflictError
from trading.ports import FixedClock

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)

versioned = sa.Table(
    "uow_versioned_probe",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("value", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)


async def count_jobs(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(jobs)) or 0)


async def test_leaving_without_commit_rolls_back(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine, clock=FixedClock(NOW)) as uow:
        await uow.jobs.add("probe", {"n": 1}, at=NOW)
    assert await count_jobs(engine) == 0


async def test_an_error_inside_rolls_back_even_after_writes(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with SqlUnitOfWork(engine, clock=FixedClock(NOW)) as uow:
            await uow.jobs.add("probe", {}, at=NOW)
            raise RuntimeError("boom")
    assert await count_jobs(engine) == 0


async def test_jobs_are_sent_only_after_commit(engine: AsyncEngine) -> None:
    sent: list[list[int]] = []
    seen_rows_when_sent: list[int] = []

    async def send(ids: list[int]) -> None:
        # The worker must find the row: it has to be committed when we are called.
        seen_rows_when_sent.append(await count_jobs(engine))
        sent.append(ids)

    uow = SqlUnitOfWork(engine, clock=FixedClock(NOW), send_jobs=send)
    async with uow:
        due = await uow.jobs.add("probe", {"n": 1}, at=NOW)
        await uow.jobs.add("later", {"n": 2}, at=NOW + timedelta(hours=1))
        assert sent == []
        await uow.commit()
        assert sent == []  # still inside the block
    assert sent == [[due]]
    assert seen_rows_when_sent == [2]

    async with uow:
        await uow.jobs.add("probe", {"n": 3}, at=NOW)
    assert sent == [[due]]  # rolled back: nothing sent


async def test_dedupe_key_makes_adding_idempotent(engine: AsyncEngine) -> None:
    for _ in range(2):
        async with SqlUnitOfWork(engine, clock=FixedClock(NOW)) as uow:
            await uow.jobs.add("open", {"lot": 7}, at=NOW, dedupe_key="open:7")
            await uow.commit()
    assert await count_jobs(engine) == 1


async def test_a_due_job_is_claimed_by_exactly_one_of_many_claimers(engine: AsyncEngine) -> None:
    async with SqlUnitOfWork(engine, clock=FixedClock(NOW)) as uow:
        ids = [await uow.jobs.add("probe", {"i": i}, at=NOW) for i in range(5)]
        await uow.jobs.add("future", {}, at=NOW + timedelta(minutes=5))
        await uow.commit()
    results = await asyncio.gather(*(job_store.claim(engine, NOW) for _ in range(4)))
    claimed = sorted(job.id for batch in results for job in batch)
    assert claimed == ids


async def test_failed_jobs_back_off_and_stale_running_jobs_are_offered_again(
    engine: AsyncEngine,
) -> None:
    async with SqlUnitOfWork(engine, clock=FixedClock(NOW)) as uow:
        job_id = await uow.jobs.add("probe", {}, at=NOW)
        await uow.commit()
    [job] = await job_store.claim(engine, NOW)
    await job_store.finish(engine, job.id, NOW, error="Traceback: boom")
    state = await job_store.get_state(engine, job_id)
    assert state is not None and state["state"] == "pending" and state["attempts"] == 1
    assert state["next_check"] > NOW and "boom" in state["last_error"]
    assert await job_store.claim(engine, NOW) == []  # backing off
    later = state["next_check"]
    [again] = await job_store.claim(engine, later)
    assert again.attempts == 2
    # The worker "dies": the job stays running until it is stale, then is offered again.
    assert await job_store.claim(engine, later + timedelta(minutes=1)) == []
    [rescued] = await job_store.claim(engine, later + job_store.STALE_RUNNING)
    assert rescued.id == job_id
    await job_store.finish(engine, job_id, later)
    final = await job_store.get_state(engine, job_id)
    assert final is not None and final["state"] == "done"


async def test_optimistic_version_conflict_is_a_typed_conflict(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(versioned.metadata.create_all)
        await conn.execute(sa.insert(versioned).values(id=1, value=0, version=1))

    async with SqlUnitOfWork(engine) as first, SqlUnitOfWork(engine) as second:
        # Both read version 1; the first to write wins, the second gets a conflict.
        assert await first.update_versioned(versioned, versioned.c.id, 1, 1, {"value": 10}) == 2
        await first.commit()
        with pytest.raises(StaleVersionError) as info:
            await second.update_versioned(versioned, versioned.c.id, 1, 1, {"value": 20})
        assert isinstance(info.value, ConflictError)
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(versioned.c.value, versioned.c.version))).one() == (
            10,
            2,
        )


async def test_row_lock_serialises_read_modify_write(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(versioned.metadata.create_all)
        await conn.execute(sa.insert(versioned).values(id=1, value=0, version=1))

    async def increment() -> None:
        async with SqlUnitOfWork(engine) as uow:
            await uow.lock_row(versioned, versioned.c.id, 1)
            value = await uow.connection.scalar(sa.select(versioned.c.value))
            await asyncio.sleep(0.01)  # widen the race window
            await uow.connection.execute(sa.update(versioned).values(value=(value or 0) + 1))
            await uow.commit()

    await asyncio.gather(*(increment() for _ in range(5)))
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(versioned.c.value)) == 5


async def test_sqlite_writers_of_one_process_take_their_turns_in_order(tmp_path: Path) -> None:
    """A writer that finds the database locked would sleep in SQLite's busy handler (up to 100 ms
    between tries, so the latest comer often goes first and the database idles meanwhile); this
    process's writers queue instead and go in the order they asked."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(versioned.metadata.create_all)
        await conn.execute(sa.insert(versioned).values(id=1, value=0, version=1))
    release = asyncio.Event()
    order: list[int] = []

    async def writer(n: int, asked: asyncio.Event) -> None:
        async with SqlUnitOfWork(engine) as uow:
            asked.set()
            await uow.lock_row(versioned, versioned.c.id, 1)
            order.append(n)
            if n == 0:
                await release.wait()
            await uow.connection.execute(sa.update(versioned).values(value=versioned.c.value + 1))
            await uow.commit()

    tasks = []
    for n in range(6):
        asked = asyncio.Event()
        tasks.append(asyncio.create_task(writer(n, asked)))
        await asked.wait()
        await asyncio.sleep(0.2)  # let it reach the lock (and, without a queue, SQLite's sleeps)
    release.set()
    # A newcomer goes after those already waiting; in SQLite's busy handler it would try at once,
    # while the others sleep, and overtake them.
    tasks.append(asyncio.create_task(writer(6, asyncio.Event())))
    await asyncio.gather(*tasks)
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(versioned.c.value)) == 7
    await engine.dispose()
    assert order == list(range(7))
