"""The Celery app: a worker runs jobs, beat sends the scheduler tick.

Each worker process keeps one asyncio loop in a background thread, with the platform's services
built inside it, so the async engine's connection pool survives between tasks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from celery import Celery

from webapp.settings import Settings

T = TypeVar("T")


class WorkerRuntime:
    """An event loop in a thread, plus the services, created on the first task."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._loop: asyncio.AbstractEventLoop | None = None
        self._services: Any = None
        self._lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="tenderhall-loop", daemon=True
                ).start()
                self._loop = loop
            return self._loop

    def run(self, coro_factory: Any) -> Any:
        loop = self._ensure_loop()
        future: Future[Any] = asyncio.run_coroutine_threadsafe(
            self._with_services(coro_factory), loop
        )
        return future.result()

    async def _with_services(self, coro_factory: Any) -> Any:
        if self._services is None:
            from webapp.jobs import InProcessDispatcher
            from webapp.services import build_services

            # Inside the worker, a job that adds follow-up jobs runs them in this same process; the
            # tick would pick them up anyway.
            self._services = build_services(
                self.settings, dispatcher=lambda s: InProcessDispatcher(lambda: s)
            )
        coro: Coroutine[Any, Any, Any] = coro_factory(self._services)
        return await coro


def make_celery(settings: Settings) -> Celery:
    """The Celery app for ``settings`` (broker from ``TENDERHALL_BROKER_URL``)."""
    app = Celery("tenderhall", broker=settings.broker_url)
    app.conf.update(
        task_default_queue="tenderhall",
        task_acks_late=True,  # a job whose worker dies is redelivered; handlers are idempotent
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "tenderhall-tick": {"task": "tenderhall.tick", "schedule": float(settings.tick_seconds)}
        },
    )
    runtime = WorkerRuntime(settings)
    app.tenderhall_runtime = runtime

    # shared=False: Celery otherwise adds a task to every app created later, so a second app in
    # the same process (tests, or a reloaded worker) would run the first app's closure.
    @app.task(name="tenderhall.run_job", shared=False)  # type: ignore[untyped-decorator]
    def run_job_task(job_id: int) -> bool:
        from webapp.jobs import run_job

        result: bool = runtime.run(lambda services: run_job(services, job_id))
        return result

    @app.task(name="tenderhall.tick", shared=False)  # type: ignore[untyped-decorator]
    def tick_task() -> int:
        from webapp.jobs import CeleryDispatcher, tick

        # Due jobs found by beat's tick go back to the broker so that any worker may take them.
        result: int = runtime.run(lambda services: tick(services, CeleryDispatcher(app)))
        return result

    return app
