"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from litestar import Response, get

from storage.db import ping as ping_database
from trading.errors import DomainError
from webapp.services import Services


@dataclass(frozen=True)
class Health:
    status: str


@dataclass(frozen=True)
class ComponentState:
    name: str
    """database, objects or broker."""
    ok: bool
    backend: str
    """What is configured: ``postgresql``, ``sqlite``, ``s3``, ``file``, ``redis``, ..."""
    error: str | None = None


@dataclass(frozen=True)
class Readiness:
    status: str
    """``ready`` when every component answers, else ``unavailable``."""
    components: list[ComponentState]


@get(
    "/healthz", tags=["platform"], summary="The process is alive", opt={"action": "platform.health"}
)
async def healthz() -> Health:
    return Health(status="ok")


async def _probe(name: str, backend: str, check: object) -> ComponentState:
    try:
        await asyncio.wait_for(check, timeout=5)  # type: ignore[arg-type]
    except DomainError as exc:
        return ComponentState(name, False, backend, exc.message_en)
    except Exception as exc:  # a probe reports every failure as data
        return ComponentState(name, False, backend, f"{type(exc).__name__}: {exc}".splitlines()[0])
    return ComponentState(name, True, backend)


async def check_components(services: Services) -> list[ComponentState]:
    """Ask the database, the object store and the broker whether they answer."""
    settings = services.settings
    storage_backend = settings.effective_storage_url.split(":", 1)[0]
    probes = [
        _probe("database", services.engine.dialect.name, ping_database(services.engine)),
        _probe("objects", storage_backend, services.objects.ping()),
    ]
    if settings.broker_url:
        probes.append(
            _probe("broker", settings.broker_url.split(":", 1)[0], ping_broker(settings.broker_url))
        )
    else:
        probes.append(_ok("broker", "in-process"))
    return list(await asyncio.gather(*probes))


async def _ok(name: str, backend: str) -> ComponentState:
    return ComponentState(name, True, backend)


async def ping_broker(url: str) -> None:
    """Open a connection to the broker and close it (kombu, in a thread: it blocks)."""
    from kombu import Connection  # type: ignore[attr-defined]

    def connect() -> None:
        with Connection(url, connect_timeout=3) as conn:  # type: ignore[no-untyped-call]
            conn.ensure_connection(max_retries=1)

    await asyncio.to_thread(connect)


@get(
    "/readyz",
    opt={"action": "platform.health"},
    tags=["platform"],
    summary="Whether the database, object store and broker are reachable",
)
async def readyz(services: Services) -> Response[Readiness]:
    components = await check_components(services)
    ready = all(c.ok for c in components)
    return Response(
        Readiness(status="ready" if ready else "unavailable", components=components),
        status_code=200 if ready else 503,
    )
