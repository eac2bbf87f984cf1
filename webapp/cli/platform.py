"""serve, worker, db, check: running the platform itself."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from webapp.cli import CliContext, pass_cli, reported
from webapp.settings import Settings


def _with_overrides(
    settings: Settings, host: str | None, port: int | None, data_dir: Path | None
) -> Settings:
    import dataclasses

    return dataclasses.replace(
        settings,
        host=settings.host if host is None else host,
        port=settings.port if port is None else port,
        data_dir=settings.data_dir if data_dir is None else data_dir,
    )


@click.command()
@click.option("--host", help="Listen address (default TENDERHALL_HOST or 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port (default TENDERHALL_PORT or 8000)."
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory of the embedded default (default TENDERHALL_DATA_DIR).",
)
@pass_cli
def serve(cli: CliContext, host: str | None, port: int | None, data_dir: Path | None) -> None:
    """运行平台 / Run the platform (API and pages)."""
    import uvicorn

    from webapp.app import create_app
    from webapp.http_protocol import BodyPassingHttpToolsProtocol
    from webapp.memory import limit_malloc_arenas, return_large_blocks

    limit_malloc_arenas()  # before the server starts its threads
    return_large_blocks()
    settings = _with_overrides(cli.settings, host, port, data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    click.echo(
        f"tenderhall: http://{settings.host}:{settings.port}  "
        f"(数据库/database: {settings.effective_database_url.split('://')[0]}, "
        f"存储/objects: {settings.effective_storage_url.split('://')[0]}, "
        f"任务/jobs: {'celery' if settings.broker_url else 'in-process'})",
        err=True,
    )
    app = create_app(settings)
    with reported():  # a key file that cannot be read stops the start with its reason
        app.state.services.load_signing_keys()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        http=BodyPassingHttpToolsProtocol,
        log_config=None,
        access_log=False,
    )


@click.command()
@click.option("--beat/--no-beat", default=True, help="Also run the scheduler tick (Celery beat).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=2, show_default=True)
@pass_cli
def worker(cli: CliContext, beat: bool, concurrency: int) -> None:
    """运行后台任务 / Run a Celery worker (and beat) for TENDERHALL_BROKER_URL."""
    settings = cli.settings
    if not settings.broker_url:
        raise click.UsageError(
            "TENDERHALL_BROKER_URL is not set: without a broker, jobs run inside "
            "`tenderhall serve`.\n"
            "未设置 TENDERHALL_BROKER_URL：没有消息代理时，任务在 `tenderhall serve` 进程内运行。"
        )
    from webapp.observability import configure_logging
    from webapp.worker import make_celery

    configure_logging(settings.log_level, settings.log_json)
    app = make_celery(settings)
    argv = ["worker", "--loglevel", settings.log_level, "--concurrency", str(concurrency)]
    if beat:
        argv += ["--beat", "--schedule", str(settings.data_dir / "celerybeat-schedule")]
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.worker_main(argv)


@click.group()
def db() -> None:
    """数据库 / Database."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_cli
def db_upgrade(cli: CliContext, revision: str) -> None:
    """升级数据库结构 / Apply the migrations."""
    from storage import migrate
    from storage.db import DatabaseUnavailableError

    settings = cli.settings
    url = settings.effective_database_url
    if settings.is_embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrate.upgrade(url, revision)
    except (OSError, DatabaseUnavailableError) as exc:
        click.echo(f"错误 / error: 数据库不可用 / database unreachable: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        if "connect" in str(exc).lower() or "refused" in str(exc).lower():
            click.echo(f"错误 / error: 数据库不可用 / database unreachable: {exc}", err=True)
            sys.exit(1)
        raise
    click.echo(f"数据库已是最新 / database is at {migrate.head_revision()}")


@click.command()
@pass_cli
def check(cli: CliContext) -> None:
    """检查各组件 / Print each configured component and whether it is reachable."""
    from webapp.api.health import check_components
    from webapp.services import build_services

    settings = cli.settings

    async def run() -> bool:
        services = build_services(settings)
        try:
            components = await check_components(services)
        finally:
            await services.close()
        for c in components:
            mark = "ok  " if c.ok else "FAIL"
            line = f"{mark} {c.name:<9} {c.backend}"
            click.echo(line + (f"  ({c.error})" if c.error else ""))
        return all(c.ok for c in components)

    for name, value in settings.describe():
        click.echo(f"     {name}={value}")
    sys.exit(0 if asyncio.run(run()) else 1)
