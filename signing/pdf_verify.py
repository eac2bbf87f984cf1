"""Validation of every signature in a PDF, with pyHanko, as a frozen verdict.

For each signature: integrity (the ``/ByteRange`` digest), the CMS signature, the chain to a
trusted CA in the given ``ValidationContext`` (validity, revocation, key usage), the signature
timestamp, and what was changed after signing (pyHanko's difference analysis). Each problem has a
stable ``code`` and a message in Chinese and English; a bad input gives a verdict, never an
exception.

The file is read as a stream: pyHanko's reader keeps the cross-reference tables, and the byte
ranges are hashed in chunks, so memory does not grow with the size of the file. The work is
CPU and file bound; the web layer should run :func:`validate_pdf` off its event loop thread.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.crypt.api import AuthStatus
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.general import byte_range_digest
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    PdfSignatureStatus,
    SignatureCoverageLevel,
)
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    InsufficientRevinfoError,
    StaleRevinfoError,
)

from signing.verdicts import Problem, Status, worst
from trading.credit_code import is_valid_credit_code

_DIGEST_CHUNK = 1 << 20

SIGNING_KEY_USAGE = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
)
"""A document signature needs digitalSignature or nonRepudiation (either is what CAs issue)."""

Source = Path | str | IO[bytes]

# code -> (status, English, Chinese). Messages may use {detail}.
_CATALOGUE: dict[str, tuple[Status, str, str]] = {
    "not_pdf": (Status.INVALID, "The file is not a PDF.", "文件不是 PDF 文档。"),
    "truncated": (
        Status.INVALID,
        "The PDF is truncated (its end is missing).",
        "PDF 文件不完整（文件末尾缺失）。",
    ),
    "unreadable": (
        Status.INVALID,
        "The PDF is damaged and cannot be read: {detail}",
        "PDF 文件已损坏，无法读取：{detail}",
    ),
    "encrypted": (
        Status.INDETERMINATE,
        "The PDF is encrypted with a password; its signatures cannot be checked.",
        "PDF 已用密码加密，无法核验其中的签名。",
    ),
    "no_signature": (Status.INVALID, "The PDF has no signature.", "PDF 中没有签名。"),
    "malformed_signature": (
        Status.INVALID,
        "The signature cannot be read: {detail}",
        "签名数据无法解析：{detail}",
    ),
    "unsupported_signature": (
        Status.INDETERMINATE,
        "The signature is of a kind that is not supported: {detail}",
        "不支持此类签名：{detail}",
    ),
    "validation_failed": (
        Status.INDETERMINATE,
        "The signature could not be checked: {detail}",
        "签名无法核验：{detail}",
    ),
    "byte_range_broken": (
        Status.INVALID,
        "The signature's byte range does not cover the document as it should.",
        "签名的字节范围（ByteRange）异常，未按规定覆盖文档。",
    ),
    "digest_mismatch": (
        Status.INVALID,
        "The document was altered: its digest does not match the signed digest.",
        "文档已被篡改：摘要值与签名中的摘要不一致。",
    ),
    "signature_invalid": (
        Status.INVALID,
        "The cryptographic signature is not valid.",
        "签名值验证失败。",
    ),
    "untrusted": (
        Status.INVALID,
        "The signer's certificate does not chain to a trusted CA.",
        "签名证书不是由受信任的 CA 签发的。",
    ),
    "expired": (
        Status.INVALID,
        "The signer's certificate, or a CA certificate above it, has expired "
        "(not valid after {detail}).",
        "签名证书（或其上级 CA 证书）已过期（有效期至 {detail}）。",
    ),
    "expired_since_signing": (
        Status.INDETERMINATE,
        "The signer's certificate expired on {detail}, after the timestamped signing time; "
        "its status at signing time cannot be confirmed.",
        "签名证书已于 {detail} 过期（晚于时间戳时间），无法确认签名时证书的状态。",
    ),
    "not_yet_valid": (
        Status.INVALID,
        "The signer's certificate is not yet valid.",
        "签名证书尚未生效。",
    ),
    "revoked": (
        Status.INVALID,
        "The signer's certificate (or a CA above it) was revoked on {detail}.",
        "签名证书（或其上级 CA 证书）已于 {detail} 被吊销。",
    ),
    "wrong_key_usage": (
        Status.INVALID,
        "The signer's certificate may not be used to sign documents (key usage).",
        "签名证书的密钥用法不允许签署文档。",
    ),
    "revocation_unknown": (
        Status.INDETERMINATE,
        "The revocation status of the signer's certificate could not be determined.",
        "无法确定签名证书的吊销状态。",
    ),
    "weak_algorithm": (
        Status.INVALID,
        "The signature uses an algorithm that is not accepted.",
        "签名使用了不被接受的算法。",
    ),
    "chain_invalid": (
        Status.INVALID,
        "The signer's certificate chain is not valid: {detail}",
        "签名证书链无效：{detail}",
    ),
    "modified_after_signing": (
        Status.INVALID,
        "The document was modified after signing in a way that is not allowed.",
        "文档在签名后被修改，且修改不被允许。",
    ),
    "timestamp_invalid": (
        Status.INVALID,
        "The signature's timestamp token is not valid.",
        "签名时间戳无效。",
    ),
    "timestamp_untrusted": (
        Status.INDETERMINATE,
        "The signature's timestamp comes from a TSA that is not trusted.",
        "签名时间戳不是由受信任的时间戳服务机构签发的。",
    ),
}


def problem(code: str, detail: object = "") -> Problem:
    """A problem from the catalogue (``detail`` fills the message's ``{detail}``)."""
    _, en, zh = _CATALOGUE[code]
    return Problem(
        code=code, message_en=en.format(detail=detail), message_zh=zh.format(detail=detail)
    )


def problem_status(item: Problem) -> Status:
    return _CATALOGUE[item.code][0] if item.code in _CATALOGUE else Status.INVALID


@dataclass(frozen=True)
class SignatureReport:
    """What was found for one signature in the PDF, in signing order."""

    field_name: str
    """The signature form field's fully qualified name."""
    kind: str
    """``signature`` or ``document_timestamp``."""
    status: Status
    signer_subject: str | None = None
    """The signer certificate's subject, human readable (for a timestamp: the TSA)."""
    credit_code: str | None = None
    """Unified social credit code from the certificate (organizationIdentifier or serialNumber)."""
    certificate_sha256: str | None = None
    signing_time: datetime | None = None
    """The time the signer claims (signingTime attribute or ``/M``): not proof."""
    timestamp_time: datetime | None = None
    """The time in the signature's RFC 3161 timestamp token, if there is one."""
    timestamp_trusted: bool | None = None
    coverage: str | None = None
    """``entire_file``, ``entire_revision``, ``contiguous_block_from_start`` or ``unclear``."""
    modification_level: str | None = None
    """Changes after signing: ``none``, ``lta_updates``, ``form_filling``, ``annotations``,
    ``other`` (pyHanko's difference analysis)."""
    intact: bool = False
    """The signed bytes hash to the digest in the signature."""
    signature_valid: bool = False
    """The cryptographic signature over the signed attributes verifies."""
    trusted: bool = False
    """The certificate chains to a trusted CA and passed validity, revocation and key usage."""
    revoked: bool = False
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class PdfVerdict:
    """The outcome of validating every signature in one PDF."""

    status: Status
    checked_at: datetime
    """The validation time (the moment of the validation context unless ``at`` was given)."""
    signatures: tuple[SignatureReport, ...] = ()
    problems: tuple[Problem, ...] = ()
    """Problems with the document as a whole (not a PDF, truncated, no signature, ...)."""

    @property
    def all_problems(self) -> list[Problem]:
        return [*self.problems, *(p for s in self.signatures for p in s.problems)]

    @property
    def codes(self) -> set[str]:
        return {p.code for p in self.all_problems}

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """The verdict as JSON (UTF-8 text, Chinese kept readable) for storage and the API."""
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PdfVerdict:
        data = json.loads(text)

        def problems(items: list[dict[str, str]]) -> tuple[Problem, ...]:
            return tuple(Problem(**item) for item in items)

        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        signatures = []
        for sig in data["signatures"]:
            sig = dict(sig)
            sig["status"] = Status(sig["status"])
            sig["signing_time"] = when(sig["signing_time"])
            sig["timestamp_time"] = when(sig["timestamp_time"])
            sig["problems"] = problems(sig["problems"])
            signatures.append(SignatureReport(**sig))
        return cls(
            status=Status(data["status"]),
            checked_at=datetime.fromisoformat(data["checked_at"]),
            signatures=tuple(signatures),
            problems=problems(data["problems"]),
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Status):
        return value.value
    return value


# --- reading the file -------------------------------------------------------------------------


@contextmanager
def _opened(source: Source) -> Iterator[IO[bytes]]:
    if isinstance(source, str | Path):
        with Path(source).open("rb") as handle:
            yield handle
    else:
        yield source


def _sniff(stream: IO[bytes]) -> tuple[str | None, bool]:
    """A document-level problem code from the file's head and tail, and whether it ends cleanly.

    A file ends cleanly when its last bytes are ``%%EOF`` and whitespace. A file cut inside its
    last incremental update may still hold an earlier ``%%EOF`` near the end; that is only called
    truncated if the parser then fails (writers may append junk after ``%%EOF``).
    """
    stream.seek(0)
    head = stream.read(1024)
    if b"%PDF-" not in head:
        return "not_pdf", False
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(max(0, size - 2048))
    tail = stream.read()
    stream.seek(0)
    if b"%%EOF" not in tail:
        return "truncated", False
    return None, tail.rstrip(b"\x00\t\n\x0c\r ").endswith(b"%%EOF")


def _verdict(checked_at: datetime, *problems: Problem) -> PdfVerdict:
    return PdfVerdict(
        status=worst([problem_status(p) for p in problems]),
        checked_at=checked_at,
        problems=tuple(problems),
    )


# --- one signature ----------------------------------------------------------------------------


def _credit_code(cert: asn1_x509.Certificate) -> str | None:
    subject = cert.subject.native
    for key in ("organization_identifier", "serial_number"):
        value = subject.get(key)
        if isinstance(value, str):
            # Some CAs prefix the code with a registration scheme, e.g. "NTRCN-".
            code = value.rsplit("-", 1)[-1].strip().upper()
            if is_valid_credit_code(code):
                return code
    return None


def _coverage_name(coverage: SignatureCoverageLevel | None) -> str | None:
    return coverage.name.lower() if coverage is not None else None


def _modification_name(level: ModificationLevel | None) -> str | None:
    return level.name.lower() if level is not None else None


async def _chain_detail(
    embedded: EmbeddedPdfSignature, context: ValidationContext
) -> tuple[str, str]:
    """Re-run path validation to tell missing revocation data from other chain failures.

    pyHanko folds these (and an expired CA) into one AdES sub-indication; the certvalidator
    exception says which.
    """
    validator = CertificateValidator(
        embedded.signer_cert,
        intermediate_certs=embedded.other_embedded_certs,
        validation_context=context,
    )
    try:
        await validator.async_validate_path()
    except (InsufficientRevinfoError, StaleRevinfoError) as exc:
        return "revocation_unknown", str(exc)
    except ExpiredError as exc:  # a CA certificate in the chain (the signer's is mapped earlier)
        return "expired", exc.expired_dt.isoformat()
    except Exception as exc:  # any other certvalidator failure is reported as its text
        return "chain_invalid", str(exc)
    return "chain_invalid", "unknown reason"


async def _trust_problems(
    embedded: EmbeddedPdfSignature,
    indication: AdESSubIndic | None,
    status: PdfSignatureStatus | DocumentTimestampStatus,
    context: ValidationContext,
    timestamp_time: datetime | None,
) -> list[Problem]:
    if indication is None:
        return []
    cert = status.signing_cert
    if indication in (AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE):
        when = status.revocation_details.revocation_date if status.revocation_details else ""
        return [problem("revoked", when)]
    if indication is AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND:
        return [problem("untrusted")]
    if indication is AdESIndeterminate.OUT_OF_BOUNDS_NO_POE:
        not_after: datetime = cert.not_valid_after
        if cert.not_valid_before > context.moment:
            return [problem("not_yet_valid")]
        if timestamp_time is not None and timestamp_time <= not_after:
            return [problem("expired_since_signing", not_after.isoformat())]
        return [problem("expired", not_after.isoformat())]
    if indication in (
        AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE,
        AdESIndeterminate.SIG_CONSTRAINTS_FAILURE,
    ):
        return [problem("wrong_key_usage")]
    if indication in (AdESIndeterminate.TRY_LATER, AdESIndeterminate.NO_POE):
        return [problem("revocation_unknown")]
    if indication in (
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE,
        AdESIndeterminate.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    ):
        return [problem("weak_algorithm")]
    if indication is AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE:
        code, detail = await _chain_detail(embedded, context)
        return [problem(code, detail)]
    if indication in (AdESFailure.REVOKED,):
        return [problem("revoked", "")]
    if indication in (AdESFailure.FORMAT_FAILURE, AdESIndeterminate.NO_SIGNING_CERTIFICATE_FOUND):
        return [problem("malformed_signature", indication.name)]
    return [problem("chain_invalid", getattr(indication, "name", str(indication)))]


def _integrity_problems(status: PdfSignatureStatus | DocumentTimestampStatus) -> list[Problem]:
    found: list[Problem] = []
    if status.coverage is not None and status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        found.append(problem("byte_range_broken"))
    if not status.intact:
        found.append(problem("digest_mismatch"))
    elif not status.valid:
        found.append(problem("signature_invalid"))
    covers_revision = (
        status.coverage is not None and status.coverage >= SignatureCoverageLevel.ENTIRE_REVISION
    )
    if covers_revision and (
        status.docmdp_ok is False or status.modification_level == ModificationLevel.OTHER
    ):
        found.append(problem("modified_after_signing"))
    return found


async def _check_signature(
    embedded: EmbeddedPdfSignature, context: ValidationContext, key_usage: KeyUsageConstraints
) -> SignatureReport:
    status = await async_validate_pdf_signature(
        embedded, signer_validation_context=context, key_usage_settings=key_usage
    )
    ts = status.timestamp_validity
    timestamp_time = ts.timestamp if ts is not None else None
    found = _integrity_problems(status)
    if status.intact and status.valid:
        # Only a trusted timestamp proves when the signature existed.
        proven_time = timestamp_time if ts is not None and ts.trusted else None
        found += await _trust_problems(
            embedded, status.trust_problem_indic, status, context, proven_time
        )
    if ts is not None:
        if not (ts.intact and ts.valid):
            found.append(problem("timestamp_invalid"))
        elif not ts.trusted:
            found.append(problem("timestamp_untrusted"))
    cert = status.signing_cert
    return SignatureReport(
        field_name=str(embedded.field_name),
        kind="signature",
        status=worst([problem_status(p) for p in found]),
        signer_subject=cert.subject.human_friendly,
        credit_code=_credit_code(cert),
        certificate_sha256=cert.sha256.hex(),
        signing_time=status.signer_reported_dt,
        timestamp_time=timestamp_time,
        timestamp_trusted=ts.trusted if ts is not None else None,
        coverage=_coverage_name(status.coverage),
        modification_level=_modification_name(status.modification_level),
        intact=status.intact,
        signature_valid=status.valid,
        trusted=status.trusted,
        revoked=status.revoked,
        problems=tuple(found),
    )


async def _check_document_timestamp(
    embedded: EmbeddedPdfSignature, context: ValidationContext
) -> SignatureReport:
    status = await async_validate_pdf_timestamp(embedded, validation_context=context)
    found = _integrity_problems(status)
    if status.intact and status.valid:
        found += await _trust_problems(
            embedded, status.trust_problem_indic, status, context, status.timestamp
        )
    cert = status.signing_cert
    return SignatureReport(
        field_name=str(embedded.field_name),
        kind="document_timestamp",
        status=worst([problem_status(p) for p in found]),
        signer_subject=cert.subject.human_friendly,
        certificate_sha256=cert.sha256.hex(),
        timestamp_time=status.timestamp,
        timestamp_trusted=status.trusted,
        coverage=_coverage_name(status.coverage),
        modification_level=_modification_name(status.modification_level),
        intact=status.intact,
        signature_valid=status.valid,
        trusted=status.trusted,
        revoked=status.revoked,
        problems=tuple(found),
    )


def _failed(field_name: str, code: str, detail: object) -> SignatureReport:
    found = (problem(code, detail),)
    return SignatureReport(
        field_name=str(field_name),
        kind="signature",
        status=problem_status(found[0]),
        problems=found,
    )


async def _check_field(
    reader: PdfFileReader,
    field_name: str,
    sig_field: Any,
    context: ValidationContext,
    key_usage: KeyUsageConstraints,
) -> tuple[int, SignatureReport]:
    """The report for one signature field, with the revision it signed (to sort by)."""
    unknown = 1 << 30  # unreadable signatures go last
    try:
        embedded = EmbeddedPdfSignature(reader, sig_field, field_name)
        revision = int(embedded.signed_revision)
    except Exception as exc:  # a damaged signature dictionary or CMS blob is a finding
        return unknown, _failed(field_name, "malformed_signature", str(exc) or type(exc).__name__)
    return revision, await _check_embedded(embedded, field_name, context, key_usage)


def _digest_in_large_chunks(embedded: EmbeddedPdfSignature) -> None:
    """Hash the signed byte ranges 1 MiB at a time into pyHanko's per-signature digest cache.

    ``compute_digest`` would otherwise read 4 KiB at a time: 25,000 Python-level reads for
    100 MB, which cost as much as the hashing itself. The function and the cache are pyHanko's.
    """
    algorithm = embedded.external_md_algorithm
    _, digest = byte_range_digest(
        embedded.reader.stream,
        byte_range=embedded.byte_range,
        md_algorithm=algorithm,
        chunk_size=_DIGEST_CHUNK,
    )
    embedded.external_digests[algorithm] = digest


async def _check_embedded(
    embedded: EmbeddedPdfSignature,
    field_name: str,
    context: ValidationContext,
    key_usage: KeyUsageConstraints,
) -> SignatureReport:
    try:
        _digest_in_large_chunks(embedded)
        if embedded.sig_object_type == "/DocTimeStamp":
            return await _check_document_timestamp(embedded, context)
        return await _check_signature(embedded, context, key_usage)
    except (PdfError, OSError, ValueError) as exc:
        # A byte range reaching outside the file, or offsets that are not numbers, land here.
        code = "byte_range_broken" if "range" in str(exc).lower() else "malformed_signature"
        return _failed(field_name, code, exc)
    except Exception as exc:  # pyHanko raises many kinds for hostile input; none may escape
        if "SubFilter" in str(exc):
            return _failed(field_name, "unsupported_signature", exc)
        return _failed(field_name, "validation_failed", f"{type(exc).__name__}: {exc}")


# --- the document -----------------------------------------------------------------------------


async def validate_pdf(
    source: Source,
    *,
    validation_context: ValidationContext,
    at: datetime | None = None,
    key_usage: KeyUsageConstraints = SIGNING_KEY_USAGE,
) -> PdfVerdict:
    """Validate every signature in a PDF; never raises on bad input.

    ``source`` is a path or a seekable binary stream. ``validation_context`` carries the trust
    roots, revocation data and validation time (the trust store builds it); ``at`` only labels
    the verdict and defaults to the context's moment. A document with no signature is invalid.
    """
    checked_at = at or validation_context.moment or datetime.now(UTC)
    try:
        with _opened(source) as stream:
            sniffed, ends_cleanly = _sniff(stream)
            if sniffed:
                return _verdict(checked_at, problem(sniffed))
            try:
                reader = PdfFileReader(stream, strict=False)
                if reader.encrypted:
                    # An owner-password-only file opens with the empty user password.
                    try:
                        opened = reader.decrypt(b"").status != AuthStatus.FAILED
                    except Exception:  # an unknown security handler is as closed as a password
                        opened = False
                    if not opened:
                        return _verdict(checked_at, problem("encrypted"))
                found = list(enumerate_sig_fields(reader, filled_status=True))
            except Exception as exc:  # the PDF parser's many error types all mean "damaged"
                if not ends_cleanly:
                    return _verdict(checked_at, problem("truncated"))
                return _verdict(checked_at, problem("unreadable", str(exc) or type(exc).__name__))
            if not found:
                return _verdict(checked_at, problem("no_signature"))
            ordered = [
                await _check_field(reader, field_name, sig_field, validation_context, key_usage)
                for field_name, _value, sig_field in found
            ]
            reports = [report for _, report in sorted(ordered, key=lambda item: item[0])]
    except OSError as exc:
        return _verdict(checked_at, problem("unreadable", exc))
    return PdfVerdict(
        status=worst([r.status for r in reports]),
        checked_at=checked_at,
        signatures=tuple(reports),
    )


def validate_pdf_sync(
    source: Source,
    *,
    validation_context: ValidationContext,
    at: datetime | None = None,
    key_usage: KeyUsageConstraints = SIGNING_KEY_USAGE,
) -> PdfVerdict:
    """:func:`validate_pdf` for callers without an event loop (the CLI, Celery tasks)."""
    return asyncio.run(
        validate_pdf(source, validation_context=validation_context, at=at, key_usage=key_usage)
    )
