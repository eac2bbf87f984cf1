"""The ObjectStore contract, run against the filesystem store and an S3 endpoint alike."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from storage.objects import open_object_store
from storage.objects.fs import FilesystemObjectStore, verify_download_signature
from storage.objects.s3 import S3ObjectStore
from tests.objects.conftest import (
    PUBLIC_URL,
    S3_PART_SIZE,
    SIGNING_KEY,
    StoreFactory,
    free_port,
)
from trading.errors import (
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectRetainedError,
    StorageUnavailableError,
    UploadError,
    ValidationError,
)
from trading.ports import FixedClock, ObjectStore

MiB = 1024 * 1024


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes that differ at every offset (so a misplaced range shows)."""
    block = hashlib.sha256(seed.to_bytes(4, "big")).digest() * 2048  # 64 KiB
    repeat = size // len(block) + 1
    return (block * repeat)[:size] if size else b""


async def stream(data: bytes, piece: int = 256 * 1024) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), piece):
        yield data[offset : offset + piece]


async def read_all(store: ObjectStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.get(key, start=start, end=end)])


SIZES = [0, 1, MiB - 1, MiB + 1, 3 * MiB + 17, 2 * S3_PART_SIZE + 12345]


@pytest.mark.parametrize("size", SIZES)
async def test_round_trip_keeps_bytes_and_records_sha256(
    store: ObjectStore, clock: FixedClock, size: int
) -> None:
    data = pattern(size)
    info = await store.put("tenders/t1/doc.pdf", stream(data), content_type="application/pdf")
    assert (info.key, info.size, info.sha256) == (
        "tenders/t1/doc.pdf",
        size,
        hashlib.sha256(data).hexdigest(),
    )
    assert await read_all(store, "tenders/t1/doc.pdf") == data
    assert await store.stat("tenders/t1/doc.pdf") == info
    assert info.content_type == "application/pdf"
    assert info.created_at == clock.now()
    assert info.retain_until is None
    assert await store.exists("tenders/t1/doc.pdf")
    assert not await store.exists("tenders/t1/other.pdf")


async def test_ranges_stream_the_requested_bytes(store: ObjectStore) -> None:
    data = pattern(3 * MiB + 5)
    await store.put("r/obj", stream(data))
    cases = [(0, None), (0, 1), (5, 6), (MiB - 3, MiB + 3), (2 * MiB, None), (100, 10 * MiB)]
    for start, end in cases:
        assert await read_all(store, "r/obj", start, end) == data[start:end], (start, end)
    assert await read_all(store, "r/obj", 7, 7) == b""
    assert await read_all(store, "r/obj", len(data) + 10) == b""
    with pytest.raises(ValidationError):
        await read_all(store, "r/obj", -1)
    with pytest.raises(ValidationError):
        await read_all(store, "r/obj", 10, 5)


async def test_an_object_is_never_overwritten(store: ObjectStore) -> None:
    await store.put("k", stream(b"first"))
    with pytest.raises(ObjectExistsError):
        await store.put("k", stream(b"second"))
    with pytest.raises(ObjectExistsError):
        await store.begin_upload("k")
    assert await read_all(store, "k") == b"first"


