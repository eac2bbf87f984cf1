"""ca: the CA providers the platform trusts (CA 互认), managed on the server's command line.

The same operations as ``/api/ca-providers`` (for administrators over HTTP); each change is an
audit event with role ``cli``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from trading.errors import DomainError
from webapp.cli import CliContext, fail, pass_cli

if TYPE_CHECKING:  # the services (SQLAlchemy, pyHanko, ...) are imported when a command runs
    from webapp.services import Services
    from webapp.settings import Settings

T = TypeVar("T")
_pem_file = click.Path(exists=True, dir_okay=False, path_type=Path)


def _with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    from webapp.services import build_services

    async def run() -> T:
        services = build_services(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(run())
    except DomainError as exc:
        fail(exc.message_zh, exc.message_en)


def _ders(paths: tuple[Path, ...]) -> tuple[bytes, ...]:
    from cryptography.hazmat.primitives import serialization

    from signing.keys import load_certificates

    return tuple(
        cert.public_bytes(serialization.Encoding.DER)
        for path in paths
        for cert in load_certificates(path.read_bytes(), source=str(path))
    )


@click.group()
def ca() -> None:
    """受信任的 CA / CA providers the platform trusts (CA 互认)."""


@ca.command("list")
@pass_cli
def list_command(cli: CliContext) -> None:
    """列出 CA 及吊销列表状态 / List providers and the state of their CRLs."""

    async def work(services: Services) -> None:
        now = services.clock.now()
        async with services.uow() as uow:
            providers = await uow.trust.list_providers()
            status = {s.url: s for s in await uow.trust.crl_status()}
        if not providers:
            click.echo("未配置 CA / no CA providers configured")
        for provider in providers:
            click.echo(f"{provider.name}: {len(provider.roots)} root(s)")
            for url in provider.crl_urls:
                s = status.get(url)
                if s is None:
                    state = "未获取/never fetched"
                elif s.next_update is not None and now > s.next_update:
                    state = f"过期/STALE since {s.next_update:%Y-%m-%d %H:%M}"
                else:
                    state = f"ok, fetched {s.fetched_at:%Y-%m-%d %H:%M}"
                error = f" (last error: {s.last_error})" if s and s.last_error else ""
                click.echo(f"  CRL {url}: {state}{error}")

    _with_services(cli.settings, work)


@ca.command("add")
@click.option("--name", required=True)
@click.option("--root", "roots", multiple=True, required=True, type=_pem_file)
@click.option("--intermediate", "intermediates", multiple=True, type=_pem_file)
@click.option("--crl-url", "crl_urls", multiple=True)
@click.option("--ocsp-url", "ocsp_urls", multiple=True)
@click.option("--credit-code-oid", default="2.5.4.97", show_default=True)
@click.option("--credit-code-prefix", default="", show_default=True)
@click.option("--person-id-oid", default="2.5.4.5", show_default=True)
@pass_cli
def add_command(
    cli: CliContext,
    name: str,
    roots: tuple[Path, ...],
    intermediates: tuple[Path, ...],
    crl_urls: tuple[str, ...],
    ocsp_urls: tuple[str, ...],
    credit_code_oid: str,
    credit_code_prefix: str,
    person_id_oid: str,
) -> None:
    """添加或替换 CA / Add or replace a CA provider."""
    from signing.trust import CaProvider, IdentityFields
    from webapp.api.trust import store_provider

    provider = CaProvider(
        name=name,
        roots=_ders(roots),
        intermediates=_ders(intermediates),
        crl_urls=crl_urls,
        ocsp_urls=ocsp_urls,
        identity=IdentityFields(credit_code_oid, credit_code_prefix, person_id_oid or None),
    )
    created = _with_services(cli.settings, lambda s: store_provider(s, provider, None, ""))
    click.echo(f"{'已添加/added' if created else '已替换/replaced'} {name}")


@ca.command("remove")
@click.argument("name")
@pass_cli
def remove_command(cli: CliContext, name: str) -> None:
    """不再信任某 CA / Stop trusting a CA provider."""
    from webapp.api.trust import drop_provider

    _with_services(cli.settings, lambda s: drop_provider(s, name, None, ""))
    click.echo(f"已移除/removed {name}")


@ca.command("refresh")
@pass_cli
def refresh_command(cli: CliContext) -> None:
    """立即获取吊销列表 / Fetch every provider's CRLs now. Exit 1 if one failed."""
    from webapp.api.trust import refresh_revocation

    results = _with_services(cli.settings, refresh_revocation)
    for r in results:
        click.echo(f"{'ok  ' if r.ok else 'FAIL'} {r.provider} {r.url} {r.error}".rstrip())
    sys.exit(0 if all(r.ok for r in results) else 1)


@ca.command("import-demo")
@click.argument("pki_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pass_cli
def import_demo_command(cli: CliContext, pki_dir: Path) -> None:
    """信任 `pki demo` 生成的演示 CA / Trust the demo CAs written by `tenderhall pki demo`."""
    from signing.trust import demo_trust_store
    from webapp.api.trust import refresh_revocation, store_provider

    try:
        demo = demo_trust_store(pki_dir)
    except DomainError as exc:
        fail(exc.message_zh, exc.message_en)

    async def work(services: Services) -> list[str]:
        for provider in demo.providers:
            await store_provider(services, provider, None, "")
        await refresh_revocation(services)
        return [p.name for p in demo.providers]

    names = _with_services(cli.settings, work)
    click.echo("已信任/trusted: " + ", ".join(names))
