"""One way to render a page: the Jinja environment, the person's language, the layout's context,
forms with their errors, and locale formatting of dates, money and numbers.

Message ids are the Chinese texts (zh-CN is the default and needs no catalogue); the English
catalogue in ``webapp/i18n`` translates every one of them. Each render passes ``gettext`` in the
template context, so one shared environment serves both languages without global state.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie
from markupsafe import Markup

from trading.errors import DomainError
from trading.identity.model import Principal, Role
from trading.rules.calendar import CHINA_TZ
from webapp.auth import CSRF_COOKIE, CSRF_FIELD

HERE = Path(__file__).resolve().parent.parent
TEMPLATES = HERE / "templates"
I18N = HERE / "i18n"
LANG_COOKIE = "lang"
CARE_COOKIE = "care"
"""关怀版: large text and high contrast, remembered in this cookie."""
LANGUAGES = ("zh-CN", "en")
HTML = "text/html; charset=utf-8"


@cache
def translations(lang: str) -> NullTranslations:
    if lang == "en":
        return Translations.load(str(I18N), locales=["en"], domain="messages")
    return NullTranslations()


def _newstyle(catalogue: NullTranslations) -> Callable[..., str]:
    """``_("共 %(n)s 条", n=...)``: translate, then interpolate with the values escaped (the
    catalogue's text is ours; the values may come from users)."""

    def gettext(message: str, **values: Any) -> str:
        text = catalogue.gettext(message)
        # S704: the catalogue text is the platform's own; Markup % escapes every value.
        return Markup(text) % values if values else text  # noqa: S704

    return gettext


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(("html",), default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    # Placeholders only: every render passes the person's gettext in its context.
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


ENV = _environment()


def language(request: Request[Any, Any, Any]) -> str:
    """The chosen language (cookie), else the browser's first preference, else Chinese."""
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen:
        return "en" if chosen.lower().startswith("en") else "zh-CN"
    first = request.headers.get("accept-language", "").split(",")[0].strip().lower()
    return "en" if first.startswith("en") else "zh-CN"


def page_gettext(request: Request[Any, Any, Any]) -> Callable[[str], str]:
    """``_`` for messages written in Python (field errors): the person's catalogue."""
    return translations(language(request)).gettext


def N_(message: str) -> str:
    """Marks a message for extraction; translated later, where the language is known."""
    return message


def babel_locale(lang: str) -> str:
    return "en_US" if lang == "en" else "zh_Hans_CN"


# --- formatting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Formatter:
    """Dates, money and numbers in the person's locale; times always in China time."""

    lang: str

    @property
    def locale(self) -> str:
        return babel_locale(self.lang)

    def when(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return format_datetime(value, "yyyy-MM-dd HH:mm", tzinfo=CHINA_TZ, locale=self.locale)

    def when_long(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return format_datetime(value, "medium", tzinfo=CHINA_TZ, locale=self.locale)

    def money(self, fen: int) -> str:
        """Integer fen as yuan: ``¥1,234.56`` (zh) or ``CN¥1,234.56`` (en)."""
        return format_currency(Decimal(fen) / 100, "CNY", locale=self.locale)

    def wan(self, fen: int) -> str:
        """Integer fen in 万元 (zh) or million yuan (en), the units notices use."""
        if self.lang == "en":
            millions = Decimal(fen) / 100 / 1_000_000
            return format_decimal(millions, "#,##0.####", locale=self.locale) + " million yuan"
        return format_decimal(Decimal(fen) / 1_000_000, "#,##0.######", locale=self.locale) + "万元"

    def number(self, value: int | float | Decimal) -> str:
        return format_decimal(value, locale=self.locale)


def local_input(value: datetime | None) -> str:
    """A ``datetime-local`` input's value in China time."""
    return value.astimezone(CHINA_TZ).strftime("%Y-%m-%dT%H:%M") if value else ""


ROLE_NAMES: dict[Role, str] = {
    Role.ADMIN: N_("平台管理员"),
    Role.AGENCY_OFFICER: N_("招标代理"),
    Role.BIDDER_REP: N_("投标人"),
    Role.EXPERT: N_("评标专家"),
    Role.SUPERVISOR: N_("监管人员"),
    Role.ISSUER_OFFICER: N_("保函出具机构"),
}


# --- forms ------------------------------------------------------------------------------------


@dataclass
class FormState:
    """A form's submitted values and its errors, keyed by field; errors without a field are
    shown at the top of the form."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def domain_error(
        self, exc: DomainError, lang: str, field_map: dict[str, str] | None = None
    ) -> None:
        """Put a domain error next to the field it names (``details['field']``), else on top.

        ``field_map`` maps domain field names (``lots.1.budget_fen``, or a rule's name) to the
        form's field names.
        """
        message = exc.message(lang)
        mapping = field_map or {}
        rule = getattr(exc, "rule", None)
        name = str(exc.details.get("field", ""))
        target = mapping.get(str(rule)) if rule else None
        target = target or mapping.get(name) or (name if name in self.values else None)
        if target:
            self.error(target, message)
        else:
            self.general.append(message)


# --- rendering --------------------------------------------------------------------------------


def csrf_token(request: Request[Any, Any, Any]) -> tuple[str, bool]:
    """The double-submit token for forms, and whether it is new (so the cookie must be set).

    A signed-in browser has the session's token in the cookie; a visitor gets a random one.
    """
    existing = request.cookies.get(CSRF_COOKIE, "")
    if existing:
        return existing, False
    return secrets.token_urlsafe(24), True


def next_url(request: Request[Any, Any, Any]) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_next(value: str | None, default: str = "/") -> str:
    """Only paths on this site: an open redirect would let a link send people elsewhere."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
    title: str = "",
    **context: Any,
) -> Response[str]:
    """Render ``template`` within the layout for this person (language, role, 关怀版)."""
    token, new_token = csrf_token(request)
    html = render_html(request, template, principal=principal, title=title, csrf=token, **context)
    cookies: list[Cookie] = []
    if new_token:
        cookies.append(
            Cookie(key=CSRF_COOKIE, value=token, httponly=False, samesite="strict", path="/")
        )
    return Response(
        html,
        status_code=status_code,
        media_type=HTML,
        cookies=cookies,
        headers={"Cache-Control": "no-store", "Vary": "Cookie, Accept-Language"},
    )


def render_html(
    request: Request[Any, Any, Any],
    template: str,
    *,
    principal: Principal | None = None,
    title: str = "",
    csrf: str = "",
    **context: Any,
) -> str:
    """The HTML of ``template`` for this person: a page, or a fragment (htmx, live updates)."""
    lang = language(request)
    catalogue = translations(lang)
    fmt = Formatter(lang)
    return ENV.get_template(template).render(
        gettext=_newstyle(catalogue),
        lang=lang,
        html_lang="en" if lang == "en" else "zh-CN",
        care=request.cookies.get(CARE_COOKIE) == "1",
        principal=principal,
        role_name=ROLE_NAMES.get(principal.role, str(principal.role)) if principal else "",
        csrf_field=CSRF_FIELD,
        csrf_token=csrf or request.cookies.get(CSRF_COOKIE, ""),
        fmt=fmt,
        local_input=local_input,
        here=next_url(request),
        here_quoted=quote(next_url(request), safe=""),
        title=title,
        htmx=request.headers.get("hx-request") == "true",
        Role=Role,
        **context,
    )
