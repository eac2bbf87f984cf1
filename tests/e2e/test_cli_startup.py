"""`tenderhall` imports a command's module, and the heavy libraries, only for the command run.

Each check runs the CLI in a fresh process and reports which modules that process loaded, so a
module-level import of pyHanko or SQLAlchemy creeping back into the help path fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from tests.e2e.test_cli_platform import ROOT
from tests.pdf.pdfs import write_pdf
from tests.pki_fixtures import DemoPkiFiles
from webapp.cli import COMMANDS, main
from webapp.cli.lazy import LazyGroup

# Runs the real entry point, then prints (after the command's own output) which of the watched
# libraries and which command modules the process imported.
_PROBE = """
import json, sys
from webapp.cli import main
status = None
try:
    main(sys.argv[1:], prog_name="tenderhall")
except SystemExit as stop:
    status = stop.code
sys.stdout.write("\\n@@probe " + json.dumps({"exit": status, "modules": sorted(sys.modules)}))
"""

_SERVER_SIDE = {"litestar", "sqlalchemy", "alembic", "minio", "celery", "uvicorn"}
_COMMAND_MODULES = {lazy.target.partition(":")[0] for lazy in COMMANDS.values()}


def _probe(*args: str, tmp_path: Path) -> tuple[Any, str, set[str]]:
    """Exit status, output and the modules imported by ``tenderhall ARGS`` in a new process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TENDERHALL_")}
    env = {**clean, "PYTHONPATH": str(ROOT), "TENDERHALL_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output, marker, report = result.stdout.rpartition("\n@@probe ")
    assert marker, result.stdout + result.stderr
    body = json.loads(report)
    return body["exit"], output, set(body["modules"])


def _packages(modules: set[str]) -> set[str]:
    return {name.partition(".")[0] for name in modules}


def test_help_lists_every_command_without_importing_any(tmp_path: Path) -> None:
    status, output, modules = _probe("--help", tmp_path=tmp_path)
    assert status == 0, output
    listed = output.split("Commands:", 1)[1]
    for name in COMMANDS:
        assert f"\n  {name} " in listed, name
    assert "pdf      PDF 签名与电子见证章 / PDF signatures and the platform seal." in listed
    assert modules & _COMMAND_MODULES == set()
    assert _packages(modules) & (_SERVER_SIDE | {"pyhanko", "pyhanko_certvalidator"}) == set()


def test_pdf_verify_help_imports_neither_pyhanko_nor_the_server_side(tmp_path: Path) -> None:
    status, output, modules = _probe("pdf", "verify", "--help", tmp_path=tmp_path)
    assert status == 0, output
    assert "Usage: tenderhall pdf verify [OPTIONS] FILE" in output and "--trust" in output
    assert "webapp.cli.pdf_cli" in modules
    assert _packages(modules) & (_SERVER_SIDE | {"pyhanko", "pyhanko_certvalidator"}) == set()
    assert modules & (_COMMAND_MODULES - {"webapp.cli.pdf_cli"}) == set()


def test_pdf_verify_of_a_sealed_pdf_imports_pyhanko_but_no_server_library(
    demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    agency, tsa = demo_pki.entity("agency-org"), demo_pki.entity("platform-tsa")
    provider = demo_pki.provider(agency.provider)
    source = write_pdf(tmp_path / "notice.pdf", text="Tender notice")
    sealed = tmp_path / "sealed.pdf"
    made = CliRunner().invoke(
        main,
        ["pdf", "seal", str(source), str(sealed), "--key", str(agency.p12),
         "--password", demo_pki.password, "--tsa-key", str(tsa.p12),
         "--tsa-password", demo_pki.password],
    )  # fmt: skip
    assert made.exit_code == 0, made.output

    status, output, modules = _probe(
        "pdf", "verify", str(sealed), "--trust", str(provider.root_pem),
        "--crl", str(provider.crl_der), tmp_path=tmp_path,
    )  # fmt: skip
    assert status == 0, output
    assert "有效 / valid" in output and "PlatformSeal" in output
    assert "pyhanko" in _packages(modules)  # the probe sees what the command really imports
    assert _packages(modules) & _SERVER_SIDE == set()


@pytest.mark.parametrize("width", [40, 80, 200])
def test_the_registry_lists_commands_exactly_as_click_would(width: int) -> None:
    lazy = LazyGroup(name="tenderhall", lazy_commands=COMMANDS)
    listed = click.HelpFormatter(width=width)
    lazy.format_commands(click.Context(lazy), listed)  # nothing imported for this

    loading = LazyGroup(name="tenderhall", lazy_commands=COMMANDS)
    loaded: dict[str, click.Command] = {}
    for name in COMMANDS:
        command = loading.get_command(click.Context(loading), name)
        assert isinstance(command, click.Command) and command.name == name
        loaded[name] = command
    eager = click.Group(name="tenderhall", commands=loaded)
    expected = click.HelpFormatter(width=width)
    eager.format_commands(click.Context(eager), expected)
    assert listed.getvalue() == expected.getvalue()
    assert "Commands:" in expected.getvalue()
