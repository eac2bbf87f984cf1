"""Building a bid package (投标文件包): sign each PDF (PAdES), write and sign the manifest (CMS).

:func:`pack` takes the bidder's PDFs, the opening data and the tender's opening-data schema, and
writes a ZIP (see :mod:`trading.bidpackage` for its rules):

- every PDF signed by the bidder as PAdES B-T when a timestamper is given, else PAdES B-B (no
  signature timestamp: the receipt's RFC 3161 token over the sealed envelope is the proof of
  time the platform relies on, so B-B is allowed for bidders without a TSA);
- ``manifest.json`` with each signed PDF's SHA-256 and size and the normalised opening data;
- ``manifest.json.p7s``, a detached CMS SignedData over the manifest (``openssl cms -verify
  -binary -inform DER -content manifest.json`` accepts it).

The key is a pyHanko ``Signer``: from a PKCS#12 file (:func:`pkcs12_signer`) or a PKCS#11 token
(:func:`pkcs11_signer`). The ZIP is written to a temporary file beside the target and linked into
place only when complete, so a failed run never leaves something that looks like a package.
:func:`signing.bidpack_check.check` validates a package.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, Signer, SimpleSigner
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.identity import extract_identity, identity_of
from signing.keys import from_asn1_cert, load_pkcs12, to_asn1_cert, to_asn1_key
from signing.trust import IdentityFields, TrustStore
from trading.bidpackage import FORMAT, MANIFEST_NAME, SIGNATURE_NAME, is_document_name
from trading.credit_code import is_valid_credit_code
from trading.errors import DomainError, ValidationError
from trading.tenders.opening_data import OpeningField, require_valid_opening_data

CHUNK = 1 << 20
SIGNATURE_FIELD = "BidderSignature"
"""The PAdES signature field each bid PDF gets (invisible)."""

# Where CAs commonly put the credit code, tried in order when no trust store says which.
_CODE_PLACES = (
    IdentityFields(),
    IdentityFields(credit_code_prefix="NTRCN-"),
    IdentityFields(credit_code_oid="2.5.4.5", person_id_oid=None),
)


class PackError(DomainError):
    """A bid package could not be built; nothing was written."""

    code = "bid_package_failed"

    def __init__(self, reason_en: str, reason_zh: str) -> None:
        super().__init__(
            f"The bid package could not be built: {reason_en}",
            f"投标文件包生成失败：{reason_zh}",
            reason=reason_en,
        )


class SignerCodeError(ValidationError):
    code = "credit_code_missing"

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"The signing certificate carries no valid unified social credit code ({subject}).",
            f"签名证书中没有有效的统一社会信用代码（{subject}）。",
            subject=subject,
        )


@dataclass(frozen=True)
class PackSummary:
    """What :func:`pack` wrote."""

    path: Path
    manifest: dict[str, Any]
    sha256: str
    """SHA-256 of the package file (hex)."""
    size: int


# --- keys -------------------------------------------------------------------------------------


def pkcs12_signer(data: bytes, password: str | None, *, source: str = "<pkcs12>") -> Signer:
    """A pyHanko signer from a PKCS#12 file (its chain embedded in every signature)."""
    bundle = load_pkcs12(data, password, source=source)
    registry = SimpleCertificateStore()  # type: ignore[no-untyped-call]  # untyped __init__
    for cert in bundle.chain:
        registry.register(to_asn1_cert(cert))
    return SimpleSigner(
        signing_cert=to_asn1_cert(bundle.cert),
        signing_key=to_asn1_key(bundle.key),
        cert_registry=registry,
    )


@contextlib.contextmanager
def pkcs11_signer(
    library: str, token_label: str, key_label: str, pin: str | None
) -> Iterator[Signer]:
    """A pyHanko signer for a key on a PKCS#11 token (a USB key, an HSM), session closed after.

    The certificate is looked up on the token under the same label as the key. Needs the
    ``python-pkcs11`` package; tested with SoftHSM (``tests/bidpack/test_pkcs11.py``, skipped
    when SoftHSM, opensc's pkcs11-tool or python-pkcs11 is missing).
    """
    try:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
    except ImportError as exc:  # python-pkcs11 is an optional dependency
        raise PackError(
            "PKCS#11 needs the python-pkcs11 package", "使用 PKCS#11 需安装 python-pkcs11"
        ) from exc
    try:
        session = open_pkcs11_session(
            library, token_criteria=TokenCriteria(label=token_label), user_pin=pin
        )
    except Exception as exc:  # the PKCS#11 library's many error types
        raise PackError(
            f"cannot open token {token_label!r}: {exc}", f"无法打开令牌 {token_label!r}：{exc}"
        ) from exc
    try:
        yield PKCS11Signer(session, cert_label=key_label, key_label=key_label)
    finally:
        session.close()


def signer_certificate(signer: Signer) -> x509.Certificate:
    cert = signer.signing_cert
    if cert is None:
        raise PackError("the signer has no certificate", "签名者没有证书")
    return from_asn1_cert(cert)


