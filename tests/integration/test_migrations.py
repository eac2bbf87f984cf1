"""Migrations build exactly the tables the code declares, on both databases, and re-run safely."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import migrate
from storage.tables import all_tables


async def test_migrated_schema_matches_the_declared_tables(engine: AsyncEngine) -> None:
    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, all_tables()))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_upgrade_is_idempotent_and_at_head(database_url: str, engine: AsyncEngine) -> None:
    migrate.upgrade(database_url)  # already at head: a no-op
    assert await migrate.current_revision(engine) == migrate.head_revision()
