"""Jobs through a real Redis broker and a Celery worker, and in-process (embedded default)."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from storage import jobs as job_store
from storage.tables import jobs
from webapp import jobs as job_runtime
from webapp.jobs import CeleryDispatcher, InProcessDispatcher
from webapp.services import Services, build_services
from webapp.settings import Settings

ran: list[tuple[str, dict[str, Any], str]] = []
ran_lock = threading.Lock()


@job_runtime.job_handler("test.record")
async def record(services: Services, payload: dict[str, Any]) -> None:
    with ran_lock:
        ran.append(("test.record", payload, threading.current_thread().name))


@job_runtime.job_handler("test.fail_once")
async def fail_once(services: Services, payload: dict[str, Any]) -> None:
    with ran_lock:
        attempts = sum(1 for name, p, _ in ran if name == "test.fail_once" and p == payload)
        ran.append(("test.fail_once", payload, threading.current_thread().name))
    if attempts == 0:
        raise RuntimeError("first attempt fails")


def settings_for(database_url: str, tmp_path: Path, broker_url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        storage_url=(tmp_path / "objects").as_uri(),
        broker_url=broker_url,
        secret_key="s" * 32,
    )


async def wait_for_state(services: Services, job_id: int, state: str) -> dict[str, Any]:
    for _ in range(400):
        row = await job_store.get_state(services.engine, job_id)
        if row is not None and row["state"] == state:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {state}: {row}")


@pytest.fixture
def celery_worker(
    database_url: str, tmp_path: Path, redis_url: str
) -> Iterator[tuple[Settings, Any]]:
    from celery.contrib.testing.worker import start_worker

    from webapp.worker import make_celery

    settings = settings_for(database_url, tmp_path, redis_url)
    app = make_celery(settings)
    # A queue of our own so parallel runs on one Redis never take each other's messages.
    app.conf.task_default_queue = f"tenderhall-test-{uuid.uuid4().hex[:8]}"
    with start_worker(
        app,
        pool="solo",
        perform_ping_check=False,
        queues=[app.conf.task_default_queue],
        shutdown_timeout=10,
    ):
        yield settings, app


@pytest.mark.redis
async def test_a_committed_job_runs_on_a_celery_worker(celery_worker: tuple[Settings, Any]) -> None:
    settings, app = celery_worker
    services = build_services(settings, dispatcher=lambda s: CeleryDispatcher(app))
    try:
        marker = uuid.uuid4().hex
        async with services.uow() as uow:
            job_id = await uow.jobs.add("test.record", {"marker": marker}, at=services.clock.now())
            await uow.commit()
        await wait_for_state(services, job_id, "done")
        [(_, _, thread)] = [r for r in ran if r[1] == {"marker": marker}]
        assert thread == "tenderhall-loop"  # ran in the worker's runtime, not in this test
    finally:
        await services.close()


@pytest.mark.redis
async def test_beat_tick_sends_jobs_that_were_never_sent(
    celery_worker: tuple[Settings, Any],
) -> None:
    settings, app = celery_worker
    services = build_services(settings, dispatcher=lambda s: CeleryDispatcher(app))
    try:
        marker = uuid.uuid4().hex
        # Simulate a crash between commit and send: the row exists, nobody sent it.
        async with services.engine.begin() as conn:
            job_id = await conn.scalar(
                sa.insert(jobs)
                .values(
                    name="test.record",
                    payload={"marker": marker},
                    state="pending",
                    next_check=services.clock.now() - timedelta(seconds=1),
                    created_at=services.clock.now(),
                )
                .returning(jobs.c.id)
            )
        assert job_id is not None
        await asyncio.to_thread(app.send_task, "tenderhall.tick")
        await wait_for_state(services, job_id, "done")
    finally:
        await services.close()


async def test_in_process_jobs_run_and_failures_are_retried(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path, None)
    services = build_services(settings)
    assert isinstance(services.dispatcher, InProcessDispatcher)
    try:
        marker = uuid.uuid4().hex
        async with services.uow() as uow:
            ok_id = await uow.jobs.add("test.record", {"marker": marker}, at=services.clock.now())
            flaky_id = await uow.jobs.add("test.fail_once", {"m": marker}, at=services.clock.now())
            missing_id = await uow.jobs.add("test.no_handler", {}, at=services.clock.now())
            await uow.commit()
        await services.dispatcher.drain()
        assert (await wait_for_state(services, ok_id, "done"))["attempts"] == 1
        flaky = await wait_for_state(services, flaky_id, "pending")
        assert "first attempt fails" in flaky["last_error"]
        missing = await job_store.get_state(services.engine, missing_id)
        assert missing is not None and "no handler" in missing["last_error"]
        # The tick offers the job again once its back-off has passed.
        async with services.engine.begin() as conn:
            await conn.execute(
                sa.update(jobs).where(jobs.c.id == flaky_id).values(next_check=services.clock.now())
            )
        assert await job_runtime.tick(services) >= 1
        await services.dispatcher.drain()
        assert (await wait_for_state(services, flaky_id, "done"))["attempts"] == 2
    finally:
        await services.close()
