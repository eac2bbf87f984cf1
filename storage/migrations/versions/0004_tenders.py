"""Tenders, lots (标段/包), documents, clarifications and anonymous questions.

Revision ID: 0004_tenders
Revises: 0004_trust (chained after the trust store, which landed first on main)
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.tables import JSONValue, UtcDateTime

revision: str = "0004_tenders"
down_revision: str | None = "0004_trust"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("org_id", sa.String(length=36), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("code", sa.String(length=100), server_default="", nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("procedure", sa.String(length=20), nullable=False),
        sa.Column("region", sa.String(length=100), server_default="", nullable=False),
        sa.Column("evaluation_method", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("documents_from", UtcDateTime(), nullable=False),
        sa.Column("deadline", UtcDateTime(), nullable=False),
        sa.Column("opening_at", UtcDateTime(), nullable=False),
        sa.Column("decryption_mode", sa.String(length=40), nullable=False),
        sa.Column("custodian_threshold", sa.Integer(), server_default="0", nullable=False),
        sa.Column("custodian_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rule_pack", sa.String(length=60), nullable=True),
        sa.Column("published_at", UtcDateTime(), nullable=True),
        sa.Column("cancelled_at", UtcDateTime(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("amendment_no", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_amended_at", UtcDateTime(), nullable=True),
        sa.Column("next_check", UtcDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "status in ('draft', 'published', 'cancelled')", name=op.f("ck_tenders_status")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_tenders_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenders")),
    )
    op.create_index(op.f("ix_tenders_category"), "tenders", ["category"])
    op.create_index(op.f("ix_tenders_next_check"), "tenders", ["next_check"])
    op.create_index(op.f("ix_tenders_org_id"), "tenders", ["org_id"])
    op.create_index(op.f("ix_tenders_published_at"), "tenders", ["published_at"])
    op.create_index(op.f("ix_tenders_region"), "tenders", ["region"])
    op.create_index(op.f("ix_tenders_status"), "tenders", ["status"])

    op.create_table(
        "tender_clarifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tender_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("issued_by", sa.String(length=36), nullable=False),
        sa.Column("previous_deadline", UtcDateTime(), nullable=False),
        sa.Column("deadline", UtcDateTime(), nullable=False),
        sa.Column("document_ids", JSONValue, nullable=False),
        sa.Column("question_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["tender_id"], ["tenders.id"], name=op.f("fk_tender_clarifications_tender_id_tenders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tender_clarifications")),
        sa.UniqueConstraint("tender_id", "number", name=op.f("uq_tender_clarifications_tender_id")),
    )
    op.create_table(
        "tender_documents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tender_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", UtcDateTime(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=36), nullable=False),
        sa.Column("signature_status", sa.String(length=20), nullable=False),
        sa.Column("signature_problems", JSONValue, nullable=False),
        sa.Column("clarification_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["tender_id"], ["tenders.id"], name=op.f("fk_tender_documents_tender_id_tenders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tender_documents")),
        sa.UniqueConstraint("object_key", name=op.f("uq_tender_documents_object_key")),
    )
    op.create_index(op.f("ix_tender_documents_tender_id"), "tender_documents", ["tender_id"])

    op.create_table(
        "tender_lots",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tender_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("budget_fen", sa.BigInteger(), nullable=False),
        sa.Column("security_fen", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("security_forms", JSONValue, nullable=False),
        sa.Column("opening_schema", JSONValue, nullable=False),
        sa.CheckConstraint("budget_fen > 0", name=op.f("ck_tender_lots_budget_positive")),
        sa.CheckConstraint("security_fen >= 0", name=op.f("ck_tender_lots_security_not_negative")),
        sa.ForeignKeyConstraint(
            ["tender_id"], ["tenders.id"], name=op.f("fk_tender_lots_tender_id_tenders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tender_lots")),
        sa.UniqueConstraint("tender_id", "number", name=op.f("uq_tender_lots_tender_id")),
    )
    op.create_table(
        "tender_questions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tender_id", sa.String(length=36), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("asked_at", UtcDateTime(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", UtcDateTime(), nullable=True),
        sa.Column("clarification_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["tender_id"], ["tenders.id"], name=op.f("fk_tender_questions_tender_id_tenders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tender_questions")),
    )
    op.create_index(op.f("ix_tender_questions_tender_id"), "tender_questions", ["tender_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_tender_questions_tender_id"), table_name="tender_questions")

    op.drop_table("tender_questions")
    op.drop_table("tender_lots")
    op.drop_index(op.f("ix_tender_documents_tender_id"), table_name="tender_documents")

    op.drop_table("tender_documents")
    op.drop_table("tender_clarifications")
    op.drop_index(op.f("ix_tenders_status"), table_name="tenders")
    op.drop_index(op.f("ix_tenders_region"), table_name="tenders")
    op.drop_index(op.f("ix_tenders_published_at"), table_name="tenders")
    op.drop_index(op.f("ix_tenders_org_id"), table_name="tenders")
    op.drop_index(op.f("ix_tenders_next_check"), table_name="tenders")
    op.drop_index(op.f("ix_tenders_category"), table_name="tenders")

    op.drop_table("tenders")
