"""The job outbox in the database.

Add in the caller's transaction, claim when due, record the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.tables import jobs
from trading.ports import Clock

# A job claimed by a worker that then died is offered again after this long.
STALE_RUNNING = timedelta(minutes=10)
# Failed attempts back off exponentially up to this many tries.
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class Job:
    id: int
    name: str
    payload: dict[str, Any]
    attempts: int


class SqlJobOutbox:
    """:class:`trading.ports.JobOutbox` on the unit of work's connection."""

    def __init__(self, connection: AsyncConnection, clock: Clock) -> None:
        self._conn = connection
        self._clock = clock
        self.added_due: list[int] = []
        """Ids of jobs added in this transaction that are due now (sent right after commit)."""

    async def add(
        self,
        name: str,
        payload: dict[str, object],
        *,
        at: datetime,
        dedupe_key: str | None = None,
    ) -> int:
        if dedupe_key is not None:
            existing = await self._conn.scalar(
                sa.select(jobs.c.id).where(jobs.c.dedupe_key == dedupe_key)
            )
            if existing is not None:
                return int(existing)
        now = self._clock.now()
        job_id = await self._conn.scalar(
            sa.insert(jobs)
            .values(
                name=name,
                payload=payload,
                dedupe_key=dedupe_key,
                state="pending",
                next_check=at,
                created_at=now,
            )
            .returning(jobs.c.id)
        )
        assert job_id is not None
        # Due unless in the future when added (callers compute ``at`` just before calling).
        if at <= now:
            self.added_due.append(int(job_id))
        return int(job_id)


async def claim(
    engine: AsyncEngine, now: datetime, *, job_ids: list[int] | None = None, limit: int = 100
) -> list[Job]:
    """Atomically move due jobs from pending (or stale running) to running and return them.

    Each job is claimed by exactly one caller: the conditional UPDATE is the arbiter, so two ticks
    or a tick and a post-commit send never run the same job twice at once.
    """
    due = sa.or_(
        sa.and_(jobs.c.state == "pending", jobs.c.next_check <= now),
        sa.and_(jobs.c.state == "running", jobs.c.next_check <= now - STALE_RUNNING),
    )
    query = sa.select(jobs.c.id).where(due).order_by(jobs.c.next_check).limit(limit)
    if job_ids is not None:
        query = query.where(jobs.c.id.in_(job_ids))
    claimed: list[Job] = []
    async with engine.begin() as conn:
        candidates = (await conn.scalars(query)).all()
    for job_id in candidates:
        async with engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.update(jobs)
                    .where(jobs.c.id == job_id, due)
                    .values(state="running", next_check=now, attempts=jobs.c.attempts + 1)
                    .returning(jobs.c.id, jobs.c.name, jobs.c.payload, jobs.c.attempts)
                )
            ).first()
        if row is not None:
            claimed.append(
                Job(id=row.id, name=row.name, payload=dict(row.payload), attempts=row.attempts)
            )
    return claimed


async def finish(engine: AsyncEngine, job_id: int, now: datetime, error: str | None = None) -> None:
    """Record the outcome: done, or pending again with back-off, or failed after MAX_ATTEMPTS."""
    async with engine.begin() as conn:
        if error is None:
            await conn.execute(
                sa.update(jobs)
                .where(jobs.c.id == job_id)
                .values(state="done", finished_at=now, last_error=None)
            )
            return
        attempts = await conn.scalar(sa.select(jobs.c.attempts).where(jobs.c.id == job_id)) or 0
        if attempts >= MAX_ATTEMPTS:
            values: dict[str, Any] = {"state": "failed", "finished_at": now}
        else:
            values = {"state": "pending", "next_check": now + timedelta(seconds=2**attempts * 5)}
        await conn.execute(
            sa.update(jobs).where(jobs.c.id == job_id).values(last_error=error[:4000], **values)
        )


async def get_state(engine: AsyncEngine, job_id: int) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(jobs).where(jobs.c.id == job_id))).mappings().first()
        return dict(row) if row else None