async def test_missing_objects_are_reported(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        await store.stat("no/such")
    chunks = store.get("no/such")
    with pytest.raises(ObjectNotFoundError):
        await chunks.__anext__()
    with pytest.raises(ObjectNotFoundError):
        await store.delete("no/such")
    with pytest.raises(ObjectNotFoundError):
        await store.download_url("no/such", expires=timedelta(minutes=5))


async def test_retained_object_cannot_be_deleted_until_retention_passes(
    store: ObjectStore, clock: FixedClock
) -> None:
    # A retention that has passed by the S3 server's clock too, but not by the store's clock, so
    # the store's own rule is what refuses (and, later, allows) the delete on every backend.
    clock.advance(timedelta(days=-30))
    until = clock.now() + timedelta(days=10)
    info = await store.put("sealed/bid", stream(b"sealed"), retain_until=until)
    assert info.retain_until == until
    assert (await store.stat("sealed/bid")).retain_until == until
    with pytest.raises(ObjectRetainedError):
        await store.delete("sealed/bid")
    assert await store.exists("sealed/bid")
    clock.advance(timedelta(days=11))
    await store.delete("sealed/bid")
    assert not await store.exists("sealed/bid")
    # The key is free again: write-once forbids overwriting, not reusing a deleted key.
    await store.put("sealed/bid", stream(b"again"))
    assert await read_all(store, "sealed/bid") == b"again"


async def test_retention_in_the_future_holds(store: ObjectStore, clock: FixedClock) -> None:
    # Minutes, not days: on a real MinIO the lock is real and outlives the test.
    until = clock.now() + timedelta(minutes=5)
    await store.put("locked", stream(b"x" * 10), retain_until=until)
    with pytest.raises(ObjectRetainedError):
        await store.delete("locked")
    assert await read_all(store, "locked") == b"x" * 10


async def test_unretained_object_can_be_deleted(store: ObjectStore) -> None:
    await store.put("tmp/x", stream(b"data"))
    await store.delete("tmp/x")
    assert not await store.exists("tmp/x")
    with pytest.raises(ObjectNotFoundError):
        await store.stat("tmp/x")


async def test_resumable_upload(store: ObjectStore, make_store: StoreFactory) -> None:
    part1, part2, part3 = pattern(S3_PART_SIZE, 1), pattern(S3_PART_SIZE, 2), pattern(999, 3)
    session = await store.begin_upload("bids/b1", content_type="application/cms")
    assert session.parts == ()
    await store.upload_part(session.upload_id, 2, b"wrong bytes")
    await store.upload_part(session.upload_id, 1, part1)
    # A fresh store over the same storage (a restarted process) sees the session and resumes.
    store = make_store()
    status = await store.upload_status(session.upload_id)
    assert (status.key, status.content_type, status.part_size) == (
        "bids/b1",
        "application/cms",
        None,
    )
    assert [(p.number, p.size) for p in status.parts] == [(1, len(part1)), (2, 11)]
    # Re-sending a part replaces it.
    replaced = await store.upload_part(
        session.upload_id, 2, part2, sha256=hashlib.sha256(part2).hexdigest()
    )
    assert replaced.sha256 == hashlib.sha256(part2).hexdigest()
    with pytest.raises(UploadError):
        await store.upload_part(session.upload_id, 3, part3, sha256="00" * 32)
    with pytest.raises(UploadError):
        await store.upload_part(session.upload_id, 0, part3)
    status = await store.upload_status(session.upload_id)
    assert [(p.number, p.size) for p in status.parts] == [(1, len(part1)), (2, len(part2))]
    assert not await store.exists("bids/b1")  # nothing visible before completion
    await store.upload_part(session.upload_id, 3, part3)
    info = await store.complete_upload(session.upload_id)
    whole = part1 + part2 + part3
    assert (info.size, info.sha256) == (len(whole), hashlib.sha256(whole).hexdigest())
    assert info.content_type == "application/cms"
    assert await read_all(store, "bids/b1") == whole
    with pytest.raises(UploadError):
        await store.upload_status(session.upload_id)


async def test_upload_with_a_gap_or_no_parts_is_refused(store: ObjectStore) -> None:
    session = await store.begin_upload("gappy")
    with pytest.raises(UploadError):
        await store.complete_upload(session.upload_id)
    await store.upload_part(session.upload_id, 1, b"a")
    await store.upload_part(session.upload_id, 3, b"c")
    with pytest.raises(UploadError) as caught:
        await store.complete_upload(session.upload_id)
    assert caught.value.details["missing"] == [2]
    assert not await store.exists("gappy")
    await store.upload_part(session.upload_id, 2, b"b")
    await store.complete_upload(session.upload_id)
    assert await read_all(store, "gappy") == b"abc"


async def test_fixed_size_parts_are_kept_in_place_and_checked_on_completion(
    store: ObjectStore, make_store: StoreFactory
) -> None:
    size = 4096
    part1, part2, part3 = pattern(size, 1), pattern(size, 2), pattern(100, 3)
    session = await store.begin_upload("bids/in-place", part_size=size)
    await store.upload_part(session.upload_id, 3, pattern(size, 9))  # a full last part, for now
    await store.upload_part(session.upload_id, 2, part2[:-1])  # one byte short
    with pytest.raises(UploadError) as too_big:
        await store.upload_part(session.upload_id, 1, part1 + b"!")
    assert too_big.value.details["part_size"] == size
    await store.upload_part(session.upload_id, 1, part1)
    with pytest.raises(UploadError) as short:
        await store.complete_upload(session.upload_id)
    assert short.value.details["short"] == [2]
    assert not await store.exists("bids/in-place")
    store = make_store()  # a restarted process resumes the session, with its part size
    assert (await store.upload_status(session.upload_id)).part_size == size
    await store.upload_part(session.upload_id, 2, part2)  # replaced in place
    await store.upload_part(session.upload_id, 3, part3)  # shorter than the part it replaces
    info = await store.complete_upload(session.upload_id)
    whole = part1 + part2 + part3
    assert (info.size, info.sha256) == (len(whole), hashlib.sha256(whole).hexdigest())
    assert await read_all(store, "bids/in-place") == whole
    with pytest.raises(UploadError):  # the session is gone: a late part has nowhere to go
        await store.upload_part(session.upload_id, 3, part3)
    assert await read_all(store, "bids/in-place") == whole


async def test_in_order_parts_and_a_part_replaced_by_another_process(
    store: ObjectStore, make_store: StoreFactory
) -> None:
    size = 4096
    parts = [pattern(size, 1), pattern(size, 2), pattern(10, 3)]
    session = await store.begin_upload("bids/in-order", part_size=size)
    for number, data in enumerate(parts, start=1):
        await store.upload_part(session.upload_id, number, data)
    # Another process replaces part 2: the first one's digest of the parts as they arrived no
    # longer describes the content, and completing there must not use it.
    parts[1] = pattern(size, 7)
    await make_store().upload_part(session.upload_id, 2, parts[1])
    info = await store.complete_upload(session.upload_id)
    whole = b"".join(parts)
    assert (info.size, info.sha256) == (len(whole), hashlib.sha256(whole).hexdigest())
    assert await read_all(store, "bids/in-order") == whole

    session = await store.begin_upload("bids/in-order-2", part_size=size)
    for number, data in enumerate(parts, start=1):
        await store.upload_part(session.upload_id, number, data)
    info = await store.complete_upload(session.upload_id)
    assert info.sha256 == hashlib.sha256(whole).hexdigest()
    assert await read_all(store, "bids/in-order-2") == whole


async def test_fixed_size_parts_with_a_wrong_hash_change_nothing(store: ObjectStore) -> None:
    size = 4096
    parts = [pattern(size, 1), pattern(size, 2), pattern(10, 3)]
    digests = [hashlib.sha256(p).hexdigest() for p in parts]
    session = await store.begin_upload("bids/wrong-hash", part_size=size)
    await store.upload_part(session.upload_id, 1, parts[0], sha256=digests[0])
    # A new part whose bytes do not match: refused, and not a part (its bytes, written while
    # they were hashed, lie where no part is recorded).
    with pytest.raises(UploadError) as refused:
        await store.upload_part(session.upload_id, 2, pattern(size, 8), sha256=digests[1])
    assert refused.value.details["expected"] == digests[1]
    assert [p.number for p in (await store.upload_status(session.upload_id)).parts] == [1]
    await store.upload_part(session.upload_id, 2, parts[1], sha256=digests[1])
    # A part sent again with bytes that do not match: refused, and the part it would replace
    # is still there, unchanged.
    with pytest.raises(UploadError):
        await store.upload_part(session.upload_id, 1, pattern(size, 9), sha256=digests[0])
    held = (await store.upload_status(session.upload_id)).parts
    assert [(p.number, p.sha256) for p in held] == [(1, digests[0]), (2, digests[1])]
    await store.upload_part(session.upload_id, 3, parts[2], sha256=digests[2])
    info = await store.complete_upload(session.upload_id)
    whole = b"".join(parts)
    assert (info.size, info.sha256) == (len(whole), hashlib.sha256(whole).hexdigest())
    assert await read_all(store, "bids/wrong-hash") == whole


async def test_after_a_refused_part_the_recorded_sha256_is_still_that_of_the_stored_bytes(
    store: ObjectStore, tmp_path: Path
) -> None:
    """A new part is written while it is hashed. If it is refused, its bytes may have landed on
    the same part sent at the same time by another request and recorded meanwhile; completing
    must then describe the bytes stored, not the parts as they arrived."""
    size = 4096
    parts = [pattern(size, 1), pattern(size, 2), pattern(10, 3)]
    session = await store.begin_upload("bids/overwritten", part_size=size)
    for number in (1, 2):
        await store.upload_part(session.upload_id, number, parts[number - 1])
    with pytest.raises(UploadError):
        await store.upload_part(session.upload_id, 3, pattern(10, 8), sha256="00" * 32)
    overwrite_part(tmp_path, session.upload_id, 2, pattern(size, 9))  # what that race leaves
    await store.upload_part(session.upload_id, 3, parts[2])
    info = await store.complete_upload(session.upload_id)
    stored = await read_all(store, "bids/overwritten")
    assert info.sha256 == hashlib.sha256(stored).hexdigest()
    assert info.sha256 != hashlib.sha256(b"".join(parts)).hexdigest()


def overwrite_part(root: Path, upload_id: str, number: int, data: bytes) -> None:
    """Other bytes under a recorded part of a fixed-size session, in its in-place content."""
    content = next(root.rglob(f"{upload_id}/content.bin"))
    with content.open("r+b") as handle:
        handle.seek((number - 1) * len(data))
        handle.write(data)


async def test_fixed_size_upload_without_parts_is_refused(store: ObjectStore) -> None:
    session = await store.begin_upload("bids/empty", part_size=1024)
    with pytest.raises(UploadError):
        await store.complete_upload(session.upload_id)
    await store.upload_part(session.upload_id, 2, b"b")
    with pytest.raises(UploadError) as caught:
        await store.complete_upload(session.upload_id)
    assert caught.value.details["missing"] == [1]
    assert not await store.exists("bids/empty")


async def test_aborted_upload_is_gone(store: ObjectStore) -> None:
    session = await store.begin_upload("aborted", retain_until=None)
    await store.upload_part(session.upload_id, 1, b"data")
    await store.abort_upload(session.upload_id)
    with pytest.raises(UploadError):
        await store.upload_status(session.upload_id)
    with pytest.raises(UploadError):
        await store.upload_part(session.upload_id, 1, b"data")
    with pytest.raises(UploadError):
        await store.upload_status("../../etc")
    assert not await store.exists("aborted")


def temporary_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.suffix in {".part", ".spool", ".tmp"}]


