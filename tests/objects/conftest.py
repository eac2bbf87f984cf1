"""Object stores for the contract tests: a directory in ``tmp_path`` and an S3 endpoint.

The S3 endpoint is ``TENDERHALL_TEST_S3_URL`` (``s3://key:secret@host:port/bucket``, e.g. a real
MinIO) when set; otherwise moto's server mode, started once for the session on a free loopback
port. Each test gets its own bucket so tests never see each other's objects.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from storage.objects.fs import FilesystemObjectStore
from storage.objects.s3 import S3ObjectStore
from trading.ports import FixedClock, ObjectStore

SIGNING_KEY = b"test-signing-key-0123456789abcdef"
PUBLIC_URL = "https://tenderhall.example"
S3_PART_SIZE = 5 * 1024 * 1024
"""The smallest part S3 accepts, so that multipart uploads happen at test sizes."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[tuple[str, str, str, bool]]:
    """``(endpoint, access_key, secret_key, secure)`` of a running S3 API server."""
    url = os.environ.get("TENDERHALL_TEST_S3_URL")
    if url:
        parts = urlsplit(url)
        yield (
            f"{parts.hostname}:{parts.port}",
            parts.username or "",
            parts.password or "",
            "secure=true" in parts.query,
        )
        return
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"127.0.0.1:{port}", "testing", "testing", False
    finally:
        server.stop()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


StoreFactory = Callable[[], ObjectStore]


@pytest.fixture(params=["fs", pytest.param("s3", marks=pytest.mark.s3)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock
) -> StoreFactory:
    """Builds store instances over the same storage, as a restarted process would."""
    if backend == "fs":
        return lambda: FilesystemObjectStore(
            tmp_path / "objects",
            public_url=PUBLIC_URL,
            signing_key=SIGNING_KEY,
            clock=clock,
        )
    endpoint, access_key, secret_key, secure = request.getfixturevalue("s3_endpoint")
    bucket = f"th-test-{uuid.uuid4().hex[:16]}"
    return lambda: S3ObjectStore(
        endpoint=endpoint,
        bucket=bucket,
        access_key=access_key,
        secret_key=secret_key,
        secure=secure,
        upload_root=tmp_path / "uploads",
        clock=clock,
        part_size=S3_PART_SIZE,
    )


@pytest.fixture
async def store(make_store: StoreFactory) -> AsyncIterator[ObjectStore]:
    yield make_store()