def credit_code_of(cert: x509.Certificate, trust: TrustStore | None = None) -> str:
    """The organisation's credit code in ``cert``: where its provider puts it (with ``trust``),
    else the first valid one among the usual places."""
    if trust is not None and trust.provider_for(cert) is not None:
        candidates = [identity_of(cert, trust).credit_code]
    else:
        candidates = [extract_identity(cert, place).credit_code for place in _CODE_PLACES]
    for code in candidates:
        if code is not None and is_valid_credit_code(code):
            return code
    raise SignerCodeError(cert.subject.rfc4514_string())


# --- signing ----------------------------------------------------------------------------------


def _sha256_file(path: Path) -> tuple[str, int]:
    md = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            md.update(chunk)
            size += len(chunk)
    return md.hexdigest(), size


async def sign_manifest(manifest: bytes, signer: Signer, *, signing_time: datetime) -> bytes:
    """A detached CMS SignedData (DER) over ``manifest`` (SHA-256, the chain embedded)."""
    content_info = await signer.async_sign(
        data_digest=hashlib.sha256(manifest).digest(),
        digest_algorithm="sha256",
        is_pdf_sig=False,
        signed_attr_settings=PdfCMSSignedAttributes(signing_time=signing_time),
    )
    return bytes(content_info.dump())


async def sign_pdf(
    source: Path, target: Path, signer: Signer, timestamper: TimeStamper | None
) -> None:
    """PAdES-sign ``source`` into ``target`` (an invisible field, incremental update)."""
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason="投标文件 Bid document",
    )
    pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper)
    try:
        with source.open("rb") as inf, target.open("wb") as out:
            writer = IncrementalPdfFileWriter(inf, strict=False)
            await pdf_signer.async_sign_pdf(writer, output=out)
    except (OSError, DomainError):
        raise
    except Exception as exc:  # pyHanko's parser and signer raise many types for a bad PDF
        raise PackError(
            f"{source.name}: cannot be signed ({type(exc).__name__}: {exc})",
            f"{source.name}：无法签名（{type(exc).__name__}：{exc}）",
        ) from exc


def _document_names(pdfs: Sequence[Path]) -> list[str]:
    names = [p.name for p in pdfs]
    if not names:
        raise PackError("no PDF given", "未提供 PDF 文件")
    for name in names:
        if not is_document_name(name):
            raise PackError(
                f"{name!r} is not a usable PDF file name (*.pdf)",
                f"{name!r} 不是可用的 PDF 文件名（*.pdf）",
            )
    if len(set(names)) != len(names):
        raise PackError("two PDFs have the same file name", "两个 PDF 文件同名")
    return names


async def pack(
    pdfs: Sequence[Path],
    out: Path,
    *,
    tender_id: str,
    lot_number: int,
    opening_data: Mapping[str, object],
    schema: Sequence[OpeningField],
    signer: Signer,
    now: datetime,
    timestamper: TimeStamper | None = None,
    trust: TrustStore | None = None,
) -> PackSummary:
    """Sign the PDFs and the manifest and write the package to ``out`` (which must not exist).

    The opening data is validated against ``schema`` first (:class:`OpeningDataError`), so a bad
    price never reaches a signature. ``trust`` only tells where the certificate's provider puts
    the credit code.
    """
    names = _document_names(pdfs)
    values = require_valid_opening_data(schema, opening_data)
    cert = signer_certificate(signer)
    code = credit_code_of(cert, trust)
    work = Path(tempfile.mkdtemp(prefix=".bidpack-", dir=out.parent))
    try:
        signed: list[Path] = []
        for source, name in zip(pdfs, names, strict=True):
            target = work / name
            await sign_pdf(source, target, signer, timestamper)
            signed.append(target)
        entries = []
        for path in signed:
            digest, size = _sha256_file(path)
            entries.append({"name": path.name, "sha256": digest, "size": size})
        manifest = {
            "format": FORMAT,
            "tender_id": tender_id,
            "lot_number": lot_number,
            "bidder_credit_code": code,
            "created_at": now.isoformat(),
            "files": entries,
            "opening_data": values,
        }
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2).encode() + b"\n"
        signature = await sign_manifest(manifest_bytes, signer, signing_time=now)
        partial = work / f"package-{secrets.token_hex(4)}.zip"
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr(MANIFEST_NAME, manifest_bytes, zipfile.ZIP_DEFLATED)
            archive.writestr(SIGNATURE_NAME, signature)
            for path in signed:
                # PDFs are compressed already: stored, so sizes and ratios stay plain.
                with path.open("rb") as src, archive.open(path.name, "w") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
        with partial.open("rb") as done:
            os.fsync(done.fileno())
        os.link(partial, out)  # fails rather than overwrite a file that appeared meanwhile
    finally:
        shutil.rmtree(work, ignore_errors=True)
    digest, size = _sha256_file(out)
    return PackSummary(out, manifest, digest, size)
