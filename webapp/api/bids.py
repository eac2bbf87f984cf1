"""Bids over HTTP: lot opening keys and custody, resumable submission, withdrawal, receipts.

Implements the submission contract (``docs/architecture.md``, "Bids and receipts"). Before the
deadline nothing here tells anyone but the bidder itself that a bid exists: uploads, bids and
receipts of another organisation answer 404 exactly like ones that do not exist, and no route
lists or counts them for anyone else. The client evidence (address, user agent,
``X-Tenderhall-Client``, ``X-Tenderhall-Machine``) is stored privately with the upload and the bid.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import mmap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from litestar import Request, Router, delete, get, post, put
from litestar.datastructures import State

from trading.bids import custody
from trading.bids import services as bids
from trading.bids.errors import ChunkTooLargeError
from trading.bids.model import Evidence, OpeningKey, Receipt
from trading.errors import ValidationError
from trading.identity.model import Principal
from trading.ports import UploadPart
from webapp.api.tenders import CLIENT_HEADER, MACHINE_HEADER, RESOURCE
from webapp.auth import client_ip
from webapp.bids import (
    CustodyCryptography,
    EnvelopeHeaderInspector,
    PlatformReceiptSigner,
    secret_box,
)
from webapp.services import PartBuffers, Services

CHUNK_HASH_HEADER = "x-content-sha256"
PART_BUFFER_BUDGET = 32 * 1024 * 1024
"""Bytes of upload parts the server holds in memory at once, whatever the number of clients: a
part waits for a slot before its body is read (the client is held back by TCP flow control)."""


def _part_buffers(services: Services) -> PartBuffers:
    if services.part_buffers is None:
        slots = max(1, PART_BUFFER_BUDGET // services.settings.upload_chunk_bytes)
        services.part_buffers = PartBuffers(slots)
    return services.part_buffers


# --- models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustodianShareModel:
    custodian_certificate: str
    """PEM."""
    share: str
    """Base64 of the CMS envelope file ``custody create`` wrote for that custodian."""


@dataclass(frozen=True)
class OpeningKeyRequest:
    certificate: str
    """PEM of the lot's opening certificate."""
    threshold: int
    shares: list[CustodianShareModel]
    manifest: dict[str, Any]
    """``manifest.json`` as written by ``custody create``."""


@dataclass(frozen=True)
class OpeningKeyResponse:
    lot_number: int
    certificate: str
    fingerprint: str
    """SHA-256 (hex) of the opening public key (SubjectPublicKeyInfo DER)."""
    threshold: int
    custodians: list[str]
    """Custodian certificate subjects (RFC 4514)."""

    @classmethod
    def of(cls, key: OpeningKey) -> OpeningKeyResponse:
        return cls(
            lot_number=key.lot_number,
            certificate=key.certificate,
            fingerprint=key.fingerprint,
            threshold=key.threshold,
            custodians=[c.subject for c in key.custodians],
        )


@dataclass(frozen=True)
class ShareResponse:
    share: str
    """Base64 of the custodian's sealed share (CMS, to its own certificate)."""


@dataclass(frozen=True)
class ReleaseRequest:
    share: str
    """Base64 of the decrypted share file written by ``custody release``."""


@dataclass(frozen=True)
class ReleaseResponse:
    released: int
    threshold: int
    reconstructed: bool


@dataclass(frozen=True)
class UploadRequest:
    size: int
    """Bytes of the sealed envelope."""
    sha256: str
    """Hex SHA-256 of the whole envelope."""


@dataclass(frozen=True)
class PartModel:
    number: int
    size: int
    sha256: str

    @classmethod
    def of(cls, part: UploadPart) -> PartModel:
        return cls(part.number, part.size, part.sha256)


@dataclass(frozen=True)
class UploadResponse:
    upload_id: str
    chunk_size: int
    """Largest part accepted, in bytes."""
    size: int
    sha256: str
    parts: list[PartModel]


@dataclass(frozen=True)
class ReceiptBodyModel:
    format: str
    receipt_id: str
    kind: str
    """``submission`` or ``withdrawal``."""
    tender_id: str
    lot_number: int
    bid_id: str
    bidder_credit_code: str
    envelope_sha256: str
    envelope_size: int
    received_at: str
    """UTC, ``2026-11-30T10:00:00.123456Z``."""
    audit_seq: int
    replaces: str | None


@dataclass(frozen=True)
class ReceiptFile:
    """``tenderhall-receipt/1``: verify offline with ``tenderhall bid verify-receipt``."""

    receipt: ReceiptBodyModel
    signature: str
    """Base64 DER CMS detached SignedData over canonical(receipt) by the platform certificate."""
    timestamp_token: str
    """Base64 DER RFC 3161 token over SHA-256(envelope)."""
    platform_chain: list[str]
    tsa_chain: list[str]

    @classmethod
    def of(cls, receipt: Receipt) -> ReceiptFile:
        doc: dict[str, Any] = receipt.document
        return cls(
            receipt=ReceiptBodyModel(**doc["receipt"]),
            signature=doc["signature"],
            timestamp_token=doc["timestamp_token"],
            platform_chain=list(doc["platform_chain"]),
            tsa_chain=list(doc["tsa_chain"]),
        )


