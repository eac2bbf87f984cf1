"""Who is calling, and may they: the guard every route goes through.

Each route names its action in ``opt={"action": ...}``; :func:`policy_guard` resolves the caller
from a bearer token (API, CLI) or the session cookie (browser), applies the CSRF check to cookie
requests that change something, and asks :func:`trading.identity.policy.authorize`. A route without
an action is refused: failing closed makes a forgotten declaration visible at once.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler

from trading.identity.errors import AccessDeniedError, SessionInvalidError
from trading.identity.model import Principal
from trading.identity.policy import Resource, authorize
from trading.identity.services import IssuedSession, check_csrf, resolve_session
from trading.ports import AuditRecord
from webapp.services import Services

SESSION_COOKIE = "th_session"
CSRF_COOKIE = "th_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "_csrf"
"""Pages' forms carry the CSRF token in this hidden field (plain HTML forms cannot set headers)."""
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
OPENAPI_PATH = "/schema"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    client = connection.client
    return client.host if client else ""


async def current_principal(
    connection: ASGIConnection[Any, Any, Any, Any], services: Services
) -> Principal | None:
    """The signed-in principal, or None; a presented but invalid credential is an error."""
    if "principal" in connection.state:
        principal: Principal | None = connection.state.principal
        return principal
    header = connection.headers.get("authorization", "")
    token: str | None = None
    via_cookie = False
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
    elif connection.cookies.get(SESSION_COOKIE):
        token = connection.cookies[SESSION_COOKIE]
        via_cookie = True
    principal = None
    if token:
        principal, record = await resolve_session(
            services.uow(), token, ip=client_ip(connection), now=services.clock.now()
        )
        if via_cookie and connection.scope.get("method", "GET") not in SAFE_METHODS:
            check_csrf(record, await presented_csrf(connection))
    connection.state.principal = principal
    return principal


async def presented_csrf(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The CSRF token a request presents: the ``X-CSRF-Token`` header (scripts, htmx) or, for a
    plain HTML form post, its hidden ``_csrf`` field. Litestar caches the parsed form, so the
    handler reads the same data again without a second parse."""
    header = connection.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = connection.headers.get("content-type", "")
    if isinstance(connection, Request) and content_type.startswith(FORM_TYPES):
        form = await connection.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def session_cookies(
    connection: ASGIConnection[Any, Any, Any, Any], issued: IssuedSession
) -> list[Cookie]:
    """The cookies of a browser session: the session itself (HttpOnly) and the CSRF token that
    the page's forms and scripts send back (double submit)."""
    secure = connection.url.scheme == "https"
    record = issued.record
    max_age = int((record.expires_at - record.created_at).total_seconds())
    return [
        Cookie(
            key=SESSION_COOKIE,
            value=issued.token,
            httponly=True,
            secure=secure,
            samesite="lax",
            max_age=max_age,
            path="/",
        ),
        Cookie(
            key=CSRF_COOKIE,
            value=issued.csrf_token or "",
            httponly=False,  # the page's script reads it to send the header
            secure=secure,
            samesite="strict",
            max_age=max_age,
            path="/",
        ),
    ]


def resource_from_path(connection: ASGIConnection[Any, Any, Any, Any]) -> Resource:
    params = connection.path_params
    return Resource(
        org_id=str(params["org_id"]) if "org_id" in params else None,
        person_id=str(params["person_id"]) if "person_id" in params else None,
    )


async def policy_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    action = handler.opt.get("action")
    if not action and connection.scope["path"].startswith(OPENAPI_PATH):
        return  # the OpenAPI document and its viewers are public
    if not action:
        raise AccessDeniedError(handler.handler_name, "route declares no action")
    services: Services = connection.app.state.services
    principal = await current_principal(connection, services)
    # Routes whose rule depends on the object (its owner, its tender's state) name a loader.
    loader = handler.opt.get("resource")
    resource = await loader(connection, services) if loader else resource_from_path(connection)
    decision = authorize(principal, action, resource, services.clock.now())
    if decision.allowed:
        return
    if principal is None:
        raise SessionInvalidError("missing")
    raise AccessDeniedError(action, decision.reason)


async def provide_principal(request: Any) -> Principal | None:
    """Dependency: the principal the guard resolved (None on public routes when signed out)."""
    services: Services = request.app.state.services
    return await current_principal(request, services)


async def require_principal(request: Any) -> Principal:
    principal = await provide_principal(request)
    if principal is None:
        raise SessionInvalidError("missing")
    return principal


async def record_read(
    request: Any,
    services: Services,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, object | None] | None = None,
) -> None:
    """Log a read of protected data by someone other than its subject (全程留痕 covers reads)."""
    async with services.uow() as uow:
        await uow.audit.append(
            AuditRecord(
                action=action,
                object_type=object_type,
                object_id=object_id,
                actor_id=principal.person_id,
                organisation_id=principal.org_id,
                role=str(principal.role),
                ip=client_ip(request),
                after={k: v for k, v in (details or {}).items() if v is not None} or None,
            ),
            at=services.clock.now(),
        )
        await uow.commit()
