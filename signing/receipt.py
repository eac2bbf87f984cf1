"""Offline verification of a submission receipt (回执, ``tenderhall-receipt/1``).

A receipt file holds the receipt (tender, lot, bid, bidder, the envelope's SHA-256 and size, the
server's reception time, its audit-log position), the platform's detached CMS signature over
:func:`canonical` of it, an RFC 3161 token over the envelope's SHA-256 (the token's imprint is
the digest itself), and the certificate chains of the platform and of the TSA. Anyone can check
it without the platform: :func:`verify_receipt` trusts the last certificate of each chain unless
the caller gives its own trust, and with the envelope file also checks the file's SHA-256 and size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signing.cms import CmsVerdict, verify_detached
from signing.trust import CaProvider, TrustStore, problem, problem_dict
from signing.tsa import TimestampVerdict, verify_token
from signing.verdicts import Problem, Status, worst

FORMAT = "tenderhall-receipt/1"
KINDS = ("submission", "withdrawal")
CHUNK = 1 << 20
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def canonical(value: Any) -> bytes:
    """The bytes the platform signs: sorted keys, no spaces, UTF-8 (the contract's form)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class ReceiptFile:
    """A parsed receipt file."""

    receipt: dict[str, Any]
    signature: bytes
    """DER CMS SignedData, detached, over ``canonical(receipt)``."""
    timestamp_token: bytes
    """DER RFC 3161 token over the envelope's SHA-256."""
    platform_chain: tuple[x509.Certificate, ...]
    tsa_chain: tuple[x509.Certificate, ...]

    @property
    def envelope_sha256(self) -> str:
        return str(self.receipt["envelope_sha256"])

    @property
    def envelope_size(self) -> int:
        return int(self.receipt["envelope_size"])


class ReceiptFormatError(ValueError):
    """Not a receipt file; the message says why."""


def _certs(items: object, what: str) -> tuple[x509.Certificate, ...]:
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise ReceiptFormatError(f"{what} must be a non-empty list of PEM certificates")
    try:
        return tuple(c for pem in items for c in x509.load_pem_x509_certificates(pem.encode()))
    except ValueError as exc:
        raise ReceiptFormatError(f"{what} holds something that is not a certificate") from exc


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise ReceiptFormatError(f"{what} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ReceiptFormatError(f"{what} is not base64") from exc


def _check_fields(receipt: Mapping[str, Any]) -> None:
    def need(condition: bool, reason: str) -> None:
        if not condition:
            raise ReceiptFormatError(reason)

    need(receipt.get("format") == FORMAT, f"receipt.format must be {FORMAT!r}")
    need(receipt.get("kind") in KINDS, "receipt.kind must be submission or withdrawal")
    for key in ("receipt_id", "tender_id", "bid_id", "bidder_credit_code", "received_at"):
        need(isinstance(receipt.get(key), str) and bool(receipt[key]), f"receipt.{key} missing")
    need(type(receipt.get("lot_number")) is int, "receipt.lot_number must be an integer")
    digest = receipt.get("envelope_sha256")
    need(isinstance(digest, str) and bool(_HEX64.match(digest)), "bad receipt.envelope_sha256")
    size = receipt.get("envelope_size")
    need(type(size) is int and size >= 0, "bad receipt.envelope_size")
    need(type(receipt.get("audit_seq")) is int, "receipt.audit_seq must be an integer")
    need(receipt.get("replaces") is None or isinstance(receipt["replaces"], str), "bad replaces")


def parse_receipt_file(data: bytes) -> ReceiptFile:
    """Parse and shape-check a receipt file; :class:`ReceiptFormatError` names the first fault."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReceiptFormatError("not JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("receipt"), dict):
        raise ReceiptFormatError("no receipt object")
    _check_fields(body["receipt"])
    return ReceiptFile(
        receipt=body["receipt"],
        signature=_b64(body.get("signature"), "signature"),
        timestamp_token=_b64(body.get("timestamp_token"), "timestamp_token"),
        platform_chain=_certs(body.get("platform_chain"), "platform_chain"),
        tsa_chain=_certs(body.get("tsa_chain"), "tsa_chain"),
    )


@dataclass(frozen=True)
class ReceiptVerdict:
    """The outcome of checking a receipt (and, if given, the envelope it is for)."""

    status: Status
    problems: tuple[Problem, ...]
    receipt: dict[str, Any] | None
    signature: CmsVerdict | None = None
    timestamp: TimestampVerdict | None = None
    timestamped_at: datetime | None = None
    """The TSA's time in the token (genTime)."""
    envelope_checked: bool = False

    @property
    def codes(self) -> set[str]:
        return {p.code for p in self.problems}

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "problems": [problem_dict(p) for p in self.problems],
            "receipt": self.receipt,
            "signature": self.signature.to_dict() if self.signature else None,
            "timestamp": self.timestamp.to_dict() if self.timestamp else None,
            "timestamped_at": self.timestamped_at.isoformat() if self.timestamped_at else None,
            "envelope_checked": self.envelope_checked,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, sort_keys=True)


def chain_trust(chain: Sequence[x509.Certificate], name: str) -> TrustStore:
    """Trust in the last certificate of ``chain`` (the root), the others offered as
    intermediates."""
    der = serialization.Encoding.DER
    return TrustStore(
        [
            CaProvider(
                name=name,
                roots=(chain[-1].public_bytes(der),),
                intermediates=tuple(c.public_bytes(der) for c in chain[:-1]),
            )
        ]
    )


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, read in chunks."""
    md = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            md.update(chunk)
            size += len(chunk)
    return md.hexdigest(), size


def _malformed(detail: str) -> ReceiptVerdict:
    return ReceiptVerdict(
        Status.INVALID,
        (
            problem(
                "receipt_malformed",
                f"The file is not a usable receipt: {detail}",
                f"文件不是可用的回执：{detail}",
            ),
        ),
        None,
    )


async def verify_receipt(
    data: bytes,
    *,
    envelope: Path | None = None,
    trust: TrustStore | None = None,
    tsa_trust: TrustStore | None = None,
) -> ReceiptVerdict:
    """Check a receipt file offline; never raises for a bad receipt.

    The platform's signature is checked with ``trust`` (default: the root of the receipt's own
    ``platform_chain``), the timestamp with ``tsa_trust`` (default: ``trust`` if given, else the
    root of ``tsa_chain``). Trusting the receipt's own roots proves integrity and who signed
    under that root; pin the platform's published roots with ``trust`` to prove more.
    """
    try:
        parsed = parse_receipt_file(data)
    except ReceiptFormatError as exc:
        return _malformed(str(exc))
    problems: list[tuple[Status, Problem]] = []
    signature = await verify_detached(
        io.BytesIO(canonical(parsed.receipt)),
        parsed.signature,
        trust or chain_trust(parsed.platform_chain, "receipt-platform"),
    )
    problems += [(signature.status, _prefixed("signature", p)) for p in signature.problems]
    digest = bytes.fromhex(parsed.envelope_sha256)
    token = await verify_token(
        parsed.timestamp_token,
        digest,
        tsa_trust or trust or chain_trust(parsed.tsa_chain, "receipt-tsa"),
    )
    problems += [(token.status, _prefixed("timestamp", p)) for p in token.problems]
    if envelope is not None:
        actual, size = file_digest(envelope)
        if size != parsed.envelope_size:
            problems.append(
                (
                    Status.INVALID,
                    problem(
                        "envelope_size_mismatch",
                        f"The envelope has {size} bytes; the receipt says {parsed.envelope_size}.",
                        f"信封文件为 {size} 字节，回执记载为 {parsed.envelope_size} 字节。",
                    ),
                )
            )
        if actual != parsed.envelope_sha256:
            problems.append(
                (
                    Status.INVALID,
                    problem(
                        "envelope_mismatch",
                        "The envelope file is not the one the receipt is for (SHA-256 differs).",
                        "信封文件与回执不符（SHA-256 不同）。",
                    ),
                )
            )
    return ReceiptVerdict(
        status=worst([s for s, _ in problems]),
        problems=tuple(p for _, p in problems),
        receipt=parsed.receipt,
        signature=signature,
        timestamp=token,
        timestamped_at=token.gen_time,
        envelope_checked=envelope is not None,
    )


def _prefixed(prefix: str, item: Problem) -> Problem:
    """``untrusted`` of the signature becomes ``signature_untrusted`` and so on."""
    return Problem(f"{prefix}_{item.code}", item.message_en, item.message_zh)
