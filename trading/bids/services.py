"""Bid use cases: resumable submission, replacement, withdrawal, receipts.

Each function is one use case; every state change appends its audit event in the same unit of
work. Events about bids are sealed until the tender's deadline (``sealed_until``), so neither the
log nor any search can count one tender's bids early. The lots' opening keys live in
:mod:`trading.bids.custody`.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from trading.bids.errors import (
    BidNotFoundError,
    BidNotLiveError,
    ChunkHashMismatchError,
    ChunkTooLargeError,
    EnvelopeMismatchError,
    EnvelopeNotAddressedError,
    LotNotFoundError,
    NotYourBidError,
    OpeningKeyMissingError,
    ReceiptNotFoundError,
    SubmissionNotOpenError,
    UploadCompletedError,
    UploadNotFoundError,
)
from trading.bids.model import (
    Bid,
    BidStatus,
    BidUpload,
    Evidence,
    OpeningKey,
    Receipt,
    ReceiptBody,
    ReceiptKind,
    UploadStatus,
    canonical,
)
from trading.errors import UploadError, ValidationError
from trading.identity.model import Organisation, Principal, Role
from trading.identity.services import CertificateBinding
from trading.ports import (
    AuditLog,
    AuditRecord,
    BytesLike,
    ObjectStore,
    StoredObject,
    UploadPart,
    UploadSession,
)
from trading.tenders.errors import SubmissionClosedError, TenderNotFoundError
from trading.tenders.model import Lot, Phase, Tender, TenderStatus
from trading.tenders.services import TenderRepository

# --- ports ------------------------------------------------------------------------------------


class BidRepository(Protocol):
    async def add_upload(self, upload: BidUpload) -> None: ...
    async def get_upload(self, upload_id: str) -> BidUpload | None: ...
    async def save_upload(self, upload: BidUpload) -> None: ...
    async def add_bid(self, bid: Bid) -> None: ...
    async def get_bid(self, bid_id: str) -> Bid | None: ...
    async def live_bid(self, tender_id: str, lot_id: str, org_id: str) -> Bid | None: ...
    async def save_bid(self, bid: Bid) -> None: ...
    async def add_receipt(self, receipt: Receipt) -> None: ...
    async def get_receipt(self, receipt_id: str) -> Receipt | None: ...
    async def list_receipts(self, org_id: str) -> list[Receipt]: ...
    async def org_certificates(self, org_id: str) -> list[bytes]:
        """DER of every certificate bound to a member of the organisation."""
        ...

    async def add_opening_key(self, key: OpeningKey) -> None: ...
    async def get_opening_key(self, tender_id: str, lot_number: int) -> OpeningKey | None: ...
    async def save_opening_key(self, key: OpeningKey) -> None:
        """Store released shares and the rebuilt key (the public part never changes)."""
        ...

    async def flag_reconfirmation(self, tender_id: str, amendment_no: int) -> int:
        """Mark live bids made under an older amendment number; returns how many."""
        ...


class IdentityLookup(Protocol):
    async def get_organisation(self, org_id: str) -> Organisation | None: ...
    async def list_certificates(self, person_id: str) -> list[CertificateBinding]: ...


class BidsUnitOfWork(Protocol):
    @property
    def bids(self) -> BidRepository: ...
    @property
    def tenders(self) -> TenderRepository: ...
    @property
    def identity(self) -> IdentityLookup: ...
    @property
    def audit(self) -> AuditLog: ...
    async def commit(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@dataclass(frozen=True)
class EnvelopeCheck:
    """What a look at a stored envelope's header found."""

    problem: str | None
    """None if acceptable; else a machine-readable reason (``not_cms``, ``no_opening_key``, ...)."""
    problem_zh: str = ""


class EnvelopeInspector(Protocol):
    async def inspect(
        self, objects: ObjectStore, key: str, opening_certificate: str, bidder_certs: list[bytes]
    ) -> EnvelopeCheck:
        """Read only the header of the stored envelope ``key``: is it a CMS AuthEnvelopedData
        with a recipient for ``opening_certificate`` (PEM) and one for a cert in
        ``bidder_certs`` (DER)?"""
        ...


