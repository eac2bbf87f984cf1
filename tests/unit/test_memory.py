"""The serve command caps glibc's malloc arenas (see webapp.memory)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from webapp.memory import limit_malloc_arenas

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="the cap is a glibc setting")
def test_the_cap_is_set_on_glibc() -> None:
    # In a child process: the cap stays for the life of the process that sets it.
    code = "from webapp.memory import limit_malloc_arenas as f; print(f(2))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_an_operators_own_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False
