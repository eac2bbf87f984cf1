"""CA providers, cached CRLs and OCSP responses.

Revision ID: 0004_trust
Revises: 0003_audit
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.tables import JSONValue, UtcDateTime

revision: str = "0004_trust"
down_revision: str | None = "0003_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ca_providers",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("config", JSONValue, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ca_providers")),
    )
    op.create_table(
        "crl_cache",
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("provider", sa.String(100), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("fetched_at", UtcDateTime(), nullable=False),
        sa.Column("next_update", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider"],
            ["ca_providers.name"],
            name=op.f("fk_crl_cache_provider_ca_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_crl_cache")),
    )
    op.create_index(op.f("ix_crl_cache_provider"), "crl_cache", ["provider"], unique=False)
    op.create_table(
        "ocsp_cache",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(100), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("fetched_at", UtcDateTime(), nullable=False),
        sa.Column("next_update", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider"],
            ["ca_providers.name"],
            name=op.f("fk_ocsp_cache_provider_ca_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_ocsp_cache")),
    )
    op.create_index(op.f("ix_ocsp_cache_provider"), "ocsp_cache", ["provider"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ocsp_cache_provider"), table_name="ocsp_cache")
    op.drop_table("ocsp_cache")
    op.drop_index(op.f("ix_crl_cache_provider"), table_name="crl_cache")
    op.drop_table("crl_cache")
    op.drop_table("ca_providers")