class ReceiptSigner(Protocol):
    async def sign(self, data: bytes) -> bytes:
        """A detached CMS SignedData (DER) over ``data`` by the platform certificate."""
        ...

    async def timestamp(self, digest: bytes) -> bytes:
        """An RFC 3161 token (DER) over a SHA-256 digest."""
        ...

    def platform_chain(self) -> list[str]: ...
    def tsa_chain(self, token: bytes) -> list[str]:
        """The TSA certificate and the certificates above it, PEM."""
        ...


# --- helpers ----------------------------------------------------------------------------------

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def new_id() -> str:
    return str(uuid.uuid4())


def bid_object_key(tender_id: str, lot_id: str) -> str:
    """Object keys name the tender and lot, and a random id: never a bidder."""
    return f"bids/{tender_id}/{lot_id}/{uuid.uuid4().hex}.p7m"


def _bidder(actor: Principal) -> None:
    if actor.role != Role.BIDDER_REP:
        raise NotYourBidError()


async def _tender_for_bidder(
    uow: BidsUnitOfWork, tender_id: str, *, for_update: bool = False
) -> Tender:
    tender = await uow.tenders.get(tender_id, for_update=for_update)
    # A draft is invisible to bidders: answer as if it did not exist.
    if tender is None or tender.status == TenderStatus.DRAFT:
        raise TenderNotFoundError(tender_id)
    return tender


def _accepting(tender: Tender, now: datetime) -> None:
    phase = tender.phase(now)
    if phase == Phase.SUBMISSION_OPEN:
        return
    if phase == Phase.SUBMISSION_CLOSED:
        raise SubmissionClosedError(tender.deadline)
    raise SubmissionNotOpenError(str(phase))


def _lot(tender: Tender, lot_number: int) -> Lot:
    lot = next((lot for lot in tender.draft.lots if lot.number == lot_number), None)
    if lot is None:
        raise LotNotFoundError(lot_number)
    return lot


async def _own_upload(uow: BidsUnitOfWork, upload_id: str, actor: Principal) -> BidUpload:
    upload = await uow.bids.get_upload(upload_id)
    if upload is None or upload.org_id != actor.org_id:
        raise UploadNotFoundError(upload_id)
    return upload


def _open(upload: BidUpload) -> None:
    if upload.status != UploadStatus.OPEN:
        raise UploadCompletedError(upload.id, str(upload.status))


def _sealed_record(
    action: str, tender: Tender, actor: Principal, ip: str, bid_id: str, after: dict[str, object]
) -> AuditRecord:
    return AuditRecord(
        action=action,
        object_type="bid",
        object_id=bid_id,
        actor_id=actor.person_id,
        organisation_id=actor.org_id,
        role=str(actor.role),
        ip=ip,
        after=after,
        tender_id=tender.id,
        # Sealed: until the deadline only the bidder itself can see the event (no counting).
        sealed_until=tender.deadline,
    )


# --- uploads ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartUpload:
    tender_id: str
    lot_number: int
    size: int
    sha256: str


