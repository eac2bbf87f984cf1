"""Who is calling, and may they: the guard every route goes through.

Each route names its action in ``opt={"action": ...}``; :func:`policy_guard` resolves the caller
from a bearer token (API, CLI) or the session cookie (browser), applies the CSRF check to cookie
requests that change something, and asks :func:`trading.identity.policy.authorize`. A route without
an action is refused: failing closed makes a forgotten declaration visible at once.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from trading.identity.errors import AccessDeniedError, SessionInvalidError
from trading.identity.model import Principal
from trading.identity.policy import Resource, authorize
from trading.identity.services import check_csrf, resolve_session
from trading.ports import AuditRecord
from webapp.services import Services

SESSION_COOKIE = "th_session"
CSRF_COOKIE = "th_csrf"
CSRF_HEADER = "x-csrf-token"
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
            check_csrf(record, connection.headers.get(CSRF_HEADER))
    connection.state.principal = principal
    return principal


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
