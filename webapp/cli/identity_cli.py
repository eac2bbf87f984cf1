"""admin: bootstrap the trading centre and its first administrator."""

from __future__ import annotations

import asyncio
import sys

import click

from trading.errors import DomainError
from trading.identity import services as identity
from trading.identity.model import Membership, OrgType, Principal, Role
from webapp.cli import CliContext, pass_cli


@click.group()
def admin() -> None:
    """平台管理 / Platform administration."""


@admin.command("bootstrap")
@click.option("--org-name", required=True, help="交易中心名称 / name of the trading centre")
@click.option("--credit-code", required=True, help="统一社会信用代码 / its credit code")
@click.option("--username", required=True)
@click.option("--display-name", default="平台管理员")
@click.password_option(help="At least 10 characters.")
@pass_cli
def bootstrap(
    cli: CliContext,
    org_name: str,
    credit_code: str,
    username: str,
    display_name: str,
    password: str,
) -> None:
    """创建交易中心和首个管理员 / Create the trading centre and its first administrator."""
    from signing.passwords import Argon2PasswordHasher
    from webapp.services import build_services

    settings = cli.settings

    async def run() -> str:
        services = build_services(settings)
        try:
            now = services.clock.now()
            async with services.uow() as uow:
                existing = await uow.identity.find_organisation_by_code(credit_code.upper())
            if existing is None:
                org = await identity.register_organisation(
                    services.uow(),
                    identity.RegisterOrganisation(org_name, credit_code, OrgType.CENTRE, ""),
                    actor=None,
                    ip="cli",
                    now=now,
                )
            else:
                org = existing
            system = Principal("system", org.id, Role.ADMIN, "cli", "cli")
            await identity.decide_organisation(
                services.uow(), org.id, True, actor=system, ip="cli", now=now
            )
            person = await identity.create_person(
                services.uow(),
                identity.CreatePerson(
                    username, display_name, password, (Membership(org.id, Role.ADMIN),)
                ),
                Argon2PasswordHasher(),
                actor=system,
                ip="cli",
                now=now,
            )
            return person.id
        finally:
            await services.close()

    try:
        person_id = asyncio.run(run())
    except DomainError as exc:
        click.echo(f"错误 / error: {exc.message_zh}\n{exc.message_en}", err=True)
        sys.exit(1)
    click.echo(f"管理员已创建 / administrator created: {username} ({person_id})")
