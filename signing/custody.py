"""Opening keys with threshold custody (开标密钥门限托管).

Each lot has an opening key pair. :func:`create_custody` generates it on a custodian's machine,
splits the private key k-of-n with Shamir's scheme, seals each share to its custodian's
certificate (a small envelope from :mod:`signing.envelope`) and lets the private key go: it is
never written anywhere unencrypted. What it writes is public or sealed: the opening certificate,
the sealed shares and a JSON manifest, all of which the server may store.

Choices, recorded here because the server and the custodians' tools must agree on them:

- The opening key is EC P-256. Bids are sealed to it with ECDH (``dhSinglePass-stdDH-
  sha256kdf-scheme``), so ``openssl cms -decrypt`` can use the rebuilt key as well. Its
  certificate is self-signed by the opening key; nobody needs to trust it beyond its
  fingerprint, which the manifest and every share carry.
- The secret split is the private scalar itself (32 bytes), as two 16-byte halves, because
  pycryptodome's ``Shamir`` works on 16-byte blocks (GF(2^128)). Both halves use the same share
  indices. A rebuilt scalar is checked against the public key, so a damaged or forged share is
  caught rather than producing a wrong key.
- K must be at least 2: no single custodian (nor the platform) can open a bid alone.

Python cannot reliably wipe memory; "destroyed" means no reference to the key outlives
:func:`create_custody` and nothing unencrypted reaches the disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from Crypto.Protocol.SecretSharing import Shamir
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signing.envelope import seal_stream, unseal_bytes
from signing.envelope_errors import (
    DuplicateShareError,
    ForeignShareError,
    InsufficientSharesError,
    InvalidShareError,
)
from signing.envelope_recipients import PrivateKey
from trading.errors import ConflictError, ValidationError

MANIFEST_FORMAT = "tenderhall-custody/1"
SHARE_FORMAT = "tenderhall-custody-share/1"
MANIFEST_NAME = "manifest.json"
CERTIFICATE_NAME = "opening-cert.pem"
PUBLIC_KEY_NAME = "opening-public-key.pem"
_CURVE = ec.SECP256R1()
_SCALAR_SIZE = 32


class CustodySetupError(ValidationError):
    """A custody set that cannot be created as asked (threshold, custodians, output)."""

    code = "custody_setup_invalid"

    def __init__(self, reason_en: str, reason_zh: str) -> None:
        super().__init__(
            f"Cannot create the custody set: {reason_en}.",
            f"无法创建开标密钥托管：{reason_zh}。",
            reason=reason_en,
        )


class CustodyExistsError(ConflictError):
    """The output directory already holds a custody set; it is never overwritten."""

    code = "custody_exists"

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} already holds a custody manifest; it is not overwritten.",
            f"{path} 中已有托管清单，不会覆盖。",
            path=path,
        )


@dataclass(frozen=True)
class CustodyShare:
    """One custodian's share of a lot's opening key, as released (decrypted)."""

    lot: str
    custody_id: str
    """Random identifier of the custody set: two sets for the same lot never mix."""
    threshold: int
    count: int
    index: int
    """Shamir x-coordinate, 1..count."""
    public_key_sha256: str
    """SHA-256 (hex) of the opening public key (SubjectPublicKeyInfo DER) the share rebuilds."""
    value: bytes
    """The two 16-byte Shamir shares of the scalar's halves, concatenated."""

    def to_json(self) -> bytes:
        body = {
            "format": SHARE_FORMAT,
            "lot": self.lot,
            "custody_id": self.custody_id,
            "threshold": self.threshold,
            "count": self.count,
            "index": self.index,
            "public_key_sha256": self.public_key_sha256,
            "share": self.value.hex(),
        }
        return json.dumps(body, indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> CustodyShare:
        try:
            body = json.loads(data)
            if body.get("format") != SHARE_FORMAT:
                raise ValueError("format")
            share = cls(
                lot=str(body["lot"]),
                custody_id=str(body["custody_id"]),
                threshold=int(body["threshold"]),
                count=int(body["count"]),
                index=int(body["index"]),
                public_key_sha256=str(body["public_key_sha256"]),
                value=bytes.fromhex(body["share"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidShareError(
                "not a released custody share (JSON)", "不是已解密的密钥分片文件（JSON）"
            ) from exc
        if len(share.value) != _SCALAR_SIZE or not 1 <= share.index <= share.count:
            raise InvalidShareError("damaged share", "分片内容损坏")
        return share


@dataclass(frozen=True)
class CustodianEntry:
    """A custodian's line in the manifest."""

    index: int
    file: str
    subject: str
    certificate_sha256: str


@dataclass(frozen=True)
class CustodyManifest:
    """What :func:`create_custody` wrote: public data only."""

    lot: str
    custody_id: str
    threshold: int
    created_at: str
    public_key_sha256: str
    certificate: str
    custodians: tuple[CustodianEntry, ...]

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "lot": self.lot,
            "custody_id": self.custody_id,
            "threshold": self.threshold,
            "count": len(self.custodians),
            "created_at": self.created_at,
            "key_algorithm": "EC P-256; bids reach it by ECDH dhSinglePass-stdDH-sha256kdf-scheme",
            "public_key_sha256": self.public_key_sha256,
            "opening_certificate": self.certificate,
            "opening_public_key": PUBLIC_KEY_NAME,
            "secret_sharing": "Shamir over GF(2^128) (pycryptodome), two 16-byte halves",
            "custodians": [entry.__dict__ for entry in self.custodians],
        }
        return json.dumps(body, ensure_ascii=False, indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> CustodyManifest:
        try:
            body = json.loads(data)
            if body.get("format") != MANIFEST_FORMAT:
                raise ValueError("format")
            return cls(
                lot=str(body["lot"]),
                custody_id=str(body["custody_id"]),
                threshold=int(body["threshold"]),
                created_at=str(body["created_at"]),
                public_key_sha256=str(body["public_key_sha256"]),
                certificate=str(body["opening_certificate"]),
                custodians=tuple(CustodianEntry(**entry) for entry in body["custodians"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidShareError("not a custody manifest", "不是托管清单文件") from exc


def public_key_sha256(key: ec.EllipticCurvePublicKey) -> str:
    """The fingerprint that ties shares to their opening key."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _opening_certificate(
    key: ec.EllipticCurvePrivateKey, lot: str, now: datetime, valid_for: timedelta
) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tenderhall opening key"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"lot {lot}"[:64]),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + valid_for)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def create_custody(
    lot: str,
    threshold: int,
    custodians: Sequence[x509.Certificate],
    out_dir: Path,
    *,
    now: datetime,
    valid_for: timedelta = timedelta(days=3 * 365),
) -> CustodyManifest:
    """Generate the lot's opening key, split it k-of-n, seal each share, forget the key."""
    count = len(custodians)
    if not lot.strip():
        raise CustodySetupError("the lot is empty", "标段编号为空")
    if count < 2 or not 2 <= threshold <= count:
        raise CustodySetupError(
            f"the threshold must be between 2 and the number of custodians ({count})",
            f"门限值须在 2 与托管人数（{count}）之间",
        )
    fingerprints = [c.fingerprint(hashes.SHA256()).hex() for c in custodians]
    if len(set(fingerprints)) != count:
        raise CustodySetupError("a custodian is listed twice", "同一托管人证书重复")
    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / MANIFEST_NAME).exists():
        raise CustodyExistsError(str(out_dir))

    key = ec.generate_private_key(_CURVE)
    certificate = _opening_certificate(key, lot, now, valid_for)
    fingerprint = public_key_sha256(key.public_key())
    scalar = key.private_numbers().private_value.to_bytes(_SCALAR_SIZE, "big")
    high = Shamir.split(threshold, count, scalar[:16])
    low = Shamir.split(threshold, count, scalar[16:])
    del key, scalar  # the only references; nothing unencrypted was written

    custody_id = secrets.token_hex(16)
    entries = []
    for cert, cert_fp, (index, high_share), (low_index, low_share) in zip(
        custodians, fingerprints, high, low, strict=True
    ):
        assert index == low_index
        share = CustodyShare(
            lot, custody_id, threshold, count, index, fingerprint, high_share + low_share
        )
        file = f"share-{index}.cms"
        with (out_dir / file).open("wb") as sink:
            seal_stream(io.BytesIO(share.to_json()), sink, [cert])
        entries.append(CustodianEntry(index, file, cert.subject.rfc4514_string(), cert_fp))
    (out_dir / CERTIFICATE_NAME).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (out_dir / PUBLIC_KEY_NAME).write_bytes(
        certificate.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    manifest = CustodyManifest(
        lot=lot,
        custody_id=custody_id,
        threshold=threshold,
        created_at=now.isoformat(),
        public_key_sha256=fingerprint,
        certificate=CERTIFICATE_NAME,
        custodians=tuple(entries),
    )
    (out_dir / MANIFEST_NAME).write_bytes(manifest.to_json())
    return manifest


def release_share(
    sealed_share: bytes, key: PrivateKey, certificate: x509.Certificate | None = None
) -> CustodyShare:
    """A custodian opens its sealed share with its own key (after the opening time)."""
    return CustodyShare.from_json(unseal_bytes(sealed_share, key, certificate, limit=64 * 1024))


def combine_shares(
    shares: Sequence[CustodyShare],
    *,
    lot: str,
    public_key_fingerprint: str | None = None,
) -> ec.EllipticCurvePrivateKey:
    """Rebuild the opening key of ``lot`` from at least K released shares.

    ``public_key_fingerprint`` is the SHA-256 of the opening public key the caller holds (the
    server's stored copy); when given, shares of any other key are refused as foreign.
    """
    for share in shares:
        if share.lot != lot:
            raise ForeignShareError(lot, share.lot)
    if shares:
        reference = shares[0]
        expected = public_key_fingerprint or reference.public_key_sha256
        for share in shares:
            if (
                share.custody_id != reference.custody_id
                or share.public_key_sha256 != expected
                or share.threshold != reference.threshold
            ):
                raise ForeignShareError(lot, f"{share.lot} (custody set {share.custody_id[:8]})")
    seen: set[int] = set()
    for share in shares:
        if share.index in seen:
            raise DuplicateShareError(share.index)
        seen.add(share.index)
    threshold = shares[0].threshold if shares else 2
    if len(shares) < threshold:
        raise InsufficientSharesError(len(shares), threshold)
    chosen = shares[:threshold]
    high = Shamir.combine([(s.index, s.value[:16]) for s in chosen])
    low = Shamir.combine([(s.index, s.value[16:]) for s in chosen])
    scalar = int.from_bytes(high + low, "big")
    try:
        key = ec.derive_private_key(scalar, _CURVE)
    except ValueError as exc:
        raise InvalidShareError("the shares do not rebuild a key", "分片无法重建密钥") from exc
    if public_key_sha256(key.public_key()) != shares[0].public_key_sha256:
        raise InvalidShareError(
            "the shares do not rebuild the lot's opening key (a share is damaged or forged)",
            "分片重建出的密钥与该标段开标公钥不符（有分片损坏或被伪造）",
        )
    return key


def write_private_key(
    key: ec.EllipticCurvePrivateKey,
    out: Path,
    certificate: x509.Certificate | None = None,
    password: bytes | None = None,
) -> None:
    """Write the rebuilt key as PEM (owner-only permissions), with its certificate if given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    if certificate is not None:
        pem += certificate.public_bytes(serialization.Encoding.PEM)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as sink:
        sink.write(pem)
