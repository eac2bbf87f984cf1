"""The platform's signing certificate: what signs submission receipts (and later other records).

The embedded default mirrors the platform TSA (:func:`signing.tsa.ensure_platform_tsa`): a
self-issued root whose private key is discarded at once, and an ECDSA P-256 leaf with
digitalSignature + nonRepudiation. Since the root signed exactly one certificate and can sign no
other, trusting the root trusts exactly the platform's signatures. Production may instead load a
PKCS#12 from a real CA (``TENDERHALL_PLATFORM_KEY_FILE``).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signing.keys import KeyBundle, load_key_bundle
from signing.trust import CaProvider

KEY_NAME = "platform.key.pem"
CHAIN_NAME = "platform.chain.pem"


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def ensure_platform_signer(
    directory: Path, *, now: datetime, organisation: str = "Tenderhall"
) -> KeyBundle:
    """Load ``directory/platform.key.pem`` + ``platform.chain.pem``, or create them on first use
    (ten years; the key file is created 0600)."""
    key_path, chain_path = directory / KEY_NAME, directory / CHAIN_NAME
    if key_path.exists() and chain_path.exists():
        return load_key_bundle(key_path, None, cert_path=chain_path)

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.COMMON_NAME, common),
            ]
        )

    root_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    start = now - timedelta(minutes=5)  # tolerate a verifier whose clock is slightly behind
    until = now + timedelta(days=3653)
    root = (
        x509.CertificateBuilder()
        .subject_name(name("Platform Signing Root"))
        .issuer_name(name("Platform Signing Root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("Platform Receipts"))
        .issuer_name(root.subject)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    del root_key  # never stored: the root has signed the one certificate it ever will
    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    key_pem = leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Created 0600 from the start: the key is never readable by others, not even for a moment.
    with os.fdopen(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
        fh.write(key_pem)
    chain_path.write_bytes(leaf.public_bytes(pem) + root.public_bytes(pem))
    return KeyBundle(leaf_key, leaf, (root,))


def chain_pems(bundle: KeyBundle) -> list[str]:
    """The leaf and the certificates above it, as PEM strings (the receipt's ``platform_chain``)."""
    return [
        c.public_bytes(serialization.Encoding.PEM).decode() for c in (bundle.cert, *bundle.chain)
    ]


def platform_signer_provider(bundle: KeyBundle, name: str = "platform-signer") -> CaProvider:
    """A :class:`signing.trust.CaProvider` trusting the self-issued root (last in the chain)."""
    chain = bundle.chain or (bundle.cert,)
    return CaProvider(name=name, roots=(chain[-1].public_bytes(serialization.Encoding.DER),))
