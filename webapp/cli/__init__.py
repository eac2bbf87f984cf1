"""The ``tenderhall`` command.

Each area keeps its commands in a module of this package that defines click groups; the main group
names them here and imports a module only when one of its commands is used (``lazy.py``).
Settings are read once, from the environment, when a command runs.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
from collections.abc import Iterator
from typing import NoReturn

import click

from trading.errors import DomainError
from webapp.cli.lazy import LazyCommand, LazyGroup
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


def _lazy(target: str, help_text: str) -> LazyCommand:
    return LazyCommand(f"webapp.cli.{target}", help_text)


# Each command's module is imported only when the command runs (or its own help is asked for),
# so that `tenderhall --help` and the bidder's commands do not pay for pyHanko, SQLAlchemy and
# Alembic. The help texts are the commands' docstrings, for the listing in `tenderhall --help`;
# tests/e2e/test_cli_startup.py checks that they match the commands.
COMMANDS: dict[str, LazyCommand] = {
    "admin": _lazy("identity_cli:admin", "平台管理 / Platform administration."),
    "audit": _lazy("audit_cli:audit", "审计日志 / The verifiable audit log (全程留痕)."),
    "bid": _lazy(
        "bid_cli:bid", "投标文件数字信封 / Sealed bids: seal, unseal, release the content key."
    ),
    "ca": _lazy("ca_cli:ca", "受信任的 CA / CA providers the platform trusts (CA 互认)."),
    "check": _lazy(
        "platform:check",
        "检查各组件 / Print each configured component and whether it is reachable.",
    ),
    "cms": _lazy(
        "signing_cli:cms", "CMS 分离式签名 / Detached CMS signatures (openssl cms compatible)."
    ),
    "custody": _lazy(
        "bid_cli:custody", "开标密钥门限托管 / Threshold custody of a lot's opening key."
    ),
    "db": _lazy("platform:db", "数据库 / Database."),
    "demo": _lazy(
        "demo_cli:demo",
        "填充演示数据 / Fill a fresh platform with demo PKI, organisations, people and tenders.",
    ),
    "login": _lazy(
        "session_cli:login",
        "登录并保存令牌 / Sign in (password or certificate) and keep the token for this server.",
    ),
    "logout": _lazy(
        "session_cli:logout",
        "注销并删除令牌 / Sign out: revoke the token on the server and forget it.",
    ),
    "pdf": _lazy("pdf_cli:pdf", "PDF 签名与电子见证章 / PDF signatures and the platform seal."),
    "pki": _lazy("signing_cli:pki", "证书与 CA / Certificates and CA providers."),
    "serve": _lazy("platform:serve", "运行平台 / Run the platform (API and pages)."),
    "ts": _lazy("signing_cli:ts", "RFC 3161 时间戳 / RFC 3161 timestamps (openssl ts compatible)."),
    "worker": _lazy(
        "platform:worker",
        "运行后台任务 / Run a Celery worker (and beat) for TENDERHALL_BROKER_URL.",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="tenderhall")
@click.pass_context
def main(ctx: click.Context) -> None:
    """tenderhall: 公共资源电子交易平台 / public-resource e-trading platform."""
    ctx.ensure_object(CliContext)
    # At exit, the interpreter's last garbage collection walks every object the imports made
    # (pyHanko's alone take a tenth of a second); frozen, they are left to the operating system.
    # Exit handlers and stream flushing still run.
    atexit.register(gc.freeze)
