"""Self-issued signing keys for the embedded default (the platform TSA, the receipt signer).

Each is a root whose private key is discarded at once and one leaf it signed: since the root can
sign nothing else, trusting the root trusts exactly that leaf. The leaf's key is written 0600 from
the start, the chain next to it; later starts load them. Production may bring certificates from a
real CA instead (settings).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from signing.keys import KeyBundle, PrivateKey, load_key_bundle
from signing.trust import CaProvider

LIFETIME = timedelta(days=3653)


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


def ensure_self_issued(
    key_path: Path,
    chain_path: Path,
    *,
    now: datetime,
    organisation: str,
    root_name: str,
    leaf_name: str,
    new_key: Callable[[], PrivateKey],
    extended_usage: x509.ExtendedKeyUsage | None = None,
) -> KeyBundle:
    """Load the leaf key and chain, or create them on first use (ten years)."""
    if key_path.exists() and chain_path.exists():
        return load_key_bundle(key_path, None, cert_path=chain_path)

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.COMMON_NAME, common),
            ]
        )

    root_key, leaf_key = new_key(), new_key()
    start = now - timedelta(minutes=5)  # tolerate a verifier whose clock is slightly behind
    until = now + LIFETIME
    root = (
        x509.CertificateBuilder()
        .subject_name(name(root_name))
        .issuer_name(name(root_name))
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
    leaf_builder = (
        x509.CertificateBuilder()
        .subject_name(name(leaf_name))
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
    )
    if extended_usage is not None:
        leaf_builder = leaf_builder.add_extension(extended_usage, critical=True)
    leaf = leaf_builder.sign(root_key, hashes.SHA256())
    del root_key  # never stored: the root has signed the one certificate it ever will
    key_path.parent.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    key_pem = leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Created 0600 from the start: the key is never readable by others, not even for a moment.
    with os.fdopen(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
        fh.write(key_pem)
    chain_path.write_bytes(leaf.public_bytes(pem) + root.public_bytes(pem))
    return KeyBundle(leaf_key, leaf, (root,))


def root_provider(bundle: KeyBundle, name: str) -> CaProvider:
    """A :class:`signing.trust.CaProvider` trusting the bundle's root (last in its chain)."""
    chain = bundle.chain or (bundle.cert,)
    return CaProvider(name=name, roots=(chain[-1].public_bytes(serialization.Encoding.DER),))
