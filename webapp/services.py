"""The real adapters.

Built once from settings and handed to use cases, the API, the CLI and workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from pyhanko.sign.timestamps import TimeStamper
from sqlalchemy.ext.asyncio import AsyncEngine

from signing.identity import identity_of
from signing.keys import KeyBundle, load_key_bundle
from signing.login import X509CertificateVerifier
from signing.platform_cert import ensure_platform_signer, platform_signer_provider
from signing.trust import TrustStore, login_trust_check
from signing.tsa import (
    TimestampAuthority,
    ensure_platform_tsa,
    http_timestamper,
    platform_tsa_provider,
    timestamp,
)
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


class _SignerSlot:
    """Holds the loaded signer. A plain class, not a dataclass: litestar inspects the fields of
    the ``Services`` dependency's type, and cannot model a private key union."""

    bundle: KeyBundle | None = None


class PartBuffers:
    """The buffers upload parts are received into: at most ``slots`` in use at once, and kept
    for the next part rather than allocated (and zero-filled, page by page) for every one.

    They are anonymous memory maps, so page-aligned: the store can write a part from one with
    direct I/O (``storage.objects.sessions``)."""

    def __init__(self, slots: int) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._free: list[mmap.mmap] = []

    @contextlib.asynccontextmanager
    async def buffer(self, size: int) -> AsyncIterator[mmap.mmap]:
        async with self._slots:
            buffer = self._free.pop() if self._free else mmap.mmap(-1, size)
            if len(buffer) < size:  # the chunk size was raised since this buffer was made
                buffer = mmap.mmap(-1, size)
            try:
                yield buffer
            finally:
                self._free.append(buffer)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    objects: ObjectStore
    clock: Clock
    secret: bytes
    dispatcher: Dispatcher = field(init=False)
    celery_app: object | None = None
    _trust_cache: tuple[tuple[object, ...], TrustStore] | None = field(default=None, init=False)
    _tsa: TimestampAuthority | None = field(default=None, init=False)
    _platform_signer: _SignerSlot = field(default_factory=lambda: _SignerSlot(), init=False)
    part_buffers: PartBuffers | None = field(default=None, init=False)
    """Upload parts held in memory at once (``webapp.api.bids``), created on first use."""

    async def trust_store(self) -> TrustStore:
        """The CA providers and cached revocation data from the database.

        Re-read only when they changed (a cheap version query), so a provider added by the CLI
        or another instance counts at once."""
        async with self.uow() as uow:
            version = await uow.trust.version()
            if self._trust_cache is None or self._trust_cache[0] != version:
                store = await uow.trust.load_store()
                if not self.settings.tsa_url:
                    # The platform's own TSA root: it signed the TSA certificate and nothing
                    # else (its key was not kept), so trusting it trusts exactly its tokens.
                    store.add_provider(platform_tsa_provider(self.tsa()))
                if not self.settings.platform_key_file:
                    # Likewise the self-issued root of the platform's receipt signer.
                    store.add_provider(platform_signer_provider(self.platform_signer()))
                self._trust_cache = (version, store)
        return self._trust_cache[1]

    def forget_trust_store(self) -> None:
        """Drop the cached trust store (after an administrator changed providers or CRLs)."""
        self._trust_cache = None

    def tsa(self) -> TimestampAuthority:
        """The platform's own RFC 3161 TSA (key and certificate created on first use)."""
        if self._tsa is None:
            self._tsa = ensure_platform_tsa(
                self.settings.data_dir / "keys" / "tsa", now=self.clock.now()
            )
        return self._tsa

    def platform_signer(self) -> KeyBundle:
        """The key and chain that sign receipts: the configured PKCS#12, or the self-issued
        default created in ``DATA_DIR/keys/platform`` on first use."""
        slot = self._platform_signer
        if slot.bundle is None:
            if self.settings.platform_key_file:
                slot.bundle = load_key_bundle(
                    self.settings.platform_key_file, self.settings.platform_key_password
                )
            else:
                slot.bundle = ensure_platform_signer(
                    self.settings.data_dir / "keys" / "platform", now=self.clock.now()
                )
        return slot.bundle

    def load_signing_keys(self) -> None:
        """Load (or create) the receipt signer and the platform TSA now rather than on first use.

        ``serve`` calls this before it accepts requests: loading checks an RSA-3072 key (about
        0.1 s of CPU, seconds under load), which on first use would stall the event loop in the
        middle of traffic; and a broken key file is reported at start."""
        self.platform_signer()
        if not self.settings.tsa_url:
            self.tsa()

    def timestamper(self) -> TimeStamper:
        """What timestamps PDF seals: the external TSA if configured, else the platform's own."""
        if self.settings.tsa_url:
            return http_timestamper(self.settings.tsa_url)
        return self.tsa().timestamper

    async def timestamp(self, digest: bytes) -> bytes:
        """An RFC 3161 token (DER) over a SHA-256 digest."""
        return await timestamp(digest, self.timestamper())

    async def ensure_ocsp(self, cert: x509.Certificate) -> None:
        """Ask the certificate's OCSP responder unless a current answer is cached; keep it."""
        store = await self.trust_store()
        now = self.clock.now()
        cached = store.ocsp_for(cert)
        if cached is not None and not cached.is_stale(now):
            return
        results = await store.refresh_ocsp([cert], now=now)
        if any(r.ok for r in results):
            async with self.uow() as uow:
                await uow.trust.record_ocsp(store)
                await uow.commit()

    def certificate_verifier(self) -> X509CertificateVerifier:
        """Certificates presented for sign-in or binding: chain, validity and revocation against
        the configured CA providers (none configured: every certificate is untrusted), and the
        credit code read where the issuing provider puts it."""

        async def check(cert: x509.Certificate, now: datetime) -> tuple[str | None, str]:
            await self.ensure_ocsp(cert)
            return await login_trust_check(await self.trust_store())(cert, now)

        async def credit_code_of(cert: x509.Certificate) -> str | None:
            return identity_of(cert, await self.trust_store()).credit_code

        return X509CertificateVerifier(check, credit_code_of)

    document_validator: DocumentValidator = field(init=False)
    """Signature check of uploaded tender PDFs (``webapp.documents.PdfDocumentValidator``)."""

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
    if not objects_url.startswith("file:"):
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
    from webapp.documents import PdfDocumentValidator

    services.document_validator = PdfDocumentValidator(services)
    if dispatcher is not None:
        services.dispatcher = dispatcher(services)
    elif settings.broker_url:
        from webapp.worker import make_celery

        services.celery_app = make_celery(settings)
        services.dispatcher = CeleryDispatcher(services.celery_app)
    else:
        services.dispatcher = InProcessDispatcher(lambda: services)
    return services
