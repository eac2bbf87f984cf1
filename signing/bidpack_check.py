"""Checking a bid package completely: ZIP safety first, then manifest, hashes and signatures.

:func:`check` never raises for bad input: the outcome is a :class:`PackageVerdict` with coded
problems in Chinese and English. The order matters: the ZIP's directory is judged (unsafe names,
symbolic links, duplicates, encryption, entry count, total size and compression ratio against
zip bombs) before a single entry is decompressed, and entries are read with their declared size
as a hard cap, so a hostile package cannot make the checker write outside a directory, fill the
disk or exhaust memory. Nothing is ever extracted to a path named by the ZIP.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from asn1crypto import cms as asn1_cms
from pyhanko.sign.validation.generic_cms import extract_certs_for_validation

from signing.bidpack import CHUNK, credit_code_of
from signing.cms import verify_detached
from signing.identity import IdentityError
from signing.keys import from_asn1_cert
from signing.pdf_verify import validate_pdf
from signing.trust import TrustStore, problem_dict
from signing.verdicts import Problem, Status, worst
from trading.bidpackage import (
    MANIFEST_NAME,
    MAX_MANIFEST_SIZE,
    MAX_SIGNATURE_SIZE,
    SIGNATURE_NAME,
    BidManifest,
    LimitSettings,
    ManifestFormatError,
    entry_name_problem,
    is_document_name,
    opening_data_problems,
    parse_manifest,
)
from trading.tenders.opening_data import OpeningField

# code -> (status, English, Chinese); messages may use {detail}.
CATALOGUE: dict[str, tuple[Status, str, str]] = {
    "not_a_zip": (Status.INVALID, "The package is not a ZIP file.", "投标文件包不是 ZIP 文件。"),
    "zip_corrupt": (
        Status.INVALID,
        "The ZIP is damaged: {detail}",
        "ZIP 文件已损坏：{detail}",
    ),
    "zip_absolute_path": (
        Status.INVALID,
        "The ZIP entry {detail!r} has an absolute path.",
        "ZIP 条目 {detail!r} 使用了绝对路径。",
    ),
    "zip_path_traversal": (
        Status.INVALID,
        "The ZIP entry {detail!r} climbs out of the package ('..').",
        "ZIP 条目 {detail!r} 含有“..”，试图跳出文件包目录。",
    ),
    "zip_symlink": (
        Status.INVALID,
        "The ZIP entry {detail!r} is a symbolic link.",
        "ZIP 条目 {detail!r} 是符号链接。",
    ),
    "zip_duplicate_entry": (
        Status.INVALID,
        "The ZIP holds the entry {detail!r} more than once.",
        "ZIP 中条目 {detail!r} 出现不止一次。",
    ),
    "zip_encrypted": (
        Status.INVALID,
        "The ZIP entry {detail!r} is encrypted.",
        "ZIP 条目 {detail!r} 被加密。",
    ),
    "zip_too_many_entries": (
        Status.INVALID,
        "The ZIP has too many entries ({detail}).",
        "ZIP 条目过多（{detail}）。",
    ),
    "zip_bomb": (
        Status.INVALID,
        "The ZIP would expand far beyond a bid's size (zip bomb): {detail}",
        "ZIP 解压后体积异常（疑似压缩炸弹）：{detail}",
    ),
    "zip_size_mismatch": (
        Status.INVALID,
        "The ZIP entry {detail} does not have the size its header declares.",
        "ZIP 条目 {detail} 的实际大小与声明不符。",
    ),
    "unexpected_entry": (
        Status.INVALID,
        "The ZIP entry {detail!r} is not part of a bid package.",
        "ZIP 条目 {detail!r} 不属于投标文件包。",
    ),
    "manifest_missing": (
        Status.INVALID,
        "The package has no manifest.json.",
        "文件包中缺少 manifest.json。",
    ),
    "manifest_invalid": (
        Status.INVALID,
        "manifest.json is not a valid bid manifest: {detail}",
        "manifest.json 不是有效的投标清单：{detail}",
    ),
    "manifest_unsigned": (
        Status.INVALID,
        "The manifest is not signed (manifest.json.p7s is missing).",
        "投标清单未签名（缺少 manifest.json.p7s）。",
    ),
    "manifest_signature_invalid": (
        Status.INVALID,
        "The manifest's signature does not verify: {detail}",
        "投标清单的签名验证失败：{detail}",
    ),
    "manifest_signer_untrusted": (
        Status.INVALID,
        "The manifest's signer certificate is not acceptable: {detail}",
        "投标清单的签名证书不被认可：{detail}",
    ),
    "manifest_signer_unknown": (
        Status.INDETERMINATE,
        "The manifest signer certificate's status cannot be determined: {detail}",
        "无法确定投标清单签名证书的状态：{detail}",
    ),
    "signer_mismatch": (
        Status.INVALID,
        "The signer belongs to another organisation: {detail}",
        "签名人不属于投标单位：{detail}",
    ),
    "missing_file": (
        Status.INVALID,
        "The manifest lists {detail!r} but the package does not contain it.",
        "清单列出的文件 {detail!r} 不在文件包中。",
    ),
    "extra_file": (
        Status.INVALID,
        "The package contains {detail!r}, which the manifest does not list.",
        "文件包中的 {detail!r} 未列入清单。",
    ),
    "hash_mismatch": (
        Status.INVALID,
        "The file {detail!r} does not match the SHA-256 in the manifest.",
        "文件 {detail!r} 的 SHA-256 与清单不符。",
    ),
    "size_mismatch": (
        Status.INVALID,
        "The file {detail!r} does not have the size stated in the manifest.",
        "文件 {detail!r} 的大小与清单不符。",
    ),
    "pdf_signature_invalid": (
        Status.INVALID,
        "The PDF {detail}",
        "PDF 文件 {detail}",
    ),
    "pdf_signature_indeterminate": (
        Status.INDETERMINATE,
        "The PDF {detail}",
        "PDF 文件 {detail}",
    ),
    "opening_data_invalid": (
        Status.INVALID,
        "The opening data breaks the tender's schema: {detail}",
        "开标数据不符合招标文件的要求：{detail}",
    ),
    "wrong_tender": (
        Status.INVALID,
        "The package is for another tender or lot: {detail}",
        "文件包属于其他项目或标段：{detail}",
    ),
}


def problem(code: str, detail: object = "", detail_zh: object = None) -> Problem:
    """A problem from :data:`CATALOGUE`; ``detail_zh`` replaces ``detail`` in Chinese."""
    _, en, zh = CATALOGUE[code]
    return Problem(
        code,
        en.format(detail=detail),
        zh.format(detail=detail if detail_zh is None else detail_zh),
    )


def status_of(item: Problem) -> Status:
    entry = CATALOGUE.get(item.code)
    return entry[0] if entry else Status.INVALID


@dataclass(frozen=True)
class PackageVerdict:
    """The outcome of checking one bid package."""

    status: Status
    problems: tuple[Problem, ...]
    manifest: dict[str, Any] | None
    """The manifest as read (None when it could not be read)."""
    signer_subject: str | None = None
    """The manifest signer's certificate subject."""
    signer_credit_code: str | None = None

    @property
    def codes(self) -> set[str]:
        return {p.code for p in self.problems}

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "problems": [problem_dict(p) for p in self.problems],
            "manifest": self.manifest,
            "signer_subject": self.signer_subject,
            "signer_credit_code": self.signer_credit_code,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2, sort_keys=True)


