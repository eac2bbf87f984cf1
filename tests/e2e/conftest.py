"""A real `tenderhall serve` process on a free port, for tests of the client commands.

``serving()`` starts one on a data directory the test has prepared (``tenderhall demo``, say);
with ``clock=ServerClock(...)`` the process runs under libfaketime (Debian's ``faketime``
package), so a test can move that process's wall clock (past a deadline) while the product has
no clock setting of its own. Only the wall clock moves: monotonic time stays real, so timeouts,
the event loop and the scheduler's intervals behave as usual.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_cli_platform import ROOT, free_port

_LIBFAKETIME = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1")


@dataclass(frozen=True)
class Served:
    url: str
    env: dict[str, str]
    """``TENDERHALL_*`` for CLI commands that work on the same data directory."""


@dataclass(frozen=True)
class ServerClock:
    """The served process's wall clock: real time plus an offset that libfaketime reads from
    ``path`` on every call (``FAKETIME_NO_CACHE``), so moving it takes effect at once."""

    path: Path

    def set_offset(self, seconds: int) -> None:
        # Written aside and renamed: the library never reads a half-written offset.
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(f"{seconds:+d}\n", encoding="ascii")
        tmp.replace(self.path)

    def process_env(self) -> dict[str, str]:
        found = [p for pattern in _LIBFAKETIME for p in Path("/").glob(pattern.lstrip("/"))]
        if not found:
            pytest.fail("libfaketime is missing: apt-get install faketime (.ci/run installs it)")
        if not self.path.exists():
            self.set_offset(0)
        return {
            "LD_PRELOAD": str(found[0]),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",
            "DONT_FAKE_MONOTONIC": "1",
        }


@contextlib.contextmanager
def serving(
    data_dir: Path, *, settings: Mapping[str, str] | None = None, clock: ServerClock | None = None
) -> Iterator[Served]:
    """``tenderhall serve`` on ``data_dir`` with the ``TENDERHALL_*`` ``settings``, until the
    block ends; returns once ``/healthz`` answers."""
    port = free_port()
    env = {"TENDERHALL_DATA_DIR": str(data_dir), "TENDERHALL_PORT": str(port), **(settings or {})}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TENDERHALL_")}
    extra = clock.process_env() if clock is not None else {}
    # A file, not a pipe: a pipe nobody reads would stop a talkative server once it is full.
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "webapp", "serve"],
            cwd=ROOT,
            env={**clean, "PYTHONPATH": str(ROOT), **env, **extra},
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                if process.poll() is not None:
                    log.seek(0)
                    pytest.fail(f"serve exited: {log.read()}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            yield Served(url, env)
        finally:
            process.terminate()
            process.communicate(timeout=30)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serving(tmp_path / "data") as server:
        yield server