@pytest.mark.parametrize("size", [2 * MiB, 2 * S3_PART_SIZE + 3])
async def test_interrupted_put_leaves_no_object(
    store: ObjectStore, size: int, tmp_path: Path
) -> None:
    data = pattern(size)

    async def failing() -> AsyncIterator[bytes]:
        async for chunk in stream(data[: size - 1000]):
            yield chunk
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.put("half/written", failing())
    assert not await store.exists("half/written")
    assert temporary_files(tmp_path) == []
    # And the key is still free for a proper write.
    await store.put("half/written", stream(data))
    assert await read_all(store, "half/written") == data


BAD_KEYS = [
    "",
    "/abs",
    "a//b",
    "a/../b",
    "..",
    "a/./b",
    "a\\b",
    "a\0b",
    "a/",
    "x\n",
    "a%2Fb",
    "a" * 1025,
    "é" * 513,  # 1026 bytes in UTF-8
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_unsafe_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(ValidationError):
        await store.put(key, stream(b"x"))
    with pytest.raises(ValidationError):
        await store.stat(key)
    with pytest.raises(ValidationError):
        store.get(key)
    with pytest.raises(ValidationError):
        await store.begin_upload(key)


async def test_reserved_prefix_is_refused(store: ObjectStore) -> None:
    with pytest.raises(ValidationError):
        await store.put(".tenderhall/staging/x", stream(b"x"))


async def test_download_url(store: ObjectStore, backend: str, clock: FixedClock) -> None:
    data = pattern(1000)
    await store.put("docs/招标文件 v1.pdf", stream(data))
    url = await store.download_url("docs/招标文件 v1.pdf", expires=timedelta(minutes=10))
    if backend == "s3":
        async with httpx.AsyncClient() as client:
            response = await client.get(url)
        assert response.status_code == 200
        assert response.content == data
        return
    parts = urlsplit(url)
    assert url.startswith(PUBLIC_URL + "/objects/")
    key = unquote(parts.path.removeprefix("/objects/"))
    assert key == "docs/招标文件 v1.pdf"
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    expires, signature = int(query["expires"]), query["signature"]
    assert expires == int((clock.now() + timedelta(minutes=10)).timestamp())
    now = clock.now()
    assert verify_download_signature(SIGNING_KEY, key, expires, signature, now)
    assert not verify_download_signature(SIGNING_KEY, "docs/other.pdf", expires, signature, now)
    assert not verify_download_signature(SIGNING_KEY, key, expires + 1, signature, now)
    assert not verify_download_signature(b"another key", key, expires, signature, now)
    assert not verify_download_signature(SIGNING_KEY, key, expires, "不是签名", now)
    later = now + timedelta(minutes=10)
    assert not verify_download_signature(SIGNING_KEY, key, expires, signature, later)


async def test_download_url_needs_a_positive_lifetime(store: ObjectStore) -> None:
    await store.put("d", stream(b"x"))
    with pytest.raises(ValidationError):
        await store.download_url("d", expires=timedelta(0))


async def test_ping_succeeds_on_a_working_store(store: ObjectStore) -> None:
    await store.ping()


async def test_concurrent_writers_of_one_key_cannot_both_win(tmp_path: Path) -> None:
    # Filesystem only: the S3 SDK cannot send If-None-Match (see storage/objects/s3.py).
    store = FilesystemObjectStore(tmp_path, public_url=PUBLIC_URL, signing_key=SIGNING_KEY)
    results = await asyncio.gather(
        *(store.put("race", stream(pattern(2 * MiB, n))) for n in range(4)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, ObjectExistsError) for r in results if r not in winners)
    assert (await store.stat("race")).sha256 == winners[0].sha256
    assert hashlib.sha256(await read_all(store, "race")).hexdigest() == winners[0].sha256


async def test_many_small_chunks_are_accepted(store: ObjectStore) -> None:
    data = os.urandom(30_000)
    info = await store.put("small/chunks", stream(data, piece=7))
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert await read_all(store, "small/chunks") == data


async def test_large_object_keeps_retention_and_metadata(
    store: ObjectStore, clock: FixedClock
) -> None:
    # Large enough for a multipart upload on S3 (the staging-and-copy path).
    data = pattern(2 * S3_PART_SIZE + 1)
    until = clock.now() + timedelta(minutes=5)
    info = await store.put("big/sealed", stream(data), content_type="x/y", retain_until=until)
    stat = await store.stat("big/sealed")
    assert stat == info
    assert (stat.size, stat.sha256, stat.retain_until) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
        until,
    )
    with pytest.raises(ObjectRetainedError):
        await store.delete("big/sealed")


