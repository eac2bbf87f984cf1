"""The agency's pages: draft and edit a tender (checked against the rule pack as it is typed),
upload the signed notice and documents (the signature verdict shown), publish, and publish
clarifications (the moved deadline shown), answer questions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect

from trading.errors import DomainError, ValidationError
from trading.identity.model import Principal
from trading.rules.calendar import CHINA_TZ, local_date
from trading.rules.packs import Regime, pack_for
from trading.tenders import services as tenders
from trading.tenders.errors import TenderNotFoundError
from trading.tenders.model import (
    BidSecurity,
    DocumentKind,
    EvaluationMethod,
    Lot,
    Procedure,
    Tender,
    TenderDraft,
    TenderStatus,
    check_draft,
    check_publication_rules,
)
from trading.tenders.opening_data import FieldType, OpeningField
from webapp.api.tenders import RESOURCE
from webapp.auth import client_ip
from webapp.pages.auth_pages import FORM
from webapp.pages.labels import LABELS
from webapp.pages.live import LiveHub
from webapp.pages.portal import search_tenders, tender_topic
from webapp.pages.render import (
    N_,
    FormState,
    language,
    local_input,
    page_gettext,
    render,
    translations,
)
from webapp.services import Services

TENDER_FIELDS = (
    "title",
    "code",
    "category",
    "procedure",
    "region",
    "evaluation_method",
    "description",
    "documents_from",
    "deadline",
    "opening_at",
    "lot_name",
    "budget",
    "security",
)
FIELD_MAP = {
    "lots.1.name": "lot_name",
    "lots.1.budget_fen": "budget",
    "lots.1.security": "security",
    "lots": "lot_name",
    # rules of the pack, named next to the field they constrain
    "documents_period": "deadline",
    "opening_at_deadline": "opening_at",
    "security_cap": "security",
    "clarification_period": "new_deadline",
}
PDF_MAGIC = b"%PDF-"
MANAGE = {"action": "page.tender.manage", **RESOURCE}


def _yuan_to_fen(text: str) -> int:
    value = Decimal(text.replace(",", "").replace("¥", "").strip())
    if value != value.quantize(Decimal("0.01")):
        raise InvalidOperation
    return int(value * 100)


def _instant(text: str) -> datetime:
    """A ``datetime-local`` value, read as China time."""
    return datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)


def draft_from_form(form: FormState, lang: str, lot_id: str = "") -> TenderDraft | None:
    """Parse the tender form; errors are put next to their fields, in ``lang``."""
    v = form.values
    _ = translations(lang).gettext
    for name in ("title", "lot_name"):
        if not v.get(name, "").strip():
            form.error(name, _("此项必填。"))
    instants: dict[str, datetime] = {}
    for name in ("documents_from", "deadline", "opening_at"):
        try:
            instants[name] = _instant(v.get(name, ""))
        except ValueError:
            form.error(name, _("请填写有效的日期和时间。"))
    amounts: dict[str, int] = {}
    for name in ("budget", "security"):
        raw = v.get(name, "").strip() or ("0" if name == "security" else "")
        try:
            amounts[name] = _yuan_to_fen(raw)
        except (InvalidOperation, ValueError):
            form.error(name, _("请填写金额（元），最多两位小数。"))
    choices = {
        "category": [str(x) for x in Regime],
        "procedure": [str(x) for x in Procedure],
        "evaluation_method": [str(x) for x in EvaluationMethod],
    }
    for name, allowed in choices.items():
        if v.get(name) not in allowed:
            form.error(name, _("请选择一项。"))
    if not form.ok:
        return None
    return TenderDraft(
        title=v["title"].strip(),
        code=v.get("code", "").strip(),
        category=Regime(v["category"]),
        procedure=Procedure(v["procedure"]),
        region=v.get("region", "").strip(),
        evaluation_method=EvaluationMethod(v["evaluation_method"]),
        documents_from=instants["documents_from"],
        deadline=instants["deadline"],
        opening_at=instants["opening_at"],
        lots=(
            Lot(
                id=lot_id or tenders.new_id(),
                number=1,
                name=v["lot_name"].strip(),
                budget_fen=amounts["budget"],
                opening_schema=(OpeningField("price", "投标报价", "Bid price", FieldType.MONEY),),
                security=BidSecurity(amounts["security"]),
            ),
        ),
        description=v.get("description", ""),
    )


def rule_check(form: FormState, draft: TenderDraft, lang: str, now: datetime) -> None:
    """The structural checks and the rule pack's publication checks, as field errors."""
    try:
        check_draft(draft)
        pack = pack_for(draft.category, local_date(now))
        check_publication_rules(pack, replace(draft, documents_from=max(draft.documents_from, now)))
    except ValidationError as exc:
        form.domain_error(exc, lang, FIELD_MAP)


