"""The platform-signed download route (``webapp.api.objects``) serving the filesystem store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import AsyncTestClient

from storage.db import create_engine
from storage.objects.fs import FilesystemObjectStore
from tests.objects.conftest import PUBLIC_URL, SIGNING_KEY
from trading.errors import DomainError
from trading.ports import FixedClock
from webapp.api.objects import download
from webapp.errors import domain_error_handler
from webapp.services import Services
from webapp.settings import Settings

CONTENT = bytes(range(256)) * 40


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.fixture
async def served(
    tmp_path: Path,
) -> AsyncIterator[tuple[AsyncTestClient[Litestar], FilesystemObjectStore, FixedClock]]:
    clock = FixedClock(datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    store = FilesystemObjectStore(
        tmp_path, public_url=PUBLIC_URL, signing_key=SIGNING_KEY, clock=clock
    )
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")  # never connects
    services = Services(
        settings=Settings(data_dir=tmp_path),
        engine=engine,
        objects=store,
        clock=clock,
        secret=SIGNING_KEY,
    )
    app = Litestar(
        [download],
        dependencies={"services": Provide(lambda: services, sync_to_thread=False)},
        exception_handlers={DomainError: domain_error_handler},
    )
    async with AsyncTestClient(app) as client:
        yield client, store, clock
    await engine.dispose()


def relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_a_signed_link_downloads_the_object_and_ranges(
    served: tuple[AsyncTestClient[Litestar], FilesystemObjectStore, FixedClock],
) -> None:
    client, store, clock = served
    key = "docs/招标文件 第1册.pdf"
    await store.put(key, one(CONTENT))
    url = await store.download_url(key, expires=timedelta(minutes=5))
    whole = await client.get(relative(url))
    assert whole.status_code == 200, whole.text
    assert whole.content == CONTENT
    part = await client.get(relative(url), headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == CONTENT[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(CONTENT)}"
    tampered = relative(url).replace("signature=", "signature=0")
    assert (await client.get(tampered)).status_code == 403
    clock.advance(timedelta(minutes=6))
    assert (await client.get(relative(url))).status_code == 403  # expired
