"""A click group that imports a command's module only when that command is used.

click's documented lazy-group pattern: ``list_commands`` names every command from a registry and
``get_command`` imports the one asked for. The command listing of ``--help`` takes each command's
help text from the registry too, so that printing it imports no command module at all (the
modules pull in pyHanko, SQLAlchemy, Alembic, ...; a bidder's command needs none of that).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from gettext import gettext as _  # the same translation hook click uses for its headings
from typing import Any

import click
from click.utils import make_default_short_help


@dataclass(frozen=True)
class LazyCommand:
    """Where a command is defined, and its help text for the parent's command listing."""

    target: str
    """``"package.module:attribute"``, the click command object."""
    help: str
    """The command's help (its docstring), shortened for the listing exactly as click would;
    ``tests/e2e/test_cli_startup.py`` checks it against the command itself."""


class LazyGroup(click.Group):
    """A group whose commands named in ``lazy_commands`` are imported on first use."""

    def __init__(
        self, *args: Any, lazy_commands: Mapping[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, LazyCommand] = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = self.lazy_commands.get(cmd_name)
        if lazy is not None and cmd_name not in self.commands:
            self.add_command(self._load(lazy), cmd_name)
        return super().get_command(ctx, cmd_name)

    @staticmethod
    def _load(lazy: LazyCommand) -> click.Command:
        module_name, _sep, attribute = lazy.target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # a wrong registry entry, found by the tests
            raise TypeError(f"{lazy.target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own version asks every command object for its short help, which would import
        # every module; a command not loaded yet is listed with the registry's text, shortened
        # the same way. Registry entries are never hidden (none is).
        entries: list[tuple[str, LazyCommand | click.Command]] = []
        for name in self.list_commands(ctx):
            lazy = self.lazy_commands.get(name)
            if lazy is not None and name not in self.commands:
                entries.append((name, lazy))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                entries.append((name, command))
        if not entries:
            return
        limit = formatter.width - 6 - max(len(name) for name, _entry in entries)
        rows = [
            (
                name,
                make_default_short_help(entry.help, limit).strip()
                if isinstance(entry, LazyCommand)
                else entry.get_short_help_str(limit),
            )
            for name, entry in entries
        ]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)
