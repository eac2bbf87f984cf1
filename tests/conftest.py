"""Shared fixtures: databases (SQLite and a real PostgreSQL), each test isolated.

Services the suites need are found through ``TENDERHALL_TEST_*`` variables with loopback defaults.
When one is missing, its tests are skipped locally; with ``TENDERHALL_TEST_REQUIRE_SERVICES=1``
(set by ``.ci/run``) a missing service fails the run instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import migrate
from storage.db import create_engine

pytest_plugins = ["tests.pki_fixtures"]

POSTGRES_URL = os.environ.get(
    "TENDERHALL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("TENDERHALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("TENDERHALL_TEST_REQUIRE_SERVICES") == "1"


def service_missing(what: str, why: str) -> None:
    """Skip locally, fail in CI."""
    message = f"{what} not reachable ({why})"
    if REQUIRE_SERVICES:
        pytest.fail(message + " and TENDERHALL_TEST_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


async def _pg_admin(statements: list[str]) -> None:
    import asyncpg

    url = make_url(POSTGRES_URL)
    conn = await asyncpg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        database=url.database or "postgres",
        timeout=5,
    )
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


def _pg_url(database: str) -> str:
    return make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database that each test copies (CREATE DATABASE ... TEMPLATE)."""
    name = f"th_tpl_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin([f'CREATE DATABASE "{name}"']))
    except (OSError, Exception) as exc:  # connection refused, auth, timeout
        service_missing("PostgreSQL", f"{POSTGRES_URL}: {type(exc).__name__}: {exc}")
    try:
        migrate.upgrade(_pg_url(name))
        yield name
    finally:
        asyncio.run(_pg_admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "tenderhall.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    name = f"th_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin([f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"']))
    try:
        yield _pg_url(name)
    finally:
        asyncio.run(_pg_admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database of each kind, private to the test."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        service_missing("Redis", f"{REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL
