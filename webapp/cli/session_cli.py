"""login / logout: a bearer token for the client commands, by password or by certificate.

Certificate sign-in happens on the person's machine: the platform hands out a nonce, the private
key (a PKCS#12 file) signs it here and never leaves. The token is kept in
``~/.config/tenderhall/sessions.json`` (mode 0600), one per server, for commands that talk to a
server (``--server URL``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from trading.errors import DomainError
from webapp.cli import fail

if TYPE_CHECKING:  # imported by login and logout: `saved_token` alone needs neither
    import httpx


def sessions_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tenderhall" / "sessions.json"


def _load() -> dict[str, Any]:
    path = sessions_file()
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save(data: dict[str, Any]) -> None:
    path = sessions_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        json.dump(data, fh, indent=2)
    tmp.replace(path)


def saved_token(server: str) -> str | None:
    """The token ``tenderhall login`` saved for ``server``, if any."""
    entry = _load().get(server.rstrip("/"))
    return str(entry["token"]) if isinstance(entry, dict) and "token" in entry else None


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    import httpx

    try:
        response = client.post(path, json=body)
    except httpx.HTTPError as exc:
        fail(f"无法连接服务器：{exc}", f"cannot reach the server: {exc}")
    if response.status_code >= 400:
        try:
            problem = response.json()
            detail = f"{problem.get('detail')} ({problem.get('code')})"
        except ValueError:
            detail = response.text[:200]
        fail(f"服务器拒绝：{detail}", f"the server refused: {detail}")
    result: dict[str, Any] = response.json()
    return result


def _sign(key: Any, message: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(message, ec.ECDSA(hashes.SHA256()))
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[no-any-return]


@click.command("login")
@click.option("--server", required=True, help="平台地址 / the platform's base URL")
@click.option("--username", help="用户名（口令登录）/ username, for password sign-in")
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="证书与私钥 PKCS#12（证书登录）/ PKCS#12 with the certificate bound to your account",
)
@click.option("--password", envvar="TENDERHALL_KEY_PASSWORD", help="口令 / password")
@click.option("--org-id", help="以哪个主体的身份 / act for this organisation")
def login(
    server: str, username: str | None, key: Path | None, password: str | None, org_id: str | None
) -> None:
    """登录并保存令牌 / Sign in (password or certificate) and keep the token for this server."""
    import httpx
    from cryptography.hazmat.primitives import serialization

    from signing.keys import load_key_bundle

    if (username is None) == (key is None):
        fail("请指定 --username 或 --key 之一", "give either --username or --key")
    base = server.rstrip("/")
    with httpx.Client(base_url=base, timeout=30) as client:
        if key is not None:
            try:
                bundle = load_key_bundle(key, password)
            except DomainError as exc:
                fail(exc.message_zh, exc.message_en)
            challenge = _post(client, "/api/auth/challenge", {})
            signature = _sign(bundle.key, challenge["message"].encode())
            session = _post(
                client,
                "/api/auth/certificate",
                {
                    "nonce": challenge["nonce"],
                    "certificate": bundle.cert.public_bytes(serialization.Encoding.PEM).decode(),
                    "signature": base64.b64encode(signature).decode(),
                    "org_id": org_id,
                },
            )
        else:
            if password is None:
                password = click.prompt("口令 / password", hide_input=True)
            session = _post(
                client,
                "/api/auth/login",
                {"username": username, "password": password, "org_id": org_id},
            )
    sessions = _load()
    sessions[base] = {"token": session["token"], "expires_at": session["expires_at"]}
    _save(sessions)
    click.echo(f"已登录 / signed in as {session['person_id']} ({session['role']}) at {base}")


@click.command("logout")
@click.option("--server", required=True)
def logout(server: str) -> None:
    """注销并删除令牌 / Sign out: revoke the token on the server and forget it."""
    import httpx

    base = server.rstrip("/")
    token = saved_token(base)
    if token is None:
        click.echo("未登录 / not signed in")
        return
    # Forgetting the token locally still ends this machine's use of it if the server is away.
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(f"{base}/api/auth/logout", headers={"Authorization": f"Bearer {token}"})
    sessions = _load()
    sessions.pop(base, None)
    _save(sessions)
    click.echo("已注销 / signed out")
