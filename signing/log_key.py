"""The key that signs the audit log's tree heads.

The platform keeps an ECDSA P-256 key in its data directory (created on first use, mode 0600);
anyone holding its public key (``GET /audit/public-key``) can check tree heads offline with
``tenderhall audit verify --public-key``. Ed25519 and RSA keys are accepted too, for operators who
bring their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from trading.audit.verify import SignatureCheck
from trading.errors import ValidationError

Signer = Callable[[bytes], bytes]
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
_PRIVATE_TYPES = (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)


class UnsupportedLogKeyError(ValidationError):
    code = "log_key_unsupported"

    def __init__(self, kind: str) -> None:
        super().__init__(
            f"Unsupported key type for the audit log: {kind} (use ECDSA, Ed25519 or RSA).",
            f"审计日志不支持此密钥类型：{kind}（请使用 ECDSA、Ed25519 或 RSA）。",
        )


def load_private_key(pem: bytes, password: bytes | None = None) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    ):
        raise UnsupportedLogKeyError(type(key).__name__)
    return key


def load_or_create(path: Path) -> PrivateKey:
    """The key stored at ``path``, generated there on first use (exclusive create, 0600)."""
    if path.exists():
        return load_private_key(path.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its key
        return load_private_key(path.read_bytes())
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def signer(key: PrivateKey) -> Signer:
    """Sign tree-head payloads (SHA-256; ECDSA signatures DER-encoded)."""

    def sign(payload: bytes) -> bytes:
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(payload)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(payload, ec.ECDSA(hashes.SHA256()))
        return key.sign(payload, padding.PKCS1v15(), hashes.SHA256())

    return sign


def verifier(pem: bytes) -> SignatureCheck:
    """Check tree-head signatures with the log's public key (PEM)."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        raise UnsupportedLogKeyError(type(key).__name__)

    def check(payload: bytes, signature: bytes) -> bool:
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, payload)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
            else:
                key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True

    return check
