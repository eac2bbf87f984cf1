"""Bidders' and administrators' pages: register an organisation (public), bind a certificate,
download documents and ask questions; approve organisations and manage CA providers."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.response import Redirect

from signing.trust import CaProvider
from trading.errors import DomainError
from trading.identity import services as identity
from trading.identity.model import OrgStatus, OrgType, Principal
from trading.tenders import services as tenders
from webapp.api.identity import certificate_der, verifier
from webapp.api.tenders import RESOURCE, evidence
from webapp.api.trust import drop_provider, list_providers, refresh_revocation, store_provider
from webapp.auth import client_ip
from webapp.pages.auth_pages import FORM
from webapp.pages.portal import public_tender
from webapp.pages.render import N_, FormState, language, page_gettext, render
from webapp.services import Services

MAX_PEM_BYTES = 256 * 1024
DONE = {
    "bound": N_("证书已绑定。"),
    "asked": N_("疑问已提交，招标人将以澄清形式统一答复（不显示提问人）。"),
    "saved": N_("CA 已保存。"),
    "removed": N_("CA 已移除。"),
    "refreshed": N_("吊销列表已刷新。"),
    "decided": N_("审核结果已保存。"),
}


async def _pem_text(value: object, form: FormState, field: str, message: str) -> str:
    """A PEM from an uploaded file or pasted text; anything that is not PEM is refused."""
    if isinstance(value, UploadFile):
        data = await value.read(MAX_PEM_BYTES + 1)
        text = "" if len(data) > MAX_PEM_BYTES else data.decode("ascii", errors="replace")
    else:
        text = str(value or "")
    if "-----BEGIN CERTIFICATE-----" not in text:
        form.error(field, message)
        return ""
    return text


# --- registration (public) --------------------------------------------------------------------


@get("/register", opt={"action": "page.public"}, include_in_schema=False)
async def register_page(
    request: Request[Any, Any, Any], maybe_principal: Principal | None
) -> Response[str]:
    _ = page_gettext(request)
    return render(
        request,
        "people/register.html",
        principal=maybe_principal,
        title=_("投标人注册"),
        form=FormState(),
        registered=None,
    )


@post("/register", opt={"action": "page.public"}, include_in_schema=False)
async def register_submit(
    request: Request[Any, Any, Any],
    services: Services,
    maybe_principal: Principal | None,
    data: Annotated[dict[str, str], FORM],
) -> Response[str]:
    _ = page_gettext(request)
    form = FormState(
        values={k: str(data.get(k, "")).strip() for k in ("name", "credit_code", "region")}
    )
    for name in ("name", "credit_code"):
        if not form.values[name]:
            form.error(name, _("此项必填。"))
    registered = None
    if form.ok:
        try:
            registered = await identity.register_organisation(
                services.uow(),
                identity.RegisterOrganisation(
                    name=form.values["name"],
                    credit_code=form.values["credit_code"].upper(),
                    type=OrgType.BIDDER,
                    region=form.values["region"],
                ),
                actor=maybe_principal,
                ip=client_ip(request),
                now=services.clock.now(),
            )
        except DomainError as exc:
            form.domain_error(exc, language(request))
    return render(
        request,
        "people/register.html",
        principal=maybe_principal,
        title=_("投标人注册"),
        form=form,
        registered=registered,
        status_code=200 if form.ok else 422,
    )


# --- certificates -----------------------------------------------------------------------------


async def _certificates_page(
    request: Request[Any, Any, Any],
    services: Services,
    principal: Principal,
    form: FormState,
    done: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    _ = page_gettext(request)
    async with services.uow() as uow:
        bindings = await uow.identity.list_certificates(principal.person_id)
    return render(
        request,
        "people/certificates.html",
        principal=principal,
        title=_("我的证书"),
        bindings=bindings,
        form=form,
        done=_(DONE[done]) if done in DONE else "",
        status_code=status_code,
    )


@get("/account/certificates", opt={"action": "page.signed_in"}, include_in_schema=False)
async def certificates(
    request: Request[Any, Any, Any],
    services: Services,
    principal: Principal,
    done: str | None = None,
) -> Response[str]:
    return await _certificates_page(request, services, principal, FormState(), done)


@post("/account/certificates", opt={"action": "page.signed_in"}, include_in_schema=False)
async def bind_certificate(
    request: Request[Any, Any, Any], services: Services, principal: Principal
) -> Response[Any]:
    """Bind a certificate (PEM file or pasted PEM) to the signed-in person."""
    _ = page_gettext(request)
    data = await request.form()
    form = FormState(
        values={
            "pem": str(data.get("pem", "")) if not isinstance(data.get("pem"), UploadFile) else ""
        }
    )
    upload = data.get("file")
    source = upload if isinstance(upload, UploadFile) and upload.filename else data.get("pem")
    pem = await _pem_text(source, form, "file", _("请上传 PEM 格式的证书文件（.pem/.crt）。"))
    if form.ok:
        try:
            await identity.bind_certificate(
                services.uow(),
                principal.person_id,
                certificate_der(pem),
                verifier(services),
                actor=principal,
                ip=client_ip(request),
                now=services.clock.now(),
            )
        except DomainError as exc:
            form.error("file", exc.message(language(request)))
        else:
            return Redirect("/account/certificates?done=bound", status_code=303)
    return await _certificates_page(request, services, principal, form, status_code=422)


# --- tender documents and questions -----------------------------------------------------------


@get(
    "/tenders/{tender_id:str}/documents/{document_id:str}/download",
    opt={"action": "page.tender.download", **RESOURCE},
    include_in_schema=False,
)
async def download(
    request: Request[Any, Any, Any],
    tender_id: str,
    document_id: str,
    services: Services,
    principal: Principal,
) -> Redirect:
    """The tender documents for a signed-in bidder (recorded, sealed) or the owning agency."""
    grant = await tenders.download_document(
        services.uow(),
        services.objects,
        tender_id,
        document_id,
        actor=principal,
        evidence=evidence(request),
        now=services.clock.now(),
    )
    return Redirect(grant.url, status_code=303)


@get(
    "/bidder/tenders/{tender_id:str}/questions/new",
    opt={"action": "page.bidder"},
    include_in_schema=False,
)
async def question_page(
    request: Request[Any, Any, Any],
    tender_id: str,
    services: Services,
    principal: Principal,
    done: str | None = None,
) -> Response[str]:
    _ = page_gettext(request)
    tender = await public_tender(services, tender_id)
    return render(
        request,
        "people/question.html",
        principal=principal,
        title=_("提出疑问"),
        tender=tender,
        form=FormState(),
        done=_(DONE[done]) if done in DONE else "",
    )


@post(
    "/bidder/tenders/{tender_id:str}/questions/new",
    opt={"action": "page.bidder"},
    include_in_schema=False,
)
async def ask(
    request: Request[Any, Any, Any],
    tender_id: str,
    services: Services,
    principal: Principal,
    data: Annotated[dict[str, str], FORM],
) -> Response[Any]:
    _ = page_gettext(request)
    tender = await public_tender(services, tender_id)
    form = FormState(values={"text": str(data.get("text", ""))})
    if not form.values["text"].strip():
        form.error("text", _("此项必填。"))
    if form.ok:
        try:
            await tenders.ask_question(
                services.uow(),
                tender_id,
                form.values["text"],
                actor=principal,
                evidence=evidence(request),
                now=services.clock.now(),
            )
        except DomainError as exc:
            form.domain_error(exc, language(request), {"text": "text"})
        else:
            return Redirect(
                f"/bidder/tenders/{tender_id}/questions/new?done=asked", status_code=303
            )
    return render(
        request,
        "people/question.html",
        principal=principal,
        title=_("提出疑问"),
        tender=tender,
        form=form,
        done="",
        status_code=422,
    )


# --- administration ---------------------------------------------------------------------------


@get("/admin/organisations", opt={"action": "page.admin"}, include_in_schema=False)
async def organisations(
    request: Request[Any, Any, Any],
    services: Services,
    principal: Principal,
    status: str = "pending",
    done: str | None = None,
) -> Response[str]:
    _ = page_gettext(request)
    chosen = OrgStatus(status) if status in {str(s) for s in OrgStatus} else None
    async with services.uow() as uow:
        found = await uow.identity.list_organisations(status=chosen, limit=200, offset=0)
    return render(
        request,
        "people/organisations.html",
        principal=principal,
        title=_("主体审核"),
        orgs=found,
        status=status,
        statuses=[str(s) for s in OrgStatus],
        done=_(DONE[done]) if done in DONE else "",
    )


@post(
    "/admin/organisations/{org_id:str}/approval",
    opt={"action": "page.admin"},
    include_in_schema=False,
)
async def decide(
    request: Request[Any, Any, Any],
    org_id: str,
    services: Services,
    principal: Principal,
    data: Annotated[dict[str, str], FORM],
) -> Redirect:
    await identity.decide_organisation(
        services.uow(),
        org_id,
        data.get("approve") == "1",
        actor=principal,
        ip=client_ip(request),
        now=services.clock.now(),
    )
    return Redirect("/admin/organisations?done=decided", status_code=303)


async def _providers_page(
    request: Request[Any, Any, Any],
    services: Services,
    principal: Principal,
    form: FormState,
    done: str | None = None,
    status_code: int = 200,
) -> Response[str]:
    _ = page_gettext(request)
    return render(
        request,
        "people/ca_providers.html",
        principal=principal,
        title=_("CA 管理"),
        providers=await list_providers.fn(services=services),
        form=form,
        done=_(DONE[done]) if done in DONE else "",
        status_code=status_code,
    )


@get("/admin/ca-providers", opt={"action": "page.admin"}, include_in_schema=False)
async def providers(
    request: Request[Any, Any, Any],
    services: Services,
    principal: Principal,
    done: str | None = None,
) -> Response[str]:
    defaults = {"credit_code_oid": "2.5.4.97", "person_id_oid": "2.5.4.5"}
    return await _providers_page(request, services, principal, FormState(values=defaults), done)


@post("/admin/ca-providers", opt={"action": "page.admin"}, include_in_schema=False)
async def add_provider(
    request: Request[Any, Any, Any], services: Services, principal: Principal
) -> Response[Any]:
    """Add (or replace) a provider from its root and intermediate PEM files and CRL URLs."""
    _ = page_gettext(request)
    data = await request.form()
    form = FormState(
        values={
            name: str(data.get(name, "")).strip()
            for name in (
                "name",
                "crl_urls",
                "credit_code_oid",
                "credit_code_prefix",
                "person_id_oid",
            )
        }
    )
    if not form.values["name"]:
        form.error("name", _("此项必填。"))
    roots = await _pem_text(data.get("roots"), form, "roots", _("请上传 PEM 格式的根证书。"))
    inter_file = data.get("intermediates")
    intermediates = ""
    if isinstance(inter_file, UploadFile) and inter_file.filename:
        intermediates = await _pem_text(
            inter_file, form, "intermediates", _("请上传 PEM 格式的中间证书。")
        )
    if form.ok:
        try:
            provider = CaProvider.from_dict(
                {
                    "name": form.values["name"],
                    "roots": [roots],
                    "intermediates": [intermediates] if intermediates else [],
                    "crl_urls": form.values["crl_urls"].split(),
                    "ocsp_urls": [],
                    "identity": {
                        "credit_code_oid": form.values["credit_code_oid"] or "2.5.4.97",
                        "credit_code_prefix": form.values["credit_code_prefix"],
                        "person_id_oid": form.values["person_id_oid"] or None,
                    },
                }
            )
            await store_provider(services, provider, principal, client_ip(request))
        except (ValueError, TypeError):
            form.error("roots", _("证书无法解析。"))
        except DomainError as exc:
            form.domain_error(exc, language(request))
        else:
            return Redirect("/admin/ca-providers?done=saved", status_code=303)
    return await _providers_page(request, services, principal, form, status_code=422)


@post(
    "/admin/ca-providers/{name:str}/remove", opt={"action": "page.admin"}, include_in_schema=False
)
async def remove_provider(
    request: Request[Any, Any, Any], name: str, services: Services, principal: Principal
) -> Redirect:
    await drop_provider(services, name, principal, client_ip(request))
    return Redirect("/admin/ca-providers?done=removed", status_code=303)


@post("/admin/ca-providers/refresh", opt={"action": "page.admin"}, include_in_schema=False)
async def refresh(services: Services) -> Redirect:
    await refresh_revocation(services)
    return Redirect("/admin/ca-providers?done=refreshed", status_code=303)


ROUTES = [
    register_page,
    register_submit,
    certificates,
    bind_certificate,
    download,
    question_page,
    ask,
    organisations,
    decide,
    providers,
    add_provider,
    remove_provider,
    refresh,
]
