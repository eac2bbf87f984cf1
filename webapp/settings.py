"""Typed settings, read once from the environment (``TENDERHALL_*``) and passed down.

Nothing in the platform reads the environment at import time: ``Settings.from_env(os.environ)`` is
called by the CLI and the worker bootstrap; tests build ``Settings(...)`` directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from trading.errors import ValidationError

ENV_PREFIX = "TENDERHALL_"


class SettingsError(ValidationError):
    """An environment variable is malformed; the message names it and says what it expects."""

    code = "bad_setting"

    def __init__(self, variable: str, value: str, expected: str) -> None:
        super().__init__(
            f"{variable}={value!r} is not valid: expected {expected}.",
            f"环境变量 {variable}={value!r} 无效：应为{expected}。",
            variable=variable,
        )
        self.variable = variable


def _setting(default: Any, doc: str, expects: str, **kw: Any) -> Any:
    return field(default=default, metadata={"doc": doc, "expects": expects, **kw})


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError(raw)
    return value


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(raw)


def _database_url(raw: str) -> str:
    scheme = urlsplit(raw).scheme
    if scheme in {"postgresql", "postgres"}:
        # Accept the URL a PostgreSQL user already has and pick the async driver for them.
        return "postgresql+asyncpg" + raw[len(scheme) :]
    if scheme not in {"postgresql+asyncpg", "sqlite+aiosqlite", "sqlite"}:
        raise ValueError(raw)
    if scheme == "sqlite":
        return "sqlite+aiosqlite" + raw[len(scheme) :]
    return raw


def _storage_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme in {"s3", "minio", "s3+http", "s3+https"} and parts.hostname and parts.path:
        return raw
    if parts.scheme == "file" and parts.path:
        return raw
    raise ValueError(raw)


def _broker_url(raw: str) -> str:
    if urlsplit(raw).scheme not in {"redis", "rediss", "amqp", "amqps"}:
        raise ValueError(raw)
    return raw


def _http_url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError(raw)
    return raw


def _secret(raw: str) -> str:
    if len(raw) < 32:
        raise ValueError("too short")
    return raw


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError(raw)
    return level


@dataclass(frozen=True)
class Settings:
    """Everything the platform can be configured with; each field is one ``TENDERHALL_*``."""

    data_dir: Path = _setting(
        Path("tenderhall-data"),
        "Directory for the embedded default: SQLite file, stored objects, platform keys.",
        "a directory path",
        parse=Path,
    )
    database_url: str | None = _setting(
        None,
        "Database URL. PostgreSQL (`postgresql://user@host/db`, driven by asyncpg) or SQLite "
        "(`sqlite+aiosqlite:///path.db`). Default: SQLite file `DATA_DIR/tenderhall.db`.",
        "a postgresql:// or sqlite:// URL",
        parse=_database_url,
    )
    storage_url: str | None = _setting(
        None,
        "Object store. `s3://host:port/bucket` (MinIO or any S3 API; add `?secure=true` for TLS "
        "and `&region=...` if needed) or `file:///path`. Default: directory `DATA_DIR/objects`.",
        "an s3://host:port/bucket or file:///path URL",
        parse=_storage_url,
    )
    storage_access_key: str = _setting(
        "", "Access key for the S3 object store.", "a string", parse=str
    )
    storage_secret_key: str = _setting(
        "", "Secret key for the S3 object store.", "a string", parse=str, secret=True
    )
    broker_url: str | None = _setting(
        None,
        "Celery broker (`redis://127.0.0.1:6379/0`). Unset: jobs run in-process and the scheduler "
        "tick runs inside `tenderhall serve`.",
        "a redis:// or amqp:// URL",
        parse=_broker_url,
    )
    host: str = _setting("127.0.0.1", "Address `tenderhall serve` listens on.", "a host", parse=str)
    port: int = _setting(8000, "Port `tenderhall serve` listens on.", "a port 1-65535", parse=_port)
    public_url: str | None = _setting(
        None,
        "The platform's external base URL, used in links it hands out (download URLs). "
        "Default: `http://HOST:PORT`.",
        "an http(s):// URL",
        parse=str,
    )
    secret_key: str | None = _setting(
        None,
        "Key for signing download URLs and sessions. Default: generated once and kept in "
        "`DATA_DIR/secret.key`.",
        "a string of at least 32 characters",
        parse=_secret,
        secret=True,
    )
    max_request_bytes: int = _setting(
        16 * 1024 * 1024,
        "Largest request body accepted, in bytes (upload chunks must fit in it).",
        "a positive integer",
        parse=_positive_int,
    )
    upload_chunk_bytes: int = _setting(
        16 * 1024 * 1024,
        "Chunk size of resumable bid uploads, in bytes: every chunk but the last has exactly "
        "this size; at most TENDERHALL_MAX_REQUEST_BYTES.",
        "a positive integer",
        parse=_positive_int,
    )
    retention_days: int = _setting(
        15 * 366,
        "Write-once retention of sealed bids and records, in days (the archive period).",
        "a positive integer",
        parse=_positive_int,
    )
    tick_seconds: int = _setting(
        15,
        "Interval of the scheduler tick that runs due work (`next_check`).",
        "a positive integer",
        parse=_positive_int,
    )
    tsa_url: str | None = _setting(
        None,
        "External RFC 3161 timestamp authority (`https://tsa.example/tsr`). Default: the "
        "platform's own TSA, its key and certificate created in `DATA_DIR/keys/tsa`.",
        "an http(s):// URL",
        parse=_http_url,
    )
    platform_key_file: Path | None = _setting(
        None,
        "PKCS#12 file with the platform's signing key and certificate chain (signs submission "
        "receipts). Default: a self-issued certificate created in `DATA_DIR/keys/platform` on "
        "first use, its root trusted by the platform itself.",
        "a file path",
        parse=Path,
    )
    platform_key_password: str | None = _setting(
        None,
        "Password of `TENDERHALL_PLATFORM_KEY_FILE`.",
        "a string",
        parse=str,
        secret=True,
    )
    crl_refresh_minutes: int = _setting(
        60,
        "How often the CA providers' CRLs are fetched and cached, in minutes.",
        "a positive integer",
        parse=_positive_int,
    )
    signin_per_minute: int = _setting(
        30,
        "Sign-in attempts (password, certificate, nonce requests) allowed per client address per "
        "minute; accounts are also locked for 15 minutes after 5 wrong passwords.",
        "a positive integer",
        parse=_positive_int,
    )
    audit_key_file: Path | None = _setting(
        None,
        "PEM private key (ECDSA, Ed25519 or RSA) that signs the audit log's tree heads; every web "
        "instance and worker must use the same one. Default: `DATA_DIR/keys/audit-log.pem`, "
        "created on first use.",
        "a file path",
        parse=Path,
    )
    audit_publish_minutes: int = _setting(
        60,
        "How often a signed tree head of the audit log is published, in minutes.",
        "a positive integer",
        parse=_positive_int,
    )
    audit_cover_bucket: int = _setting(
        16,
        "Sealed audit events per period are padded with cover events to a multiple of this, so "
        "the log's size does not tell how many bids came in.",
        "a positive integer",
        parse=_positive_int,
    )
    audit_cover_hold_days: int = _setting(
        90,
        "How long cover events stay sealed, in days (at least the longest bidding period).",
        "a positive integer",
        parse=_positive_int,
    )
    cors_origins: tuple[str, ...] = _setting(
        (),
        "Origins allowed to call the API from a browser, comma-separated. Default: none.",
        "comma-separated origins",
        parse=_csv,
    )
    log_level: str = _setting(
        "INFO", "Log level.", "one of DEBUG, INFO, WARNING, ERROR", parse=_log_level
    )
    log_json: bool = _setting(
        True, "Write logs as JSON lines (one object per line).", "true or false", parse=_bool
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Build settings from ``TENDERHALL_*`` variables; unknown ones are refused by name."""
        known = {env_name(f): f for f in dataclasses.fields(cls)}
        for name in environ:
            if (
                name.startswith(ENV_PREFIX)
                and name not in known
                and not name.startswith(ENV_PREFIX + "TEST_")
            ):
                raise SettingsError(name, environ[name], "one of " + ", ".join(sorted(known)))
        values: dict[str, Any] = {}
        for name, f in known.items():
            if name not in environ:
                continue
            raw = environ[name]
            parse: Callable[[str], Any] = f.metadata["parse"]
            try:
                values[f.name] = parse(raw)
            except (ValueError, TypeError):
                raise SettingsError(name, raw, f.metadata["expects"]) from None
        settings = cls(**values)
        if settings.upload_chunk_bytes > settings.max_request_bytes:  # a part is one request
            raise SettingsError(
                ENV_PREFIX + "UPLOAD_CHUNK_BYTES",
                str(settings.upload_chunk_bytes),
                f"at most TENDERHALL_MAX_REQUEST_BYTES ({settings.max_request_bytes})",
            )
        return settings

    # --- derived values --------------------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve()}/tenderhall.db"

    @property
    def effective_storage_url(self) -> str:
        return self.storage_url or (self.data_dir.resolve() / "objects").as_uri()

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def effective_audit_key_file(self) -> Path:
        return self.audit_key_file or self.data_dir / "keys" / "audit-log.pem"

    @property
    def is_embedded(self) -> bool:
        """True when the database is the SQLite file of the embedded default."""
        return self.effective_database_url.startswith("sqlite")

    def describe(self) -> list[tuple[str, str]]:
        """(variable, value) pairs for display, with secrets masked."""
        rows = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            shown = "***" if f.metadata.get("secret") and value else str(value)
            rows.append((env_name(f), shown))
        return rows


def env_name(f: dataclasses.Field[Any]) -> str:
    return ENV_PREFIX + f.name.upper()


def settings_table() -> str:
    """The README's configuration table, generated from the fields so the two cannot drift."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for f in dataclasses.fields(Settings):
        default = f.default
        shown = (
            "(none)"
            if default is None or default == ()
            else f"`{','.join(default) if isinstance(default, tuple) else default}`"
        )
        lines.append(f"| `{env_name(f)}` | {shown} | {f.metadata['doc']} |")
    return "\n".join(lines)
