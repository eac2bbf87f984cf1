"""Tables of the verifiable audit log (全程留痕).

``audit_events``, ``audit_nodes`` and ``audit_tree_heads`` are append-only: on PostgreSQL a
trigger (created by the migration) refuses UPDATE, DELETE and TRUNCATE, on SQLite a trigger
refuses UPDATE and DELETE. ``audit_log_state`` is the one row the sequencer locks and moves on.
"""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables import UtcDateTime, metadata

audit_log_state = sa.Table(
    "audit_log_state",
    metadata,
    sa.Column("id", sa.SmallInteger(), primary_key=True, autoincrement=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("frontier", sa.LargeBinary(), nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)
"""The sequencer: the tree size and the roots of its perfect subtrees (32 bytes each, largest
first), so an append touches one row instead of reading the tree."""

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    sa.Column("leaf", sa.LargeBinary(), nullable=False),
    sa.Column("sealed_until", UtcDateTime(), nullable=True),
    sa.Column("content", sa.LargeBinary(), nullable=True),
    sa.Column("salt", sa.LargeBinary(32), nullable=True),
    sa.Column("actor_id", sa.String(36), nullable=True, index=True),
    sa.Column("action", sa.String(100), nullable=True),
    sa.Column("object_type", sa.String(50), nullable=True),
    sa.Column("object_id", sa.String(100), nullable=True),
    sa.Column("organisation_id", sa.String(36), nullable=True, index=True),
    sa.Column("tender_id", sa.String(36), nullable=True, index=True),
    sa.Index("ix_audit_events_object", "object_type", "object_id"),
)
"""One row per event, ``seq`` gapless from 0 and equal to the leaf index.

``leaf`` holds the exact bytes the leaf hashes: an open event's canonical JSON, or a sealed
event's commitment. A sealed event's canonical content and salt are withheld in ``content`` and
``salt`` until ``sealed_until``. ``action``, ``object_type``, ``object_id``, ``organisation_id``
and ``tender_id`` are search columns filled for open events only, so that no index names a
sealed thing; ``actor_id`` is filled for every event so an actor can find their own sealed events.
"""

audit_nodes = sa.Table(
    "audit_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger(), primary_key=True, autoincrement=False),
    sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)
"""Perfect subtrees of 2**level leaves (level >= 1; level 0 is ``audit_events.leaf_hash``),
written when they complete, so any proof needs O(log n) rows."""

audit_tree_heads = sa.Table(
    "audit_tree_heads",
    metadata,
    sa.Column("size", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("issued_at", UtcDateTime(), nullable=False),
    sa.Column("signed", sa.LargeBinary(), nullable=False),
    sa.Column("signature", sa.LargeBinary(), nullable=False),
    sa.Column("timestamp_token", sa.LargeBinary(), nullable=True),
)
"""Signed tree heads: ``signed`` is the canonical JSON that ``signature`` covers."""
