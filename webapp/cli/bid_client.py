"""The bidder's HTTP client: sign in, resumable upload of a sealed envelope, receipts, custody.

Speaks the submission contract (``/api/tenders/{id}/lots/{n}/uploads``, ``/api/uploads/...``,
``/api/receipts``, ``.../opening-key``). Every request carries the client's name and version
(``X-Tenderhall-Client``) and the machine fingerprint (``X-Tenderhall-Machine``). Errors come
back as :class:`ServerError` with the server's problem ``code``; network failures of a chunk are
retried with exponential back-off before they become :class:`ConnectionFailedError`.

Resuming: the upload id is saved next to the envelope (``ENVELOPE.upload.json``) as soon as the
server gives it; a re-run asks the server which parts it holds (number, size, SHA-256) and sends
only the others. The state file is removed once the receipt is saved.

Withdrawing (``POST /api/bids/{id}/withdrawal``) is not repeated on a network failure; a re-run
after the bid was withdrawn finds the withdrawal receipt among the organisation's receipts.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform as platform_module
import secrets
import socket
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from trading.errors import DomainError

STATE_FORMAT = "tenderhall-upload-state/1"
RETRIES = 5
BACKOFF_S = 0.5
TIMEOUT_S = 60.0


def client_version() -> str:
    try:
        return metadata.version("tenderhall")
    except metadata.PackageNotFoundError:
        return "0"


def machine_fingerprint(machine_id_path: Path = Path("/etc/machine-id")) -> str:
    """hex SHA-256 of ``tenderhall-machine/1\\n`` + machine id (or hostname) + ``\\n`` +
    sys.platform, as the contract defines it."""
    try:
        ident = machine_id_path.read_text(encoding="utf-8")
    except OSError:
        ident = socket.gethostname()
    data = "tenderhall-machine/1\n" + ident + "\n" + sys.platform
    return hashlib.sha256(data.encode()).hexdigest()


class ServerError(DomainError):
    """The server refused a request (RFC 9457 problem+json); ``code`` is the server's.

    ``detail`` is in the language the server answered in; ``detail_zh`` is the Chinese one when
    the problem carries both (``message_en`` and ``message_zh``), so each line reads in its own
    language."""

    code = "server_error"

    def __init__(
        self, status: int, problem_code: str, detail: str, detail_zh: str | None = None
    ) -> None:
        super().__init__(
            f"The server answered {status} ({problem_code}): {detail}",
            f"服务器拒绝了请求 {status}（{problem_code}）：{detail_zh or detail}",
            status=status,
            problem_code=problem_code,
        )
        self.status = status
        self.problem_code = problem_code


class ConnectionFailedError(DomainError):
    code = "connection_failed"

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"Cannot reach the server at {url}: {reason}",
            f"无法连接服务器 {url}：{reason}",
            url=url,
        )


class SubmitError(DomainError):
    """The submission cannot go on: the envelope changed, the receipt does not match, ..."""

    code = "submit_failed"

    def __init__(self, reason_en: str, reason_zh: str) -> None:
        super().__init__(f"Submission failed: {reason_en}", f"投标文件提交失败：{reason_zh}")


def _problem(response: httpx.Response) -> ServerError:
    code, detail, detail_zh = "http_error", response.reason_phrase, None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("code") or code)
        detail = str(body.get("message_en") or body.get("detail") or body.get("title") or detail)
        detail_zh = str(body["message_zh"]) if body.get("message_zh") else None
    return ServerError(response.status_code, code, detail, detail_zh)


class ApiClient:
    """A small synchronous client of the platform's JSON API."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retries: int = RETRIES,
        backoff_s: float = BACKOFF_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._sleep = sleep
        self._retries = retries
        self._backoff_s = backoff_s
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=TIMEOUT_S,
            transport=transport,
            headers={
                "X-Tenderhall-Client": f"tenderhall-cli/{client_version()}",
                "X-Tenderhall-Machine": machine_fingerprint(),
                "User-Agent": f"tenderhall-cli/{client_version()} ({platform_module.system()})",
            },
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def login(self, username: str, password: str) -> str:
        body = self.call(
            "POST", "/api/auth/login", json={"username": username, "password": password}
        )
        self.token = str(body["token"])
        return self.token

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        retry: bool = False,
    ) -> Any:
        """Send a request; the JSON body of a 2xx answer, else :class:`ServerError`.

        With ``retry`` (idempotent requests: GET, a part PUT) network errors and 5xx answers are
        retried with exponential back-off.
        """
        all_headers = dict(headers or {})
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        attempts = self._retries + 1 if retry else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._http.request(
                    method, path, json=json, content=content, headers=all_headers
                )
            except httpx.TransportError as exc:
                if last:
                    raise ConnectionFailedError(
                        self.base_url, str(exc) or type(exc).__name__
                    ) from exc
            else:
                if response.status_code < 400:
                    try:
                        return response.json() if response.content else None
                    except ValueError:
                        raise ServerError(
                            response.status_code, "bad_response", "the answer is not JSON"
                        ) from None
                if response.status_code < 500 or last:
                    raise _problem(response)
            self._sleep(self._backoff_s * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover


# --- the upload ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadState:
    """What is saved next to the envelope so an interrupted upload can resume."""

    server: str
    tender_id: str
    lot_number: int
    upload_id: str
    size: int
    sha256: str

    def to_json(self) -> str:
        return json.dumps({"format": STATE_FORMAT, **self.__dict__}, indent=2) + "\n"

    @classmethod
    def load(cls, path: Path) -> UploadState | None:
        """The saved state, or None if there is none or it is unreadable (then start afresh)."""
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            if body.pop("format") != STATE_FORMAT:
                return None
            return cls(**body)
        except (OSError, ValueError, TypeError, KeyError):
            return None


def state_path_for(envelope: Path) -> Path:
    return envelope.with_name(envelope.name + ".upload.json")


def receipt_path_for(envelope: Path) -> Path:
    return envelope.with_name(envelope.name + ".receipt.json")


def withdrawal_path_for(envelope: Path) -> Path:
    return envelope.with_name(envelope.name + ".withdrawal.json")


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: never a half-written file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with tmp.open("wb") as sink:
        sink.write(data)
        sink.flush()
        os.fsync(sink.fileno())
    tmp.replace(path)


def _digest(path: Path) -> tuple[str, int]:
    md = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            md.update(chunk)
            size += len(chunk)
    return md.hexdigest(), size


def _parts(path: Path, chunk_size: int) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as stream:
        number = 1
        while chunk := stream.read(chunk_size):
            yield number, chunk
            number += 1


@dataclass(frozen=True)
class UploadResult:
    receipt: dict[str, Any]
    upload_id: str
    parts_sent: int
    parts_total: int
    resumed: bool


class _AlreadyCompleted(Exception):
    """The saved upload was completed by an earlier run (its receipt was not saved)."""


def _resume(client: ApiClient, saved: UploadState | None, wanted: UploadState) -> Any:
    """The server's status of the saved upload if it can be continued, else None."""
    if saved is None or saved.__dict__ | {"upload_id": ""} != wanted.__dict__ | {"upload_id": ""}:
        return None
    try:
        return client.call("GET", f"/api/uploads/{saved.upload_id}", retry=True)
    except ServerError as exc:
        if exc.problem_code == "upload_completed":
            raise _AlreadyCompleted from exc
        if exc.status in (404, 410):
            return None  # gone or aborted: a new upload starts
        raise


def upload_envelope(
    client: ApiClient,
    envelope: Path,
    *,
    tender_id: str,
    lot_number: int,
    state_path: Path,
    progress: Callable[[int], None] | None = None,
) -> UploadResult:
    """Upload ``envelope`` (resuming a saved upload when possible) and complete it; the receipt.

    ``progress`` is called with the number of bytes sent or found on the server so far. If the
    saved upload turns out to be completed already (an earlier run died before saving the
    receipt) its receipt is fetched rather than bidding twice; if it was aborted, a new upload
    starts.
    """
    sha256, size = _digest(envelope)
    wanted = UploadState(client.base_url, tender_id, lot_number, "", size, sha256)
    saved = UploadState.load(state_path)
    for _ in range(2):
        try:
            return _upload(client, envelope, wanted, saved, state_path, progress)
        except (_AlreadyCompleted, ServerError) as exc:
            if isinstance(exc, ServerError) and exc.problem_code != "upload_completed":
                raise
            found = find_receipt(client, tender_id, lot_number, sha256)
            if found is not None:
                return UploadResult(found, saved.upload_id if saved else "", 0, 0, True)
            saved = None  # aborted, not completed: start afresh
    raise SubmitError(
        "the upload was closed by the server and no receipt was issued",
        "上传任务已被服务器关闭，且未签发回执",
    )


def _upload(
    client: ApiClient,
    envelope: Path,
    wanted: UploadState,
    saved: UploadState | None,
    state_path: Path,
    progress: Callable[[int], None] | None,
) -> UploadResult:
    tender_id, lot_number, size, sha256 = (
        wanted.tender_id,
        wanted.lot_number,
        wanted.size,
        wanted.sha256,
    )
    status = _resume(client, saved, wanted)
    resumed = status is not None
    if status is None:
        status = client.call(
            "POST",
            f"/api/tenders/{tender_id}/lots/{lot_number}/uploads",
            json={"size": size, "sha256": sha256},
        )
        state = UploadState(
            client.base_url, tender_id, lot_number, str(status["upload_id"]), size, sha256
        )
        write_atomically(state_path, state.to_json().encode())
    upload_id = str(status["upload_id"])
    chunk_size = int(status["chunk_size"])
    if chunk_size <= 0:
        raise SubmitError("the server gave no chunk size", "服务器未给出分片大小")
    held = {int(p["number"]): (int(p["size"]), str(p["sha256"])) for p in status.get("parts", [])}
    total = math.ceil(size / chunk_size)
    done = sent = 0
    for number, chunk in _parts(envelope, chunk_size):
        digest = hashlib.sha256(chunk).hexdigest()
        if held.get(number) != (len(chunk), digest):
            answer = client.call(
                "PUT",
                f"/api/uploads/{upload_id}/parts/{number}",
                content=chunk,
                headers={"X-Content-SHA256": digest, "Content-Type": "application/octet-stream"},
                retry=True,
            )
            if answer.get("sha256") != digest or int(answer.get("size", -1)) != len(chunk):
                raise SubmitError(
                    f"the server stored part {number} differently",
                    f"服务器保存的第 {number} 片不一致",
                )
            sent += 1
        done += len(chunk)
        if progress is not None:
            progress(done)
    if _digest(envelope) != (sha256, size):
        raise SubmitError("the envelope changed during the upload", "上传过程中信封文件被修改")
    receipt = client.call("POST", f"/api/uploads/{upload_id}/complete")
    return UploadResult(receipt, upload_id, sent, total, resumed)


def _receipts(client: ApiClient) -> list[dict[str, Any]]:
    listing = client.call("GET", "/api/receipts", retry=True)
    items = listing.get("items", listing) if isinstance(listing, dict) else listing
    return [r for r in items or [] if isinstance(r, dict) and isinstance(r.get("receipt"), dict)]


def find_receipt(
    client: ApiClient, tender_id: str, lot_number: int, sha256: str
) -> dict[str, Any] | None:
    """The newest submission receipt for this envelope among the organisation's receipts."""
    matching = [
        r
        for r in _receipts(client)
        if r["receipt"].get("envelope_sha256") == sha256
        and r["receipt"].get("tender_id") == tender_id
        and r["receipt"].get("lot_number") == lot_number
        and r["receipt"].get("kind") == "submission"
    ]
    matching.sort(key=lambda r: str(r["receipt"].get("received_at")))
    return matching[-1] if matching else None


def withdraw_bid(client: ApiClient, bid_id: str) -> tuple[dict[str, Any], bool]:
    """Withdraw the live bid ``bid_id``: the withdrawal receipt, and whether it was issued by an
    earlier request (the bid was already withdrawn, its receipt is fetched rather than lost).

    Any other refusal (another organisation's or an unknown bid, a replaced bid, the deadline
    has passed) is the server's :class:`ServerError`.
    """
    try:
        answer = client.call("POST", f"/api/bids/{urllib.parse.quote(bid_id, safe='')}/withdrawal")
    except ServerError as exc:
        if exc.problem_code != "bid_not_live":
            raise
        earlier = [
            r
            for r in _receipts(client)
            if r["receipt"].get("bid_id") == bid_id and r["receipt"].get("kind") == "withdrawal"
        ]
        if not earlier:
            raise
        return earlier[-1], True
    return dict(answer), False
