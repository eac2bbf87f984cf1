"""A real `tenderhall serve` process on a free port, for tests of the client commands."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_cli_platform import ROOT, free_port


@dataclass(frozen=True)
class Served:
    url: str
    env: dict[str, str]
    """``TENDERHALL_*`` for CLI commands that work on the same data directory."""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    env = {"TENDERHALL_DATA_DIR": str(tmp_path / "data"), "TENDERHALL_PORT": str(port)}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TENDERHALL_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp", "serve"],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                pytest.fail(f"serve exited: {process.stderr.read() if process.stderr else ''}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield Served(url, env)
    finally:
        process.terminate()
        process.communicate(timeout=30)
