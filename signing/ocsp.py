"""OCSP (RFC 6960): asking a CA's responder whether one certificate is revoked.

Responses are cached in the trust store like CRLs (:meth:`signing.trust.TrustStore.add_ocsp`) and
handed to pyhanko-certvalidator, which checks the responder's signature and authority itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from trading.errors import ValidationError

OCSP_REQUEST = "application/ocsp-request"


class OcspResponseError(ValidationError):
    code = "ocsp_response_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Unusable OCSP response: {reason}", f"OCSP 响应不可用：{reason}")


@dataclass(frozen=True)
class OcspStatus:
    """What a (not yet signature-checked) response says about one certificate."""

    status: str
    """``good``, ``revoked`` or ``unknown``."""
    this_update: datetime
    next_update: datetime | None


def ocsp_urls_of(cert: x509.Certificate) -> list[str]:
    """The OCSP responders the certificate names (Authority Information Access)."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        str(d.access_location.value)
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def build_request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    """A DER OCSPRequest for ``cert`` (CertID with SHA-1, what responders universally accept)."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303
    return builder.build().public_bytes(serialization.Encoding.DER)


def read_response(der: bytes, cert: x509.Certificate) -> OcspStatus:
    """Parse a DER OCSPResponse and check it answers for ``cert``; the signature is
    certvalidator's job (it knows the responder's chain)."""
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        raise OcspResponseError("not DER OCSP") from exc
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise OcspResponseError(f"responder said {response.response_status.name}")
    if response.serial_number != cert.serial_number:
        raise OcspResponseError("the response is about another certificate")
    return OcspStatus(
        status=response.certificate_status.name.lower(),
        this_update=response.this_update_utc,
        next_update=response.next_update_utc,
    )


async def fetch(url: str, request: bytes) -> bytes:
    """POST ``request`` to the responder at ``url``; the DER response."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(url, content=request, headers={"content-type": OCSP_REQUEST})
        response.raise_for_status()
        return response.content