def form_of(tender: Tender) -> FormState:
    d = tender.draft
    lot = d.lots[0]
    return FormState(
        values={
            "title": d.title,
            "code": d.code,
            "category": str(d.category),
            "procedure": str(d.procedure),
            "region": d.region,
            "evaluation_method": str(d.evaluation_method),
            "description": d.description,
            "documents_from": local_input(d.documents_from),
            "deadline": local_input(d.deadline),
            "opening_at": local_input(d.opening_at),
            "lot_name": lot.name,
            "budget": str(Decimal(lot.budget_fen) / 100),
            "security": str(Decimal(lot.security.amount_fen) / 100),
            "version": str(tender.version),
        }
    )


def _values(data: dict[str, str]) -> dict[str, str]:
    return {name: str(data.get(name, "")) for name in (*TENDER_FIELDS, "version")}


def _render_form(
    request: Request[Any, Any, Any],
    principal: Principal,
    form: FormState,
    *,
    tender: Tender | None,
    status_code: int = 200,
) -> Response[str]:
    _ = page_gettext(request)
    template = (
        "agency/_tender_form.html"
        if request.headers.get("hx-target") == "tender-form"
        else "agency/tender_form.html"
    )
    return render(
        request,
        template,
        principal=principal,
        status_code=status_code,
        title=_("编辑招标项目") if tender else _("新建招标项目"),
        form=form,
        tender=tender,
        options={
            "category": [(str(k), _(v)) for k, v in LABELS["category"].items()],
            "procedure": [(str(k), _(v)) for k, v in LABELS["procedure"].items()],
            "evaluation_method": [(str(k), _(v)) for k, v in LABELS["method"].items()],
        },
    )


def live(request: Request[Any, Any, Any]) -> LiveHub:
    hub: LiveHub = request.app.state.live
    return hub


async def _load(services: Services, tender_id: str) -> Tender:
    async with services.uow() as uow:
        tender = await uow.tenders.get(tender_id)
    if tender is None:
        raise TenderNotFoundError(tender_id)
    return tender


# --- list, create, edit -------------------------------------------------------------------------


@get("/agency/tenders", opt={"action": "page.agency"}, include_in_schema=False)
async def my_tenders(
    request: Request[Any, Any, Any], services: Services, principal: Principal, page: int = 1
) -> Response[str]:
    _ = page_gettext(request)
    form = FormState(values={})
    found, total = await search_tenders(services, form, page, org_id=principal.org_id)
    return render(
        request,
        "agency/tenders.html",
        principal=principal,
        title=_("我的招标项目"),
        items=found,
        total=total,
        labels=LABELS,
        now=services.clock.now(),
    )


@get("/agency/tenders/new", opt={"action": "page.agency"}, include_in_schema=False)
async def new_tender(
    request: Request[Any, Any, Any], services: Services, principal: Principal
) -> Response[str]:
    form = FormState(
        values={
            "category": str(Regime.CONSTRUCTION),
            "procedure": str(Procedure.OPEN),
            "evaluation_method": str(EvaluationMethod.COMPREHENSIVE),
            "security": "0",
        }
    )
    return _render_form(request, principal, form, tender=None)


@post("/agency/tenders/check", opt={"action": "page.agency"}, include_in_schema=False)
async def check_tender(
    request: Request[Any, Any, Any],
    services: Services,
    principal: Principal,
    data: Annotated[dict[str, str], FORM],
) -> Response[str]:
    """Inline validation (htmx, on change): the form again, with every rule's verdict."""
    lang = language(request)
    form = FormState(values=_values(data))
    draft = draft_from_form(form, lang)
    if draft is not None:
        rule_check(form, draft, lang, services.clock.now())
    return _render_form(request, principal, form, tender=None)


@post("/agency/tenders/new", opt={"action": "page.agency"}, include_in_schema=False)
async def create_tender(
    request: Request[Any, Any, Any],
    services: Services,
    principal: Principal,
    data: Annotated[dict[str, str], FORM],
) -> Response[Any]:
    lang = language(request)
    form = FormState(values=_values(data))
    draft = draft_from_form(form, lang)
    if draft is not None:
        try:
            tender = await tenders.create_tender(
                services.uow(),
                draft,
                actor=principal,
                ip=client_ip(request),
                now=services.clock.now(),
            )
        except ValidationError as exc:
            form.domain_error(exc, lang, FIELD_MAP)
        else:
            return Redirect(f"/agency/tenders/{tender.id}?done=saved", status_code=303)
    return _render_form(request, principal, form, tender=None, status_code=422)


