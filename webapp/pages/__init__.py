"""Pages for people: server-rendered HTML (Jinja), htmx for partial updates, one layout.

Page routes are left out of the OpenAPI document (it describes the JSON API); their access
decisions are tested by ``tests/pages/test_page_access.py`` instead.
"""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from webapp.pages import agency, auth_pages, bidding, people, portal
from webapp.pages.common import PAGE_EXCEPTION_HANDLERS, form_csrf_guard
from webapp.pages.render import HERE

STATIC_MAX_AGE = 24 * 3600
"""Static files are vendored and change only with a release; a day keeps slow lines fast."""


def page_routers() -> list[Router]:
    pages = Router(
        path="/",
        route_handlers=[
            *auth_pages.ROUTES,
            *portal.ROUTES,
            *agency.ROUTES,
            *people.ROUTES,
            *bidding.ROUTES,
        ],
        guards=[form_csrf_guard],
        exception_handlers=PAGE_EXCEPTION_HANDLERS,
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/static",
        directories=[HERE / "static"],
        opt={"action": "page.public"},
        cache_control=CacheControlHeader(max_age=STATIC_MAX_AGE, public=True),
        include_in_schema=False,
    )
    return [pages, static]
