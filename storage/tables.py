"""Database tables (SQLAlchemy Core), shared by every area on one ``MetaData``.

Areas that own tables define them in their own ``storage/*_tables.py`` module on :data:`metadata`;
Alembic's autogenerate and the test fixtures import them through :func:`all_tables`.
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on every backend.

    SQLite has no time zones; storing naive UTC and re-attaching UTC on the way out keeps the
    domain's rule "every instant is aware" true on the embedded default too.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC instant")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONValue = sa.JSON().with_variant(JSONB(), "postgresql")

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("payload", JSONValue, nullable=False),
    sa.Column("dedupe_key", sa.String(200), nullable=True, unique=True),
    sa.Column("state", sa.String(10), nullable=False, server_default="pending"),
    sa.Column("next_check", UtcDateTime(), nullable=False, index=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.CheckConstraint("state in ('pending', 'running', 'done', 'failed')", name="state"),
)
"""The job outbox: work written in the same transaction as the change that causes it.

A job becomes due at ``next_check``; the scheduler tick claims due jobs and runs or sends them,
so nothing is sent to the broker before the transaction that caused it has committed, and nothing
is lost if the process dies in between.
"""


def all_tables() -> sa.MetaData:
    """Import every ``storage.*_tables`` module so their tables are on :data:`metadata`."""
    import storage

    for module in pkgutil.iter_modules(storage.__path__):
        if module.name.endswith("_tables"):
            importlib.import_module(f"storage.{module.name}")
    return metadata
