"""A real platform for the browser: ``tenderhall demo`` on a temp data directory, then
``tenderhall serve`` on a free port, driven by playwright in Debian's headless Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import service_missing
from tests.e2e.test_cli_platform import ROOT, free_port

UPLOAD_CHUNK = 64 * 1024
CHROMIUM = Path(os.environ.get("TENDERHALL_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class Platform:
    url: str
    data_dir: Path
    pki_dir: Path
    tenders: dict[str, str]
    screenshots: Path


def _clean_env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TENDERHALL_")}
    return {**clean, "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    if not CHROMIUM.exists():
        service_missing("Chromium", f"{CHROMIUM} not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        service_missing("playwright", str(exc))
    data = tmp_path_factory.mktemp("browser-platform")
    demo = subprocess.run(
        [sys.executable, "-m", "webapp", "demo", "--data-dir", str(data)],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    tenders = {}
    for line in demo.stdout.split("tenders:")[1].splitlines():
        parts = line.split()
        if len(parts) == 2:
            tenders[parts[0]] = parts[1]
    port = free_port()
    log = (data / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp", "serve", "--port", str(port), "--data-dir", str(data)],
        cwd=ROOT,
        # Small parts, so that a test envelope of a few hundred KB is uploaded in several.
        env={**_clean_env(), "TENDERHALL_UPLOAD_CHUNK_BYTES": str(UPLOAD_CHUNK)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert process.poll() is None, (data / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        shots = Path(
            os.environ.get("TENDERHALL_TEST_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots")
        )
        shots.mkdir(parents=True, exist_ok=True)
        yield Platform(url, data, data / "demo" / "pki", tenders, shots)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser(platform: Platform) -> Iterator[Any]:
    """Module scope: the sync API runs an event loop in this thread while it is open, so it must
    be closed before the async suites that follow run theirs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