def _verdict(
    problems: Sequence[Problem], manifest: dict[str, Any] | None = None, **kw: Any
) -> PackageVerdict:
    return PackageVerdict(
        status=worst([status_of(p) for p in problems]),
        problems=tuple(problems),
        manifest=manifest,
        **kw,
    )


_S_IFMT, _S_IFLNK = 0o170000, 0o120000


def _directory_problems(infos: Sequence[zipfile.ZipInfo], limits: LimitSettings) -> list[Problem]:
    """Everything wrong with the ZIP's directory, judged before any entry is decompressed."""
    if len(infos) > limits.max_entries:
        return [problem("zip_too_many_entries", len(infos))]
    found: list[Problem] = []
    for name, count in Counter(i.filename for i in infos).items():
        if count > 1:
            found.append(problem("zip_duplicate_entry", name))
    total = 0
    for info in infos:
        name = info.filename
        unsafe = entry_name_problem(name)
        if unsafe is not None:
            found.append(problem(unsafe, name))
            continue
        if (info.external_attr >> 16) & _S_IFMT == _S_IFLNK:
            found.append(problem("zip_symlink", name))
            continue
        if info.flag_bits & 0x1:
            found.append(problem("zip_encrypted", name))
        if name not in {MANIFEST_NAME, SIGNATURE_NAME} and not is_document_name(name):
            found.append(problem("unexpected_entry", name))
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            found.append(problem("zip_size_mismatch", repr(name)))
        elif info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            found.append(problem("zip_corrupt", f"{name!r}: unsupported compression"))
        total += info.file_size
        if (
            info.file_size > limits.ratio_floor
            and info.file_size > info.compress_size * limits.max_ratio
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            found.append(
                problem(
                    "zip_bomb",
                    f"{name!r} expands {ratio}:1 (limit {limits.max_ratio}:1)",
                    f"{name!r} 压缩比 {ratio}:1（上限 {limits.max_ratio}:1）",
                )
            )
    if total > limits.max_total_size:
        found.append(
            problem(
                "zip_bomb",
                f"{total} bytes uncompressed (limit {limits.max_total_size})",
                f"解压后 {total} 字节（上限 {limits.max_total_size}）",
            )
        )
    return found


class _EntryError(Exception):
    def __init__(self, found: Problem) -> None:
        super().__init__(found.code)
        self.problem = found


def _copy_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, sink: IO[bytes] | None
) -> tuple[str, int]:
    """Stream one entry (never more than its declared size) into ``sink``; SHA-256 and size.

    zipfile itself stops at the declared size and checks the CRC, so a lying header shows up as
    a short read or a CRC error.
    """
    md = hashlib.sha256()
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > info.file_size:
                    raise _EntryError(problem("zip_size_mismatch", repr(info.filename)))
                md.update(chunk)
                if sink is not None:
                    sink.write(chunk)
    except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError) as exc:
        raise _EntryError(problem("zip_corrupt", f"{info.filename!r}: {exc}")) from exc
    if size != info.file_size:
        raise _EntryError(problem("zip_size_mismatch", repr(info.filename)))
    return md.hexdigest(), size


