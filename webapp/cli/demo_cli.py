"""demo: fill a fresh embedded platform with demo data and print how to sign in."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import click

from trading.errors import DomainError
from webapp.cli import CliContext, fail, pass_cli


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory of the embedded default (default TENDERHALL_DATA_DIR).",
)
@pass_cli
def demo(cli: CliContext, data_dir: Path | None) -> None:
    """填充演示数据 / Fill a fresh platform with demo PKI, organisations, people and tenders."""
    from storage import migrate
    from webapp.demo import fill_demo
    from webapp.services import build_services

    settings = cli.settings
    if data_dir is not None:
        settings = dataclasses.replace(settings, data_dir=data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.effective_database_url)

    async def run() -> object:
        services = build_services(settings)
        try:
            async with services.uow() as uow:
                if await uow.identity.find_person("admin") is not None:
                    raise click.ClickException(
                        "已有演示数据 / this platform already has demo data "
                        "(use a fresh --data-dir)"
                    )
            return await fill_demo(services, settings.data_dir / "demo")
        finally:
            await services.close()

    try:
        summary = asyncio.run(run())
    except DomainError as exc:
        fail(exc.message_zh, exc.message_en)
    from webapp.demo import DemoSummary

    assert isinstance(summary, DemoSummary)
    click.echo(f"演示 PKI / demo PKI: {summary.pki_dir} (PKCS#12 密码/password: demo)")
    click.echo("账号 / accounts (用户名 / 密码 / 角色 / 单位):")
    for account in summary.accounts:
        line = f"  {account.username:<11} {account.password}  {account.role:<15} "
        line += account.organisation
        if account.certificate:
            line += f"\n              证书/certificate: {account.certificate}"
        click.echo(line)
    for kind, path in summary.samples.items():
        click.echo(f"已签章示例文件 / sealed sample ({kind}): {path}")
    click.echo("招标项目 / tenders:")
    for state, tender_id in summary.tenders.items():
        click.echo(f"  {state:<22} {tender_id}")
    click.echo(f"运行 / run: tenderhall serve --data-dir {settings.data_dir}")
