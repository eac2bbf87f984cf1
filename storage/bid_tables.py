"""Tables of bid uploads, bids, receipts and the lots' opening keys with their custodians.

These rows name bidders (their organisation), so no API lists them to anyone but the bidder
itself before the deadline; the evidence columns (address, client, machine fingerprint) are for
collusion screening after the opening and are never returned by any API before it.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables import JSONValue, UtcDateTime, metadata

bid_uploads = sa.Table(
    "bid_uploads",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("tender_id", sa.String(36), sa.ForeignKey("tenders.id"), nullable=False),
    sa.Column("lot_id", sa.String(36), nullable=False),
    sa.Column("lot_number", sa.Integer(), nullable=False),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("person_id", sa.String(36), nullable=False),
    sa.Column("object_key", sa.String(300), nullable=False, unique=True),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("bid_id", sa.String(36), nullable=True),
    sa.Column("evidence", JSONValue, nullable=False),
    sa.CheckConstraint("status in ('open', 'completed', 'aborted')", name="status"),
)
"""Resumable uploads of sealed envelopes; ``id`` is the object store's upload id."""

bids = sa.Table(
    "bids",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tender_id", sa.String(36), sa.ForeignKey("tenders.id"), nullable=False, index=True),
    sa.Column("lot_id", sa.String(36), nullable=False),
    sa.Column("lot_number", sa.Integer(), nullable=False),
    sa.Column(
        "org_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False, index=True
    ),
    sa.Column("submitted_by", sa.String(36), nullable=False),
    sa.Column("upload_id", sa.String(64), nullable=False, unique=True),
    sa.Column("object_key", sa.String(300), nullable=False),
    sa.Column("envelope_sha256", sa.String(64), nullable=False),
    sa.Column("envelope_size", sa.BigInteger(), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("amendment_no", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("replaces", sa.String(36), nullable=True),
    sa.Column("replaced_by", sa.String(36), nullable=True),
    sa.Column("withdrawn_at", UtcDateTime(), nullable=True),
    sa.Column("needs_reconfirmation", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("evidence", JSONValue, nullable=False),
    sa.CheckConstraint("status in ('submitted', 'replaced', 'withdrawn')", name="status"),
)
"""One row per submitted envelope; at most one ``submitted`` row per (tender, lot, org), kept by
the use case under the tender's row lock. ``evidence`` is private (see the module doc)."""

bid_receipts = sa.Table(
    "bid_receipts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column(
        "org_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False, index=True
    ),
    sa.Column("tender_id", sa.String(36), sa.ForeignKey("tenders.id"), nullable=False),
    sa.Column("lot_number", sa.Integer(), nullable=False),
    sa.Column("bid_id", sa.String(36), nullable=False),
    sa.Column("issued_at", UtcDateTime(), nullable=False),
    sa.Column("audit_seq", sa.BigInteger(), nullable=False),
    sa.Column("document", JSONValue, nullable=False),
)
"""Receipt files exactly as handed out (signed JSON, timestamp token, chains)."""

lot_opening_keys = sa.Table(
    "lot_opening_keys",
    metadata,
    sa.Column("tender_id", sa.String(36), sa.ForeignKey("tenders.id"), primary_key=True),
    sa.Column("lot_number", sa.Integer(), primary_key=True),
    sa.Column("lot_id", sa.String(36), nullable=False),
    sa.Column("certificate", sa.Text(), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("threshold", sa.Integer(), nullable=False),
    sa.Column("custody_lot", sa.String(200), nullable=False),
    sa.Column("manifest", JSONValue, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("created_by", sa.String(36), nullable=False),
    sa.Column("sealed_private_key", sa.LargeBinary(), nullable=True),
    sa.Column("reconstructed_at", UtcDateTime(), nullable=True),
)
"""A lot's opening public key; ``sealed_private_key`` (AES-GCM under a key derived from the
platform secret) exists only once k custodians released their shares after the opening time."""

lot_key_custodians = sa.Table(
    "lot_key_custodians",
    metadata,
    sa.Column("tender_id", sa.String(36), primary_key=True),
    sa.Column("lot_number", sa.Integer(), primary_key=True),
    sa.Column("custodian_index", sa.Integer(), primary_key=True),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("certificate_sha256", sa.String(64), nullable=False),
    sa.Column("certificate", sa.Text(), nullable=False),
    sa.Column("share", sa.LargeBinary(), nullable=False),
    sa.Column("released_share", sa.LargeBinary(), nullable=True),
    sa.Column("released_at", UtcDateTime(), nullable=True),
    sa.Column("released_by", sa.String(36), nullable=True),
    sa.ForeignKeyConstraint(
        ["tender_id", "lot_number"],
        ["lot_opening_keys.tender_id", "lot_opening_keys.lot_number"],
        name="fk_lot_key_custodians_lot",
    ),
)
"""Each custodian's sealed share (CMS, to the custodian's certificate) and, after release, the
decrypted share encrypted at rest with the platform secret."""
