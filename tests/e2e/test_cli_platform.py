"""The `tenderhall` command as a person runs it: real processes, real ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def tenderhall(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TENDERHALL_")}
    return subprocess.run(
        [sys.executable, "-m", "webapp", *args],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_malformed_setting_stops_the_command_naming_the_variable(tmp_path: Path) -> None:
    result = tenderhall("check", env={"TENDERHALL_PORT": "http"})
    assert result.returncode == 2
    assert "TENDERHALL_PORT" in result.stderr and "port 1-65535" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = tenderhall("db", "upgrade", env={"TENDERHALL_DATABSE_URL": "sqlite:///x.db"})
    assert unknown.returncode == 2 and "TENDERHALL_DATABSE_URL" in unknown.stderr


def test_db_upgrade_and_check_on_the_embedded_default(tmp_path: Path) -> None:
    env = {"TENDERHALL_DATA_DIR": str(tmp_path / "data")}
    upgrade = tenderhall("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    assert (tmp_path / "data" / "tenderhall.db").exists()
    check = tenderhall("check", env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    lines = check.stdout.splitlines()
    assert any(line.startswith("ok") and "database" in line and "sqlite" in line for line in lines)
    assert any(line.startswith("ok") and "objects" in line and "file" in line for line in lines)


def test_check_reports_unreachable_components_and_fails(tmp_path: Path) -> None:
    env = {
        "TENDERHALL_DATA_DIR": str(tmp_path),
        "TENDERHALL_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere",
        "TENDERHALL_BROKER_URL": "redis://127.0.0.1:1/0",
    }
    check = tenderhall("check", env=env)
    assert check.returncode == 1
    failed = [line for line in check.stdout.splitlines() if line.startswith("FAIL")]
    assert [line.split()[1] for line in failed] == ["database", "broker"]


def test_serve_answers_healthz_on_a_fresh_data_directory(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "fresh"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TENDERHALL_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp", "serve", "--port", str(port), "--data-dir", str(data)],
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = None
        for _ in range(300):
            if process.poll() is not None:
                break
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                body = response.json()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert body == {"status": "ok"}, process.stderr.read() if process.poll() is not None else ""
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        assert (data / "tenderhall.db").exists()  # migrations ran at start
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    # Logs are JSON lines with a request id for requests.
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(r.get("path") == "/healthz" and r.get("request_id") for r in records)


def test_serve_with_an_unreadable_platform_key_stops_at_start_with_the_reason(
    tmp_path: Path,
) -> None:
    key = tmp_path / "platform.p12"
    key.write_bytes(b"not a PKCS#12 file")
    env = {
        "TENDERHALL_DATA_DIR": str(tmp_path / "data"),
        "TENDERHALL_PLATFORM_KEY_FILE": str(key),
        "TENDERHALL_PORT": str(free_port()),
    }
    result = tenderhall("serve", env=env)
    assert result.returncode == 2
    assert str(key) in result.stderr and "PKCS#12" in result.stderr
    assert "无法读取密钥或证书文件" in result.stderr and "Traceback" not in result.stderr


def test_worker_refuses_to_start_without_a_broker(tmp_path: Path) -> None:
    result = tenderhall("worker", env={"TENDERHALL_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "TENDERHALL_BROKER_URL" in result.stderr