def _read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    if info.file_size > cap:
        raise _EntryError(problem("zip_bomb", f"{info.filename!r} is larger than {cap} bytes"))
    buffer = io.BytesIO()
    _copy_entry(archive, info, buffer)
    return buffer.getvalue()


def _signer_cert_of(signature: bytes) -> Any:
    """The signer certificate inside a CMS SignedData, or None if it cannot be found."""
    try:
        content_info = asn1_cms.ContentInfo.load(signature)
        return from_asn1_cert(extract_certs_for_validation(content_info["content"]).signer_cert)
    except Exception:  # any malformation: the signature check reports it
        return None


async def _manifest_signature_problems(
    manifest_bytes: bytes, signature: bytes, manifest: BidManifest, trust: TrustStore
) -> tuple[list[Problem], str | None, str | None]:
    verdict = await verify_detached(io.BytesIO(manifest_bytes), signature, trust)
    found: list[Problem] = []
    if not (verdict.intact and verdict.signature_valid):
        detail = "; ".join(f"{p.code}: {p.message_en}" for p in verdict.problems) or "invalid"
        detail_zh = "；".join(f"{p.code}：{p.message_zh}" for p in verdict.problems) or "无效"
        found.append(problem("manifest_signature_invalid", detail, detail_zh))
        return found, None, None
    cert_verdict = verdict.signer
    if cert_verdict is not None and cert_verdict.problems:
        code = (
            "manifest_signer_unknown"
            if cert_verdict.status is Status.INDETERMINATE
            else "manifest_signer_untrusted"
        )
        found.append(
            problem(
                code,
                "; ".join(f"{p.code}: {p.message_en}" for p in cert_verdict.problems),
                "；".join(f"{p.code}：{p.message_zh}" for p in cert_verdict.problems),
            )
        )
    cert = _signer_cert_of(signature)
    subject = cert.subject.rfc4514_string() if cert is not None else None
    signer_code: str | None = None
    if cert is not None:
        try:
            signer_code = credit_code_of(cert, trust)
        except IdentityError as exc:
            found.append(problem("signer_mismatch", exc.message_en, exc.message_zh))
    if signer_code is not None and signer_code != manifest.bidder_credit_code:
        found.append(
            problem(
                "signer_mismatch",
                f"the manifest names {manifest.bidder_credit_code}, the signer is {signer_code}",
                f"清单写明 {manifest.bidder_credit_code}，签名人为 {signer_code}",
            )
        )
    return found, subject, signer_code


async def _pdf_problems(
    name: str, stream: IO[bytes], manifest: BidManifest, trust: TrustStore, at: datetime | None
) -> list[Problem]:
    stream.seek(0)
    verdict = await validate_pdf(stream, validation_context=trust.validation_context(at), at=at)
    found: list[Problem] = []
    if verdict.status is not Status.VALID:
        code = (
            "pdf_signature_indeterminate"
            if verdict.status is Status.INDETERMINATE
            else "pdf_signature_invalid"
        )
        found.append(
            problem(
                code,
                f"{name!r}: "
                + "; ".join(f"{p.code}: {p.message_en}" for p in verdict.all_problems),
                f"{name!r}："
                + "；".join(f"{p.code}：{p.message_zh}" for p in verdict.all_problems),
            )
        )
    for report in verdict.signatures:
        if report.kind == "signature" and report.credit_code != manifest.bidder_credit_code:
            found.append(
                problem(
                    "signer_mismatch",
                    f"{name!r} is signed by {report.credit_code or report.signer_subject}",
                    f"{name!r} 的签名人为 {report.credit_code or report.signer_subject}",
                )
            )
    return found


