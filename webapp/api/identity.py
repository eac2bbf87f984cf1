"""Sign-in, organisations (主体库) and people."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from litestar import Request, Response, Router, get, post
from litestar.di import Provide
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import Parameter

from signing.login import X509CertificateVerifier
from signing.passwords import Argon2PasswordHasher
from trading.errors import PermissionDeniedError, ValidationError
from trading.identity import services as identity
from trading.identity.errors import OrganisationNotFoundError
from trading.identity.model import (
    LoginPolicy,
    Membership,
    Organisation,
    OrgStatus,
    OrgType,
    Principal,
    Qualification,
    Role,
)
from webapp.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    client_ip,
    provide_principal,
    record_read,
    require_principal,
    session_cookies,
)
from webapp.services import Services

LOGIN_POLICY = LoginPolicy()
HASHER = Argon2PasswordHasher()


# --- models -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginRequest:
    username: str
    password: str
    org_id: str | None = None
    role: Role | None = None
    kind: str = "api"
    """``api`` returns a bearer token; ``browser`` also sets the session and CSRF cookies."""


@dataclass(frozen=True)
class SessionResponse:
    token: str
    """Bearer token (``Authorization: Bearer ...``); shown only now."""
    expires_at: datetime
    person_id: str
    org_id: str
    role: Role
    csrf_token: str | None = None
    """For browser sessions: send it back in the ``X-CSRF-Token`` header on changes."""


@dataclass(frozen=True)
class ChallengeResponse:
    nonce: str
    message: str
    """The exact text to sign (UTF-8) with the certificate's private key, SHA-256."""
    expires_at: datetime


@dataclass(frozen=True)
class CertificateLoginRequest:
    nonce: str
    certificate: str
    """The certificate, PEM or base64 DER."""
    signature: str
    """Base64 signature over ``message`` (RSA PKCS#1 v1.5/PSS, or ECDSA DER or raw r||s)."""
    org_id: str | None = None
    role: Role | None = None
    kind: str = "api"


@dataclass(frozen=True)
class MeResponse:
    person_id: str
    username: str
    display_name: str
    org_id: str
    org_name: str
    role: Role
    memberships: list[dict[str, str]]


@dataclass(frozen=True)
class QualificationModel:
    name: str
    number: str
    expires_on: date | None = None


@dataclass(frozen=True)
class RegisterOrganisationRequest:
    name: str
    credit_code: str
    type: OrgType = OrgType.BIDDER
    region: str = ""
    qualifications: list[QualificationModel] = field(default_factory=list)


@dataclass(frozen=True)
class OrganisationResponse:
    id: str
    name: str
    credit_code: str
    type: OrgType
    status: OrgStatus
    region: str
    created_at: datetime
    qualifications: list[QualificationModel]

    @classmethod
    def of(cls, org: Organisation) -> OrganisationResponse:
        return cls(
            id=org.id,
            name=org.name,
            credit_code=org.credit_code,
            type=org.type,
            status=org.status,
            region=org.region,
            created_at=org.created_at,
            qualifications=[
                QualificationModel(q.name, q.number, q.expires_on) for q in org.qualifications
            ],
        )


@dataclass(frozen=True)
class ApprovalRequest:
    approve: bool


@dataclass(frozen=True)
class MembershipModel:
    org_id: str
    role: Role


@dataclass(frozen=True)
class CreatePersonRequest:
    username: str
    display_name: str
    memberships: list[MembershipModel]
    password: str | None = None


@dataclass(frozen=True)
class PersonResponse:
    id: str
    username: str
    display_name: str
    memberships: list[MembershipModel]


@dataclass(frozen=True)
class BindCertificateRequest:
    certificate: str
    """PEM or base64 DER."""


@dataclass(frozen=True)
class CertificateResponse:
    fingerprint: str
    subject: str
    serial: str
    not_after: datetime
    org_id: str


# --- helpers ----------------------------------------------------------------------------------


def certificate_der(text: str) -> bytes:
    """Accept PEM or base64 DER; refuse anything else with a clear error."""
    try:
        if "-----BEGIN" in text:
            return x509.load_pem_x509_certificate(text.encode()).public_bytes(Encoding.DER)
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise ValidationError(
            "The certificate must be PEM or base64-encoded DER.",
            "证书须为 PEM 或 Base64 编码的 DER。",
            field="certificate",
        ) from None


