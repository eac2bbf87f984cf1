"""Encryption at rest with a key derived from the platform secret (AES-256-GCM, HKDF-SHA256).

Used for the few secrets the database must hold (released custody shares, a lot's rebuilt opening
key). Each blob is bound to its context (the AAD), so a blob copied to another row does not open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from trading.errors import ValidationError

_VERSION = b"\x01"
_NONCE = 12


class AtRestDecryptionError(ValidationError):
    code = "at_rest_undecryptable"

    def __init__(self) -> None:
        super().__init__(
            "A stored secret cannot be decrypted (wrong platform secret or altered data).",
            "无法解密已存储的机密数据（平台密钥不符或数据被改动）。",
        )


class SecretBox:
    """AES-256-GCM under ``HKDF(secret, info=purpose)``; blobs are ``version || nonce || ct``."""

    def __init__(self, secret: bytes, purpose: bytes = b"tenderhall/at-rest/1") -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)
        self._aead = AESGCM(key)

    def encrypt(self, data: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return _VERSION + nonce + self._aead.encrypt(nonce, data, context.encode())

    def decrypt(self, blob: bytes, context: str) -> bytes:
        if blob[:1] != _VERSION or len(blob) < 1 + _NONCE + 16:
            raise AtRestDecryptionError()
        try:
            return self._aead.decrypt(blob[1 : 1 + _NONCE], blob[1 + _NONCE :], context.encode())
        except InvalidTag as exc:
            raise AtRestDecryptionError() from exc
