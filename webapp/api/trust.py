"""CA providers (CA 互认), their revocation data, and the platform's timestamp authority.

Administrators add, replace and remove the CA providers the platform trusts; a scheduled job
fetches their CRLs and caches them, so certificates can be checked while a CA's server is down (and
are reported indeterminate once the cached CRL is past its next update). ``POST /api/tsa`` is the
platform's own RFC 3161 TSA (``openssl ts -query`` / ``-verify`` work against it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from litestar import Request, Response, Router, delete, get, post

from signing.trust import CaProvider, RefreshResult, TrustConfigError
from trading.errors import ConflictError, NotFoundError
from trading.identity.model import Principal
from trading.ports import AuditRecord
from webapp.auth import client_ip
from webapp.jobs import due_work_source
from webapp.services import Services

TSA_QUERY = "application/timestamp-query"
TSA_REPLY = "application/timestamp-reply"


class ProviderNotFoundError(NotFoundError):
    code = "ca_provider_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"No CA provider named {name!r}.", f"没有名为“{name}”的 CA。")


class PlatformTsaDisabledError(ConflictError):
    code = "platform_tsa_disabled"

    def __init__(self) -> None:
        super().__init__(
            "The platform uses an external timestamp authority (TENDERHALL_TSA_URL).",
            "平台已配置外部时间戳服务（TENDERHALL_TSA_URL），不提供自有时间戳服务。",
        )


@dataclass(frozen=True)
class IdentityFieldsModel:
    credit_code_oid: str = "2.5.4.97"
    """Subject attribute with the unified social credit code (2.5.4.97 organizationIdentifier,
    2.5.4.5 serialNumber, or the provider's own OID)."""
    credit_code_prefix: str = ""
    """A prefix before the code, such as ``NTRCN-``."""
    person_id_oid: str | None = "2.5.4.5"


@dataclass(frozen=True)
class ProviderRequest:
    name: str
    roots: list[str]
    """Root certificates, PEM (several per string allowed)."""
    intermediates: list[str] = field(default_factory=list)
    crl_urls: list[str] = field(default_factory=list)
    ocsp_urls: list[str] = field(default_factory=list)
    identity: IdentityFieldsModel = field(default_factory=IdentityFieldsModel)


@dataclass(frozen=True)
class CertificateSummary:
    subject: str
    not_after: datetime
    sha256: str


@dataclass(frozen=True)
class CrlState:
    url: str
    fetched_at: datetime | None
    next_update: datetime | None
    stale: bool
    """Past its next update: certificates of this CA are reported indeterminate."""
    last_error: str | None


@dataclass(frozen=True)
class ProviderResponse:
    name: str
    roots: list[CertificateSummary]
    intermediates: list[CertificateSummary]
    crl_urls: list[str]
    ocsp_urls: list[str]
    identity: IdentityFieldsModel
    crls: list[CrlState]


@dataclass(frozen=True)
class RefreshResponse:
    results: list[dict[str, Any]]


def _summary(der: bytes) -> CertificateSummary:
    cert = x509.load_der_x509_certificate(der)
    return CertificateSummary(
        cert.subject.rfc4514_string(),
        cert.not_valid_after_utc,
        cert.fingerprint(hashes.SHA256()).hex(),
    )


async def _response(services: Services, provider: CaProvider) -> ProviderResponse:
    now = services.clock.now()
    async with services.uow() as uow:
        statuses = {s.url: s for s in await uow.trust.crl_status()}
    crls = []
    for url in provider.crl_urls:
        status = statuses.get(url)
        crls.append(
            CrlState(
                url=url,
                fetched_at=status.fetched_at if status else None,
                next_update=status.next_update if status else None,
                stale=status is None
                or (status.next_update is not None and now > status.next_update),
                last_error=status.last_error if status else None,
            )
        )
    return ProviderResponse(
        name=provider.name,
        roots=[_summary(der) for der in provider.roots],
        intermediates=[_summary(der) for der in provider.intermediates],
        crl_urls=list(provider.crl_urls),
        ocsp_urls=list(provider.ocsp_urls),
        identity=IdentityFieldsModel(
            provider.identity.credit_code_oid,
            provider.identity.credit_code_prefix,
            provider.identity.person_id_oid,
        ),
        crls=crls,
    )


def _record(
    principal: Principal | None, ip: str, action: str, name: str, **change: Any
) -> AuditRecord:
    """``principal`` None: the command line on the server (``tenderhall ca ...``)."""
    return AuditRecord(
        action=action,
        object_type="ca_provider",
        object_id=name,
        actor_id=principal.person_id if principal else None,
        organisation_id=principal.org_id if principal else None,
        role=str(principal.role) if principal else "cli",
        ip=ip,
        **change,
    )


async def store_provider(
    services: Services, provider: CaProvider, principal: Principal | None, ip: str
) -> bool:
    """Add or replace ``provider``, logged; True if it is new."""
    if not provider.name.strip() or not provider.roots:
        raise TrustConfigError(
            "a provider needs a name and at least one root certificate",
            "CA 需要名称和至少一个根证书",
        )
    now = services.clock.now()
    async with services.uow() as uow:
        before = await uow.trust.get_provider(provider.name)
        created = await uow.trust.save_provider(provider, now)
        await uow.audit.append(
            _record(
                principal,
                ip,
                "ca.provider_saved",
                provider.name,
                before=before.to_dict() if before else None,
                after=provider.to_dict(),
            ),
            at=now,
        )
        await uow.commit()
    services.forget_trust_store()
    return created


async def drop_provider(
    services: Services, name: str, principal: Principal | None, ip: str
) -> None:
    now = services.clock.now()
    async with services.uow() as uow:
        before = await uow.trust.get_provider(name)
        if before is None or not await uow.trust.remove_provider(name):
            raise ProviderNotFoundError(name)
        await uow.audit.append(
            _record(principal, ip, "ca.provider_removed", name, before=before.to_dict()),
            at=now,
        )
        await uow.commit()
    services.forget_trust_store()


# --- revocation refresh ----------------------------------------------------------------------


async def refresh_revocation(services: Services) -> list[RefreshResult]:
    """Fetch every provider's CRLs and the cached certificates' OCSP answers now; keep the good
    ones (old copies stay on failure)."""
    now = services.clock.now()
    async with services.uow() as uow:
        store = await uow.trust.load_store()
    results = await store.refresh_revocation(now=now)
    # OCSP answers are per certificate: ask again about every certificate asked about before.
    certs = [x509.load_der_x509_certificate(o.certificate) for o in store.ocsps]
    ocsp_results = await store.refresh_ocsp(certs, now=now)
    async with services.uow() as uow:
        await uow.trust.record_refresh(store, results, now)
        await uow.trust.record_ocsp(store)
        await uow.commit()
    results += ocsp_results
    services.forget_trust_store()
    return results


@due_work_source
async def refresh_revocation_when_due(services: Services) -> int:
    """Scheduler tick source: refresh CRLs and cached OCSP answers every
    ``TENDERHALL_CRL_REFRESH_MINUTES``."""
    now = services.clock.now()
    period = timedelta(minutes=services.settings.crl_refresh_minutes)
    async with services.uow() as uow:
        urls = {url for p in await uow.trust.list_providers() for url in p.crl_urls}
        attempted = {s.url: s.last_attempt_at or s.fetched_at for s in await uow.trust.crl_status()}
    crls_due = any(url not in attempted or now - attempted[url] >= period for url in urls)
    ocsp_due = any(now - o.fetched_at >= period for o in (await services.trust_store()).ocsps)
    if not crls_due and not ocsp_due:
        return 0
    await refresh_revocation(services)
    return 1


# --- routes ------------------------------------------------------------------------------------


@get("/", opt={"action": "ca.list"}, summary="The CA providers the platform trusts")
async def list_providers(services: Services) -> list[ProviderResponse]:
    async with services.uow() as uow:
        providers = await uow.trust.list_providers()
    return [await _response(services, p) for p in providers]


@post("/", opt={"action": "ca.manage"}, summary="Add or replace a CA provider")
async def save_provider(
    request: Request[Any, Any, Any], data: ProviderRequest, services: Services, principal: Principal
) -> Response[ProviderResponse]:
    try:
        provider = CaProvider.from_dict(
            {
                "name": data.name,
                "roots": data.roots,
                "intermediates": data.intermediates,
                "crl_urls": data.crl_urls,
                "ocsp_urls": data.ocsp_urls,
                "identity": {
                    "credit_code_oid": data.identity.credit_code_oid,
                    "credit_code_prefix": data.identity.credit_code_prefix,
                    "person_id_oid": data.identity.person_id_oid,
                },
            }
        )
    except (ValueError, TypeError) as exc:
        raise TrustConfigError(str(exc)[:300], f"证书无法解析：{str(exc)[:200]}") from exc
    created = await store_provider(services, provider, principal, client_ip(request))
    return Response(await _response(services, provider), status_code=201 if created else 200)


@delete("/{name:str}", opt={"action": "ca.manage"}, summary="Stop trusting a CA provider")
async def remove_provider(
    request: Request[Any, Any, Any], name: str, services: Services, principal: Principal
) -> None:
    await drop_provider(services, name, principal, client_ip(request))


@post(
    "/refresh",
    opt={"action": "ca.manage"},
    status_code=200,
    summary="Fetch every provider's CRLs now",
)
async def refresh(services: Services) -> RefreshResponse:
    results = await refresh_revocation(services)
    return RefreshResponse(
        [{"url": r.url, "provider": r.provider, "ok": r.ok, "error": r.error} for r in results]
    )


@post(
    "/api/tsa",
    opt={"action": "tsa.stamp"},
    status_code=200,
    summary="The platform's RFC 3161 timestamp authority (DER TimeStampReq in, TimeStampResp out)",
    media_type=TSA_REPLY,
)
async def tsa(request: Request[Any, Any, Any], services: Services) -> Response[bytes]:
    if services.settings.tsa_url:
        raise PlatformTsaDisabledError()
    body = await request.body()
    return Response(services.tsa().respond(body), media_type=TSA_REPLY)


@get(
    "/api/tsa/certificate",
    opt={"action": "tsa.certificate"},
    summary="The platform TSA's certificate chain (PEM), for `openssl ts -verify`",
    media_type="application/x-pem-file",
)
async def tsa_certificate(services: Services) -> bytes:
    if services.settings.tsa_url:
        raise PlatformTsaDisabledError()
    bundle = services.tsa().bundle
    return b"".join(c.public_bytes(Encoding.PEM) for c in (bundle.cert, *bundle.chain))


providers_router = Router(
    path="/api/ca-providers",
    route_handlers=[list_providers, save_provider, remove_provider, refresh],
    tags=["trust"],
)
ROUTERS = [providers_router, tsa, tsa_certificate]
