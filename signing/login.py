"""Certificate checks for sign-in and binding: validity, trust, and the signature over a nonce.

Browsers sign with WebCrypto, which gives ECDSA signatures as raw ``r || s`` (IEEE P1363) rather
than DER; both encodings are accepted. RSA signatures may be PKCS#1 v1.5 or PSS, with SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from trading.identity.services import CertificateCheck

ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")

TrustCheck = Callable[[x509.Certificate, datetime], Awaitable[tuple[str | None, str]]]
"""Returns (problem, detail): problem is None, ``untrusted``, ``revoked`` or ``indeterminate``."""

CreditCodeReader = Callable[[x509.Certificate], Awaitable[str | None]]
"""Reads the organisation's credit code where the certificate's CA provider puts it."""


def _credit_code(cert: x509.Certificate) -> str | None:
    for oid in (ORGANIZATION_IDENTIFIER,):
        values = cert.subject.get_attributes_for_oid(oid)
        if values:
            value = values[0].value
            text = value.decode() if isinstance(value, bytes) else str(value)
            # Some CAs prefix the code with a registration scheme, e.g. "NTRCN-".
            return text.rsplit("-", 1)[-1].strip().upper()
    return None


def _verify_signature(cert: x509.Certificate, message: bytes, signature: bytes) -> bool:
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            try:
                key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                key.verify(
                    signature,
                    message,
                    padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                    hashes.SHA256(),
                )
            return True
        if isinstance(key, ec.EllipticCurvePublicKey):
            size = (key.curve.key_size + 7) // 8
            if len(signature) == 2 * size and signature[0] != 0x30:
                r = int.from_bytes(signature[:size], "big")
                s = int.from_bytes(signature[size:], "big")
                signature = encode_dss_signature(r, s)
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


class X509CertificateVerifier:
    """The :class:`trading.identity.services.CertificateVerifier` adapter."""

    def __init__(
        self,
        trust_check: TrustCheck | None = None,
        credit_code_of: CreditCodeReader | None = None,
    ) -> None:
        self._trust_check = trust_check
        self._credit_code_of = credit_code_of

    async def inspect(self, certificate: bytes, now: datetime) -> CertificateCheck:
        try:
            cert = x509.load_der_x509_certificate(certificate)
        except ValueError as exc:
            return CertificateCheck(
                fingerprint=hashlib.sha256(certificate).hexdigest(),
                subject="",
                serial="",
                not_after=now,
                credit_code=None,
                problem="malformed",
                detail=str(exc)[:200],
            )
        problem: str | None = None
        detail = ""
        if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
            problem = "expired"
            detail = f"{cert.not_valid_before_utc:%Y-%m-%d} – {cert.not_valid_after_utc:%Y-%m-%d}"
        elif self._trust_check is not None:
            problem, detail = await self._trust_check(cert, now)
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return CertificateCheck(
            fingerprint=hashlib.sha256(certificate).hexdigest(),
            subject=cert.subject.rfc4514_string(),
            serial=format(cert.serial_number, "x"),
            not_after=cert.not_valid_after_utc,
            credit_code=(
                await self._credit_code_of(cert) if self._credit_code_of else _credit_code(cert)
            ),
            problem=problem,
            detail=detail or (str(names[0].value) if names and problem else ""),
        )

    async def check_login_signature(
        self, certificate: bytes, message: bytes, signature: bytes, now: datetime
    ) -> CertificateCheck:
        check = await self.inspect(certificate, now)
        if check.problem is not None:
            return check
        cert = x509.load_der_x509_certificate(certificate)
        if not _verify_signature(cert, message, signature):
            return CertificateCheck(
                fingerprint=check.fingerprint,
                subject=check.subject,
                serial=check.serial,
                not_after=check.not_after,
                credit_code=check.credit_code,
                problem="bad_signature",
            )
        return check