@get("/agency/tenders/{tender_id:str}/edit", opt=MANAGE, include_in_schema=False)
async def edit_tender_page(
    request: Request[Any, Any, Any], tender_id: str, services: Services, principal: Principal
) -> Response[str]:
    tender = await _load(services, tender_id)
    form = form_of(tender)
    rule_check(form, tender.draft, language(request), services.clock.now())
    return _render_form(request, principal, form, tender=tender)


@post("/agency/tenders/{tender_id:str}/edit", opt=MANAGE, include_in_schema=False)
async def edit_tender(
    request: Request[Any, Any, Any],
    tender_id: str,
    services: Services,
    principal: Principal,
    data: Annotated[dict[str, str], FORM],
) -> Response[Any]:
    lang = language(request)
    tender = await _load(services, tender_id)
    form = FormState(values=_values(data))
    draft = draft_from_form(form, lang, lot_id=tender.draft.lots[0].id)
    if draft is not None:
        try:
            version = int(form.values["version"]) if form.values.get("version") else None
            await tenders.edit_tender(
                services.uow(),
                tender_id,
                draft,
                expected_version=version,
                actor=principal,
                ip=client_ip(request),
                now=services.clock.now(),
            )
        except DomainError as exc:
            form.domain_error(exc, lang, FIELD_MAP)
        else:
            return Redirect(f"/agency/tenders/{tender_id}?done=saved", status_code=303)
    return _render_form(request, principal, form, tender=tender, status_code=422)


# --- one tender: documents, publication, clarifications, questions ----------------------------

DONE = {
    "saved": N_("草稿已保存。"),
    "uploaded": N_("文件已上传，签章校验通过。"),
    "published": N_("项目已发布。"),
    "clarified": N_("澄清已发布。"),
    "answered": N_("答复已作为澄清发布。"),
}


