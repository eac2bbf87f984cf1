"""Persistence of the trust store: CA providers and their cached CRLs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from cryptography import x509
from sqlalchemy.ext.asyncio import AsyncConnection

from signing.trust import CaProvider, RefreshResult, TrustStore
from storage.trust_tables import ca_providers, crl_cache, ocsp_cache


@dataclass(frozen=True)
class CrlStatus:
    """What an administrator sees about one CRL source."""

    url: str
    provider: str
    fetched_at: datetime
    next_update: datetime | None
    last_error: str | None
    last_attempt_at: datetime | None


class SqlTrustRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def list_providers(self) -> list[CaProvider]:
        rows = await self._conn.execute(
            sa.select(ca_providers.c.config).order_by(ca_providers.c.name)
        )
        return [CaProvider.from_dict(row.config) for row in rows]

    async def get_provider(self, name: str) -> CaProvider | None:
        config = await self._conn.scalar(
            sa.select(ca_providers.c.config).where(ca_providers.c.name == name)
        )
        return None if config is None else CaProvider.from_dict(config)

    async def save_provider(self, provider: CaProvider, now: datetime) -> bool:
        """Insert or replace; True if it was new."""
        config = provider.to_dict()
        updated = await self._conn.execute(
            ca_providers.update()
            .where(ca_providers.c.name == provider.name)
            .values(config=config, updated_at=now)
        )
        if updated.rowcount:
            return False
        await self._conn.execute(
            ca_providers.insert().values(
                name=provider.name, config=config, created_at=now, updated_at=now
            )
        )
        return True

    async def remove_provider(self, name: str) -> bool:
        await self._conn.execute(crl_cache.delete().where(crl_cache.c.provider == name))
        await self._conn.execute(ocsp_cache.delete().where(ocsp_cache.c.provider == name))
        result = await self._conn.execute(ca_providers.delete().where(ca_providers.c.name == name))
        return bool(result.rowcount)

    async def version(self) -> tuple[object, ...]:
        """Changes whenever a provider, CRL or OCSP answer is added, replaced or removed."""
        parts: list[object] = []
        for table, column in (
            (ca_providers, ca_providers.c.updated_at),
            (crl_cache, crl_cache.c.fetched_at),
            (ocsp_cache, ocsp_cache.c.fetched_at),
        ):
            row = (
                await self._conn.execute(
                    sa.select(sa.func.count(), sa.func.max(column)).select_from(table)
                )
            ).one()
            parts += [row[0], row[1]]
        return tuple(parts)

    async def load_store(self) -> TrustStore:
        """Every provider with its last good CRLs (CRLs of removed URLs are dropped)."""
        store = TrustStore(await self.list_providers())
        rows = await self._conn.execute(
            sa.select(
                crl_cache.c.provider, crl_cache.c.url, crl_cache.c.der, crl_cache.c.fetched_at
            )
        )
        for row in rows:
            provider = store.provider(row.provider)
            if provider is not None and row.url in provider.crl_urls:
                store.add_crl(row.provider, row.url, row.der, row.fetched_at)
        o = ocsp_cache.c
        for row in await self._conn.execute(
            sa.select(o.provider, o.certificate, o.der, o.fetched_at)
        ):
            if store.provider(row.provider) is not None:
                cert = x509.load_der_x509_certificate(row.certificate)
                store.add_ocsp(row.provider, cert, row.der, row.fetched_at)
        return store

    async def record_ocsp(self, store: TrustStore) -> None:
        """Keep every OCSP response ``store`` holds (newer answers replace older ones)."""
        for cached in store.ocsps:
            values = {
                "provider": cached.provider,
                "certificate": cached.certificate,
                "der": cached.der,
                "status": cached.status,
                "fetched_at": cached.fetched_at,
                "next_update": cached.next_update,
            }
            updated = await self._conn.execute(
                ocsp_cache.update()
                .where(
                    ocsp_cache.c.fingerprint == cached.fingerprint,
                    ocsp_cache.c.fetched_at <= cached.fetched_at,
                )
                .values(**values)
            )
            exists = await self._conn.scalar(
                sa.select(ocsp_cache.c.fingerprint).where(
                    ocsp_cache.c.fingerprint == cached.fingerprint
                )
            )
            if not updated.rowcount and exists is None:
                await self._conn.execute(
                    ocsp_cache.insert().values(fingerprint=cached.fingerprint, **values)
                )

    async def record_refresh(
        self, store: TrustStore, results: list[RefreshResult], now: datetime
    ) -> None:
        """Keep the CRLs a refresh fetched; note the error on those it could not."""
        fetched = {crl.url: crl for crl in store.crls}
        for result in results:
            existing = await self._conn.scalar(
                sa.select(crl_cache.c.url).where(crl_cache.c.url == result.url)
            )
            crl = fetched.get(result.url)
            if result.ok and crl is not None:
                values = {
                    "provider": result.provider,
                    "der": crl.der,
                    "fetched_at": crl.fetched_at,
                    "next_update": crl.next_update,
                    "last_error": None,
                    "last_attempt_at": now,
                }
                if existing is None:
                    await self._conn.execute(crl_cache.insert().values(url=result.url, **values))
                else:
                    await self._conn.execute(
                        crl_cache.update().where(crl_cache.c.url == result.url).values(**values)
                    )
            elif existing is not None:
                await self._conn.execute(
                    crl_cache.update()
                    .where(crl_cache.c.url == result.url)
                    .values(last_error=result.error[:1000], last_attempt_at=now)
                )

    async def crl_status(self) -> list[CrlStatus]:
        rows = await self._conn.execute(sa.select(crl_cache).order_by(crl_cache.c.url))
        return [
            CrlStatus(
                r.url, r.provider, r.fetched_at, r.next_update, r.last_error, r.last_attempt_at
            )
            for r in rows
        ]
