"""A part refused before its body is read still gets its problem report over a real socket.

The server checks the upload and its tender before it takes a part buffer and reads the body. A
client sends the whole body before it reads the answer, so the unread body of a refused part must
be read and dropped (uvicorn does so): otherwise the megabytes left unread end in a reset
connection, and the client sees a network failure instead of the reason.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx

from tests.e2e.conftest import serving
from tests.e2e.test_cli_platform import tenderhall
from webapp.demo import DEMO_PASSWORD

CHUNK = 8 * 1024 * 1024  # far more than the loopback socket buffers hold


def test_a_full_part_for_an_aborted_upload_is_answered_with_the_problem(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert tenderhall("demo", "--data-dir", str(data)).returncode == 0
    settings = {"TENDERHALL_UPLOAD_CHUNK_BYTES": str(CHUNK)}
    with (
        serving(data, settings=settings) as served,
        httpx.Client(base_url=served.url, timeout=60) as client,
    ):
        login = client.post(
            "/api/auth/login", json={"username": "bidder1", "password": DEMO_PASSWORD}
        )
        assert login.status_code == 201, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        listed = client.get("/api/tenders", params={"page_size": 100}).json()["items"]
        tender = next(t for t in listed if t["code"] == "DEMO-2026-002")
        body = os.urandom(CHUNK)
        size = 3 * CHUNK
        started = client.post(
            f"/api/tenders/{tender['id']}/lots/1/uploads",
            json={"size": size, "sha256": hashlib.sha256(body * 3).hexdigest()},
        )
        assert started.status_code == 201, started.text
        upload = started.json()
        assert upload["chunk_size"] == CHUNK
        part = f"/api/uploads/{upload['upload_id']}/parts/1"
        headers = {"X-Content-SHA256": hashlib.sha256(body).hexdigest()}
        assert client.put(part, content=body, headers=headers).status_code == 200
        assert client.delete(f"/api/uploads/{upload['upload_id']}").status_code < 300

        # The same connection: the refusal arrives whole, and the connection stays usable.
        for number in (2, 3):
            refused = client.put(
                f"/api/uploads/{upload['upload_id']}/parts/{number}",
                content=body,
                headers=headers,
            )
            assert refused.status_code == 409, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert "upload" in refused.json()["type"]
        assert client.get("/healthz").status_code == 200