async def _manage_page(
    request: Request[Any, Any, Any],
    services: Services,
    principal: Principal,
    tender: Tender,
    *,
    forms: dict[str, FormState] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    _ = page_gettext(request)
    lang = language(request)
    now = services.clock.now()
    async with services.uow() as uow:
        documents = await uow.tenders.list_documents(tender.id)
        clarifications = await uow.tenders.list_clarifications(tender.id)
        questions = await uow.tenders.list_questions(tender.id)
    rules = FormState(values={name: "" for name in TENDER_FIELDS})
    if tender.status == TenderStatus.DRAFT:
        rule_check(rules, tender.draft, lang, now)
    forms = forms or {}
    return render(
        request,
        "agency/tender.html",
        principal=principal,
        status_code=status_code,
        title=tender.draft.title,
        tender=tender,
        documents=documents,
        clarifications=clarifications,
        questions=questions,
        labels=LABELS,
        now=now,
        phase=tender.phase(now),
        rules=rules,
        upload=forms.get("upload", FormState(values={"kind": "notice"})),
        publish=forms.get("publish", FormState()),
        clarify=forms.get("clarify", FormState()),
        done=_(DONE[done]) if done in DONE else "",
        kinds=[(str(k), _(v)) for k, v in LABELS["kind"].items()],
    )


@get("/agency/tenders/{tender_id:str}", opt=MANAGE, include_in_schema=False)
async def manage_tender(
    request: Request[Any, Any, Any],
    tender_id: str,
    services: Services,
    principal: Principal,
    done: str | None = None,
) -> Response[str]:
    tender = await _load(services, tender_id)
    return await _manage_page(request, services, principal, tender, done=done)


async def _chunks(upload: UploadFile, first: bytes) -> AsyncIterator[bytes]:
    yield first
    while chunk := await upload.read(1 << 20):
        yield chunk


@post("/agency/tenders/{tender_id:str}/documents", opt=MANAGE, include_in_schema=False)
async def upload_document(
    request: Request[Any, Any, Any], tender_id: str, services: Services, principal: Principal
) -> Response[Any]:
    """A signed PDF from a multipart form; anything but a PDF is refused with a message."""
    _ = page_gettext(request)
    lang = language(request)
    form_data = await request.form()
    kind = str(form_data.get("kind", ""))
    upload = form_data.get("file")
    form = FormState(values={"kind": kind})
    if kind not in {str(k) for k in DocumentKind}:
        form.error("kind", _("请选择文件类型。"))
    first = b""
    if not isinstance(upload, UploadFile) or not upload.filename:
        form.error("file", _("请选择要上传的文件。"))
    else:
        first = await upload.read(1 << 16)
        if not first.startswith(PDF_MAGIC) or not upload.filename.lower().endswith(".pdf"):
            form.error("file", _("只接受已签章的 PDF 文件。"))
    if form.ok and isinstance(upload, UploadFile):
        try:
            await tenders.upload_document(
                services.uow(),
                services.objects,
                services.document_validator,
                tender_id,
                kind=DocumentKind(kind),
                filename=upload.filename,
                chunks=_chunks(upload, first),
                actor=principal,
                ip=client_ip(request),
                now=services.clock.now(),
                max_bytes=min(tenders.MAX_DOCUMENT_BYTES, services.settings.max_request_bytes),
            )
        except DomainError as exc:
            form.error("file", exc.message(lang))
        else:
            return Redirect(f"/agency/tenders/{tender_id}?done=uploaded", status_code=303)
    tender = await _load(services, tender_id)
    return await _manage_page(
        request, services, principal, tender, forms={"upload": form}, status_code=422
    )


@post("/agency/tenders/{tender_id:str}/publish", opt=MANAGE, include_in_schema=False)
async def publish(
    request: Request[Any, Any, Any], tender_id: str, services: Services, principal: Principal
) -> Response[Any]:
    lang = language(request)
    try:
        await tenders.publish_tender(
            services.uow(),
            tender_id,
            actor=principal,
            ip=client_ip(request),
            now=services.clock.now(),
        )
    except ValidationError as exc:
        form = FormState()
        form.domain_error(exc, lang)
        tender = await _load(services, tender_id)
        return await _manage_page(
            request, services, principal, tender, forms={"publish": form}, status_code=422
        )
    live(request).publish(tender_topic(tender_id))
    return Redirect(f"/agency/tenders/{tender_id}?done=published", status_code=303)


@post("/agency/tenders/{tender_id:str}/clarifications", opt=MANAGE, include_in_schema=False)
async def clarify(
    request: Request[Any, Any, Any],
    tender_id: str,
    services: Services,
    principal: Principal,
) -> Response[Any]:
    """Publish a clarification, with the amendment files ticked (uploaded beforehand)."""
    _ = page_gettext(request)
    lang = language(request)
    data = await request.form()
    form = FormState(values={k: str(data.get(k, "")) for k in ("title", "body", "new_deadline")})
    document_ids = tuple(str(v) for v in data.getall("document_ids", []))
    for name in ("title", "body"):
        if not form.values[name].strip():
            form.error(name, _("此项必填。"))
    new_deadline = None
    if form.values["new_deadline"]:
        try:
            new_deadline = _instant(form.values["new_deadline"])
        except ValueError:
            form.error("new_deadline", _("请填写有效的日期和时间。"))
    if form.ok:
        try:
            await tenders.issue_clarification(
                services.uow(),
                tender_id,
                tenders.IssueClarification(
                    form.values["title"].strip(), form.values["body"], document_ids, new_deadline
                ),
                actor=principal,
                ip=client_ip(request),
                now=services.clock.now(),
            )
        except DomainError as exc:
            form.domain_error(exc, lang, FIELD_MAP)
        else:
            live(request).publish(tender_topic(tender_id))
            return Redirect(f"/agency/tenders/{tender_id}?done=clarified", status_code=303)
    tender = await _load(services, tender_id)
    return await _manage_page(
        request, services, principal, tender, forms={"clarify": form}, status_code=422
    )


@post(
    "/agency/tenders/{tender_id:str}/questions/{question_id:str}/answer",
    opt=MANAGE,
    include_in_schema=False,
)
async def answer(
    request: Request[Any, Any, Any],
    tender_id: str,
    question_id: str,
    services: Services,
    principal: Principal,
    data: Annotated[dict[str, str], FORM],
) -> Response[Any]:
    text = str(data.get("answer", "")).strip()
    if text:
        await tenders.answer_question(
            services.uow(),
            tender_id,
            question_id,
            text,
            actor=principal,
            ip=client_ip(request),
            now=services.clock.now(),
        )
        live(request).publish(tender_topic(tender_id))
    return Redirect(f"/agency/tenders/{tender_id}?done=answered", status_code=303)


ROUTES = [
    my_tenders,
    new_tender,
    check_tender,
    create_tender,
    edit_tender_page,
    edit_tender,
    manage_tender,
    upload_document,
    publish,
    clarify,
    answer,
]
