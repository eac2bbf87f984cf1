"""Tables of organisations (主体库), people, memberships, certificates, sessions and nonces."""

from __future__ import annotations

import sqlalchemy as sa

from storage.tables import JSONValue, UtcDateTime, metadata

organisations = sa.Table(
    "organisations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("credit_code", sa.String(18), nullable=False, unique=True),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("region", sa.String(100), nullable=False, server_default=""),
    sa.Column("qualifications", JSONValue, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
)

people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=True),
    sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("locked_until", UtcDateTime(), nullable=True),
    sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column("person_id", sa.String(36), sa.ForeignKey("people.id"), primary_key=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), primary_key=True),
    sa.Column("role", sa.String(20), primary_key=True),
)

person_certificates = sa.Table(
    "person_certificates",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("person_id", sa.String(36), sa.ForeignKey("people.id"), nullable=False, index=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("serial", sa.String(80), nullable=False),
    sa.Column("not_after", UtcDateTime(), nullable=False),
    sa.Column("der", sa.LargeBinary(), nullable=False),
    sa.Column("bound_at", UtcDateTime(), nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("person_id", sa.String(36), sa.ForeignKey("people.id"), nullable=False),
    sa.Column("org_id", sa.String(36), sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    sa.Column("ip", sa.String(64), nullable=False, server_default=""),
    sa.Column("csrf_hash", sa.String(64), nullable=True),
)

auth_nonces = sa.Table(
    "auth_nonces",
    metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("used_at", UtcDateTime(), nullable=True),
)
