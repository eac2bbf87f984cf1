"""What every page router shares: the double-submit CSRF guard for forms, HTML error pages, and
the redirect to sign-in (and back) when a session is missing or has expired."""

from __future__ import annotations

import hmac
import logging
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect

from trading.errors import AuthenticationError, DomainError
from trading.identity.errors import CsrfError
from trading.identity.model import Principal
from webapp.auth import CSRF_COOKIE, SAFE_METHODS, SESSION_COOKIE, presented_csrf
from webapp.errors import HTTP_MESSAGES, status_for
from webapp.pages.render import language, next_url, render

log = logging.getLogger("tenderhall.pages")


async def form_csrf_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Every form post carries the token of the ``th_csrf`` cookie (double submit).

    Signed-in sessions are also checked against the session's own token by the policy guard;
    this covers forms posted by visitors (sign-in, registration) as well.
    """
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    cookie = connection.cookies.get(CSRF_COOKIE, "")
    presented = await presented_csrf(connection) or ""
    if not cookie or not hmac.compare_digest(cookie.encode(), presented.encode()):
        raise CsrfError()


def login_redirect(request: Request[Any, Any, Any]) -> Response[Any]:
    target = next_url(request) if request.method == "GET" else request.headers.get("referer", "/")
    path = target if target.startswith("/") else "/"
    response: Response[Any] = Redirect(f"/login?next={quote(path, safe='')}", status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        response.delete_cookie(SESSION_COOKIE)
        response.delete_cookie(CSRF_COOKIE)
    if request.headers.get("hx-request") == "true":
        # htmx follows redirects in place; ask it to navigate the whole page instead.
        response.headers["HX-Redirect"] = response.headers.get("location", "/login")
    return response


def error_page(
    request: Request[Any, Any, Any], status: int, message: str, principal: Principal | None = None
) -> Response[str]:
    en = language(request) == "en"
    en_title, zh_title = HTTP_MESSAGES.get(status, (f"HTTP {status}", f"HTTP {status}"))
    return render(
        request,
        "error.html",
        principal=principal,
        status_code=status,
        title=en_title if en else zh_title,
        message=message,
        status=status,
    )


def _principal_of(request: Request[Any, Any, Any]) -> Principal | None:
    principal = request.state.get("principal") if hasattr(request, "state") else None
    return principal if isinstance(principal, Principal) else None


def page_domain_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, DomainError)
    if isinstance(exc, AuthenticationError):
        return login_redirect(request)
    status = status_for(exc)
    return error_page(request, status, exc.message(language(request)), _principal_of(request))


def page_http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, NotAuthorizedException):
        return login_redirect(request)
    status = exc.status_code
    en, zh = HTTP_MESSAGES.get(status, (str(exc.detail), str(exc.detail)))
    return error_page(request, status, en if language(request) == "en" else zh)


def page_unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("page failed", exc_info=exc)
    en, zh = HTTP_MESSAGES[500]
    return error_page(request, 500, en if language(request) == "en" else zh)


PAGE_EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: page_domain_error,
    HTTPException: page_http_error,
    Exception: page_unexpected_error,
}
