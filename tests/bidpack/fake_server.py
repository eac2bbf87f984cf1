"""A minimal in-process server speaking the submission contract, for the client's tests.

Plain ``http.server`` on a loopback port in a thread. It keeps uploads in memory, issues receipts
with a test platform key and TSA (:mod:`tests.bidpack.receipts`), and can misbehave on purpose:
fail a part's first attempts with 503, or refuse every part after some number of parts (a
connection that goes away mid-upload). It does not check the envelope's CMS structure: that is
the real server's business, tested on its own branch.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.bidpack.receipts import Issuer

TOKEN = "test-token-bidder"
USERNAME, PASSWORD = "zhangwei", "s3cret-pw"


@dataclass
class Upload:
    tender_id: str
    lot_number: int
    size: int
    sha256: str
    parts: dict[int, bytes] = field(default_factory=dict)
    completed: bool = False


@dataclass
class FakeState:
    issuer: Issuer
    chunk_size: int = 1000
    tenders: dict[str, Any] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    opening_keys: dict[tuple[str, int], Any] = field(default_factory=dict)
    """What custody create uploaded, by (tender, lot)."""
    published_keys: dict[tuple[str, int], Any] = field(default_factory=dict)
    """What GET .../opening-key answers, by (tender, lot)."""
    fail_part: dict[int, int] = field(default_factory=dict)
    """Part number -> how many more times its PUT answers 503."""
    refuse_parts_after: int | None = None
    """After this many stored parts, every part PUT answers 503 (the line went down)."""
    puts: list[int] = field(default_factory=list)
    """Part numbers of every PUT received, in order (failed ones too)."""
    stored_parts: int = 0
    headers: list[dict[str, str]] = field(default_factory=list)
    tamper_receipt: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    state: FakeState  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- plumbing ---------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _problem(self, status: int, code: str, detail: str) -> None:
        self._send(
            status,
            {
                "type": "about:blank",
                "title": code,
                "status": status,
                "code": code,
                "detail": detail,
            },
            "application/problem+json",
        )

    def _authorised(self) -> bool:
        self.state.headers.append(dict(self.headers.items()))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._problem(401, "unauthenticated", "sign in first")
            return False
        return True

    # --- routes -----------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path
        if m := re.fullmatch(r"/api/portal/tenders/([^/]+)", path):
            return self._tender(m.group(1))
        if not self._authorised():
            return None
        if m := re.fullmatch(r"/api/tenders/([^/]+)", path):
            return self._tender(m.group(1))
        if m := re.fullmatch(r"/api/uploads/([^/]+)", path):
            upload = self.state.uploads.get(m.group(1))
            if upload is None:
                return self._problem(404, "upload_not_found", "no such upload")
            # Like the real server: a closed upload answers with no parts; writing to it is 409.
            return self._send(200, self._status(m.group(1), upload))
        if path == "/api/receipts":
            return self._send(200, self.state.receipts)
        if m := re.fullmatch(r"/api/tenders/([^/]+)/lots/(\d+)/opening-key", path):
            published = self.state.published_keys.get((m.group(1), int(m.group(2))))
            if published is None:
                return self._problem(404, "opening_key_not_found", "no opening key")
            return self._send(200, published)
        return self._problem(404, "not_found", path)

    def do_POST(self) -> None:
        path = self.path
        body = self._body()
        if path == "/api/auth/login":
            creds = json.loads(body)
            if (creds.get("username"), creds.get("password")) != (USERNAME, PASSWORD):
                return self._problem(401, "login_failed", "wrong username or password")
            return self._send(201, {"token": TOKEN})
        if not self._authorised():
            return None
        if m := re.fullmatch(r"/api/tenders/([^/]+)/lots/(\d+)/uploads", path):
            request = json.loads(body)
            upload_id = uuid.uuid4().hex
            upload = Upload(m.group(1), int(m.group(2)), request["size"], request["sha256"])
            self.state.uploads[upload_id] = upload
            return self._send(201, self._status(upload_id, upload))
        if m := re.fullmatch(r"/api/uploads/([^/]+)/complete", path):
            return self._complete(m.group(1))
        if m := re.fullmatch(r"/api/tenders/([^/]+)/lots/(\d+)/opening-key", path):
            key = (m.group(1), int(m.group(2)))
            if key in self.state.opening_keys:
                return self._problem(409, "opening_key_exists", "already set")
            request = json.loads(body)
            self.state.opening_keys[key] = request
            return self._send(
                201,
                {
                    "lot_number": key[1],
                    "certificate": request["certificate"],
                    "fingerprint": request["manifest"]["public_key_sha256"],
                    "threshold": request["threshold"],
                    "custodians": [e["subject"] for e in request["manifest"]["custodians"]],
                },
            )
        return self._problem(404, "not_found", path)

    def do_PUT(self) -> None:
        body = self._body()
        if not self._authorised():
            return None
        m = re.fullmatch(r"/api/uploads/([^/]+)/parts/(\d+)", self.path)
        if m is None:
            return self._problem(404, "not_found", self.path)
        number = int(m.group(2))
        state = self.state
        with state.lock:
            state.puts.append(number)
            if state.fail_part.get(number, 0) > 0:
                state.fail_part[number] -= 1
                return self._problem(503, "unavailable", "try again")
            if (
                state.refuse_parts_after is not None
                and state.stored_parts >= state.refuse_parts_after
            ):
                return self._problem(503, "unavailable", "down")
        upload = state.uploads.get(m.group(1))
        if upload is None:
            return self._problem(404, "upload_not_found", "no such upload")
        if upload.completed:
            return self._problem(409, "upload_completed", "already completed")
        digest = hashlib.sha256(body).hexdigest()
        if self.headers.get("X-Content-SHA256") != digest:
            return self._problem(422, "chunk_hash_mismatch", "the chunk's hash differs")
        if len(body) > state.chunk_size:
            return self._problem(422, "chunk_too_large", "too large")
        upload.parts[number] = body
        with state.lock:
            state.stored_parts += 1
        return self._send(200, {"number": number, "size": len(body), "sha256": digest})

    # --- helpers ----------------------------------------------------------------------------

    def _tender(self, tender_id: str) -> None:
        tender = self.state.tenders.get(tender_id)
        if tender is None:
            return self._problem(404, "tender_not_found", tender_id)
        return self._send(200, tender)

    def _status(self, upload_id: str, upload: Upload) -> dict[str, Any]:
        return {
            "upload_id": upload_id,
            "chunk_size": self.state.chunk_size,
            "size": upload.size,
            "sha256": upload.sha256,
            "parts": []
            if upload.completed
            else [
                {"number": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                for n, b in sorted(upload.parts.items())
            ],
        }

    def _complete(self, upload_id: str) -> None:
        upload = self.state.uploads.get(upload_id)
        if upload is None:
            return self._problem(404, "upload_not_found", "no such upload")
        if upload.completed:
            return self._problem(409, "upload_completed", "already completed")
        data = b"".join(b for _, b in sorted(upload.parts.items()))
        if len(data) != upload.size or hashlib.sha256(data).hexdigest() != upload.sha256:
            return self._problem(422, "upload_incomplete", "size or hash differs")
        upload.completed = True
        receipt = asyncio.run(
            self.state.issuer.areceipt(
                upload.sha256,
                upload.size,
                tender_id=upload.tender_id,
                lot_number=upload.lot_number,
                audit_seq=len(self.state.receipts) + 1,
            )
        )
        self.state.receipts.append(receipt)
        if self.state.tamper_receipt:
            receipt = json.loads(json.dumps(receipt))
            receipt["receipt"]["lot_number"] += 1
        return self._send(201, receipt)


@contextmanager
def fake_server(state: FakeState) -> Iterator[str]:
    """Serve ``state`` on a loopback port; yields the base URL."""
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
