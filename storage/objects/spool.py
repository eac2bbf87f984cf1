"""Streaming content into a local file while hashing it, with bounded memory.

Both backends use it: the filesystem store writes the object's bytes this way before linking them
into place, and the S3 store spools large objects to local disk so that their SHA-256 is known
before the upload starts (S3 fixes user metadata when a write begins).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ParamSpec, TypeVar

import anyio

from storage.objects.common import CHUNK_SIZE, rechunk
from trading.errors import StorageUnavailableError

_P = ParamSpec("_P")
_T = TypeVar("_T")


def disk_errors(func: Callable[_P, _T]) -> Callable[_P, _T]:
    """Report a failing disk (full, read-only, gone) as the store being unavailable."""

    def run(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return func(*args, **kwargs)
        except (FileNotFoundError, FileExistsError):
            raise
        except OSError as exc:
            raise StorageUnavailableError(f"{type(exc).__name__}: {exc}") from exc

    return run


async def settle(task: asyncio.Future[Any]) -> None:
    """Wait until ``task`` has finished (its thread no longer touches the file); drop its result."""
    with anyio.CancelScope(shield=True):
        await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it; the caller's error wins


@dataclass(frozen=True)
class Spooled:
    size: int
    sha256: str


async def spool(
    chunks: AsyncIterator[bytes],
    path: Path,
    *,
    chunk_size: int = CHUNK_SIZE,
    fsync: bool = True,
) -> Spooled:
    """Write ``chunks`` to the new file ``path`` (which must not exist), hashing them.

    The file is removed if anything fails, the caller's stream included. Memory: about three
    chunks whatever the size.
    """
    return await _spool(chunks, path, hashlib.sha256(), b"", chunk_size, fsync)


async def _spool(
    chunks: AsyncIterator[bytes],
    path: Path,
    hasher: Any,
    head: bytes | bytearray,
    chunk_size: int,
    fsync: bool,
) -> Spooled:
    def open_new() -> BinaryIO:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        return os.fdopen(fd, "wb", buffering=0)

    handle = await anyio.to_thread.run_sync(disk_errors(open_new))

    def write(piece: bytes | bytearray) -> None:
        view = memoryview(piece)
        while view:
            written = handle.write(view)
            assert written is not None
            view = view[written:]

    async def absorb(piece: bytes) -> None:
        # Hashing and writing both release the GIL, so they run side by side in two threads.
        await asyncio.gather(
            asyncio.to_thread(hasher.update, piece), asyncio.to_thread(disk_errors(write), piece)
        )

    size = len(head)
    pending: asyncio.Future[None] | None = None
    ok = False
    try:
        if head:
            await anyio.to_thread.run_sync(disk_errors(write), head)
        async for piece in rechunk(chunks, chunk_size):
            if pending is not None:
                await pending
            # Absorb this piece while the caller's stream produces the next one; the hash still
            # sees the pieces in order because only one absorb runs at a time.
            pending = asyncio.ensure_future(absorb(piece))
            size += len(piece)
        if pending is not None:
            await pending
        if fsync:
            await anyio.to_thread.run_sync(disk_errors(os.fsync), handle.fileno())
        ok = True
    finally:
        if pending is not None:
            await settle(pending)
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(handle.close)
            if not ok:  # a failed or cancelled spool leaves nothing behind
                await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))
    return Spooled(size, hasher.hexdigest())


HASH_READ_SIZE = 1024 * 1024


def hash_file(path: Path, *, fsync: bool = False) -> Spooled:
    """Size and SHA-256 of a local file, read in large pieces (blocking: run it in a thread).

    With ``fsync`` the file is also made durable, for content that goes on as it is.
    """
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb", buffering=0) as handle:
        buffer = bytearray(HASH_READ_SIZE)
        with memoryview(buffer) as view:
            while count := handle.readinto(buffer):
                hasher.update(view[:count])
                size += count
        if fsync:
            os.fsync(handle.fileno())
    return Spooled(size, hasher.hexdigest())


def known_content(path: Path, size: int, sha256: str | None, *, fsync: bool = False) -> Spooled:
    """Size and SHA-256 of a local file that should hold ``size`` bytes (blocking).

    ``sha256`` is the caller's digest of the content, if it has one; otherwise the file is read
    and hashed. A file of another size is an error of the disk under us.
    """
    if sha256 is None:
        content = hash_file(path, fsync=fsync)
    else:
        with path.open("rb") as handle:
            if fsync:
                os.fsync(handle.fileno())
            content = Spooled(os.fstat(handle.fileno()).st_size, sha256)
    if content.size != size:
        raise StorageUnavailableError(f"{path}: {content.size} bytes, expected {size}")
    return content


async def spool_after(
    hasher: Any,
    head: bytes | bytearray,
    chunks: AsyncIterator[bytes],
    path: Path,
    *,
    chunk_size: int = CHUNK_SIZE,
    fsync: bool = False,
) -> Spooled:
    """Like :func:`spool`, continuing a stream whose first ``head`` bytes ``hasher`` has seen."""
    return await _spool(chunks, path, hasher, head, chunk_size, fsync)