def test_opening_by_url_picks_the_backend(tmp_path: Path) -> None:
    common = {
        "access_key": "",
        "secret_key": "",
        "public_url": PUBLIC_URL,
        "signing_key": SIGNING_KEY,
        "upload_root": tmp_path / "uploads",
    }
    fs = open_object_store((tmp_path / "objects").as_uri(), **common)  # type: ignore[arg-type]
    assert isinstance(fs, FilesystemObjectStore)
    assert fs.root == tmp_path / "objects"
    s3 = open_object_store(
        "s3://ak:sk@127.0.0.1:9000/bucket?secure=false&region=cn-east-1",
        **common,  # type: ignore[arg-type]
    )
    assert isinstance(s3, S3ObjectStore)
    assert s3.bucket == "bucket"
    with pytest.raises(ValidationError):
        open_object_store("s3://127.0.0.1:9000/ab", **common)  # type: ignore[arg-type]
    for bad in ["ftp://host/x", "s3://host:9000/", "s3://host:9000/a/b", "file://remote/x"]:
        with pytest.raises(ValidationError) as caught:
            open_object_store(bad, **common)  # type: ignore[arg-type]
        assert "TENDERHALL_STORAGE_URL" in caught.value.message_en
        assert "TENDERHALL_STORAGE_URL" in caught.value.message("zh-CN")


