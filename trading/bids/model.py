"""Bids, their uploads, receipts and the lots' opening keys: plain data, standard library only.

A bid exists from the moment its upload completes (before the deadline). The same organisation
has at most one live bid per lot: a new one replaces the earlier, a withdrawal ends it. Nothing
here names a bidder in a way the rest of the platform can list before the deadline; the web layer
decides who sees what.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

RECEIPT_FORMAT = "tenderhall-receipt/1"


class BidStatus(StrEnum):
    SUBMITTED = "submitted"  # live
    REPLACED = "replaced"
    WITHDRAWN = "withdrawn"


class UploadStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    ABORTED = "aborted"


class ReceiptKind(StrEnum):
    SUBMISSION = "submission"
    WITHDRAWAL = "withdrawal"


@dataclass(frozen=True)
class Evidence:
    """Recorded privately with each upload for later collusion screening (串标/围标)."""

    ip: str = ""
    user_agent: str = ""
    client: str = ""
    """``X-Tenderhall-Client``: tool and version."""
    machine: str = ""
    """``X-Tenderhall-Machine``: the CLI's machine fingerprint (see the submission contract)."""

    def as_dict(self) -> dict[str, str]:
        return {
            "ip": self.ip[:64],
            "user_agent": self.user_agent[:300],
            "client": self.client[:200],
            "machine": self.machine[:200],
        }


@dataclass
class BidUpload:
    """A resumable upload of one sealed envelope; ``id`` is the object store's upload id."""

    id: str
    tender_id: str
    lot_id: str
    lot_number: int
    org_id: str
    person_id: str
    object_key: str
    size: int
    sha256: str
    created_at: datetime
    evidence: Evidence
    status: UploadStatus = UploadStatus.OPEN
    bid_id: str | None = None


@dataclass
class Bid:
    id: str
    tender_id: str
    lot_id: str
    lot_number: int
    org_id: str
    submitted_by: str
    upload_id: str
    object_key: str
    envelope_sha256: str
    envelope_size: int
    received_at: datetime
    amendment_no: int
    """The tender's amendment number when the bid came in; an amendment after it means the
    bidder must re-confirm (``needs_reconfirmation``)."""
    evidence: Evidence
    status: BidStatus = BidStatus.SUBMITTED
    replaces: str | None = None
    replaced_by: str | None = None
    withdrawn_at: datetime | None = None
    needs_reconfirmation: bool = False


@dataclass(frozen=True)
class Receipt:
    id: str
    kind: ReceiptKind
    org_id: str
    tender_id: str
    lot_number: int
    bid_id: str
    issued_at: datetime
    audit_seq: int
    document: dict[str, object]
    """The whole receipt file (``tenderhall-receipt/1``) exactly as handed to the bidder."""


@dataclass
class Custodian:
    """One custodian of a lot's opening key and its sealed share."""

    index: int
    subject: str
    certificate_sha256: str
    """SHA-256 (hex) of the custodian certificate's DER: matched against bound certificates."""
    certificate: str
    """PEM."""
    share: bytes
    """The CMS envelope holding the share, sealed to the custodian's certificate."""
    released_share: bytes | None = None
    """The released (decrypted) share, encrypted at rest with the platform secret."""
    released_at: datetime | None = None
    released_by: str | None = None


@dataclass
class OpeningKey:
    """A lot's opening public key; the private key exists only as custodians' shares until k of
    them are released after the opening time."""

    tender_id: str
    lot_id: str
    lot_number: int
    certificate: str
    """PEM of the opening certificate (self-signed by the opening key)."""
    fingerprint: str
    """SHA-256 (hex) of the opening public key (SubjectPublicKeyInfo DER)."""
    threshold: int
    manifest: dict[str, object]
    custodians: list[Custodian]
    created_at: datetime
    created_by: str
    sealed_private_key: bytes | None = None
    """The rebuilt private key (PKCS#8 DER), encrypted at rest with the platform secret."""
    reconstructed_at: datetime | None = None
    custody_lot: str = ""
    """The lot label the custody set was created for (shares carry it)."""

    def custodian_by_certificate(self, fingerprints: set[str]) -> Custodian | None:
        return next((c for c in self.custodians if c.certificate_sha256 in fingerprints), None)

    @property
    def released(self) -> int:
        return sum(1 for c in self.custodians if c.released_share is not None)


def canonical(value: object) -> bytes:
    """The bytes a receipt's signature covers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def format_instant(instant: datetime) -> str:
    """``2026-11-30T10:00:00.123456Z``: UTC with microseconds, as receipts carry it."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ReceiptBody:
    """The signed part of a receipt file."""

    receipt_id: str
    kind: ReceiptKind
    tender_id: str
    lot_number: int
    bid_id: str
    bidder_credit_code: str
    envelope_sha256: str
    envelope_size: int
    received_at: datetime
    audit_seq: int
    replaces: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "format": RECEIPT_FORMAT,
            "receipt_id": self.receipt_id,
            "kind": str(self.kind),
            "tender_id": self.tender_id,
            "lot_number": self.lot_number,
            "bid_id": self.bid_id,
            "bidder_credit_code": self.bidder_credit_code,
            "envelope_sha256": self.envelope_sha256,
            "envelope_size": self.envelope_size,
            "received_at": format_instant(self.received_at),
            "audit_seq": self.audit_seq,
            "replaces": self.replaces,
        }
