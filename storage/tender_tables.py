"""Tables of tenders, their lots (标段/包), documents, clarifications and anonymous questions.

No table here names a bidder: downloads and the askers of questions are sealed audit events,
and the question rows carry no asker at all.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables import JSONValue, UtcDateTime, metadata

tenders = sa.Table(
    "tenders",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "org_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False, index=True
    ),
    sa.Column("created_by", sa.String(36), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("code", sa.String(100), nullable=False, server_default=""),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("description", sa.Text(), nullable=False, server_default=""),
    sa.Column("category", sa.String(20), nullable=False, index=True),
    sa.Column("procedure", sa.String(20), nullable=False),
    sa.Column("region", sa.String(100), nullable=False, server_default="", index=True),
    sa.Column("evaluation_method", sa.String(30), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("documents_from", UtcDateTime(), nullable=False),
    sa.Column("deadline", UtcDateTime(), nullable=False),
    sa.Column("opening_at", UtcDateTime(), nullable=False),
    sa.Column("decryption_mode", sa.String(40), nullable=False),
    sa.Column("custodian_threshold", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("custodian_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("rule_pack", sa.String(60), nullable=True),
    sa.Column("published_at", UtcDateTime(), nullable=True, index=True),
    sa.Column("cancelled_at", UtcDateTime(), nullable=True),
    sa.Column("cancel_reason", sa.Text(), nullable=False, server_default=""),
    sa.Column("amendment_no", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("last_amended_at", UtcDateTime(), nullable=True),
    sa.Column("next_check", UtcDateTime(), nullable=True, index=True),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    sa.CheckConstraint("status in ('draft', 'published', 'cancelled')", name="status"),
)
"""One row per project (项目). ``rule_pack`` is ``id@version`` of the pack in force at
publication; ``next_check`` is when the scheduler tick next looks at the tender."""

tender_lots = sa.Table(
    "tender_lots",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tender_id", sa.String(36), sa.ForeignKey("tenders.id"), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("budget_fen", sa.BigInteger(), nullable=False),
    sa.Column("security_fen", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("security_forms", JSONValue, nullable=False),
    sa.Column("opening_schema", JSONValue, nullable=False),
    sa.UniqueConstraint("tender_id", "number"),
    sa.CheckConstraint("budget_fen > 0", name="budget_positive"),
    sa.CheckConstraint("security_fen >= 0", name="security_not_negative"),
)
"""Lots (标段/包); money in integer fen."""

tender_documents = sa.Table(
    "tender_documents",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tender_id", sa.String(36), sa.ForeignKey("tenders.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("filename", sa.String(200), nullable=False),
    sa.Column("object_key", sa.String(300), nullable=False, unique=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("uploaded_at", UtcDateTime(), nullable=False),
    sa.Column("uploaded_by", sa.String(36), nullable=False),
    sa.Column("signature_status", sa.String(20), nullable=False),
    sa.Column("signature_problems", JSONValue, nullable=False),
    sa.Column("clarification_id", sa.String(36), nullable=True),
)
"""Notices, tender documents and amendment files (PDFs in the object store, by key)."""

tender_clarifications = sa.Table(
    "tender_clarifications",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tender_id", sa.String(36), sa.ForeignKey("tenders.id"), nullable=False),
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("issued_at", UtcDateTime(), nullable=False),
    sa.Column("issued_by", sa.String(36), nullable=False),
    sa.Column("previous_deadline", UtcDateTime(), nullable=False),
    sa.Column("deadline", UtcDateTime(), nullable=False),
    sa.Column("document_ids", JSONValue, nullable=False),
    sa.Column("question_id", sa.String(36), nullable=True),
    sa.UniqueConstraint("tender_id", "number"),
)
"""Clarifications and amendments (澄清/修改), numbered per tender."""

tender_questions = sa.Table(
    "tender_questions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tender_id", sa.String(36), sa.ForeignKey("tenders.id"), nullable=False, index=True),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("asked_at", UtcDateTime(), nullable=False),
    sa.Column("answer", sa.Text(), nullable=True),
    sa.Column("answered_at", UtcDateTime(), nullable=True),
    sa.Column("clarification_id", sa.String(36), nullable=True),
)
"""Bidders' questions. Deliberately without an asker column: anonymity by construction."""