# --- helpers ----------------------------------------------------------------------------------


def _evidence(request: Request[Any, Any, State]) -> Evidence:
    return Evidence(
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        client=request.headers.get(CLIENT_HEADER, ""),
        machine=request.headers.get(MACHINE_HEADER, ""),
    )


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(
            f"{field} must be base64.", f"{field} 须为 base64 编码。", field=field
        ) from None


def _upload_response(upload: Any, chunk_size: int, parts: tuple[UploadPart, ...]) -> UploadResponse:
    return UploadResponse(
        upload_id=upload.id,
        chunk_size=chunk_size,
        size=upload.size,
        sha256=upload.sha256,
        parts=[PartModel.of(p) for p in parts],
    )


# --- opening keys -----------------------------------------------------------------------------

LOT_KEY = "/tenders/{tender_id:str}/lots/{lot_number:int}/opening-key"


@post(
    LOT_KEY,
    opt={"action": "bid.opening_key.set", **RESOURCE},
    summary="Store a lot's opening key and its custodians' sealed shares (once, before the "
    "deadline)",
)
async def set_opening_key(
    request: Request[Any, Any, State],
    tender_id: str,
    lot_number: int,
    data: OpeningKeyRequest,
    services: Services,
    principal: Principal,
) -> OpeningKeyResponse:
    key = await custody.set_opening_key(
        services.uow(),
        CustodyCryptography(),
        custody.SetOpeningKey(
            tender_id=tender_id,
            lot_number=lot_number,
            certificate=data.certificate,
            threshold=data.threshold,
            shares=tuple(
                (s.custodian_certificate, _b64(s.share, "shares.share")) for s in data.shares
            ),
            manifest=data.manifest,
        ),
        actor=principal,
        ip=client_ip(request),
        now=services.clock.now(),
    )
    return OpeningKeyResponse.of(key)


@get(LOT_KEY, opt={"action": "bid.opening_key.read"}, summary="A lot's opening key (public)")
async def get_opening_key(
    tender_id: str, lot_number: int, services: Services, principal: Principal
) -> OpeningKeyResponse:
    key = await custody.get_opening_key(services.uow(), tender_id, lot_number, actor=principal)
    return OpeningKeyResponse.of(key)


@get(
    LOT_KEY + "/shares/mine",
    opt={"action": "bid.opening_key.share"},
    summary="A custodian's own sealed share",
)
async def my_share(
    request: Request[Any, Any, State],
    tender_id: str,
    lot_number: int,
    services: Services,
    principal: Principal,
) -> ShareResponse:
    share = await custody.fetch_my_share(
        services.uow(),
        tender_id,
        lot_number,
        actor=principal,
        ip=client_ip(request),
        now=services.clock.now(),
    )
    return ShareResponse(base64.b64encode(share).decode())


@post(
    LOT_KEY + "/releases",
    opt={"action": "bid.opening_key.release"},
    summary="A custodian releases its decrypted share (after the opening time)",
)
async def release_share(
    request: Request[Any, Any, State],
    tender_id: str,
    lot_number: int,
    data: ReleaseRequest,
    services: Services,
    principal: Principal,
) -> ReleaseResponse:
    outcome = await custody.release_share(
        services.uow(),
        CustodyCryptography(),
        secret_box(services),
        tender_id,
        lot_number,
        _b64(data.share, "share"),
        actor=principal,
        ip=client_ip(request),
        now=services.clock.now(),
    )
    return ReleaseResponse(outcome.released, outcome.threshold, outcome.reconstructed)


# --- uploads ----------------------------------------------------------------------------------


@post(
    "/tenders/{tender_id:str}/lots/{lot_number:int}/uploads",
    opt={"action": "bid.upload"},
    summary="Start a resumable upload of a sealed bid",
)
async def start_upload(
    request: Request[Any, Any, State],
    tender_id: str,
    lot_number: int,
    data: UploadRequest,
    services: Services,
    principal: Principal,
) -> UploadResponse:
    settings = services.settings
    now = services.clock.now()
    upload, session = await bids.start_upload(
        services.uow(),
        services.objects,
        bids.StartUpload(tender_id, lot_number, data.size, data.sha256),
        actor=principal,
        evidence=_evidence(request),
        now=now,
        retain_until=now + timedelta(days=settings.retention_days),
        chunk_size=settings.upload_chunk_bytes,
    )
    return _upload_response(upload, settings.upload_chunk_bytes, session.parts)


async def _read_chunk(request: Request[Any, Any, State], buffer: mmap.mmap, limit: int) -> int:
    """Receive the request body into ``buffer``; its length. Refused as soon as it exceeds
    ``limit`` (or its Content-Length), or if it ends before its Content-Length.

    Filled in place: with many parallel uploads, growing buffers and extra copies would multiply
    the server's memory. The buffer itself is handed to the object store (no ``bytes`` copy).
    """
    declared = request.headers.get("content-length", "")
    size = limit
    if declared.isdigit():
        size = int(declared)
        if size > limit:
            raise ChunkTooLargeError(limit)
    filled = 0
    with memoryview(buffer) as view:
        async for piece in request.stream():
            end = filled + len(piece)
            if end > size:
                raise ChunkTooLargeError(limit)
            view[filled:end] = piece
            filled = end
    if declared.isdigit() and filled != size:
        raise ValidationError(
            "The part ended before its Content-Length.",
            "分片数据不完整（少于 Content-Length）。",
            field="body",
        )
    return filled