async def check_package(
    package: Path,
    *,
    trust: TrustStore,
    schema: Sequence[OpeningField] | None = None,
    tender_id: str | None = None,
    lot_number: int | None = None,
    limits: LimitSettings | None = None,
    at: datetime | None = None,
) -> PackageVerdict:
    """Validate ``package`` completely (see the module docstring); never raises on bad input.

    ``schema`` is the lot's opening-data schema (without it the opening data is not judged);
    ``tender_id``/``lot_number``, when given, must be the manifest's; ``at`` is the moment
    certificates are judged at (default now).
    """
    limits = limits or LimitSettings()
    try:
        archive = zipfile.ZipFile(package)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return _verdict(
            [problem("not_a_zip")]
            if not isinstance(exc, OSError)
            else [problem("zip_corrupt", exc)]
        )
    with archive:
        infos = archive.infolist()
        found = _directory_problems(infos, limits)
        if found:
            return _verdict(found)  # safety first: nothing is decompressed
        by_name = {i.filename: i for i in infos}
        try:
            return await _check_contents(archive, by_name, trust, schema, tender_id, lot_number, at)
        except _EntryError as exc:
            return _verdict([exc.problem])


async def _check_contents(
    archive: zipfile.ZipFile,
    by_name: dict[str, zipfile.ZipInfo],
    trust: TrustStore,
    schema: Sequence[OpeningField] | None,
    tender_id: str | None,
    lot_number: int | None,
    at: datetime | None,
) -> PackageVerdict:
    if MANIFEST_NAME not in by_name:
        return _verdict([problem("manifest_missing")])
    manifest_bytes = _read_small(archive, by_name[MANIFEST_NAME], MAX_MANIFEST_SIZE)
    try:
        raw = json.loads(manifest_bytes)
    except (ValueError, UnicodeDecodeError):
        return _verdict([problem("manifest_invalid", "not JSON", "不是 JSON")])
    try:
        manifest = parse_manifest(raw)
    except ManifestFormatError as exc:
        return _verdict([problem("manifest_invalid", exc)], raw if isinstance(raw, dict) else None)
    found: list[Problem] = []
    if tender_id is not None and manifest.tender_id != tender_id:
        found.append(problem("wrong_tender", f"tender {manifest.tender_id}, expected {tender_id}"))
    if lot_number is not None and manifest.lot_number != lot_number:
        found.append(problem("wrong_tender", f"lot {manifest.lot_number}, expected {lot_number}"))
    listed = {f.name for f in manifest.files}
    present = {n for n in by_name if is_document_name(n)}
    found += [problem("missing_file", n) for n in sorted(listed - present)]
    found += [problem("extra_file", n) for n in sorted(present - listed)]
    subject: str | None = None
    signer_code: str | None = None
    if SIGNATURE_NAME not in by_name:
        found.append(problem("manifest_unsigned"))
    else:
        signature = _read_small(archive, by_name[SIGNATURE_NAME], MAX_SIGNATURE_SIZE)
        more, subject, signer_code = await _manifest_signature_problems(
            manifest_bytes, signature, manifest, trust
        )
        found += more
    for entry in manifest.files:
        if entry.name not in present:
            continue
        info = by_name[entry.name]
        with tempfile.TemporaryFile() as copy:
            digest, size = _copy_entry(archive, info, copy)
            if size != entry.size:
                found.append(problem("size_mismatch", entry.name))
            if digest != entry.sha256:
                found.append(problem("hash_mismatch", entry.name))
                continue  # a file that is not the signed one: its own signature is moot
            found += await _pdf_problems(entry.name, copy, manifest, trust, at)
    if schema is not None:
        for en, zh in opening_data_problems(schema, manifest.opening_data):
            found.append(problem("opening_data_invalid", en, zh))
    return _verdict(
        found, manifest.to_dict(), signer_subject=subject, signer_credit_code=signer_code
    )


def check(
    package: Path,
    *,
    trust: TrustStore,
    schema: Sequence[OpeningField] | None = None,
    tender_id: str | None = None,
    lot_number: int | None = None,
    limits: LimitSettings | None = None,
    at: datetime | None = None,
) -> PackageVerdict:
    """:func:`check_package` for callers without an event loop (the CLI)."""
    import asyncio

    return asyncio.run(
        check_package(
            package,
            trust=trust,
            schema=schema,
            tender_id=tender_id,
            lot_number=lot_number,
            limits=limits,
            at=at,
        )
    )
