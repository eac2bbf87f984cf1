"""Sign-in (password, or a certificate whose key never leaves the browser), sign-out, and the
person's display preferences (language, 关怀版)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect

from trading.errors import DomainError
from trading.identity import services as identity
from trading.identity.model import Principal
from webapp.api.identity import HASHER, LOGIN_POLICY
from webapp.auth import CSRF_COOKIE, SESSION_COOKIE, client_ip, session_cookies
from webapp.pages.render import (
    CARE_COOKIE,
    LANG_COOKIE,
    FormState,
    language,
    page_gettext,
    render,
    safe_next,
)
from webapp.services import Services

FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
YEAR = 365 * 24 * 3600


@get("/login", opt={"action": "page.public"}, include_in_schema=False)
async def login_page(
    request: Request[Any, Any, Any], maybe_principal: Principal | None, next: str | None = None
) -> Response[Any]:
    return render(
        request,
        "auth/login.html",
        principal=maybe_principal,
        title="登录",
        form=FormState(values={"next": safe_next(next)}),
    )


@post("/login", opt={"action": "page.public"}, include_in_schema=False, status_code=303)
async def login_submit(
    request: Request[Any, Any, Any],
    services: Services,
    data: Annotated[dict[str, str], FORM],
) -> Response[Any]:
    target = safe_next(data.get("next"))
    _ = page_gettext(request)
    form = FormState(values={"username": data.get("username", "").strip(), "next": target})
    if not form.values["username"]:
        form.error("username", _("请填写用户名。"))
    if not data.get("password"):
        form.error("password", _("请填写密码。"))
    if form.ok:
        try:
            issued = await identity.login_with_password(
                services.uow(),
                identity.PasswordLogin(
                    form.values["username"], data.get("password", ""), kind="browser"
                ),
                HASHER,
                policy=LOGIN_POLICY,
                ip=client_ip(request),
                now=services.clock.now(),
            )
        except DomainError as exc:
            form.domain_error(exc, language(request))
        else:
            return Redirect(target, status_code=303, cookies=session_cookies(request, issued))
    return render(request, "auth/login.html", title="登录", form=form, status_code=422)


@post("/logout", opt={"action": "page.public"}, include_in_schema=False, status_code=303)
async def logout_submit(
    request: Request[Any, Any, Any], services: Services, maybe_principal: Principal | None
) -> Response[Any]:
    if maybe_principal is not None:
        await identity.logout(services.uow(), maybe_principal, now=services.clock.now())
    response: Response[Any] = Redirect("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@get("/prefs/lang", opt={"action": "page.public"}, include_in_schema=False)
async def set_language(set: str, next: str | None = None) -> Response[Any]:
    """Remember the language in the ``lang`` cookie (the API's error messages follow it too)."""
    value = "en" if set.lower().startswith("en") else "zh-CN"
    cookie = Cookie(key=LANG_COOKIE, value=value, max_age=YEAR, path="/", samesite="lax")
    return Redirect(safe_next(next), status_code=303, cookies=[cookie])


@get("/prefs/care", opt={"action": "page.public"}, include_in_schema=False)
async def set_care_mode(set: str, next: str | None = None) -> Response[Any]:
    """关怀版 on or off (large text, high contrast), remembered in a cookie."""
    cookie = Cookie(
        key=CARE_COOKIE, value="1" if set == "1" else "0", max_age=YEAR, path="/", samesite="lax"
    )
    return Redirect(safe_next(next), status_code=303, cookies=[cookie])


ROUTES = [login_page, login_submit, logout_submit, set_language, set_care_mode]