async def test_ping_reports_an_unusable_directory(tmp_path: Path) -> None:
    (tmp_path / "not-a-dir").write_bytes(b"")
    store = FilesystemObjectStore(
        tmp_path / "not-a-dir", public_url=PUBLIC_URL, signing_key=SIGNING_KEY
    )
    with pytest.raises(StorageUnavailableError):
        await store.ping()


@pytest.mark.s3
async def test_ping_reports_an_unreachable_endpoint(tmp_path: Path) -> None:
    store = S3ObjectStore(
        endpoint=f"127.0.0.1:{free_port()}",
        bucket="nowhere",
        access_key="a",
        secret_key="b",
        region="us-east-1",
        upload_root=tmp_path,
    )
    with pytest.raises(StorageUnavailableError):
        await store.ping()
    with pytest.raises(StorageUnavailableError):
        await store.stat("k")


async def test_memory_stays_bounded_for_a_large_stream(tmp_path: Path) -> None:
    """64 MiB in and out of the filesystem store with a small, constant footprint."""
    store = FilesystemObjectStore(tmp_path, public_url=PUBLIC_URL, signing_key=SIGNING_KEY)
    size = 64 * MiB
    block = os.urandom(256 * 1024)

    async def generated() -> AsyncIterator[bytes]:
        for _ in range(size // len(block)):
            yield block

    expected = hashlib.sha256()
    for _ in range(size // len(block)):
        expected.update(block)
    tracemalloc.start()
    try:
        info = await store.put("big", generated())
        read = hashlib.sha256()
        total = 0
        async for chunk in store.get("big"):
            read.update(chunk)
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.sha256 == expected.hexdigest() == read.hexdigest()
    assert total == size
    assert peak < 16 * MiB, f"peak {peak / MiB:.1f} MiB"


@pytest.mark.s3
async def test_bucket_without_object_lock_still_refuses_deleting_retained_objects(
    s3_endpoint: tuple[str, str, str, bool], tmp_path: Path, clock: FixedClock
) -> None:
    from minio import Minio

    endpoint, access_key, secret_key, secure = s3_endpoint
    bucket = f"th-nolock-{uuid.uuid4().hex[:12]}"
    Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure).make_bucket(bucket)
    store = S3ObjectStore(
        endpoint=endpoint,
        bucket=bucket,
        access_key=access_key,
        secret_key=secret_key,
        secure=secure,
        upload_root=tmp_path,
        clock=clock,
    )
    until = clock.now() + timedelta(minutes=5)
    await store.put("sealed", stream(b"bid"), retain_until=until)
    assert (await store.stat("sealed")).retain_until == until
    with pytest.raises(ObjectRetainedError):
        await store.delete("sealed")
    clock.advance(timedelta(minutes=6))
    await store.delete("sealed")
    assert not await store.exists("sealed")


@pytest.mark.s3
async def test_the_servers_object_lock_holds_even_if_the_clock_says_otherwise(
    s3_endpoint: tuple[str, str, str, bool], tmp_path: Path, clock: FixedClock
) -> None:
    """Real retention (COMPLIANCE, by the server's clock) outlives a store clock that ran ahead."""
    endpoint, access_key, secret_key, secure = s3_endpoint
    store = S3ObjectStore(
        endpoint=endpoint,
        bucket=f"th-lock-{uuid.uuid4().hex[:12]}",
        access_key=access_key,
        secret_key=secret_key,
        secure=secure,
        upload_root=tmp_path,
        clock=clock,
    )
    until = clock.now() + timedelta(minutes=5)
    await store.put("locked/for/real", stream(b"bid"), retain_until=until)
    clock.advance(timedelta(days=1))
    with pytest.raises(ObjectRetainedError):
        await store.delete("locked/for/real")
    assert await store.exists("locked/for/real")


async def test_a_reader_may_stop_early(store: ObjectStore) -> None:
    data = pattern(3 * MiB)
    await store.put("partly/read", stream(data))
    chunks = store.get("partly/read")
    first = await chunks.__anext__()
    assert data.startswith(first) and 0 < len(first) < len(data)
    await chunks.aclose()  # type: ignore[attr-defined]
    await store.delete("partly/read")
    assert not await store.exists("partly/read")
