"""`tenderhall login`/`logout` against a served platform: by password and by certificate."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.e2e.conftest import Served
from tests.e2e.test_cli_platform import tenderhall
from tests.pki_fixtures import DemoPkiFiles


def test_password_and_certificate_sign_in_from_the_command_line(
    served: Served, demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    env = {**served.env, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    boot = tenderhall(
        "admin", "bootstrap", "--org-name", "交易中心", "--credit-code", "12350100MB0000001Y",
        "--username", "admin", "--password", "admin password 1", env=env,
    )  # fmt: skip
    assert boot.returncode == 0, boot.stderr
    assert tenderhall("ca", "import-demo", str(demo_pki.root), env=env).returncode == 0

    login = tenderhall(
        "login", "--server", served.url, "--username", "admin", "--password", "admin password 1",
        env=env,
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    sessions = json.loads((tmp_path / "config/tenderhall/sessions.json").read_text())
    admin = {"Authorization": f"Bearer {sessions[served.url]['token']}"}

    # A bidder organisation registers itself, the administrator approves it and adds a person.
    rep = demo_pki.entity("bidder-1-rep")
    with httpx.Client(base_url=served.url, timeout=30) as client:
        org = client.post(
            "/api/organisations",
            json={"name": "示例建设", "credit_code": rep.credit_code, "type": "bidder"},
        ).json()
        approved = client.post(
            f"/api/organisations/{org['id']}/approval", json={"approve": True}, headers=admin
        )
        assert approved.status_code == 200, approved.text
        person = client.post(
            "/api/people",
            json={
                "username": "rep1",
                "display_name": "投标代表",
                "password": "rep password 12",
                "memberships": [{"org_id": org["id"], "role": "bidder_rep"}],
            },
            headers=admin,
        )
        assert person.status_code == 201, person.text
        as_rep = tenderhall(
            "login", "--server", served.url, "--username", "rep1", "--password", "rep password 12",
            env=env,
        )  # fmt: skip
        assert as_rep.returncode == 0, as_rep.stderr
        token = json.loads((tmp_path / "config/tenderhall/sessions.json").read_text())
        headers = {"Authorization": f"Bearer {token[served.url]['token']}"}
        bound = client.post(
            f"/api/people/{person.json()['id']}/certificates",
            json={"certificate": rep.cert_pem.read_text()},
            headers=headers,
        )
        assert bound.status_code == 201, bound.text

        by_cert = tenderhall(
            "login",
            "--server",
            served.url,
            "--key",
            str(rep.p12),
            "--password",
            demo_pki.password,
            env=env,
        )
        assert by_cert.returncode == 0, by_cert.stderr
        assert "bidder_rep" in by_cert.stdout
        token = json.loads((tmp_path / "config/tenderhall/sessions.json").read_text())
        cert_headers = {"Authorization": f"Bearer {token[served.url]['token']}"}
        assert client.get("/api/auth/me", headers=cert_headers).status_code == 200

        out = tenderhall("logout", "--server", served.url, env=env)
        assert out.returncode == 0
        assert client.get("/api/auth/me", headers=cert_headers).status_code == 401

    wrong = tenderhall(
        "login", "--server", served.url, "--key", str(rep.p12), "--password", "nope", env=env
    )
    assert wrong.returncode == 2 and "错误" in wrong.stderr
