"""A platform signer and TSA for tests, issuing receipts the way the bids server will."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.cms import sign_detached
from signing.keys import KeyBundle, PrivateKey
from signing.receipt import FORMAT, canonical
from signing.tsa import TimestampAuthority


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "示例公共资源交易中心"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _cert(
    subject: str,
    key: PrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: PrivateKey,
    *,
    ca: bool,
    eku: x509.ObjectIdentifier | None = None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class Issuer:
    """The platform's receipt key (EC, under its own root) and its TSA (RSA, under another)."""

    platform: KeyBundle
    tsa: TimestampAuthority

    @property
    def platform_root(self) -> x509.Certificate:
        return self.platform.chain[-1]

    @property
    def tsa_root(self) -> x509.Certificate:
        return self.tsa.bundle.chain[-1]

    def receipt(
        self,
        envelope: bytes,
        *,
        tender_id: str = "tender-0001",
        lot_number: int = 1,
        credit_code: str = "91110105MA01DEM01M",
        kind: str = "submission",
        replaces: str | None = None,
        audit_seq: int = 42,
    ) -> dict[str, Any]:
        return asyncio.run(
            self.areceipt(
                hashlib.sha256(envelope).hexdigest(),
                len(envelope),
                tender_id=tender_id,
                lot_number=lot_number,
                credit_code=credit_code,
                kind=kind,
                replaces=replaces,
                audit_seq=audit_seq,
            )
        )

    async def areceipt(
        self,
        sha256: str,
        size: int,
        *,
        tender_id: str = "tender-0001",
        lot_number: int = 1,
        credit_code: str = "91110105MA01DEM01M",
        kind: str = "submission",
        replaces: str | None = None,
        audit_seq: int = 42,
        bid_id: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "format": FORMAT,
            "receipt_id": str(uuid.uuid4()),
            "kind": kind,
            "tender_id": tender_id,
            "lot_number": lot_number,
            "bid_id": bid_id or str(uuid.uuid4()),
            "bidder_credit_code": credit_code,
            "envelope_sha256": sha256,
            "envelope_size": size,
            "received_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "audit_seq": audit_seq,
            "replaces": replaces,
        }
        signature = await sign_detached(
            io.BytesIO(canonical(body)),
            self.platform.key,
            self.platform.cert,
            self.platform.chain,
        )
        token = await self.tsa.timestamp(bytes.fromhex(sha256))
        return {
            "receipt": body,
            "signature": base64.b64encode(signature).decode(),
            "timestamp_token": base64.b64encode(token).decode(),
            "platform_chain": [pem(self.platform.cert), *(pem(c) for c in self.platform.chain)],
            "tsa_chain": [pem(self.tsa.bundle.cert), *(pem(c) for c in self.tsa.bundle.chain)],
        }


def make_issuer() -> Issuer:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert("Platform Root", root_key, None, root_key, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert("Platform receipts", leaf_key, root, root_key, ca=False)
    tsa_root_key = rsa.generate_private_key(65537, 2048)
    tsa_root = _cert("TSA Root", tsa_root_key, None, tsa_root_key, ca=True)
    tsa_key = rsa.generate_private_key(65537, 2048)
    tsa_cert = _cert(
        "Platform TSA", tsa_key, tsa_root, tsa_root_key, ca=False,
        eku=ExtendedKeyUsageOID.TIME_STAMPING,
    )  # fmt: skip
    return Issuer(
        KeyBundle(leaf_key, leaf, (root,)),
        TimestampAuthority(KeyBundle(tsa_key, tsa_cert, (tsa_root,))),
    )
