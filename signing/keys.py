"""Loading signing keys and certificates (PKCS#12, PEM, DER) and converting between libraries.

``cryptography`` objects are the currency of this package; pyhanko and the CMS code need the same
values as ``asn1crypto`` structures, which :func:`to_asn1_cert` and :func:`to_asn1_key` give.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from trading.errors import ValidationError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
"""The key types the platform signs with (SM2 is not supported by ``cryptography`` today)."""


class KeyFileError(ValidationError):
    """A key or certificate file that cannot be read: wrong password, wrong format, no key."""

    code = "key_file_invalid"

    def __init__(self, path: str, reason_en: str, reason_zh: str | None = None) -> None:
        super().__init__(
            f"Cannot read key or certificate file {path!r}: {reason_en}",
            f"无法读取密钥或证书文件 {path!r}：{reason_zh or reason_en}",
            field="key",
            path=path,
        )


@dataclass(frozen=True)
class KeyBundle:
    """A private key, its certificate and the certificates above it (issuer first)."""

    key: PrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()


def _check_key(key: object, path: str) -> PrivateKey:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key
    raise KeyFileError(
        path, f"unsupported key type {type(key).__name__}", f"不支持的密钥类型 {type(key).__name__}"
    )


def load_pkcs12(data: bytes, password: str | None, *, source: str = "<pkcs12>") -> KeyBundle:
    """Key, certificate and chain from a PKCS#12 file."""
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(
            data, password.encode() if password is not None else None
        )
    except ValueError as exc:
        raise KeyFileError(
            source, "wrong password or not a PKCS#12 file", "密码错误或不是 PKCS#12 文件"
        ) from exc
    if key is None or cert is None:
        raise KeyFileError(
            source, "no private key and certificate in the file", "文件中缺少私钥或证书"
        )
    return KeyBundle(_check_key(key, source), cert, tuple(extra))


def load_certificates(data: bytes, *, source: str = "<certificates>") -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, or the one certificate of a DER file."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise KeyFileError(
            source, "not an X.509 certificate (PEM or DER)", "不是 X.509 证书（PEM 或 DER）"
        ) from exc


def load_private_key(data: bytes, password: str | None, *, source: str = "<key>") -> PrivateKey:
    """A private key from PEM or DER (PKCS#8 or traditional)."""
    secret = password.encode() if password is not None else None
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, secret)
        else:
            key = serialization.load_der_private_key(data, secret)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(
            source, "not a private key, or wrong password", "不是私钥或密码错误"
        ) from exc
    return _check_key(key, source)


def load_key_bundle(
    path: Path, password: str | None = None, *, cert_path: Path | None = None
) -> KeyBundle:
    """A bundle from a ``.p12``/``.pfx`` file, or from a PEM key file plus a PEM certificate file.

    For a PEM key without ``cert_path``, the first certificate in the same file is used (a PEM with
    both key and certificate chain is common).
    """
    try:
        data = path.read_bytes()
        extra = cert_path.read_bytes() if cert_path else data
    except OSError as exc:
        raise KeyFileError(str(path), exc.strerror or str(exc), "无法读取文件") from exc
    if path.suffix.lower() in {".p12", ".pfx"}:
        return load_pkcs12(data, password, source=str(path))
    key = load_private_key(data, password, source=str(path))
    certs = load_certificates(extra, source=str(cert_path or path))
    return KeyBundle(key, certs[0], tuple(certs[1:]))


def to_asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def from_asn1_cert(cert: asn1_x509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())


def to_asn1_key(key: PrivateKey) -> asn1_keys.PrivateKeyInfo:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return asn1_keys.PrivateKeyInfo.load(der)


def key_type(key: PrivateKey | rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    """``rsa-2048``, ``ec-secp256r1``, ... for display and the demo index."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return f"rsa-{key.key_size}"
    return f"ec-{key.curve.name}"
