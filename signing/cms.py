"""Detached CMS signatures (RFC 5652 SignedData) for manifests and other non-PDF files.

Interoperable with OpenSSL both ways: ``openssl cms -verify -binary -inform DER -content FILE``
accepts :func:`sign_detached`'s output, and :func:`verify_detached` accepts
``openssl cms -sign -binary -outform DER`` signatures. The data is streamed (hashed in chunks, in
a worker thread) so the size of the signed file does not matter.

Signing is pyhanko's CMS signer (signed attributes: content type, message digest, signing time,
signing-certificate-v2, CMS algorithm protection; SHA-256). Verifying uses pyhanko's integrity
check on the signer info and :meth:`signing.trust.TrustStore.validate_certificate` for the signer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import anyio.to_thread
from asn1crypto import cms as asn1_cms
from cryptography import x509
from pyhanko.sign.general import CMSStructuralError, SignedDataCerts, extract_signer_info
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes, SimpleSigner
from pyhanko.sign.validation.generic_cms import (
    extract_certs_for_validation,
    validate_sig_integrity,
)
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.keys import PrivateKey, from_asn1_cert, to_asn1_cert, to_asn1_key
from signing.trust import CertificateVerdict, TrustStore, Usage, problem, problem_dict
from signing.verdicts import Problem, Status, worst

CHUNK = 1 << 20
"""Bytes read at a time while hashing the signed data."""
_DIGESTS = {"sha256": "sha256", "sha384": "sha384", "sha512": "sha512", "sha224": "sha224"}


@dataclass(frozen=True)
class CmsVerdict:
    """The result of verifying a detached CMS signature over some data."""

    status: Status
    problems: tuple[Problem, ...]
    intact: bool
    """The data's digest matches the signed message-digest attribute."""
    signature_valid: bool
    """The signer's signature over the signed attributes verifies with its certificate's key."""
    signer: CertificateVerdict | None
    """The signer certificate's validation (chain to a trusted provider, revocation, usage)."""
    digest_algorithm: str | None
    signing_time: datetime | None
    """Self-reported by the signer (signingTime attribute); not proof of time."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "problems": [problem_dict(p) for p in self.problems],
            "intact": self.intact,
            "signature_valid": self.signature_valid,
            "signer": self.signer.to_dict() if self.signer else None,
            "digest_algorithm": self.digest_algorithm,
            "signing_time": self.signing_time.isoformat() if self.signing_time else None,
        }


def _malformed(detail: str) -> CmsVerdict:
    return CmsVerdict(
        Status.INVALID,
        (
            problem(
                "malformed_signature",
                f"The signature file is not a usable CMS SignedData structure: {detail}",
                "签名文件不是可用的 CMS SignedData 结构。",
            ),
        ),
        intact=False,
        signature_valid=False,
        signer=None,
        digest_algorithm=None,
        signing_time=None,
    )


def _digest_stream(stream: IO[bytes], algorithm: str) -> bytes:
    md = hashlib.new(algorithm)
    while chunk := stream.read(CHUNK):
        md.update(chunk)
    return md.digest()


async def sign_detached(
    data_stream: IO[bytes],
    key: PrivateKey,
    cert: x509.Certificate,
    chain: Iterable[x509.Certificate] = (),
    *,
    signing_time: datetime | None = None,
) -> bytes:
    """A DER ContentInfo with a detached SignedData over ``data_stream`` (SHA-256).

    ``chain`` (intermediates, optionally the root) is embedded so verifiers can build the path.
    ``signing_time`` (default now) goes into the signingTime attribute; it is the signer's claim,
    not proof of time (that is a timestamp's job).
    """
    registry = SimpleCertificateStore()  # type: ignore[no-untyped-call]  # untyped __init__
    for extra in chain:
        registry.register(to_asn1_cert(extra))
    signer = SimpleSigner(
        signing_cert=to_asn1_cert(cert),
        signing_key=to_asn1_key(key),
        cert_registry=registry,
    )

    # Hash in a worker thread so a multi-GB file does not block the event loop.
    digest = await anyio.to_thread.run_sync(_digest_stream, data_stream, "sha256")
    attributes = PdfCMSSignedAttributes(signing_time=signing_time or datetime.now(UTC))
    content_info = await signer.async_sign(
        data_digest=digest,
        digest_algorithm="sha256",
        is_pdf_sig=False,
        signed_attr_settings=attributes,
    )
    return bytes(content_info.dump())


def _parse(signature: bytes) -> tuple[asn1_cms.SignedData, asn1_cms.SignerInfo, SignedDataCerts]:
    content_info = asn1_cms.ContentInfo.load(signature, strict=True)
    if content_info["content_type"].native != "signed_data":
        raise ValueError(f"content type is {content_info['content_type'].native}")
    signed_data = content_info["content"]
    signer_info = extract_signer_info(signed_data)
    certs = extract_certs_for_validation(signed_data)
    return signed_data, signer_info, certs


async def verify_detached(
    data_stream: IO[bytes],
    signature: bytes,
    trust: TrustStore,
    *,
    at: datetime | None = None,
) -> CmsVerdict:
    """Verify a detached CMS signature (DER) over ``data_stream`` and the signer's certificate.

    ``at`` is the moment the certificate is judged at (default now; pass a trusted timestamp's
    time to judge at signing time). Never raises for bad input: it becomes a verdict.
    """
    try:
        signed_data, signer_info, certs = _parse(signature)
        if signed_data["encap_content_info"]["content"].native is not None:
            return _malformed("the signature is not detached (it embeds content)")
        algorithm = signer_info["digest_algorithm"]["algorithm"].native
        content_type = signed_data["encap_content_info"]["content_type"].native
    except (ValueError, TypeError, KeyError, CMSStructuralError) as exc:
        return _malformed(str(exc)[:200])
    if algorithm not in _DIGESTS:
        return _malformed(f"unsupported digest algorithm {algorithm}")
    digest = await anyio.to_thread.run_sync(_digest_stream, data_stream, _DIGESTS[algorithm])
    try:
        intact, valid = validate_sig_integrity(
            signer_info, certs.signer_cert, expected_content_type=content_type, actual_digest=digest
        )
    except (CMSStructuralError, ValueError, TypeError, KeyError) as exc:
        return _malformed(str(exc)[:200])
    problems: list[tuple[Status, Problem]] = []
    if not intact:
        problems.append(
            (
                Status.INVALID,
                problem(
                    "digest_mismatch",
                    "The file does not match the signature: it was changed after signing, "
                    "or it is a different file.",
                    "文件与签名不符：签名后被修改，或不是被签名的文件。",
                ),
            )
        )
    elif not valid:
        problems.append(
            (
                Status.INVALID,
                problem(
                    "bad_signature",
                    "The signature does not verify with the signer's certificate.",
                    "签名值无法用签名人证书验证。",
                ),
            )
        )
    signer_cert = from_asn1_cert(certs.signer_cert)
    extra = [from_asn1_cert(c) for c in certs.other_certs]
    signer = await trust.validate_certificate(
        signer_cert, at=at, usage=Usage.SIGNING, extra_certs=extra
    )
    problems += [(signer.status, p) for p in signer.problems]
    signing_time = None
    for attr in signer_info["signed_attrs"]:
        if attr["type"].native == "signing_time":
            signing_time = attr["values"][0].native
    return CmsVerdict(
        status=worst([s for s, _ in problems]),
        problems=tuple(p for _, p in problems),
        intact=intact,
        signature_valid=valid,
        signer=signer,
        digest_algorithm=algorithm,
        signing_time=signing_time,
    )
