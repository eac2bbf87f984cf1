"""Ports: the small interfaces the domain's use cases are written against.

``storage`` and ``signing`` implement them; ``webapp`` builds the real implementations from settings
and hands them in; tests hand in fakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Where "now" comes from. Every rule that depends on the time takes it from a clock."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock that stands still until moved; for tests and replays."""

    instant: datetime

    def now(self) -> datetime:
        return self.instant

    def advance(self, delta: timedelta) -> None:
        self.instant = self.instant + delta


# --- object storage -------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredObject:
    """What the platform knows about one stored object."""

    key: str
    size: int
    """Bytes."""
    sha256: str
    """Lower-case hex SHA-256 of the whole content, computed while it streamed in."""
    content_type: str
    created_at: datetime
    retain_until: datetime | None
    """Write-once retention: until then the object can be neither overwritten nor deleted."""


@dataclass(frozen=True)
class UploadPart:
    """One committed chunk of a resumable upload."""

    number: int
    """1-based part number."""
    size: int
    sha256: str


BytesLike = bytes | bytearray | memoryview
"""Content handed to a store without copying it first."""


@dataclass(frozen=True)
class UploadSession:
    """A resumable upload in progress. Nothing is visible under ``key`` until it completes."""

    upload_id: str
    key: str
    content_type: str
    retain_until: datetime | None
    parts: tuple[UploadPart, ...]
    part_size: int | None = None
    """Exact size of every part but the last, if the session was opened with one."""


class ObjectStore(Protocol):
    """Large objects: tender documents, sealed bids, generated PDFs.

    Keys are opaque paths (``a/b/c``) that carry no bidder names. Every object is write-once:
    putting to an existing key raises :class:`~trading.errors.ObjectExistsError`. Content streams in
    both directions and memory stays bounded whatever the size. An interrupted write leaves no
    visible object.
    """

    async def put(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str = "application/octet-stream",
        retain_until: datetime | None = None,
    ) -> StoredObject:
        """Store the streamed content under ``key`` and return its metadata (size, SHA-256)."""
        ...

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream the bytes ``[start, end)`` of the object (the whole object by default).

        Raises :class:`~trading.errors.ObjectNotFoundError` on first iteration if absent.
        """
        ...

    async def stat(self, key: str) -> StoredObject:
        """Metadata of a stored object, or :class:`~trading.errors.ObjectNotFoundError`."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Delete an object whose retention has passed; refuse one under retention."""
        ...

    async def begin_upload(
        self,
        key: str,
        *,
        content_type: str = "application/octet-stream",
        retain_until: datetime | None = None,
        part_size: int | None = None,
    ) -> UploadSession:
        """Open a resumable upload for ``key`` (which must not exist yet).

        With ``part_size``, every part but the last must have exactly that many bytes (checked
        on completion; a larger part is refused at once), and the store may keep the parts in
        place so that completing does not copy them again.
        """
        ...

    async def upload_part(
        self, upload_id: str, number: int, data: BytesLike, *, sha256: str | None = None
    ) -> UploadPart:
        """Store one chunk. If ``sha256`` is given and does not match ``data``, refuse the chunk.

        ``data`` may be a ``bytearray`` or a ``memoryview`` of one, so that a web handler can pass
        the (reused) buffer it received the chunk into, without a copy; the store keeps no
        reference to it after returning.

        Re-sending a part number replaces that part (so a client may retry a chunk).
        """
        ...

    async def upload_status(self, upload_id: str) -> UploadSession:
        """The session with the parts committed so far, so a client can resume."""
        ...

    async def complete_upload(self, upload_id: str) -> StoredObject:
        """Join the parts (in number order, which must be 1..n without gaps) into the object."""
        ...

    async def abort_upload(self, upload_id: str) -> None: ...

    async def download_url(self, key: str, *, expires: timedelta) -> str:
        """A URL that lets its holder read the object until it expires."""
        ...

    async def ping(self) -> None:
        """Raise :class:`~trading.errors.StorageUnavailableError` if the store cannot be reached."""
        ...


# --- jobs -----------------------------------------------------------------------------------


class JobOutbox(Protocol):
    """Work to do after the current transaction commits (or later, at ``at``).

    Jobs are rows written in the same transaction as the change that causes them, so a job exists
    exactly when its cause was committed. Job handlers must be idempotent: a job can run twice if a
    worker dies after doing the work but before recording it.
    """

    async def add(
        self,
        name: str,
        payload: dict[str, object],
        *,
        at: datetime,
        dedupe_key: str | None = None,
    ) -> int:
        """Record a job due at ``at``.

        With ``dedupe_key``, a second add of the same key is a no-op.
        """
        ...


# --- audit log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRecord:
    """One event for the audit log (全程留痕), written in the same transaction as the change."""

    action: str
    """Past-tense dotted name: ``org.registered``, ``auth.login_failed``, ``bid.submitted``."""
    object_type: str
    object_id: str
    actor_id: str | None
    organisation_id: str | None
    role: str | None
    ip: str
    before: dict[str, object] | None = None
    after: dict[str, object] | None = None
    tender_id: str | None = None
    """The tender the event belongs to, if any (the log is searched by it)."""
    sealed_until: datetime | None = None
    """For events about sealed things: content hidden from all but the actor until then."""


class AuditLog(Protocol):
    async def append(self, record: AuditRecord, *, at: datetime) -> int:
        """Append in the current transaction; returns the event's sequence number."""
        ...
