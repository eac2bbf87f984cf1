"""The web chassis through the litestar test client: health, readiness, errors, headers, limits.

The test routes borrow the public ``platform.health`` action: every route must name one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar, get, post
from litestar.testing import AsyncTestClient

from trading.errors import ConflictError, ValidationError
from webapp.app import create_app
from webapp.settings import Settings


@get("/test/conflict", opt={"action": "platform.health"})
async def raise_conflict() -> None:
    raise ConflictError("Lost a race.", "并发冲突。", table="tenders")


@get("/test/invalid", opt={"action": "platform.health"})
async def raise_invalid() -> None:
    raise ValidationError("Price must be positive.", "价格必须为正数。", field="price")


@get("/test/crash", opt={"action": "platform.health"})
async def crash() -> None:
    raise RuntimeError("secret internal detail")


@post("/test/echo", opt={"action": "platform.health"})
async def echo(data: dict[str, int]) -> dict[str, int]:
    return data


def make_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "database_url": database_url,
        "storage_url": (tmp_path / "objects").as_uri(),
        "secret_key": "k" * 32,
        "max_request_bytes": 1024,
        "log_json": True,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def client(tmp_path: Path, database_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(make_settings(tmp_path, database_url), run_scheduler=False)
    for handler in (raise_conflict, raise_invalid, crash, echo):
        app.register(handler)
    async with AsyncTestClient(app) as client:
        yield client


async def test_healthz_answers(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response.headers["x-request-id"]) == 32
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_readyz_reports_each_component(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert {c["name"]: c["ok"] for c in body["components"]} == {
        "database": True,
        "objects": True,
        "broker": True,
    }


async def test_readyz_names_the_components_that_are_down(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere",
        storage_url="s3://127.0.0.1:1/bucket",
        broker_url="redis://127.0.0.1:1/0",
    )
    app = create_app(settings, run_scheduler=False, migrate_on_startup=False)
    async with AsyncTestClient(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    states = {c["name"]: c for c in response.json()["components"]}
    assert [name for name, c in states.items() if not c["ok"]] == ["database", "objects", "broker"]
    assert all(c["error"] for c in states.values())


async def test_domain_errors_are_problem_json_in_the_callers_language(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/test/conflict")
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "conflict"
    assert body["detail"] == "并发冲突。"
    assert body["type"] == "urn:tenderhall:problem:conflict"
    assert body["request_id"] == response.headers["x-request-id"]

    english = await client.get("/test/invalid", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert english.status_code == 422
    assert english.json()["detail"] == "Price must be positive."
    assert english.json()["details"] == {"field": "price"}


async def test_framework_errors_have_the_same_shape(client: AsyncTestClient[Litestar]) -> None:
    missing = await client.get("/no/such/route")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong_method = await client.delete("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"].startswith("application/problem+json")
    bad_body = await client.post("/test/echo", json={"a": "not a number"})
    assert bad_body.status_code == 400
    assert bad_body.json()["code"] == "invalid_request"


async def test_unexpected_errors_do_not_leak_internals(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/test/crash")
    assert response.status_code == 500
    assert "secret internal detail" not in response.text
    assert response.json()["code"] == "server_error"


async def test_request_body_limit(client: AsyncTestClient[Litestar]) -> None:
    ok = await client.post("/test/echo", json={"a": 1})
    assert ok.status_code == 201
    too_big = await client.post(
        "/test/echo",
        content=b"{" + b" " * 4096 + b"}",
        headers={"content-type": "application/json"},
    )
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "too_large"


async def test_request_id_is_taken_from_a_sane_header(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abcdef0123456789"})
    assert response.headers["x-request-id"] == "abcdef0123456789"
    injected = await client.get("/healthz", headers={"X-Request-ID": "bad\nvalue"})
    assert injected.headers["x-request-id"] != "bad\nvalue"


async def test_openapi_document_lists_the_platform_routes(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/healthz" in paths and "/readyz" in paths


async def test_cors_is_off_by_default_and_on_for_named_origins(
    tmp_path: Path, sqlite_url: str
) -> None:
    app = create_app(
        make_settings(tmp_path, sqlite_url, cors_origins=("https://portal.example",)),
        run_scheduler=False,
    )
    async with AsyncTestClient(app) as client:
        allowed = await client.get("/healthz", headers={"Origin": "https://portal.example"})
        other = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://portal.example"
    assert "access-control-allow-origin" not in other.headers