def b64(text: str, field_name: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise ValidationError(
            f"{field_name} must be base64.", f"{field_name} 须为 Base64 编码。", field=field_name
        ) from None


def verifier(services: Services) -> X509CertificateVerifier:
    return services.certificate_verifier()


def _session_response(
    request: Request[Any, Any, Any], issued: identity.IssuedSession
) -> Response[SessionResponse]:
    body = SessionResponse(
        token=issued.token,
        expires_at=issued.record.expires_at,
        person_id=issued.record.person_id,
        org_id=issued.record.org_id,
        role=issued.record.role,
        csrf_token=issued.csrf_token,
    )
    cookies = session_cookies(request, issued) if issued.record.kind == "browser" else []
    return Response(body, status_code=201, cookies=cookies)


def _kind(kind: str) -> str:
    if kind not in {"api", "browser"}:
        raise ValidationError(
            "kind must be 'api' or 'browser'.", "kind 须为 api 或 browser。", field="kind"
        )
    return kind


# --- sign-in ----------------------------------------------------------------------------------


@post("/login", opt={"action": "auth.login"}, summary="Sign in with username and password")
async def login(
    request: Request[Any, Any, Any], data: LoginRequest, services: Services
) -> Response[SessionResponse]:
    issued = await identity.login_with_password(
        services.uow(),
        identity.PasswordLogin(
            data.username, data.password, data.org_id, data.role, _kind(data.kind)
        ),
        HASHER,
        policy=LOGIN_POLICY,
        ip=client_ip(request),
        now=services.clock.now(),
    )
    return _session_response(request, issued)


@post("/challenge", opt={"action": "auth.challenge"}, summary="A nonce for certificate sign-in")
async def challenge(services: Services) -> ChallengeResponse:
    nonce, expires = await identity.issue_challenge(
        services.uow(), policy=LOGIN_POLICY, now=services.clock.now()
    )
    return ChallengeResponse(
        nonce=nonce, message=identity.challenge_message(nonce).decode(), expires_at=expires
    )


@post("/certificate", opt={"action": "auth.login"}, summary="Sign in with a certificate")
async def certificate_login(
    request: Request[Any, Any, Any], data: CertificateLoginRequest, services: Services
) -> Response[SessionResponse]:
    issued = await identity.login_with_certificate(
        services.uow(),
        identity.CertificateLogin(
            nonce=data.nonce,
            certificate=certificate_der(data.certificate),
            signature=b64(data.signature, "signature"),
            org_id=data.org_id,
            role=data.role,
            kind=_kind(data.kind),
        ),
        verifier(services),
        policy=LOGIN_POLICY,
        ip=client_ip(request),
        now=services.clock.now(),
    )
    return _session_response(request, issued)


@get("/me", opt={"action": "auth.me"}, summary="Who am I signed in as")
async def me(principal: Principal, services: Services) -> MeResponse:
    async with services.uow() as uow:
        person = await uow.identity.get_person(principal.person_id)
        org = await uow.identity.get_organisation(principal.org_id)
    assert person is not None and org is not None
    return MeResponse(
        person_id=person.id,
        username=person.username,
        display_name=person.display_name,
        org_id=org.id,
        org_name=org.name,
        role=principal.role,
        memberships=[{"org_id": m.org_id, "role": str(m.role)} for m in person.memberships],
    )


@post("/logout", opt={"action": "auth.logout"}, status_code=200, summary="End this session")
async def logout(principal: Principal, services: Services) -> Response[dict[str, str]]:
    await identity.logout(services.uow(), principal, now=services.clock.now())
    response: Response[dict[str, str]] = Response({"status": "signed_out"})
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


# --- organisations ----------------------------------------------------------------------------


@post(
    "/",
    opt={"action": "org.register"},
    summary="Register an organisation (bidders register themselves)",
)
async def register_organisation(
    request: Request[Any, Any, Any],
    data: RegisterOrganisationRequest,
    services: Services,
    maybe_principal: Principal | None,
) -> OrganisationResponse:
    # Anyone may register a bidder (self-registration, approved later); other types of
    # organisation are created by the platform administrator.
    if data.type != OrgType.BIDDER and (
        maybe_principal is None or maybe_principal.role != Role.ADMIN
    ):
        raise PermissionDeniedError(
            "Only the platform administrator registers organisations other than bidders.",
            "除投标人外，其他类型主体由平台管理员登记。",
        )
    org = await identity.register_organisation(
        services.uow(),
        identity.RegisterOrganisation(
            name=data.name,
            credit_code=data.credit_code,
            type=data.type,
            region=data.region,
            qualifications=tuple(
                Qualification(q.name, q.number, q.expires_on) for q in data.qualifications
            ),
        ),
        actor=maybe_principal,
        ip=client_ip(request),
        now=services.clock.now(),
    )
    return OrganisationResponse.of(org)


@get("/", opt={"action": "org.list"}, summary="List organisations")
async def list_organisations(
    request: Request[Any, Any, Any],
    services: Services,
    principal: Principal,
    status: OrgStatus | None = None,
    limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    offset: Annotated[int, Parameter(ge=0)] = 0,
) -> list[OrganisationResponse]:
    async with services.uow() as uow:
        orgs = await uow.identity.list_organisations(status=status, limit=limit, offset=offset)
    await record_read(
        request, services, principal, "org.listed", "organisation", "*", {"status": status}
    )
    return [OrganisationResponse.of(org) for org in orgs]


@get("/{org_id:str}", opt={"action": "org.read"}, summary="One organisation")
async def get_organisation(
    request: Request[Any, Any, Any], org_id: str, services: Services, principal: Principal
) -> OrganisationResponse:
    async with services.uow() as uow:
        org = await uow.identity.get_organisation(org_id)
    if org is None:
        raise OrganisationNotFoundError(org_id)
    if principal.org_id != org_id:
        await record_read(request, services, principal, "org.read", "organisation", org_id)
    return OrganisationResponse.of(org)


@post(
    "/{org_id:str}/approval",
    opt={"action": "org.approve"},
    status_code=200,
    summary="Approve or reject a registration",
)
async def decide_organisation(
    request: Request[Any, Any, Any],
    org_id: str,
    data: ApprovalRequest,
    services: Services,
    principal: Principal,
) -> OrganisationResponse:
    org = await identity.decide_organisation(
        services.uow(),
        org_id,
        data.approve,
        actor=principal,
        ip=client_ip(request),
        now=services.clock.now(),
    )
    return OrganisationResponse.of(org)


# --- people -----------------------------------------------------------------------------------


@post("/", opt={"action": "person.create"}, summary="Create a person with roles")
async def create_person(
    request: Request[Any, Any, Any],
    data: CreatePersonRequest,
    services: Services,
    principal: Principal,
) -> PersonResponse:
    person = await identity.create_person(
        services.uow(),
        identity.CreatePerson(
            username=data.username,
            display_name=data.display_name,
            password=data.password,
            memberships=tuple(Membership(m.org_id, m.role) for m in data.memberships),
        ),
        HASHER,
        actor=principal,
        ip=client_ip(request),
        now=services.clock.now(),
    )
    return PersonResponse(
        id=person.id,
        username=person.username,
        display_name=person.display_name,
        memberships=[MembershipModel(m.org_id, m.role) for m in person.memberships],
    )


@post(
    "/{person_id:str}/certificates",
    opt={"action": "person.certificate.bind"},
    summary="Bind a certificate to a person",
)
async def bind_certificate(
    request: Request[Any, Any, Any],
    person_id: str,
    data: BindCertificateRequest,
    services: Services,
    principal: Principal,
) -> CertificateResponse:
    binding = await identity.bind_certificate(
        services.uow(),
        person_id,
        certificate_der(data.certificate),
        verifier(services),
        actor=principal,
        ip=client_ip(request),
        now=services.clock.now(),
    )
    return CertificateResponse(
        binding.fingerprint, binding.subject, binding.serial, binding.not_after, binding.org_id
    )


@get(
    "/{person_id:str}/certificates",
    opt={"action": "person.certificate.list"},
    summary="A person's bound certificates",
)
async def list_certificates(
    request: Request[Any, Any, Any], person_id: str, services: Services, principal: Principal
) -> list[CertificateResponse]:
    async with services.uow() as uow:
        bindings = await uow.identity.list_certificates(person_id)
    if principal.person_id != person_id:
        await record_read(
            request, services, principal, "person.certificates_read", "person", person_id
        )
    return [
        CertificateResponse(b.fingerprint, b.subject, b.serial, b.not_after, b.org_id)
        for b in bindings
    ]


PRINCIPAL_DEPENDENCIES = {
    "principal": Provide(require_principal),
    "maybe_principal": Provide(provide_principal),
}


def auth_routers(signin_per_minute: int) -> list[Router]:
    """Sign-in routes, rate limited per client address (``TENDERHALL_SIGNIN_PER_MINUTE``).

    Guessing passwords or burning nonces from one address is slowed down here; the per-account
    lockout in the domain holds across addresses and instances.
    """
    limit = RateLimitConfig(rate_limit=("minute", signin_per_minute))
    return [
        Router(
            path="/api/auth",
            route_handlers=[login, challenge, certificate_login],
            middleware=[limit.middleware],
            tags=["auth"],
        ),
        Router(path="/api/auth", route_handlers=[me, logout], tags=["auth"]),
    ]


organisations_router = Router(
    path="/api/organisations",
    route_handlers=[
        register_organisation,
        list_organisations,
        get_organisation,
        decide_organisation,
    ],
    tags=["organisations"],
)
people_router = Router(
    path="/api/people",
    route_handlers=[create_person, bind_certificate, list_certificates],
    tags=["people"],
)
ROUTERS = [organisations_router, people_router]
"""Plus :func:`auth_routers`, which depend on settings."""
