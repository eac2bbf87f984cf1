"""The litestar application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from storage import migrate
from trading.ports import Clock
from webapp.api import audit, bids, health, identity, objects, tenders, trust
from webapp.auth import policy_guard
from webapp.errors import EXCEPTION_HANDLERS
from webapp.jobs import Dispatcher, tick
from webapp.observability import configure_logging, request_context_middleware
from webapp.pages import page_routers
from webapp.pages.live import LiveHub
from webapp.services import Services, build_services
from webapp.settings import Settings

log = logging.getLogger("tenderhall.app")


def _version() -> str:
    try:
        return version("tenderhall")
    except PackageNotFoundError:
        return "0.0.0+source"


async def _tick_loop(services: Services) -> None:
    """The embedded default's scheduler: the same tick Celery beat sends in production."""
    while True:
        try:
            await tick(services)
        except Exception:  # the loop must survive a bad tick; the next one retries
            log.exception("scheduler tick failed")
        await asyncio.sleep(services.settings.tick_seconds)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate_on_startup: bool | None = None,
    run_scheduler: bool | None = None,
    dispatcher: Callable[[Services], Dispatcher] | None = None,
) -> Litestar:
    """Build the web application for ``settings``.

    ``migrate_on_startup`` defaults to True on the embedded SQLite default; ``run_scheduler``
    defaults to True when no broker is configured (Celery beat ticks otherwise).
    """
    configure_logging(settings.log_level, settings.log_json)
    services = build_services(settings, clock=clock, dispatcher=dispatcher)
    if migrate_on_startup is None:
        migrate_on_startup = settings.is_embedded
    if run_scheduler is None:
        run_scheduler = settings.broker_url is None

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if migrate_on_startup:
            await asyncio.to_thread(migrate.upgrade, settings.effective_database_url)
        ticker = asyncio.create_task(_tick_loop(services)) if run_scheduler else None
        try:
            yield
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
            await services.close()

    route_handlers: list[Any] = [
        health.healthz,
        health.readyz,
        objects.download,
        *identity.auth_routers(settings.signin_per_minute),
        *identity.ROUTERS,
        *audit.ROUTERS,
        *trust.ROUTERS,
        *tenders.ROUTERS,
        *bids.ROUTERS,
        *page_routers(),
    ]
    app = Litestar(
        route_handlers=route_handlers,
        dependencies={
            "services": Provide(lambda: services, use_cache=True, sync_to_thread=False),
            **identity.PRINCIPAL_DEPENDENCIES,
        },
        guards=[policy_guard],
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[request_context_middleware],
        cors_config=CORSConfig(allow_origins=list(settings.cors_origins))
        if settings.cors_origins
        else None,
        request_max_body_size=settings.max_request_bytes,
        openapi_config=OpenAPIConfig(
            title="tenderhall",
            version=_version(),
            description="公共资源电子交易平台 API / public-resource e-trading platform API",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        debug=False,
    )
    app.state.services = services
    app.state.live = LiveHub()
    return app
