"""Loading the keys and certificates the envelope commands work with."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from signing.envelope_errors import KeyFileError, RecipientCertificateError
from signing.envelope_recipients import PrivateKey


@dataclass(frozen=True)
class KeyPair:
    """A private key and, when the file has one, the certificate that goes with it."""

    key: PrivateKey
    certificate: x509.Certificate | None
    """Names the recipient info to use; without it every recipient info is tried."""


def load_key_pair(data: bytes, password: bytes | None = None) -> KeyPair:
    """A key from PKCS#12 (DER) or PEM (a private key, optionally followed by its certificate)."""
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_private_key(data, password=password)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(_reason(exc)) from exc
        certs = x509.load_pem_x509_certificates(data) if b"CERTIFICATE-----" in data else []
        cert = certs[0] if certs else None
    else:
        try:
            p12_key, cert, _ = pkcs12.load_key_and_certificates(data, password)
        except (ValueError, TypeError) as exc:
            raise KeyFileError(_reason(exc)) from exc
        if p12_key is None:
            raise KeyFileError("the PKCS#12 file holds no private key")
        key = p12_key
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyFileError(f"unsupported key type {type(key).__name__} (RSA or EC only)")
    if cert is not None and cert.public_key() != key.public_key():
        raise KeyFileError("the certificate does not belong to the private key")
    return KeyPair(key, cert)


def _reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "password" in text or "decrypt" in text or "mac" in text:
        return "wrong password or damaged file"
    return "not a PKCS#12 or PEM private key"


def load_certificate(data: bytes) -> x509.Certificate:
    """A recipient certificate, PEM or DER."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise RecipientCertificateError("not an X.509 certificate (PEM or DER)") from exc
