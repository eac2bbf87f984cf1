"""Large objects: a directory on disk (the embedded default) or an S3 API endpoint (MinIO).

Both implement :class:`trading.ports.ObjectStore`; :func:`open_object_store` picks one from the
``TENDERHALL_STORAGE_URL`` setting.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from trading.errors import ValidationError
from trading.ports import Clock, ObjectStore

_S3_PLAIN = {"s3", "minio", "s3+http", "http"}
_S3_TLS = {"s3s", "s3+https", "https"}
_TRUE = {"1", "true", "yes", "on"}


class StorageUrlError(ValidationError):
    code = "storage_url_invalid"

    def __init__(self, url: str, why: str) -> None:
        shown = url.split("@", 1)[-1]  # never echo credentials embedded in the URL
        super().__init__(
            f"TENDERHALL_STORAGE_URL {shown!r} is not usable: {why}. Use file:///path or "
            "s3://host:port/bucket[?secure=true&region=...].",
            f"TENDERHALL_STORAGE_URL {shown!r} 不可用：{why}。请使用 file:///路径 或 "
            "s3://主机:端口/存储桶[?secure=true&region=...]。",
            field="storage_url",
        )


def open_object_store(
    url: str,
    *,
    access_key: str,
    secret_key: str,
    public_url: str,
    signing_key: bytes,
    upload_root: Path | None,
    clock: Clock | None = None,
) -> ObjectStore:
    """Build the store the URL names. Nothing is contacted yet (see ``ping``).

    - ``file:///path``: :class:`~storage.objects.fs.FilesystemObjectStore` in that directory;
      download links are ``{public_url}/objects/{key}`` signed with ``signing_key``.
    - ``s3://host:port/bucket`` (also ``minio://``, ``s3+http://``; ``s3s://``/``s3+https://``/
      ``https://`` or ``?secure=true`` for TLS; ``?region=...``): the MinIO SDK store. Credentials
      come from ``access_key``/``secret_key``, else from ``user:password@`` in the URL. Upload
      sessions are kept under ``upload_root``.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in {"", "localhost"} or not parts.path:
            raise StorageUrlError(url, "a file URL needs an absolute local path")
        from storage.objects.fs import FilesystemObjectStore

        return FilesystemObjectStore(
            Path(unquote(parts.path)),
            public_url=public_url,
            signing_key=signing_key,
            upload_root=upload_root,
            clock=clock,
        )
    if scheme in _S3_PLAIN | _S3_TLS:
        if not parts.hostname:
            raise StorageUrlError(url, "no host")
        bucket = parts.path.strip("/")
        if not bucket or "/" in bucket:
            raise StorageUrlError(url, "the path must be exactly one bucket name")
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"secure", "region"}
        if unknown:
            raise StorageUrlError(url, f"unknown parameters {sorted(unknown)}")
        secure = scheme in _S3_TLS
        if "secure" in query:
            secure = query["secure"].lower() in _TRUE
        endpoint = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname:  # IPv6 literal
            endpoint = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
        from storage.objects.s3 import S3ObjectStore

        return S3ObjectStore(
            endpoint=endpoint,
            bucket=bucket,
            access_key=access_key or unquote(parts.username or ""),
            secret_key=secret_key or unquote(parts.password or ""),
            secure=secure,
            region=query.get("region"),
            upload_root=upload_root,
            clock=clock,
        )
    raise StorageUrlError(url, f"unknown scheme {scheme!r}")


__all__ = ["StorageUrlError", "open_object_store"]