async def start_upload(
    uow: BidsUnitOfWork,
    objects: ObjectStore,
    cmd: StartUpload,
    *,
    actor: Principal,
    evidence: Evidence,
    now: datetime,
    retain_until: datetime | None,
    chunk_size: int | None = None,
) -> tuple[BidUpload, UploadSession]:
    """Open a resumable upload of a sealed envelope for one lot.

    With ``chunk_size`` (the API's), every chunk but the last must be exactly that size, which
    lets the store write the chunks in place and keep the envelope on disk only once.
    """
    _bidder(actor)
    sha256 = cmd.sha256.strip().lower()
    if cmd.size <= 0:
        raise ValidationError("The size must be positive.", "文件大小必须为正数。", field="size")
    if not _HEX64.match(sha256):
        raise ValidationError(
            "sha256 must be 64 hexadecimal digits.", "sha256 须为 64 位十六进制数。", field="sha256"
        )
    async with uow:
        tender = await _tender_for_bidder(uow, cmd.tender_id)
        _accepting(tender, now)
        lot = _lot(tender, cmd.lot_number)
        if await uow.bids.get_opening_key(tender.id, lot.number) is None:
            raise OpeningKeyMissingError(lot.number)
    key = bid_object_key(tender.id, lot.id)
    session = await objects.begin_upload(
        key, content_type="application/pkcs7-mime", retain_until=retain_until, part_size=chunk_size
    )
    upload = BidUpload(
        id=session.upload_id,
        tender_id=tender.id,
        lot_id=lot.id,
        lot_number=lot.number,
        org_id=actor.org_id,
        person_id=actor.person_id,
        object_key=key,
        size=cmd.size,
        sha256=sha256,
        created_at=now,
        evidence=evidence,
    )
    async with uow:
        await uow.bids.add_upload(upload)
        await uow.commit()
    return upload, session


async def put_part(
    uow: BidsUnitOfWork,
    objects: ObjectStore,
    upload_id: str,
    number: int,
    receive: Callable[[], AbstractAsyncContextManager[BytesLike]],
    *,
    sha256: str,
    chunk_size: int,
    actor: Principal,
    now: datetime,
) -> UploadPart:
    """Store one chunk; re-sending a number replaces it.

    ``receive`` gives the chunk's bytes. It is entered only once the upload and its tender have
    been checked, so whatever a chunk is received into (the server's bounded part buffers) is
    held only while it arrives and is stored, not during the database reads.
    """
    async with uow:
        upload = await _own_upload(uow, upload_id, actor)
        _open(upload)
        tender = await _tender_for_bidder(uow, upload.tender_id)
        _accepting(tender, now)
    async with receive() as data:
        if len(data) > chunk_size:
            raise ChunkTooLargeError(chunk_size)
        # The store hashes the chunk (off the event loop) and refuses a mismatch; its refusal
        # names the expected digest, which is how it is told apart from other misuses.
        try:
            return await objects.upload_part(upload_id, number, data, sha256=sha256.strip().lower())
        except UploadError as exc:
            if "expected" in exc.details:
                raise ChunkHashMismatchError(number) from exc
            raise


async def upload_status(
    uow: BidsUnitOfWork, objects: ObjectStore, upload_id: str, *, actor: Principal
) -> tuple[BidUpload, UploadSession | None]:
    """The upload and, while it is open, the store's session (parts held, chunk size)."""
    async with uow:
        upload = await _own_upload(uow, upload_id, actor)
    if upload.status != UploadStatus.OPEN:
        return upload, None
    return upload, await objects.upload_status(upload_id)


async def abort_upload(
    uow: BidsUnitOfWork, objects: ObjectStore, upload_id: str, *, actor: Principal
) -> None:
    async with uow:
        upload = await _own_upload(uow, upload_id, actor)
        _open(upload)
        upload.status = UploadStatus.ABORTED
        await uow.bids.save_upload(upload)
        await uow.commit()
    await objects.abort_upload(upload_id)


# --- completion: the bid exists from here -----------------------------------------------------


async def _assembled(objects: ObjectStore, upload: BidUpload) -> StoredObject:
    # A previous attempt may have completed in the store and then failed to record (database
    # or TSA down): the object is then already there, and the retry records it.
    if await objects.exists(upload.object_key):
        return await objects.stat(upload.object_key)
    return await objects.complete_upload(upload.id)


