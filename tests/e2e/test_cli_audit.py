"""`tenderhall audit`: publish a head, export, verify offline, and catch an edited export."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.e2e.test_cli_platform import tenderhall


def test_publish_export_and_verify_offline_then_detect_an_edit(tmp_path: Path) -> None:
    env = {"TENDERHALL_DATA_DIR": str(tmp_path / "data")}
    assert tenderhall("db", "upgrade", env=env).returncode == 0
    boot = tenderhall(
        "admin",
        "bootstrap",
        "--org-name",
        "某市公共资源交易中心",
        "--credit-code",
        "12350100MB0000001Y",
        "--username",
        "admin",
        "--password",
        "a long enough password",
        env=env,
    )
    assert boot.returncode == 0, boot.stderr
    published = tenderhall("audit", "publish", env=env)
    assert published.returncode == 0, published.stderr
    assert "size" in published.stdout

    pem = tmp_path / "log.pem"
    key = tenderhall("audit", "public-key", env=env)
    assert key.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    pem.write_text(key.stdout)

    out = tmp_path / "export"
    exported = tenderhall("audit", "export", "--out", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    ok = tenderhall("audit", "verify", str(out), "--public-key", str(pem), "--json", env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    verdict = json.loads(ok.stdout)
    assert verdict["intact"] and verdict["signatures_checked"] and verdict["size"] >= 2

    # Change the first event's action: verify names event 0.
    lines = (out / "events.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    original = base64.b64decode(first["leaf"])
    leaf = original.replace(b'"action":"', b'"action":"x', 1)
    assert leaf != original
    first["leaf"] = base64.b64encode(leaf).decode()
    lines[0] = json.dumps(first, sort_keys=True)
    (out / "events.jsonl").write_text("\n".join(lines) + "\n")
    bad = tenderhall("audit", "verify", str(out), "--public-key", str(pem), "--json", env=env)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["first_bad_seq"] == 0

    missing = tenderhall("audit", "verify", str(tmp_path / "nowhere"), env=env)
    assert missing.returncode == 2
