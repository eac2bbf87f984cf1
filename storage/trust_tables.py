"""CA providers the platform trusts (CA 互认) and the revocation data cached for them."""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables import JSONValue, UtcDateTime, metadata

ca_providers = sa.Table(
    "ca_providers",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("config", JSONValue, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
"""One row per provider; ``config`` is ``signing.trust.CaProvider.to_dict()`` (PEM certificates,
CRL and OCSP URLs, where the provider puts identities)."""

crl_cache = sa.Table(
    "crl_cache",
    metadata,
    sa.Column("url", sa.String(1000), primary_key=True),
    sa.Column(
        "provider",
        sa.String(100),
        sa.ForeignKey("ca_providers.name", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("der", sa.LargeBinary(), nullable=False),
    sa.Column("fetched_at", UtcDateTime(), nullable=False),
    sa.Column("next_update", UtcDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
)
"""The last good copy of each CRL, so validation works while a CA's server is unreachable and
says so once ``next_update`` has passed."""

ocsp_cache = sa.Table(
    "ocsp_cache",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column(
        "provider",
        sa.String(100),
        sa.ForeignKey("ca_providers.name", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("certificate", sa.LargeBinary(), nullable=False),
    sa.Column("der", sa.LargeBinary(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("fetched_at", UtcDateTime(), nullable=False),
    sa.Column("next_update", UtcDateTime(), nullable=True),
)
"""The last OCSP response per certificate (SHA-256 fingerprint), with the certificate so the
refresh job can ask again."""
