"""Bids, uploads, receipts and lot opening keys

Revision ID: 0005_bids
Revises: 0004_tenders
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.tables import JSONValue, UtcDateTime

revision: str = "0005_bids"
down_revision: str | None = "0004_tenders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bid_receipts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("tender_id", sa.String(length=36), nullable=False),
        sa.Column("lot_number", sa.Integer(), nullable=False),
        sa.Column("bid_id", sa.String(length=36), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("document", JSONValue, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_bid_receipts_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["tender_id"], ["tenders.id"], name=op.f("fk_bid_receipts_tender_id_tenders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bid_receipts")),
    )
    with op.batch_alter_table("bid_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bid_receipts_org_id"), ["org_id"], unique=False)

    op.create_table(
        "bid_uploads",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tender_id", sa.String(length=36), nullable=False),
        sa.Column("lot_id", sa.String(length=36), nullable=False),
        sa.Column("lot_number", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("bid_id", sa.String(length=36), nullable=True),
        sa.Column("evidence", JSONValue, nullable=False),
        sa.CheckConstraint(
            "status in ('open', 'completed', 'aborted')", name=op.f("ck_bid_uploads_status")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_bid_uploads_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["tender_id"], ["tenders.id"], name=op.f("fk_bid_uploads_tender_id_tenders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bid_uploads")),
        sa.UniqueConstraint("object_key", name=op.f("uq_bid_uploads_object_key")),
    )
    op.create_table(
        "bids",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tender_id", sa.String(length=36), nullable=False),
        sa.Column("lot_id", sa.String(length=36), nullable=False),
        sa.Column("lot_number", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("submitted_by", sa.String(length=36), nullable=False),
        sa.Column("upload_id", sa.String(length=64), nullable=False),
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.Column("envelope_sha256", sa.String(length=64), nullable=False),
        sa.Column("envelope_size", sa.BigInteger(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("amendment_no", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("replaces", sa.String(length=36), nullable=True),
        sa.Column("replaced_by", sa.String(length=36), nullable=True),
        sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
        sa.Column("needs_reconfirmation", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("evidence", JSONValue, nullable=False),
        sa.CheckConstraint(
            "status in ('submitted', 'replaced', 'withdrawn')", name=op.f("ck_bids_status")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_bids_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["tender_id"], ["tenders.id"], name=op.f("fk_bids_tender_id_tenders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bids")),
        sa.UniqueConstraint("upload_id", name=op.f("uq_bids_upload_id")),
    )
    with op.batch_alter_table("bids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bids_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bids_tender_id"), ["tender_id"], unique=False)

    op.create_table(
        "lot_opening_keys",
        sa.Column("tender_id", sa.String(length=36), nullable=False),
        sa.Column("lot_number", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.String(length=36), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("custody_lot", sa.String(length=200), nullable=False),
        sa.Column("manifest", JSONValue, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=True),
        sa.Column("reconstructed_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tender_id"], ["tenders.id"], name=op.f("fk_lot_opening_keys_tender_id_tenders")
        ),
        sa.PrimaryKeyConstraint("tender_id", "lot_number", name=op.f("pk_lot_opening_keys")),
    )
    op.create_table(
        "lot_key_custodians",
        sa.Column("tender_id", sa.String(length=36), nullable=False),
        sa.Column("lot_number", sa.Integer(), nullable=False),
        sa.Column("custodian_index", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("certificate_sha256", sa.String(length=64), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("share", sa.LargeBinary(), nullable=False),
        sa.Column("released_share", sa.LargeBinary(), nullable=True),
        sa.Column("released_at", UtcDateTime(), nullable=True),
        sa.Column("released_by", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["tender_id", "lot_number"],
            ["lot_opening_keys.tender_id", "lot_opening_keys.lot_number"],
            name="fk_lot_key_custodians_lot",
        ),
        sa.PrimaryKeyConstraint(
            "tender_id", "lot_number", "custodian_index", name=op.f("pk_lot_key_custodians")
        ),
    )


def downgrade() -> None:
    op.drop_table("lot_key_custodians")
    op.drop_table("lot_opening_keys")
    with op.batch_alter_table("bids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bids_tender_id"))
        batch_op.drop_index(batch_op.f("ix_bids_org_id"))

    op.drop_table("bids")
    op.drop_table("bid_uploads")
    with op.batch_alter_table("bid_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bid_receipts_org_id"))

    op.drop_table("bid_receipts")