async def complete_upload(
    uow: BidsUnitOfWork,
    objects: ObjectStore,
    inspector: EnvelopeInspector,
    signer: ReceiptSigner,
    upload_id: str,
    *,
    actor: Principal,
    evidence: Evidence,
    clock: Callable[[], datetime],
) -> Receipt:
    """Assemble the chunks, check the envelope, record the bid and issue its receipt.

    The moment of submission is read from the clock inside the recording transaction, after the
    object is assembled and checked: an upload that finishes after the deadline is refused even
    if it started before, and nothing is recorded. A refused object stays unreferenced in the
    write-once store until its retention ends; it is never a bid.
    """
    async with uow:
        upload = await _own_upload(uow, upload_id, actor)
        _open(upload)
        tender = await _tender_for_bidder(uow, upload.tender_id)
        _accepting(tender, clock())
        opening_key = await uow.bids.get_opening_key(tender.id, upload.lot_number)
        if opening_key is None:
            raise OpeningKeyMissingError(upload.lot_number)
        bidder_certs = await uow.bids.org_certificates(actor.org_id)
    stored = await _assembled(objects, upload)
    if stored.size != upload.size:
        raise EnvelopeMismatchError("size", upload.size, stored.size)
    if stored.sha256 != upload.sha256:
        raise EnvelopeMismatchError("sha256", upload.sha256, stored.sha256)
    check = await inspector.inspect(
        objects, upload.object_key, opening_key.certificate, bidder_certs
    )
    if check.problem is not None:
        raise EnvelopeNotAddressedError(check.problem, check.problem_zh or check.problem)
    # The envelope's timestamp proves that its bytes (stored and checked now) existed; it does
    # not depend on what is recorded below, so it is taken before the tender's row lock, which
    # would otherwise hold every other submission to the tender for a TSA's round trip.
    token = await signer.timestamp(bytes.fromhex(stored.sha256))

    async with uow:
        tender = await _tender_for_bidder(uow, upload.tender_id, for_update=True)
        upload = await _own_upload(uow, upload_id, actor)
        _open(upload)  # a concurrent complete of the same upload won the race
        now = clock()
        _accepting(tender, now)
        org = await uow.identity.get_organisation(actor.org_id)
        if org is None:
            raise NotYourBidError()
        previous = await uow.bids.live_bid(tender.id, upload.lot_id, actor.org_id)
        bid = Bid(
            id=new_id(),
            tender_id=tender.id,
            lot_id=upload.lot_id,
            lot_number=upload.lot_number,
            org_id=actor.org_id,
            submitted_by=actor.person_id,
            upload_id=upload.id,
            object_key=upload.object_key,
            envelope_sha256=stored.sha256,
            envelope_size=stored.size,
            received_at=now,
            amendment_no=tender.amendment_no,
            evidence=evidence,
            replaces=previous.id if previous else None,
        )
        await uow.bids.add_bid(bid)
        if previous is not None:
            previous.status = BidStatus.REPLACED
            previous.replaced_by = bid.id
            await uow.bids.save_bid(previous)
        upload.status = UploadStatus.COMPLETED
        upload.bid_id = bid.id
        await uow.bids.save_upload(upload)
        seq = await uow.audit.append(
            _sealed_record(
                "bid.replaced" if previous else "bid.submitted",
                tender,
                actor,
                evidence.ip,
                bid.id,
                {
                    "lot_number": bid.lot_number,
                    "envelope_sha256": bid.envelope_sha256,
                    "envelope_size": bid.envelope_size,
                    "replaces": bid.replaces,
                },
            ),
            at=now,
        )
        receipt = await _issue(
            signer,
            _receipt_body(ReceiptKind.SUBMISSION, tender, bid, org.credit_code, now, seq),
            token,
            org_id=actor.org_id,
        )
        await uow.bids.add_receipt(receipt)
        await uow.commit()
    return receipt


def _receipt_body(
    kind: ReceiptKind, tender: Tender, bid: Bid, credit_code: str, now: datetime, seq: int
) -> ReceiptBody:
    """What a receipt says about ``bid`` (a submission names the bid it replaces)."""
    return ReceiptBody(
        receipt_id=new_id(),
        kind=kind,
        tender_id=tender.id,
        lot_number=bid.lot_number,
        bid_id=bid.id,
        bidder_credit_code=credit_code,
        envelope_sha256=bid.envelope_sha256,
        envelope_size=bid.envelope_size,
        received_at=now,
        audit_seq=seq,
        replaces=bid.replaces if kind is ReceiptKind.SUBMISSION else None,
    )


