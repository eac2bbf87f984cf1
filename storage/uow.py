"""The unit of work: one use case, one transaction, one commit.

Leaving the ``async with`` block without :meth:`SqlUnitOfWork.commit` rolls everything back.
Work that must happen after the commit (sending jobs, publishing live events) is registered with
:meth:`after_commit` and runs only once the commit has succeeded.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Self

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import DatabaseUnavailableError
from storage.jobs import SqlJobOutbox

if TYPE_CHECKING:
    from storage.audit_store import SqlAuditLog
    from storage.bid_repo import SqlBidRepository
    from storage.identity_repo import SqlIdentityRepository
    from storage.tender_repo import SqlTenderRepository
    from storage.trust_repo import SqlTrustRepository
from trading.errors import ConflictError
from trading.ports import Clock, SystemClock

AfterCommit = Callable[[], Awaitable[None]]
SendJobs = Callable[[list[int]], Awaitable[None]]


class StaleVersionError(ConflictError):
    """Someone else changed the row since it was read: re-read and retry (HTTP 409)."""

    code = "stale_version"

    def __init__(self, table: str, key: object) -> None:
        super().__init__(
            f"{table} {key} was changed by someone else; reload and try again.",
            f"{table} {key} 已被他人修改，请刷新后重试。",
            table=table,
            key=str(key),
        )


SQLITE_WRITER_WAIT_S = 30.0
"""How long a unit of work waits for the SQLite writer queue (SQLite's own busy timeout)."""

_sqlite_writers: weakref.WeakKeyDictionary[
    object, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
] = weakref.WeakKeyDictionary()


def _sqlite_writer_queue(engine: AsyncEngine) -> asyncio.Lock:
    """The queue of this process's SQLite writers on ``engine`` (one per event loop).

    SQLite has one writer at a time, and a connection that finds the database locked sleeps in
    SQLite's busy handler, up to 100 ms between tries: with twenty bids completing at once the
    database sat idle between writers for 40% of the time. Writers of this process wait here
    instead, in order, each woken the moment the previous one ends; writers in other processes
    (the CLI, a second server) still meet the busy handler.
    """
    per_loop = _sqlite_writers.setdefault(engine.sync_engine, weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    if loop not in per_loop:
        per_loop[loop] = asyncio.Lock()
    return per_loop[loop]


class SqlUnitOfWork:
    """A transaction on one connection, with repositories that share it."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock | None = None,
        send_jobs: SendJobs | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self._send_jobs = send_jobs
        self._conn: AsyncConnection | None = None
        self._jobs: SqlJobOutbox | None = None
        self._after_commit: list[AfterCommit] = []
        self._committed = False
        self._writer_queue: asyncio.Lock | None = None
        """The SQLite writer queue, while this unit of work holds it."""

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._conn

    @property
    def jobs(self) -> SqlJobOutbox:
        """The job outbox, writing in this transaction."""
        if self._jobs is None:
            self._jobs = SqlJobOutbox(self.connection, self.clock)
        return self._jobs

    @property
    def identity(self) -> SqlIdentityRepository:
        from storage.identity_repo import SqlIdentityRepository

        return SqlIdentityRepository(self.connection)

    @property
    def tenders(self) -> SqlTenderRepository:
        """Tenders, lots, documents, clarifications and questions."""
        from storage.tender_repo import SqlTenderRepository

        return SqlTenderRepository(self.connection, self.lock_row)

    @property
    def bids(self) -> SqlBidRepository:
        """Bid uploads, bids, receipts and the lots' opening keys."""
        from storage.bid_repo import SqlBidRepository

        return SqlBidRepository(self.connection)

    @property
    def trust(self) -> SqlTrustRepository:
        """CA providers and cached CRLs."""
        from storage.trust_repo import SqlTrustRepository

        return SqlTrustRepository(self.connection)

    @property
    def audit(self) -> SqlAuditLog:
        """The audit log, appending in this transaction (so an event exists iff its change does)."""
        from storage.audit_store import SqlAuditLog

        return SqlAuditLog(self.connection)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def __aenter__(self) -> Self:
        try:
            self._conn = await self.engine.connect()
            await self._conn.begin()
        except (OperationalError, DBAPIError, OSError, TimeoutError) as exc:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
            raise DatabaseUnavailableError(str(exc).splitlines()[0]) from exc
        self._after_commit = []
        self._committed = False
        self._jobs = None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self.connection
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            try:
                await conn.close()
            finally:
                self._conn = None
                if self._writer_queue is not None:
                    self._writer_queue.release()
                    self._writer_queue = None
        if self._committed and exc is None:
            callbacks, self._after_commit = self._after_commit, []
            due = self._jobs.added_due if self._jobs else []
            if due and self._send_jobs is not None:
                # Sent only now: the rows they point at are committed and visible to a worker.
                await self._send_jobs(list(due))
            for callback in callbacks:
                await callback()

    async def commit(self) -> None:
        try:
            await self.connection.commit()
        except IntegrityError as exc:
            raise ConflictError(
                "The change conflicts with stored data: " + str(exc.orig).splitlines()[0],
                "修改与已存数据冲突：" + str(exc.orig).splitlines()[0],
            ) from exc
        self._committed = True

    async def rollback(self) -> None:
        await self.connection.rollback()

    def after_commit(self, callback: AfterCommit) -> None:
        """Run ``callback`` after a successful commit, when the ``async with`` block ends."""
        self._after_commit.append(callback)

    async def lock_row(self, table: sa.Table, key_column: sa.Column[object], key: object) -> None:
        """Take the row lock of one aggregate row for the rest of the transaction.

        PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite has one writer at a time: a no-op update
        takes the database write lock now, so a concurrent writer waits here rather than after it
        has read stale state.
        """
        if self.is_postgres:
            await self.connection.execute(
                sa.select(key_column).where(key_column == key).with_for_update()
            )
        else:
            await self._queue_as_writer()
            await self.connection.execute(
                sa.update(table).where(key_column == key).values({key_column.name: key_column})
            )

    async def _queue_as_writer(self) -> None:
        """SQLite: wait for this process's earlier writers (see :func:`_sqlite_writer_queue`)
        before taking the database write lock; held until the unit of work ends."""
        if self.is_postgres or self._writer_queue is not None:
            return
        queue = _sqlite_writer_queue(self.engine)
        try:
            await asyncio.wait_for(queue.acquire(), SQLITE_WRITER_WAIT_S)
        except TimeoutError as exc:
            raise DatabaseUnavailableError(
                f"no turn to write within {SQLITE_WRITER_WAIT_S:.0f} s"
            ) from exc
        self._writer_queue = queue

    async def update_versioned(
        self,
        table: sa.Table,
        key_column: sa.Column[object],
        key: object,
        expected_version: int,
        values: dict[str, object],
    ) -> int:
        """Optimistic lock: update only if ``version`` is still ``expected_version``.

        Returns the new version; raises :class:`StaleVersionError` when the race was lost.
        """
        version = table.c.version
        result = await self.connection.execute(
            sa.update(table)
            .where(key_column == key, version == expected_version)
            .values({**values, "version": expected_version + 1})
        )
        if result.rowcount != 1:
            raise StaleVersionError(table.name, key)
        return expected_version + 1


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(
        exc, (OperationalError, DBAPIError, OSError, TimeoutError)
    ) and not isinstance(exc, IntegrityError)
