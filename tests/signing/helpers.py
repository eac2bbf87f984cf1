"""Small helpers shared by the signing tests."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def openssl(*args: str, input_bytes: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the real ``openssl`` binary (interop tests); skip when it is not installed."""
    binary = shutil.which("openssl")
    if binary is None:
        pytest.skip("openssl binary not installed")
    return subprocess.run([binary, *args], input=input_bytes, capture_output=True, check=False)
