"""Running jobs: in-process on the embedded default, Celery workers with a broker.

The same handler functions run in both cases. A job is sent only after the transaction that wrote
it has committed (see :class:`storage.uow.SqlUnitOfWork`), and the scheduler tick re-offers any due
job that was never sent or whose worker died, so nothing is lost between commit and send.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from storage import jobs as job_store
from storage.tables import jobs as jobs_table

if TYPE_CHECKING:
    from webapp.services import Services

log = logging.getLogger("tenderhall.jobs")

JobHandler = Callable[["Services", dict[str, Any]], Awaitable[None]]
DueWorkSource = Callable[["Services"], Awaitable[int]]
"""A tick participant: finds work due by its own ``next_check`` and acts on it idempotently."""

_handlers: dict[str, JobHandler] = {}
_due_sources: list[DueWorkSource] = []

REGISTERING_MODULES = ("webapp.api.audit", "webapp.api.trust", "webapp.api.tenders")
"""Modules whose import registers job handlers and due-work sources (web process and workers)."""


def load_registrations() -> None:
    for name in REGISTERING_MODULES:
        importlib.import_module(name)


def job_handler(name: str) -> Callable[[JobHandler], JobHandler]:
    """Register the function that runs jobs called ``name``."""

    def register(fn: JobHandler) -> JobHandler:
        _handlers[name] = fn
        return fn

    return register


def due_work_source(fn: DueWorkSource) -> DueWorkSource:
    """Register a function the scheduler tick calls on every tick."""
    _due_sources.append(fn)
    return fn


class UnknownJobError(LookupError):
    pass


async def run_job(services: Services, job_id: int) -> bool:
    """Claim job ``job_id`` if it is due and run it; False if someone else has it or it is done."""
    now = services.clock.now()
    claimed = await job_store.claim(services.engine, now, job_ids=[job_id])
    if not claimed:
        return False
    job = claimed[0]
    load_registrations()
    handler = _handlers.get(job.name)
    error: str | None = None
    if handler is None:
        error = f"no handler for job {job.name!r}"
    else:
        try:
            await handler(services, job.payload)
        except Exception:
            error = traceback.format_exc()
            log.exception("job failed", extra={"job_id": job.id, "job": job.name})
    await job_store.finish(services.engine, job.id, services.clock.now(), error)
    return error is None


async def due_job_ids(services: Services, limit: int = 500) -> list[int]:
    now = services.clock.now()
    async with services.engine.connect() as conn:
        rows = await conn.scalars(
            sa.select(jobs_table.c.id)
            .where(
                sa.or_(
                    sa.and_(jobs_table.c.state == "pending", jobs_table.c.next_check <= now),
                    sa.and_(
                        jobs_table.c.state == "running",
                        jobs_table.c.next_check <= now - job_store.STALE_RUNNING,
                    ),
                )
            )
            .order_by(jobs_table.c.next_check)
            .limit(limit)
        )
        return [int(i) for i in rows]


async def tick(services: Services, dispatcher: Dispatcher | None = None) -> int:
    """One scheduler tick: offer every due job to the dispatcher and run the due-work sources.

    Idempotent: claiming decides who runs a job, so overlapping ticks do no harm.
    """
    load_registrations()
    ids = await due_job_ids(services)
    if ids:
        await (dispatcher or services.dispatcher).send(ids)
    handled = len(ids)
    for source in _due_sources:
        handled += await source(services)
    return handled


class Dispatcher(Protocol):
    async def send(self, job_ids: list[int]) -> None: ...

    async def close(self) -> None: ...


class InProcessDispatcher:
    """Runs jobs as asyncio tasks in the web process (the embedded default)."""

    def __init__(self, services_ref: Callable[[], Services]) -> None:
        self._services = services_ref
        self._tasks: set[asyncio.Task[bool]] = set()

    async def send(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            task = asyncio.create_task(run_job(self._services(), job_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every job started so far (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()


class CeleryDispatcher:
    """Sends ``tenderhall.run_job`` messages to the broker; workers claim and run the jobs."""

    def __init__(self, celery_app: Any) -> None:
        self._app = celery_app

    async def send(self, job_ids: list[int]) -> None:
        def publish() -> None:
            for job_id in job_ids:
                self._app.send_task("tenderhall.run_job", args=[job_id])

        # kombu's publish blocks on the socket; keep it off the event loop.
        await asyncio.to_thread(publish)

    async def close(self) -> None:
        return None