@put(
    "/uploads/{upload_id:str}/parts/{number:int}",
    opt={"action": "bid.upload"},
    summary="Upload one part (raw body, header X-Content-SHA256); re-sending replaces it",
)
async def put_part(
    request: Request[Any, Any, State],
    upload_id: str,
    number: int,
    services: Services,
    principal: Principal,
) -> PartModel:
    declared = request.headers.get(CHUNK_HASH_HEADER)
    if not declared:
        raise ValidationError(
            "Send the part's SHA-256 in X-Content-SHA256.",
            "请在 X-Content-SHA256 头中提供分片的 SHA-256。",
            field=CHUNK_HASH_HEADER,
        )
    limit = services.settings.upload_chunk_bytes

    @contextlib.asynccontextmanager
    async def receive() -> AsyncIterator[memoryview]:
        async with _part_buffers(services).buffer(limit) as buffer:
            length = await _read_chunk(request, buffer, limit)
            with memoryview(buffer)[:length] as data:
                yield data

    # A part refused before ``receive`` has its body read and dropped by the server (uvicorn),
    # so the client, which sends it whole before reading the answer, gets the problem report.
    part = await bids.put_part(
        services.uow(),
        services.objects,
        upload_id,
        number,
        receive,
        sha256=declared,
        chunk_size=limit,
        actor=principal,
        now=services.clock.now(),
    )
    return PartModel.of(part)


@get(
    "/uploads/{upload_id:str}",
    opt={"action": "bid.upload"},
    summary="An upload and the parts received so far (for resuming)",
)
async def get_upload(upload_id: str, services: Services, principal: Principal) -> UploadResponse:
    upload, session = await bids.upload_status(
        services.uow(), services.objects, upload_id, actor=principal
    )
    if session is None:
        return _upload_response(upload, services.settings.upload_chunk_bytes, ())
    # The session's own chunk size: a client resuming after the setting changed must go on
    # cutting the envelope the way it began.
    chunk = session.part_size or services.settings.upload_chunk_bytes
    return _upload_response(upload, chunk, session.parts)


@post(
    "/uploads/{upload_id:str}/complete",
    opt={"action": "bid.upload"},
    summary="Complete the upload: the bid exists from this moment; returns the signed receipt",
)
async def complete_upload(
    request: Request[Any, Any, State], upload_id: str, services: Services, principal: Principal
) -> ReceiptFile:
    receipt = await bids.complete_upload(
        services.uow(),
        services.objects,
        EnvelopeHeaderInspector(),
        PlatformReceiptSigner(services),
        upload_id,
        actor=principal,
        evidence=_evidence(request),
        clock=services.clock.now,
    )
    return ReceiptFile.of(receipt)


@delete(
    "/uploads/{upload_id:str}",
    opt={"action": "bid.upload"},
    summary="Abort an upload",
)
async def abort_upload(upload_id: str, services: Services, principal: Principal) -> None:
    await bids.abort_upload(services.uow(), services.objects, upload_id, actor=principal)


@post(
    "/bids/{bid_id:str}/withdrawal",
    opt={"action": "bid.withdraw"},
    summary="Withdraw a bid before the deadline; returns the withdrawal receipt",
)
async def withdraw(
    request: Request[Any, Any, State], bid_id: str, services: Services, principal: Principal
) -> ReceiptFile:
    receipt = await bids.withdraw_bid(
        services.uow(),
        PlatformReceiptSigner(services),
        bid_id,
        actor=principal,
        ip=client_ip(request),
        clock=services.clock.now,
    )
    return ReceiptFile.of(receipt)


@get("/receipts", opt={"action": "bid.receipt.read"}, summary="Your organisation's receipts")
async def list_receipts(services: Services, principal: Principal) -> list[ReceiptFile]:
    found = await bids.list_receipts(services.uow(), actor=principal)
    return [ReceiptFile.of(r) for r in found]


@get(
    "/receipts/{receipt_id:str}",
    opt={"action": "bid.receipt.read"},
    summary="One receipt of your organisation",
)
async def get_receipt(receipt_id: str, services: Services, principal: Principal) -> ReceiptFile:
    return ReceiptFile.of(await bids.get_receipt(services.uow(), receipt_id, actor=principal))


bids_router = Router(
    path="/api",
    route_handlers=[
        set_opening_key,
        get_opening_key,
        my_share,
        release_share,
        start_upload,
        put_part,
        get_upload,
        complete_upload,
        abort_upload,
        withdraw,
        list_receipts,
        get_receipt,
    ],
    tags=["bids"],
)
ROUTERS = [bids_router]
