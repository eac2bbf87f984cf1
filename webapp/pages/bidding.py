"""The bidder's submission pages: upload a sealed envelope (resumable, with progress; the
browser talks to the same ``/api`` upload routes as the CLI), see the live bid of each lot,
withdraw it before the deadline, and see and download receipts."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect

from trading.bids import services as bids
from trading.identity.model import Principal
from webapp.auth import client_ip
from webapp.bids import PlatformReceiptSigner
from webapp.pages.labels import LABELS
from webapp.pages.live import LiveHub
from webapp.pages.portal import public_tender, tender_topic
from webapp.pages.render import N_, page_gettext, render
from webapp.services import Services

DONE = {"withdrawn": N_("投标已撤回，撤回回执已生成。")}


@get(
    "/bidder/tenders/{tender_id:str}/submit", opt={"action": "page.bidder"}, include_in_schema=False
)
async def submit_page(
    request: Request[Any, Any, Any],
    tender_id: str,
    services: Services,
    principal: Principal,
    done: str | None = None,
) -> Response[str]:
    """Per lot: whether it accepts bids (opening key set), the live bid, the upload form."""
    _ = page_gettext(request)
    tender = await public_tender(services, tender_id)
    now = services.clock.now()
    lots = []
    async with services.uow() as uow:
        for lot in tender.draft.lots:
            key = await uow.bids.get_opening_key(tender.id, lot.number)
            live = await uow.bids.live_bid(tender.id, lot.id, principal.org_id)
            lots.append({"lot": lot, "has_key": key is not None, "bid": live})
    receipts = [
        r
        for r in await bids.list_receipts(services.uow(), actor=principal)
        if r.tender_id == tender.id
    ]
    return render(
        request,
        "bidder/submit.html",
        principal=principal,
        title=_("递交投标文件"),
        tender=tender,
        lots=lots,
        receipts=receipts,
        open=tender.submission_open(now),
        labels=LABELS,
        phase=tender.phase(now),
        done=_(DONE[done]) if done in DONE else "",
    )


@post(
    "/bidder/tenders/{tender_id:str}/bids/{bid_id:str}/withdraw",
    opt={"action": "page.bidder"},
    include_in_schema=False,
)
async def withdraw(
    request: Request[Any, Any, Any],
    tender_id: str,
    bid_id: str,
    services: Services,
    principal: Principal,
) -> Redirect:
    await bids.withdraw_bid(
        services.uow(),
        PlatformReceiptSigner(services),
        bid_id,
        actor=principal,
        ip=client_ip(request),
        clock=services.clock.now,
    )
    hub: LiveHub = request.app.state.live
    hub.publish(tender_topic(tender_id))
    return Redirect(f"/bidder/tenders/{tender_id}/submit?done=withdrawn", status_code=303)


@get("/bidder/receipts", opt={"action": "page.bidder"}, include_in_schema=False)
async def receipts(
    request: Request[Any, Any, Any], services: Services, principal: Principal
) -> Response[str]:
    _ = page_gettext(request)
    found = await bids.list_receipts(services.uow(), actor=principal)
    titles: dict[str, str] = {}
    async with services.uow() as uow:
        for tender_id in {r.tender_id for r in found}:
            tender = await uow.tenders.get(tender_id)
            titles[tender_id] = tender.draft.title if tender else tender_id
    return render(
        request,
        "bidder/receipts.html",
        principal=principal,
        title=_("我的回执"),
        receipts=sorted(found, key=lambda r: r.issued_at, reverse=True),
        titles=titles,
    )


@get(
    "/bidder/receipts/{receipt_id:str}/download",
    opt={"action": "page.bidder"},
    include_in_schema=False,
)
async def download_receipt(
    receipt_id: str, services: Services, principal: Principal
) -> Response[bytes]:
    """The receipt file exactly as issued (``tenderhall bid verify-receipt`` checks it)."""
    receipt = await bids.get_receipt(services.uow(), receipt_id, actor=principal)
    body = json.dumps(receipt.document, ensure_ascii=False, indent=2).encode()
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="receipt-{receipt.id}.json"',
            "Cache-Control": "no-store",
        },
    )


ROUTES = [submit_page, withdraw, receipts, download_receipt]
