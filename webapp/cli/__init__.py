"""The ``tenderhall`` command.

Each area keeps its commands in a module of this package that defines click groups; they are added
to the main group here. Settings are read once, from the environment, when a command runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import NoReturn

import click

from trading.errors import DomainError
from webapp.settings import Settings, SettingsError


class CliContext:
    """What every command receives: settings built once from the environment."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.from_env(os.environ)
            except SettingsError as exc:
                # A bad setting is a person's mistake, not a crash: name the variable, exit 2.
                click.echo(f"错误 / error: {exc.message_zh}\n{exc.message_en}", err=True)
                sys.exit(2)
        return self._settings


pass_cli = click.make_pass_decorator(CliContext, ensure=True)


def fail(message_zh: str, message_en: str) -> NoReturn:
    """End a command with a person's mistake: the message in both languages, exit status 2."""
    click.echo(f"错误 / error: {message_zh}\n{message_en}", err=True)
    sys.exit(2)


@contextlib.contextmanager
def reported() -> Iterator[None]:
    """Errors a person can cause (bad input, files) become a bilingual message and exit 2."""
    try:
        yield
    except DomainError as exc:
        fail(exc.message_zh, exc.message_en)
    except FileExistsError as exc:
        fail(f"文件已存在：{exc.filename}", f"file exists: {exc.filename}")
    except OSError as exc:
        fail(f"无法读写文件：{exc}", f"cannot read or write a file: {exc}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tenderhall")
@click.pass_context
def main(ctx: click.Context) -> None:
    """tenderhall: 公共资源电子交易平台 / public-resource e-trading platform."""
    ctx.ensure_object(CliContext)


def _register() -> None:
    # Imported here, not at module top, so that `tenderhall --help` stays fast and each area's
    # module is the only place that knows its commands.
    from webapp.cli import (
        audit_cli,
        bid_cli,
        ca_cli,
        demo_cli,
        identity_cli,
        pdf_cli,
        platform,
        session_cli,
        signing_cli,
    )

    for module in (
        platform,
        session_cli,
        identity_cli,
        audit_cli,
        ca_cli,
        signing_cli,
        pdf_cli,
        bid_cli,
        demo_cli,
    ):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
