"""Domain errors.

Every error carries a stable machine-readable ``code`` and a message in Chinese and
English. The web layer maps error classes to HTTP statuses in one table (``webapp.errors``);
domain code never decides a status code.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """Base class of every error the platform reports to a person or a client."""

    code: ClassVar[str] = "error"

    def __init__(self, message_en: str, message_zh: str, **details: Any) -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_zh = message_zh
        self.details = details

    def message(self, locale: str = "zh-CN") -> str:
        """The message in the person's language (Chinese unless English is asked for)."""
        return self.message_en if locale.lower().startswith("en") else self.message_zh


class ValidationError(DomainError):
    """Input that breaks a rule; ``details['field']`` names the field when there is one."""

    code = "invalid"


class NotFoundError(DomainError):
    """The object does not exist (or the caller may not know that it exists)."""

    code = "not_found"


class ConflictError(DomainError):
    """A concurrent change won the race, or the object is not in a state that allows the change.

    Clients may re-read and retry.
    """

    code = "conflict"


class AuthenticationError(DomainError):
    """The caller is not (or no longer) signed in, or proved nothing about who they are."""

    code = "unauthenticated"


class PermissionDeniedError(DomainError):
    """The caller is known but may not do this."""

    code = "forbidden"


class UnavailableError(DomainError):
    """A component the operation needs (database, object store, broker, TSA) cannot be reached."""

    code = "unavailable"


# --- object storage -------------------------------------------------------------------------


class ObjectNotFoundError(NotFoundError):
    code = "object_not_found"

    def __init__(self, key: str) -> None:
        super().__init__(f"No stored object {key!r}.", f"存储对象 {key!r} 不存在。", key=key)


class ObjectExistsError(ConflictError):
    """Objects are written once: a key that already holds an object is never overwritten."""

    code = "object_exists"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Object {key!r} already exists and is write-once.",
            f"存储对象 {key!r} 已存在，不可覆盖。",
            key=key,
        )


class ObjectRetainedError(ConflictError):
    """Deleting an object under retention (object lock) is refused."""

    code = "object_retained"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Object {key!r} is under retention and cannot be deleted.",
            f"存储对象 {key!r} 处于保留期内，不可删除。",
            key=key,
        )


class UploadError(ValidationError):
    """A chunked upload was used wrongly: unknown session, bad part number, hash mismatch, ..."""

    code = "upload_invalid"


class StorageUnavailableError(UnavailableError):
    code = "storage_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The object store is unreachable: {reason}",
            f"对象存储不可用：{reason}",
            reason=reason,
        )
