"""The object store in a directory on disk: the embedded default.

Layout under the root (keys are hashed into file names, so a key can never become a path that
climbs out of the root, and ``a`` and ``a/b`` can both exist as they can in S3)::

    meta/<h[:2]>/<h>.json         the sidecar: key, size, sha256, content type, created, retention
    blobs/<h[:2]>/<h>-<rand>      the bytes, read-only
    tmp/                          content while it streams in
    uploads/<upload_id>/          resumable upload sessions (unless an upload root is given)

where ``h`` is the SHA-256 of the key. The sidecar is the commit point: it is linked into place
with ``link(2)``, which fails if the name exists (O_EXCL semantics, so two writers racing for a key
cannot both win), and only after the bytes were fsynced and renamed to their final name. A write
that is interrupted at any step therefore leaves no visible object (at worst an orphan file in
``tmp/`` or ``blobs/``). Deleting removes the sidecar first for the same reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlencode

import anyio

from storage.objects.common import (
    CHUNK_SIZE,
    check_range,
    check_retain_until,
    clamp_range,
    object_from_json,
    object_to_json,
    validate_key,
)
from storage.objects.sessions import (
    SessionUploads,
    UploadSessions,
    fsync_dir,
    write_file_durably,
)
from storage.objects.spool import Spooled, disk_errors, known_content, settle, spool
from trading.errors import (
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectRetainedError,
    StorageUnavailableError,
    ValidationError,
)
from trading.ports import Clock, StoredObject, SystemClock


def sign_download(secret: bytes, key: str, expires: int) -> str:
    """Hex HMAC-SHA256 over the key and the expiry (a newline cannot occur in a valid key)."""
    return hmac.new(secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()


def verify_download_signature(
    secret: bytes, key: str, expires: int, signature: str, now: datetime
) -> bool:
    """True when ``signature`` was made by :func:`sign_download` for ``key`` and ``expires``, and
    ``now`` is before ``expires`` (Unix seconds). The comparison takes constant time."""
    expected = sign_download(secret, key, expires).encode()
    given = signature.strip().lower().encode("utf-8", "replace")
    authentic = hmac.compare_digest(expected, given)
    return authentic and now.timestamp() < expires


class FilesystemObjectStore(SessionUploads):
    """:class:`~trading.ports.ObjectStore` in a local directory."""

    def __init__(
        self,
        root: Path,
        *,
        public_url: str,
        signing_key: bytes,
        upload_root: Path | None = None,
        clock: Clock | None = None,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        self.root = root
        self.public_url = public_url.rstrip("/")
        self._signing_key = signing_key
        self._clock = clock or SystemClock()
        self._chunk_size = chunk_size
        self._sessions = UploadSessions(upload_root or root / "uploads")

    # --- paths --------------------------------------------------------------------------------

    def _meta_path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.root / "meta" / digest[:2] / f"{digest}.json"

    def _read_meta(self, key: str) -> StoredObject:
        try:
            text = self._meta_path(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None
        return object_from_json(json.loads(text))

    def _blob_path(self, key: str) -> Path:
        meta = self._meta_path(key)
        try:
            name = json.loads(meta.read_text(encoding="utf-8"))["blob"]
        except FileNotFoundError:
            raise ObjectNotFoundError(key) from None
        return self.root / "blobs" / meta.parent.name / str(name)

    # --- writing ------------------------------------------------------------------------------

    async def put(
        self,
        key: str,
        chunks: AsyncIterator[bytes],
        *,
        content_type: str = "application/octet-stream",
        retain_until: datetime | None = None,
    ) -> StoredObject:
        validate_key(key)
        check_retain_until(retain_until)
        if await self.exists(key):
            raise ObjectExistsError(key)
        tmp = self.root / "tmp" / f"{secrets.token_hex(12)}.part"
        try:
            spooled = await spool(chunks, tmp, chunk_size=self._chunk_size)
            info = self._new_object(key, spooled, content_type, retain_until)
            await anyio.to_thread.run_sync(disk_errors(self._commit), key, tmp, info)
        finally:
            # Shielded: a cancelled put must still remove its file if it was not committed.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: tmp.unlink(missing_ok=True))
        return info

    async def _adopt(
        self,
        key: str,
        path: Path,
        size: int,
        *,
        content_type: str,
        retain_until: datetime | None,
        sha256: str | None,
    ) -> StoredObject:

        def same_filesystem() -> bool:
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
            return path.stat().st_dev == (self.root / "tmp").stat().st_dev

        if not await anyio.to_thread.run_sync(disk_errors(same_filesystem)):
            return await self.put(  # upload sessions kept on another disk: copy once
                key,
                self._sessions.iter_content([path]),
                content_type=content_type,
                retain_until=retain_until,
            )
        hashed = await anyio.to_thread.run_sync(
            disk_errors(lambda: known_content(path, size, sha256, fsync=True))
        )
        info = self._new_object(key, hashed, content_type, retain_until)
        await anyio.to_thread.run_sync(disk_errors(self._commit), key, path, info)
        return info

    def _new_object(
        self, key: str, content: Spooled, content_type: str, retain_until: datetime | None
    ) -> StoredObject:
        return StoredObject(
            key=key,
            size=content.size,
            sha256=content.sha256,
            content_type=content_type,
            created_at=self._clock.now(),
            retain_until=retain_until,
        )

    def _commit(self, key: str, tmp: Path, info: StoredObject) -> None:
        meta = self._meta_path(key)
        blob_dir = self.root / "blobs" / meta.parent.name
        blob_name = f"{meta.stem}-{secrets.token_hex(6)}"
        blob_dir.mkdir(parents=True, exist_ok=True)
        meta.parent.mkdir(parents=True, exist_ok=True)
        tmp.chmod(0o444)  # the bytes never change again
        tmp.rename(blob_dir / blob_name)
        fsync_dir(blob_dir)
        record = object_to_json(info) | {"blob": blob_name}
        meta_tmp = meta.with_name(f".{meta.name}.{secrets.token_hex(6)}.tmp")
        write_file_durably(meta_tmp, json.dumps(record).encode())
        try:
            os.link(meta_tmp, meta)  # fails if another writer committed this key first
        except FileExistsError:
            (blob_dir / blob_name).unlink(missing_ok=True)
            raise ObjectExistsError(key) from None
        finally:
            meta_tmp.unlink(missing_ok=True)
        fsync_dir(meta.parent)

    # --- reading ------------------------------------------------------------------------------

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        validate_key(key)
        check_range(start, end)
        return self._read(key, start, end)

    async def _read(self, key: str, start: int, end: int | None) -> AsyncIterator[bytes]:
        def open_blob() -> tuple[BinaryIO, int]:
            try:
                handle = self._blob_path(key).open("rb")
            except FileNotFoundError:  # deleted between reading the sidecar and opening
                raise ObjectNotFoundError(key) from None
            return handle, os.fstat(handle.fileno()).st_size

        handle, size = await anyio.to_thread.run_sync(open_blob)
        ahead: asyncio.Future[bytes] | None = None

        def read_ahead(remaining: int) -> asyncio.Future[bytes] | None:
            # The next chunk is read from disk while the consumer handles this one.
            if remaining <= 0:
                return None
            return asyncio.ensure_future(
                asyncio.to_thread(handle.read, min(self._chunk_size, remaining))
            )

        try:
            first, stop = clamp_range(start, end, size)
            await anyio.to_thread.run_sync(handle.seek, first)
            remaining = stop - first
            ahead = read_ahead(remaining)
            while ahead is not None:
                chunk = await ahead
                ahead = None
                if not chunk:
                    break
                remaining -= len(chunk)
                ahead = read_ahead(remaining)
                yield chunk
        finally:
            if ahead is not None:
                await settle(ahead)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(handle.close)

    async def stat(self, key: str) -> StoredObject:
        validate_key(key)
        return await anyio.to_thread.run_sync(self._read_meta, key)

    async def exists(self, key: str) -> bool:
        validate_key(key)
        return await anyio.to_thread.run_sync(self._meta_path(key).is_file)

    async def delete(self, key: str) -> None:
        validate_key(key)

        def remove() -> None:
            info = self._read_meta(key)
            if info.retain_until is not None and self._clock.now() < info.retain_until:
                raise ObjectRetainedError(key)
            blob = self._blob_path(key)
            meta = self._meta_path(key)
            meta.unlink()  # the object is gone from here on
            fsync_dir(meta.parent)
            blob.unlink(missing_ok=True)

        await anyio.to_thread.run_sync(remove)

    # --- links and health ---------------------------------------------------------------------

    async def download_url(self, key: str, *, expires: timedelta) -> str:
        validate_key(key)
        if expires <= timedelta(0):
            raise ValidationError(
                "A download link must expire in the future.",
                "下载链接的有效期必须在将来。",
                field="expires",
            )
        await self.stat(key)
        expires_at = int((self._clock.now() + expires).timestamp())
        query = urlencode(
            {"expires": expires_at, "signature": sign_download(self._signing_key, key, expires_at)}
        )
        return f"{self.public_url}/objects/{quote(key, safe='/')}?{query}"

    async def ping(self) -> None:
        def probe() -> None:
            tmp_dir = self.root / "tmp"
            tmp_dir.mkdir(parents=True, exist_ok=True)
            probe_path = tmp_dir / f"ping-{secrets.token_hex(6)}"
            probe_path.write_bytes(b"")
            probe_path.unlink()

        try:
            await anyio.to_thread.run_sync(probe)
        except OSError as exc:
            raise StorageUnavailableError(f"{self.root}: {type(exc).__name__}: {exc}") from exc
