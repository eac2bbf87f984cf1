"""The object store on an S3 API endpoint (MinIO in production) through the ``minio`` SDK.

Every SDK call blocks, so each runs in a worker thread (``anyio.to_thread``).

Writing. The content's SHA-256 is computed while it streams and stored as user metadata, which S3
fixes when a write starts. So:

- content that fits in one part (``part_size``) is read into memory, hashed, and sent with one
  PutObject carrying the hash (and the whole-object ``x-amz-checksum-sha256``, which the server
  verifies);
- larger content is streamed to a local spool file (under ``upload_root``) while it is hashed,
  then uploaded from that file as a multipart upload that carries the hash and retention from
  its start. The object appears when the upload completes, complete and with its metadata, or not
  at all; a failed upload is aborted by the SDK. The spool costs local disk (the object's size,
  for the duration of the put) but no server-side copy, and it lets the SDK send parts in
  parallel.

Write-once. A put first checks that the key is free. The SDK cannot send ``If-None-Match``, so two
writers racing for one key could both pass that check; in a bucket with object lock (which is
versioned) the loser then becomes a newer version and the retained one survives.

Retention. In a bucket with object lock the object gets COMPLIANCE retention until
``retain_until``; ``retain_until`` is also stored in metadata because not every S3 server (moto)
reads retention back, and deletes are refused by checking it against the clock.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import io
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import anyio
import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import MinioException, S3Error
from minio.helpers import check_bucket_name
from minio.retention import Retention

from storage.objects.common import (
    CHUNK_SIZE,
    check_range,
    check_retain_until,
    clamp_range,
    format_instant,
    parse_instant,
    validate_key,
)
from storage.objects.sessions import SessionUploads, UploadSessions
from storage.objects.spool import Spooled, disk_errors, known_content, settle, spool_after
from trading.errors import (
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectRetainedError,
    StorageUnavailableError,
    ValidationError,
)
from trading.ports import Clock, StoredObject, SystemClock

MiB = 1024 * 1024
PART_SIZE = 6 * MiB
"""Multipart part size: memory per upload is a few parts (the SDK sends up to 3 in parallel)."""
UPLOAD_MEMORY_BUDGET = 48 * MiB
"""Parts of all multipart uploads in flight at once; further uploads wait for a slot."""

MAX_LINK_LIFETIME = timedelta(days=7)
"""The longest a presigned URL may live (AWS Signature V4)."""

_NOT_FOUND = {"NoSuchKey", "NoSuchObject", "ResourceNotFound", "NoSuchVersion"}
_META_SHA256 = "sha256"
_META_CREATED = "created-at"
_META_RETAIN = "retain-until"
_T = TypeVar("_T")


def _unavailable(exc: BaseException) -> StorageUnavailableError:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return StorageUnavailableError(text[:300])


class S3ObjectStore(SessionUploads):
    """:class:`~trading.ports.ObjectStore` in one bucket of an S3 API endpoint."""

    def __init__(
        self,
        *,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        secure: bool = False,
        region: str | None = None,
        upload_root: Path | None = None,
        clock: Clock | None = None,
        part_size: int = PART_SIZE,
        parallel_uploads: int = 3,
    ) -> None:
        try:
            check_bucket_name(bucket)
        except ValueError:
            raise ValidationError(
                f"{bucket!r} is not a valid S3 bucket name.",
                f"{bucket!r} 不是合法的 S3 存储桶名称。",
                field="storage_url",
            ) from None
        self.bucket = bucket
        self._clock = clock or SystemClock()
        self._part_size = part_size
        self._parallel = parallel_uploads
        # Each multipart upload holds up to parallel + 1 parts in memory; many bids completing
        # at once would otherwise add that up without bound.
        self._upload_slots = threading.BoundedSemaphore(
            max(1, UPLOAD_MEMORY_BUDGET // ((parallel_uploads + 1) * part_size))
        )
        credentials: dict[str, Any] = {
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            "secure": secure,
            "region": region,
        }
        self._client = Minio(
            endpoint,
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=10, read=300),
                maxsize=16,
                retries=urllib3.Retry(
                    total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
                ),
            ),
            **credentials,
        )
        # The readiness probe must answer within seconds, so it has its own client: short
        # timeouts and no retries.
        self._probe_client = Minio(
            endpoint,
            http_client=urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=2, read=3), retries=False
            ),
            **credentials,
        )
        if upload_root is None:
            # The lead's wiring passes DATA_DIR/uploads for s3:// URLs; this fallback keeps other
            # schemes working but only survives restarts as long as the temp dir does.
            import tempfile

            upload_root = Path(tempfile.gettempdir()) / f"tenderhall-uploads-{bucket}"
        self._sessions = UploadSessions(upload_root)
        self._spool_dir = upload_root / "spool"
        self._object_lock: bool | None = None
        """Whether the bucket has object lock; None until the bucket was first checked."""

    # --- plumbing -----------------------------------------------------------------------------

    async def _run(self, func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run one blocking SDK call in a thread; report transport failures as unavailability."""
        try:
            return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))
        except S3Error:
            raise
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unavailable(exc) from exc

    def _ensure_bucket(self, client: Minio) -> bool:
        """Create the bucket (with object lock) if missing; say whether it has object lock."""
        if not client.bucket_exists(self.bucket):
            try:
                client.make_bucket(self.bucket, object_lock=True)
            except S3Error as exc:
                if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise
        try:
            config = client.get_object_lock_config(self.bucket)
        except S3Error:
            return False
        return config is not None

    async def _ready(self) -> None:
        # No lock around this: checking (or creating) the bucket twice is harmless, and a lock
        # would tie the store to one event loop.
        if self._object_lock is None:
            self._object_lock = await self._run(self._ensure_bucket, self._client)

    async def _stat(self, key: str) -> tuple[StoredObject, str | None]:
        await self._ready()
        try:
            obj = await self._run(self._client.stat_object, self.bucket, key)
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                raise ObjectNotFoundError(key) from None
            raise _unavailable(exc) from exc
        meta = obj.metadata or {}
        created = parse_instant(meta.get(f"x-amz-meta-{_META_CREATED}"))
        info = StoredObject(
            key=key,
            size=int(obj.size or 0),
            sha256=str(meta.get(f"x-amz-meta-{_META_SHA256}", "")),
            content_type=obj.content_type or "application/octet-stream",
            created_at=created or (obj.last_modified or datetime.now(UTC)).astimezone(UTC),
            retain_until=parse_instant(meta.get(f"x-amz-meta-{_META_RETAIN}")),
        )
        return info, obj.version_id

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
        created_at = self._clock.now()
        # Up to one part is kept in memory; if the stream ends within it, one PutObject suffices.
        head = bytearray()
        async for chunk in chunks:
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise ValidationError(
                    "Object content must be a stream of bytes.", "对象内容必须是字节流。"
                )
            head += chunk
            if len(head) > self._part_size:
                break
        hasher = hashlib.sha256()
        await anyio.to_thread.run_sync(hasher.update, head)
        if len(head) <= self._part_size:
            size, sha256 = len(head), hasher.hexdigest()
            metadata, retention = self._metadata(sha256, content_type, retain_until, created_at)
            # The whole-object checksum lets the server verify the bytes, and S3 requires one
            # on any write that carries object-lock retention.
            metadata["x-amz-sdk-checksum-algorithm"] = "SHA256"
            metadata["x-amz-checksum-sha256"] = base64.b64encode(hasher.digest()).decode()
            await self._upload(key, io.BytesIO(head), size, content_type, metadata, retention)
            return StoredObject(key, size, sha256, content_type, created_at, retain_until)
        spool_path = self._spool_dir / f"{secrets.token_hex(12)}.spool"
        try:
            spooled = await spool_after(hasher, head, chunks, spool_path)
            del head
            await self._upload_file(
                key, spool_path, spooled, content_type, retain_until, created_at
            )
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: spool_path.unlink(missing_ok=True))
        return StoredObject(
            key, spooled.size, spooled.sha256, content_type, created_at, retain_until
        )

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
        created_at = self._clock.now()
        hashed = await anyio.to_thread.run_sync(disk_errors(known_content), path, size, sha256)
        await self._upload_file(key, path, hashed, content_type, retain_until, created_at)
        return StoredObject(key, hashed.size, hashed.sha256, content_type, created_at, retain_until)

    async def _upload_file(
        self,
        key: str,
        path: Path,
        content: Spooled,
        content_type: str,
        retain_until: datetime | None,
        created_at: datetime,
    ) -> None:
        metadata, retention = self._metadata(content.sha256, content_type, retain_until, created_at)
        handle = await anyio.to_thread.run_sync(path.open, "rb")
        try:
            await self._upload(key, handle, content.size, content_type, metadata, retention)
        finally:
            handle.close()

    async def _upload(
        self,
        key: str,
        data: BinaryIO,
        size: int,
        content_type: str,
        metadata: dict[str, Any],
        retention: Retention | None,
    ) -> None:
        # S3 allows 10,000 parts: very large objects need larger parts than the configured ones.
        part_size = max(self._part_size, -(-size // 10_000 // MiB) * MiB)
        try:
            await self._run(
                self._bounded_put_object,
                self.bucket,
                key,
                data,
                size,
                content_type=content_type,
                metadata=metadata,
                retention=retention,
                part_size=part_size,
                num_parallel_uploads=self._parallel,
            )
        except S3Error as exc:
            raise _unavailable(exc) from exc

    def _bounded_put_object(self, *args: Any, **kwargs: Any) -> None:
        """``put_object`` within the memory budget for uploads (blocking: runs in a thread)."""
        with self._upload_slots:
            self._client.put_object(*args, **kwargs)

    def _metadata(
        self, sha256: str, content_type: str, retain_until: datetime | None, now: datetime
    ) -> tuple[dict[str, Any], Retention | None]:
        metadata: dict[str, Any] = {
            "Content-Type": content_type,
            _META_SHA256: sha256,
            _META_CREATED: format_instant(now),
        }
        retention = None
        if retain_until is not None:
            metadata[_META_RETAIN] = format_instant(retain_until)
            # S3 refuses a retention date in the past (by its own clock); such an object is
            # already free to delete, so it needs no lock.
            if self._object_lock and retain_until > datetime.now(UTC):
                retention = Retention(COMPLIANCE, retain_until.astimezone(UTC))
        return metadata, retention

    # --- reading ------------------------------------------------------------------------------

    def get(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        validate_key(key)
        check_range(start, end)
        return self._read(key, start, end)

    async def _read(self, key: str, start: int, end: int | None) -> AsyncIterator[bytes]:
        info, version_id = await self._stat(key)
        first, stop = clamp_range(start, end, info.size)
        if stop == first:
            return  # the SDK reads length 0 as "to the end"
        try:
            response = await self._run(
                self._client.get_object,
                self.bucket,
                key,
                offset=first,
                length=stop - first,
                version_id=version_id,
            )
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                raise ObjectNotFoundError(key) from None
            raise _unavailable(exc) from exc
        ahead: asyncio.Future[bytes] | None = None

        def read_ahead() -> asyncio.Future[bytes]:
            # The next chunk comes off the network while the consumer handles this one.
            return asyncio.ensure_future(self._run(response.read, CHUNK_SIZE))

        try:
            ahead = read_ahead()
            while chunk := await ahead:
                ahead = read_ahead()
                yield chunk
            ahead = None
        finally:
            if ahead is not None:
                await settle(ahead)
            response.close()
            response.release_conn()

    async def stat(self, key: str) -> StoredObject:
        validate_key(key)
        info, _ = await self._stat(key)
        return info

    async def exists(self, key: str) -> bool:
        try:
            await self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    async def delete(self, key: str) -> None:
        validate_key(key)
        info, version_id = await self._stat(key)
        if info.retain_until is not None and self._clock.now() < info.retain_until:
            raise ObjectRetainedError(key)
        try:
            # The exact version: a plain delete in a versioned bucket only adds a delete marker.
            await self._run(self._client.remove_object, self.bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code == "AccessDenied":  # the server's object lock still holds it
                raise ObjectRetainedError(key) from None
            raise _unavailable(exc) from exc

    # --- links and health ---------------------------------------------------------------------

    async def download_url(self, key: str, *, expires: timedelta) -> str:
        validate_key(key)
        if not timedelta(seconds=1) <= expires <= MAX_LINK_LIFETIME:
            raise ValidationError(
                "A download link must live between one second and seven days.",
                "下载链接的有效期必须在 1 秒到 7 天之间。",
                field="expires",
            )
        await self._stat(key)
        # Presigned against the real time: the S3 server checks expiry by its own clock.
        url: str = await self._run(
            self._client.presigned_get_object, self.bucket, key, expires=expires
        )
        return url

    async def ping(self) -> None:
        try:
            has_lock = await self._run(self._ensure_bucket, self._probe_client)
        except S3Error as exc:
            raise _unavailable(exc) from exc
        if self._object_lock is None:
            self._object_lock = has_lock
