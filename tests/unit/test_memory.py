"""The serve command tunes glibc's malloc (see webapp.memory)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from webapp.memory import limit_malloc_arenas, return_large_blocks

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# Frees a 6 MiB block (an S3 part's size) below a small live one, three times, and prints how
# many KiB of resident memory that left behind.
_KEPT_AFTER_LARGE_BLOCKS = """
import sys
from webapp.memory import return_large_blocks
def rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
if sys.argv[1] == "tuned":
    assert return_large_blocks()
before, pinned = rss(), []
for _ in range(3):
    block = bytes(6 * 1024 * 1024)
    pinned.append(bytes(100))
    del block
print(rss() - before)
"""


def _kept_kib(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", _KEPT_AFTER_LARGE_BLOCKS, mode],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout)


@pytest.mark.skipif(not GLIBC, reason="the cap is a glibc setting")
def test_the_cap_is_set_on_glibc() -> None:
    # In a child process: the cap stays for the life of the process that sets it.
    code = "from webapp.memory import limit_malloc_arenas as f; print(f(2))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


@pytest.mark.skipif(not GLIBC, reason="the threshold is a glibc setting")
def test_large_blocks_go_back_to_the_system_when_freed() -> None:
    assert _kept_kib("default") >= 5 * 1024  # glibc's own adjustment keeps one
    assert _kept_kib("tuned") < 1024


def test_an_operators_own_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "262144")
    assert limit_malloc_arenas() is False
    assert return_large_blocks() is False
