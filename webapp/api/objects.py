"""Platform-signed download links for the filesystem object store (S3 hands out presigned URLs).

``GET /objects/{key}?expires=...&signature=...`` streams the object; a ``Range: bytes=a-b`` header
gets 206 with that slice, so large downloads can resume.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

from litestar import Request, Response, get
from litestar.response import Stream

from storage.objects.fs import verify_download_signature
from trading.errors import PermissionDeniedError, ValidationError
from webapp.services import Services

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class DownloadLinkError(PermissionDeniedError):
    code = "download_link_invalid"

    def __init__(self) -> None:
        super().__init__("The download link is invalid or has expired.", "下载链接无效或已过期。")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(start, end_exclusive)`` for a single byte range, None for no header."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        raise ValidationError(
            "Only one byte range (bytes=a-b) is supported.", "仅支持单个字节范围 bytes=a-b。"
        )
    first, last = match.groups()
    if first == "":  # suffix: the last N bytes
        start, end = max(size - int(last), 0), size
    else:
        start = int(first)
        end = size if last == "" else min(int(last) + 1, size)
    if start >= size or start >= end:
        raise ValidationError("The range is outside the object.", "请求范围超出对象大小。")
    return start, end


@get(
    "/objects/{key:path}",
    opt={"action": "object.download"},
    summary="Download through a platform-signed link",
    include_in_schema=True,
)
async def download(
    request: Request[Any, Any, Any], key: str, expires: int, signature: str, services: Services
) -> Response[Any]:
    key = key.lstrip("/")
    now = services.clock.now()
    if not verify_download_signature(services.secret, key, expires, signature, now):
        raise DownloadLinkError()
    info = await services.objects.stat(key)
    byte_range = parse_range(request.headers.get("range", ""), info.size)
    start, end = byte_range or (0, info.size)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in services.objects.get(key, start=start, end=end):
            yield chunk

    headers = {
        "content-length": str(end - start),
        "accept-ranges": "bytes",
        "etag": f'"{info.sha256}"',
        "x-content-sha256": info.sha256,
        "cache-control": "private, max-age=0",
        "last-modified": info.created_at.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT"),
    }
    if byte_range:
        headers["content-range"] = f"bytes {start}-{end - 1}/{info.size}"
    return Stream(
        body(),
        status_code=206 if byte_range else 200,
        media_type=info.content_type,
        headers=headers,
    )
