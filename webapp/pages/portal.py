"""The public portal: notices by category, region, date and keyword; one notice with its
documents, clarifications and timetable; the platform's statistics so far.

Handlers call the same use cases and repositories as ``/api/portal`` and never go over HTTP.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect, ServerSentEvent

from trading.identity.model import Principal
from trading.rules.calendar import CHINA_TZ, end_of_local_day
from trading.rules.packs import Regime
from trading.tenders import services as tenders
from trading.tenders.errors import TenderNotFoundError
from trading.tenders.model import Tender, TenderStatus
from webapp.api.tenders import evidence
from webapp.pages.labels import LABELS
from webapp.pages.live import LiveHub
from webapp.pages.render import FormState, page_gettext, render, render_html
from webapp.services import Services

PAGE_SIZE = 20
PUBLIC_STATUSES = (TenderStatus.PUBLISHED, TenderStatus.CANCELLED)


def _date(value: str | None, name: str, form: FormState, message: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        form.error(name, message)
        return None


async def search_tenders(
    services: Services, form: FormState, page: int, *, org_id: str | None = None
) -> tuple[list[Tender], int]:
    """The portal search use case with the filter form's values (errors go into ``form``)."""
    values = form.values
    category = values.get("category") or None
    if category not in (None, *Regime):
        category = None
    start = _date(values.get("from"), "from", form, "invalid")
    end = _date(values.get("to"), "to", form, "invalid")
    query = tenders.TenderQuery(
        statuses=tuple(TenderStatus) if org_id else PUBLIC_STATUSES,
        org_id=org_id,
        category=Regime(category) if category else None,
        region=values.get("region") or None,
        published_from=datetime.combine(start, datetime.min.time(), CHINA_TZ) if start else None,
        published_until=end_of_local_day(end) if end else None,
        keyword=values.get("q") or None,
        page=max(page, 1),
        page_size=PAGE_SIZE,
    )
    async with services.uow() as uow:
        found, total = await uow.tenders.search(query)
    return list(found), total


@get("/", opt={"action": "page.public"}, include_in_schema=False)
async def home(
    request: Request[Any, Any, Any],
    services: Services,
    maybe_principal: Principal | None,
    category: str = "",
    region: str = "",
    q: str = "",
    page: int = 1,
) -> Response[str]:
    """交易公告: the notices list; the filter form updates the results in place (htmx)."""
    _ = page_gettext(request)
    values = {
        "category": category,
        "region": region,
        "q": q,
        "from": request.query_params.get("from", ""),
        "to": request.query_params.get("to", ""),
    }
    form = FormState(values=values)
    found, total = await search_tenders(services, form, page)
    for name in ("from", "to"):
        if name in form.errors:
            form.errors[name] = _("日期格式应为 YYYY-MM-DD。")
    template = (
        "portal/_results.html"
        if request.headers.get("hx-target") == "results"
        else ("portal/home.html")
    )
    return render(
        request,
        template,
        principal=maybe_principal,
        title=_("交易公告"),
        form=form,
        items=found,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        labels=LABELS,
        now=services.clock.now(),
        categories=[("", _("全部")), *((str(r), _(LABELS["category"][r])) for r in Regime)],
    )


async def public_tender(services: Services, tender_id: str) -> Tender:
    async with services.uow() as uow:
        tender = await uow.tenders.get(tender_id)
    if tender is None or tender.status == TenderStatus.DRAFT:
        raise TenderNotFoundError(tender_id)
    return tender


@get("/notices/{tender_id:str}", opt={"action": "page.public"}, include_in_schema=False)
async def notice(
    request: Request[Any, Any, Any],
    tender_id: str,
    services: Services,
    maybe_principal: Principal | None,
) -> Response[str]:
    """A published notice: terms, lots, timetable, documents and clarifications."""
    tender = await public_tender(services, tender_id)
    async with services.uow() as uow:
        documents = [
            d for d in await uow.tenders.list_documents(tender.id) if d.is_published_with(tender)
        ]
        clarifications = await uow.tenders.list_clarifications(tender.id)
    now = services.clock.now()
    return render(
        request,
        "portal/notice.html",
        principal=maybe_principal,
        title=tender.draft.title,
        tender=tender,
        documents=documents,
        clarifications=clarifications,
        labels=LABELS,
        now=now,
        phase=tender.phase(now),
    )


@get("/live/tenders/{tender_id:str}", opt={"action": "page.public"}, include_in_schema=False)
async def live_tender(
    request: Request[Any, Any, Any], tender_id: str, services: Services
) -> ServerSentEvent:
    """Live parts of a notice (timetable, clarifications) as SSE events of HTML fragments."""
    await public_tender(services, tender_id)
    hub: LiveHub = request.app.state.live

    async def fragments() -> list[tuple[str, str]]:
        tender = await public_tender(services, tender_id)
        async with services.uow() as uow:
            clarifications = await uow.tenders.list_clarifications(tender.id)
        context: dict[str, Any] = {"tender": tender, "clarifications": clarifications}
        return [
            (event, render_html(request, f"portal/_{event}.html", **context))
            for event in ("timetable", "clarifications")
        ]

    return hub.stream(tender_topic(tender_id), fragments)


def tender_topic(tender_id: str) -> str:
    return f"tender:{tender_id}"


@get(
    "/notices/{tender_id:str}/files/{document_id:str}",
    opt={"action": "page.public"},
    include_in_schema=False,
)
async def public_file(
    request: Request[Any, Any, Any], tender_id: str, document_id: str, services: Services
) -> Redirect:
    """A public file (the notice, published amendments): redirect to its short-lived link."""
    await public_tender(services, tender_id)
    grant = await tenders.download_document(
        services.uow(),
        services.objects,
        tender_id,
        document_id,
        actor=None,
        evidence=evidence(request),
        now=services.clock.now(),
    )
    return Redirect(grant.url, status_code=303)


@get("/stats", opt={"action": "page.public"}, include_in_schema=False)
async def statistics(
    request: Request[Any, Any, Any], services: Services, maybe_principal: Principal | None
) -> Response[str]:
    """Counts of published notices by category (awards and savings come with the results)."""
    _ = page_gettext(request)
    rows: list[tuple[str, int, int]] = []
    async with services.uow() as uow:
        for regime in Regime:
            _found, published = await uow.tenders.search(
                tenders.TenderQuery(
                    statuses=(TenderStatus.PUBLISHED,), category=regime, page_size=1
                )
            )
            _found, cancelled = await uow.tenders.search(
                tenders.TenderQuery(
                    statuses=(TenderStatus.CANCELLED,), category=regime, page_size=1
                )
            )
            rows.append((_(LABELS["category"][regime]), published, cancelled))
    largest = max([r[1] + r[2] for r in rows] + [1])
    return render(
        request,
        "portal/stats.html",
        principal=maybe_principal,
        title=_("统计"),
        rows=rows,
        largest=largest,
    )


ROUTES = [home, notice, live_tender, public_file, statistics]
