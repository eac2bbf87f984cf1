"""The one place where errors become HTTP: RFC 9457 problem+json for everything.

Domain code raises :class:`trading.errors.DomainError` subclasses; :data:`STATUS_BY_ERROR` decides
their status codes. Framework errors (404, 405, 413, request validation) and unexpected exceptions
get the same body shape, so a client parses one format.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import DBAPIError, OperationalError

from trading import errors as e
from webapp.observability import current_request_id

log = logging.getLogger("tenderhall.http")

PROBLEM_JSON = "application/problem+json"

# Most specific first: the first class in the MRO of the raised error that appears here wins.
STATUS_BY_ERROR: dict[type[e.DomainError], int] = {
    e.ObjectNotFoundError: 404,
    e.ObjectExistsError: 409,
    e.ObjectRetainedError: 409,
    e.UploadError: 422,
    e.StorageUnavailableError: 503,
    e.ValidationError: 422,
    e.NotFoundError: 404,
    e.ConflictError: 409,
    e.AuthenticationError: 401,
    e.PermissionDeniedError: 403,
    e.UnavailableError: 503,
    e.DomainError: 400,
}

HTTP_MESSAGES: dict[int, tuple[str, str]] = {
    400: ("Bad request.", "请求无效。"),
    401: ("Sign in first.", "请先登录。"),
    403: ("Not allowed.", "无权执行此操作。"),
    404: ("Not found.", "未找到。"),
    405: ("Method not allowed.", "不支持该请求方法。"),
    413: ("The request body is too large.", "请求内容过大。"),
    415: ("Unsupported media type.", "不支持的内容类型。"),
    429: ("Too many requests; try again later.", "请求过于频繁，请稍后再试。"),
    500: ("Internal error; it has been logged.", "服务器内部错误，已记录。"),
    503: ("Service unavailable.", "服务暂不可用。"),
}


def status_for(error: e.DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def wants_english(request: Request[Any, Any, Any]) -> bool:
    """English when the person chose it (cookie) or their browser prefers it; Chinese by default."""
    chosen = request.cookies.get("lang")
    if chosen:
        return chosen.lower().startswith("en")
    accept = request.headers.get("accept-language", "")
    first = accept.split(",")[0].strip().lower()
    return first.startswith("en")


def problem(
    request: Request[Any, Any, Any],
    status: int,
    code: str,
    detail: str,
    **extra: Any,
) -> Response[dict[str, Any]]:
    en = wants_english(request)
    title_en, title_zh = HTTP_MESSAGES.get(status, (f"HTTP {status}", f"HTTP {status}"))
    body: dict[str, Any] = {
        "type": f"urn:tenderhall:problem:{code}",
        "title": title_en if en else title_zh,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        "request_id": current_request_id(),
        **extra,
    }
    return Response(body, status_code=status, media_type=PROBLEM_JSON)


def domain_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    assert isinstance(exc, e.DomainError)
    status = status_for(exc)
    if status >= 500:
        log.warning("unavailable: %s", exc.message_en)
    details = {k: v for k, v in exc.details.items() if isinstance(v, (str, int, float, bool))}
    return problem(
        request,
        status,
        exc.code,
        exc.message_en if wants_english(request) else exc.message_zh,
        message_en=exc.message_en,
        message_zh=exc.message_zh,
        **({"details": details} if details else {}),
    )


def http_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    en_msg, zh_msg = HTTP_MESSAGES.get(status, (exc.detail, exc.detail))
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and exc.extra:
        extra["errors"] = exc.extra
        en_msg, zh_msg = f"Invalid request: {exc.detail}", f"请求参数无效：{exc.detail}"
    code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
        status, "invalid_request" if status < 500 else "server_error"
    )
    return problem(request, status, code, en_msg if wants_english(request) else zh_msg, **extra)


def database_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    log.warning("database unavailable: %s", str(exc).splitlines()[0])
    en = wants_english(request)
    return problem(
        request,
        503,
        "database_unavailable",
        "The database is unreachable; nothing was changed. Try again."
        if en
        else "数据库暂不可用，未做任何修改，请重试。",
    )


def unexpected_error_handler(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    log.exception("unhandled error", exc_info=exc)
    en_msg, zh_msg = HTTP_MESSAGES[500]
    return problem(request, 500, "server_error", en_msg if wants_english(request) else zh_msg)


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    e.DomainError: domain_error_handler,
    HTTPException: http_error_handler,
    OperationalError: database_error_handler,
    DBAPIError: database_error_handler,
    ConnectionError: database_error_handler,
    Exception: unexpected_error_handler,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "MediaType", "problem", "status_for"]