async def _issue(signer: ReceiptSigner, body: ReceiptBody, token: bytes, *, org_id: str) -> Receipt:
    """The signed receipt for ``body``; ``token`` is the RFC 3161 token over its envelope."""
    signed = body.as_dict()
    signature = await signer.sign(canonical(signed))
    document: dict[str, object] = {
        "receipt": signed,
        "signature": base64.b64encode(signature).decode(),
        "timestamp_token": base64.b64encode(token).decode(),
        "platform_chain": signer.platform_chain(),
        "tsa_chain": signer.tsa_chain(token),
    }
    return Receipt(
        id=body.receipt_id,
        kind=body.kind,
        org_id=org_id,
        tender_id=body.tender_id,
        lot_number=body.lot_number,
        bid_id=body.bid_id,
        issued_at=body.received_at,
        audit_seq=body.audit_seq,
        document=document,
    )


# --- withdrawal -------------------------------------------------------------------------------


async def withdraw_bid(
    uow: BidsUnitOfWork,
    signer: ReceiptSigner,
    bid_id: str,
    *,
    actor: Principal,
    ip: str,
    clock: Callable[[], datetime],
) -> Receipt:
    """Withdraw a live bid before the deadline; the receipt proves the withdrawal."""
    _bidder(actor)
    async with uow:
        bid = await uow.bids.get_bid(bid_id)
        if bid is None or bid.org_id != actor.org_id:
            raise BidNotFoundError(bid_id)
        tender = await _tender_for_bidder(uow, bid.tender_id, for_update=True)
        bid = await uow.bids.get_bid(bid_id)
        assert bid is not None
        now = clock()
        _accepting(tender, now)
        if bid.status != BidStatus.SUBMITTED:
            raise BidNotLiveError(bid.id, str(bid.status))
        org = await uow.identity.get_organisation(actor.org_id)
        if org is None:
            raise NotYourBidError()
        bid.status = BidStatus.WITHDRAWN
        bid.withdrawn_at = now
        await uow.bids.save_bid(bid)
        seq = await uow.audit.append(
            _sealed_record(
                "bid.withdrawn",
                tender,
                actor,
                ip,
                bid.id,
                {"lot_number": bid.lot_number, "envelope_sha256": bid.envelope_sha256},
            ),
            at=now,
        )
        receipt = await _issue(
            signer,
            _receipt_body(ReceiptKind.WITHDRAWAL, tender, bid, org.credit_code, now, seq),
            await signer.timestamp(bytes.fromhex(bid.envelope_sha256)),
            org_id=actor.org_id,
        )
        await uow.bids.add_receipt(receipt)
        await uow.commit()
    return receipt


# --- receipts ---------------------------------------------------------------------------------


async def list_receipts(uow: BidsUnitOfWork, *, actor: Principal) -> list[Receipt]:
    async with uow:
        return await uow.bids.list_receipts(actor.org_id)


async def get_receipt(uow: BidsUnitOfWork, receipt_id: str, *, actor: Principal) -> Receipt:
    async with uow:
        receipt = await uow.bids.get_receipt(receipt_id)
    if receipt is None or receipt.org_id != actor.org_id:
        raise ReceiptNotFoundError(receipt_id)
    return receipt


# --- amendments -------------------------------------------------------------------------------


async def flag_bids_for_reconfirmation(uow: BidsUnitOfWork, tender: Tender) -> int:
    """The tenders module's amendment hook: bids made under an older amendment number must be
    re-confirmed by their bidders. Runs inside the clarification's unit of work."""
    return await uow.bids.flag_reconfirmation(tender.id, tender.amendment_no)
