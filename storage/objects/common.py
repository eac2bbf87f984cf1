"""What both object-store backends share: key rules, byte ranges, metadata encoding, chunking."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from trading.errors import ValidationError
from trading.ports import BytesLike, StoredObject

CHUNK_SIZE = 1024 * 1024
"""Bytes per chunk when streaming out, and per write when streaming in (bounded memory)."""

MAX_KEY_BYTES = 1024
"""S3's limit on a key, applied to both backends: a key valid on one is valid on the other."""

RESERVED_PREFIX = ".tenderhall"
"""First key segment the stores keep for themselves (staging objects, upload sessions)."""


class InvalidKeyError(ValidationError):
    """An object key that is not a safe relative path."""

    code = "object_key_invalid"

    def __init__(self, key: str, why_en: str, why_zh: str) -> None:
        super().__init__(
            f"Invalid object key {key!r}: {why_en}.",
            f"对象键 {key!r} 无效：{why_zh}。",
            field="key",
            key=key,
        )


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative path ``a/b/c``; raise :class:`InvalidKeyError`.

    Keys reach file paths and URLs, so anything that could climb out of the store or be read two
    ways is refused: absolute keys, ``.``/``..`` and empty segments, backslashes, ``%``, control
    characters (NUL included).
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError(str(key), "empty", "为空")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidKeyError(
            key, f"longer than {MAX_KEY_BYTES} bytes", f"超过 {MAX_KEY_BYTES} 字节"
        )
    if key.startswith("/"):
        raise InvalidKeyError(key, "absolute path", "不能是绝对路径")
    if "\\" in key:
        raise InvalidKeyError(key, "backslash", "不能包含反斜杠")
    if "%" in key:
        # Download links carry the key in the URL path, and the web layer percent-decodes path
        # parameters; a literal "%" could be read back as a different key.
        raise InvalidKeyError(key, "percent sign", "不能包含百分号")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key):
        raise InvalidKeyError(key, "control character or NUL", "不能包含控制字符或 NUL")
    segments = key.split("/")
    if any(segment == "" for segment in segments):
        raise InvalidKeyError(key, "empty path segment", "路径段为空")
    if any(segment in {".", ".."} for segment in segments):
        raise InvalidKeyError(key, "'.' or '..' segment", "不能包含 . 或 .. 路径段")
    if segments[0] == RESERVED_PREFIX:
        raise InvalidKeyError(key, "reserved prefix", "使用了保留前缀")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKeyError(key, "not valid UTF-8", "不是合法的 UTF-8") from None
    return key


def check_range(start: int, end: int | None) -> None:
    """Refuse a range that cannot mean anything (the end is clamped to the size later)."""
    if start < 0 or (end is not None and end < start):
        raise ValidationError(
            f"Invalid byte range [{start}, {end}).",
            f"字节范围 [{start}, {end}) 无效。",
            field="range",
        )


def clamp_range(start: int, end: int | None, size: int) -> tuple[int, int]:
    """``[start, end)`` cut to the object: an end past the size stops at the size."""
    stop = size if end is None else min(end, size)
    return min(start, stop), stop


def check_retain_until(retain_until: datetime | None) -> None:
    if retain_until is not None and retain_until.tzinfo is None:
        raise ValidationError(
            "retain_until must be timezone-aware.",
            "保留期限必须带时区。",
            field="retain_until",
        )


def format_instant(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def parse_instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text).astimezone(UTC) if text else None


def object_to_json(info: StoredObject) -> dict[str, Any]:
    return {
        "key": info.key,
        "size": info.size,
        "sha256": info.sha256,
        "content_type": info.content_type,
        "created_at": format_instant(info.created_at),
        "retain_until": format_instant(info.retain_until) if info.retain_until else None,
    }


def object_from_json(data: dict[str, Any]) -> StoredObject:
    created_at = parse_instant(data["created_at"])
    assert created_at is not None
    return StoredObject(
        key=str(data["key"]),
        size=int(data["size"]),
        sha256=str(data["sha256"]),
        content_type=str(data["content_type"]),
        created_at=created_at,
        retain_until=parse_instant(data.get("retain_until")),
    )


def sha256_hex(data: BytesLike) -> str:
    return hashlib.sha256(data).hexdigest()


async def rechunk(chunks: AsyncIterator[bytes], size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
    """Regroup a stream into pieces of about ``size`` bytes (the last may be shorter).

    Callers may send many small chunks; each thread hop and write costs the same whatever its
    size, so they are gathered first. Memory stays below ``2 * size`` plus one incoming chunk.
    """
    pending: list[bytes] = []
    pending_size = 0
    async for chunk in chunks:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise ValidationError(
                "Object content must be a stream of bytes.", "对象内容必须是字节流。"
            )
        if not chunk:
            continue
        pending.append(bytes(chunk))
        pending_size += len(chunk)
        if pending_size >= size:
            yield pending[0] if len(pending) == 1 else b"".join(pending)
            pending, pending_size = [], 0
    if pending:
        yield pending[0] if len(pending) == 1 else b"".join(pending)
