"""The platform's signing certificate: what signs submission receipts (and later other records).

The embedded default mirrors the platform TSA (:func:`signing.tsa.ensure_platform_tsa`): a
self-issued root whose private key is discarded at once, and an ECDSA P-256 leaf with
digitalSignature + nonRepudiation. Since the root signed exactly one certificate and can sign no
other, trusting the root trusts exactly the platform's signatures. Production may instead load a
PKCS#12 from a real CA (``TENDERHALL_PLATFORM_KEY_FILE``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signing.keys import KeyBundle
from signing.self_issued import ensure_self_issued, root_provider
from signing.trust import CaProvider

KEY_NAME = "platform.key.pem"
CHAIN_NAME = "platform.chain.pem"


def ensure_platform_signer(
    directory: Path, *, now: datetime, organisation: str = "Tenderhall"
) -> KeyBundle:
    """Load ``directory/platform.key.pem`` + ``platform.chain.pem``, or create them on first use
    (see :mod:`signing.self_issued`)."""
    return ensure_self_issued(
        directory / KEY_NAME,
        directory / CHAIN_NAME,
        now=now,
        organisation=organisation,
        root_name="Platform Signing Root",
        leaf_name="Platform Receipts",
        new_key=lambda: ec.generate_private_key(ec.SECP256R1()),
    )


def chain_pems(bundle: KeyBundle) -> list[str]:
    """The leaf and the certificates above it, as PEM strings (the receipt's ``platform_chain``)."""
    return [
        c.public_bytes(serialization.Encoding.PEM).decode() for c in (bundle.cert, *bundle.chain)
    ]


def platform_signer_provider(bundle: KeyBundle, name: str = "platform-signer") -> CaProvider:
    """A :class:`signing.trust.CaProvider` trusting the self-issued root (last in the chain)."""
    return root_provider(bundle, name)
