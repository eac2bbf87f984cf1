"""The real adapters.

Built once from settings and handed to use cases, the API, the CLI and workers.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from signing.login import TrustCheck
from storage.db import create_engine
from storage.objects import open_object_store
from storage.uow import SqlUnitOfWork
from trading.ports import Clock, ObjectStore, SystemClock
from trading.tenders.services import DocumentValidator
from webapp.jobs import CeleryDispatcher, Dispatcher, InProcessDispatcher
from webapp.settings import Settings


def load_or_create_secret(settings: Settings) -> bytes:
    """The platform's HMAC key: from settings, or generated once and kept in the data directory."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / "secret.key"
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        with path.open("xb") as fh:
            path.chmod(0o600)
            fh.write(key)
    except FileExistsError:
        return path.read_bytes().strip()
    return key


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    objects: ObjectStore
    clock: Clock
    secret: bytes
    dispatcher: Dispatcher = field(init=False)
    celery_app: object | None = None
    trust_check: TrustCheck | None = None
    """Chain, trust and revocation check for certificates presented to the platform."""
    document_validator: DocumentValidator | None = None
    """Signature check of uploaded tender PDFs; uploads are refused (503) until one is set."""

    def uow(self) -> SqlUnitOfWork:
        """A fresh unit of work; jobs it records are sent after its commit."""
        return SqlUnitOfWork(self.engine, clock=self.clock, send_jobs=self.dispatcher.send)

    async def close(self) -> None:
        await self.dispatcher.close()
        await self.engine.dispose()


def build_services(
    settings: Settings,
    *,
    clock: Clock | None = None,
    dispatcher: Callable[[Services], Dispatcher] | None = None,
) -> Services:
    """Build every adapter the settings name. Nothing connects yet: readiness is checked on use."""
    secret = load_or_create_secret(settings)
    objects_url = settings.effective_storage_url
    upload_root: Path | None = None
    if objects_url.startswith("s3"):
        upload_root = settings.data_dir / "uploads"
    services = Services(
        settings=settings,
        engine=create_engine(settings.effective_database_url),
        objects=open_object_store(
            objects_url,
            access_key=settings.storage_access_key,
            secret_key=settings.storage_secret_key,
            public_url=settings.effective_public_url,
            signing_key=secret,
            upload_root=upload_root,
            clock=clock,  # download links must expire on the same clock that checks them
        ),
        clock=clock or SystemClock(),
        secret=secret,
    )
    if dispatcher is not None:
        services.dispatcher = dispatcher(services)
    elif settings.broker_url:
        from webapp.worker import make_celery

        services.celery_app = make_celery(settings)
        services.dispatcher = CeleryDispatcher(services.celery_app)
    else:
        services.dispatcher = InProcessDispatcher(lambda: services)
    return services
