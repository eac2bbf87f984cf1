"""The project's own checks, run as part of the suite so that CI enforces them.

- imports point inward: ``trading``/``evaluation`` import no framework, ORM, object-store SDK or
  queue, and ``storage``/``signing`` do not import the web layer (import-linter contracts in
  pyproject.toml);
- ruff lint and format, and ``mypy --strict``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)


def test_import_contracts_hold() -> None:
    result = run(sys.executable, "-m", "importlinter.cli", "--no-cache")
    if "No module named" in result.stderr:
        result = run("lint-imports", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_domain_packages_import_only_the_standard_library_and_each_other() -> None:
    # A second, independent check of the rule, reading the source rather than the import graph.
    import ast

    allowed_roots = {"trading", "evaluation"} | set(sys.stdlib_module_names)
    offenders = []
    for package in ("trading", "evaluation"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                offenders += [
                    f"{path.relative_to(ROOT)}: {n}"
                    for n in names
                    if n.split(".")[0] not in allowed_roots
                ]
    assert offenders == []


def test_ruff_lint() -> None:
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run(sys.executable, "-m", "ruff", "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict() -> None:
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
