"""The ``tenderhall`` command.

Each area keeps its commands in a module of this package that defines click groups; they are added
to the main group here. Settings are read once, from the environment, when a command runs.
"""

from __future__ import annotations

import os
import sys

import click

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
