"""Identity use cases: registration, approval, people, password and certificate sign-in, sessions.

Each function is one use case in one unit of work; the same functions serve the API and the CLI.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from trading.credit_code import is_valid_credit_code
from trading.errors import ValidationError
from trading.identity.errors import (
    AccountDisabledError,
    AccountLockedError,
    CertificateLoginError,
    CreditCodeError,
    CsrfError,
    DuplicateError,
    NonceError,
    OrganisationNotApprovedError,
    OrganisationNotFoundError,
    PersonNotFoundError,
    RoleNotAllowedError,
    SessionInvalidError,
    UnknownUserError,
    WrongPasswordError,
)
from trading.identity.model import (
    ROLES_BY_ORG_TYPE,
    LoginPolicy,
    Membership,
    Organisation,
    OrgStatus,
    OrgType,
    Person,
    Principal,
    Qualification,
    Role,
)
from trading.ports import AuditLog, AuditRecord

# --- ports ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRecord:
    id: str
    token_hash: str
    person_id: str
    org_id: str
    role: Role
    kind: str
    """``browser`` (cookie, CSRF-protected) or ``api`` (bearer token)."""
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    ip: str
    csrf_hash: str | None


@dataclass(frozen=True)
class CertificateBinding:
    fingerprint: str
    """SHA-256 of the DER certificate, lower-case hex."""
    person_id: str
    org_id: str
    subject: str
    serial: str
    not_after: datetime
    bound_at: datetime


@dataclass(frozen=True)
class CertificateCheck:
    """What the signing layer found about a certificate presented for sign-in or binding."""

    fingerprint: str
    subject: str
    serial: str
    not_after: datetime
    credit_code: str | None
    problem: str | None
    """None if usable; else a :class:`CertificateLoginError` reason (expired, revoked, ...)."""
    detail: str = ""


class IdentityRepository(Protocol):
    async def add_organisation(self, org: Organisation) -> None: ...
    async def get_organisation(self, org_id: str) -> Organisation | None: ...
    async def find_organisation_by_code(self, credit_code: str) -> Organisation | None: ...
    async def save_organisation(self, org: Organisation) -> Organisation: ...
    async def list_organisations(
        self, *, status: OrgStatus | None, limit: int, offset: int
    ) -> list[Organisation]: ...
    async def add_person(self, person: Person) -> None: ...
    async def get_person(self, person_id: str) -> Person | None: ...
    async def find_person(self, username: str, *, for_update: bool = False) -> Person | None: ...
    async def save_login_state(self, person: Person) -> None: ...
    async def bind_certificate(self, binding: CertificateBinding, der: bytes) -> None: ...
    async def find_certificate(self, fingerprint: str) -> CertificateBinding | None: ...
    async def list_certificates(self, person_id: str) -> list[CertificateBinding]: ...
    async def add_session(self, session: SessionRecord) -> None: ...
    async def find_session(self, token_hash: str) -> SessionRecord | None: ...
    async def revoke_session(self, session_id: str, at: datetime) -> None: ...
    async def add_nonce(self, nonce: str, created_at: datetime, expires_at: datetime) -> None: ...
    async def consume_nonce(self, nonce: str, at: datetime) -> str:
        """Mark the nonce used; returns ``ok``, ``unknown``, ``expired`` or ``replayed``."""
        ...


class IdentityUnitOfWork(Protocol):
    @property
    def identity(self) -> IdentityRepository: ...
    @property
    def audit(self) -> AuditLog: ...
    async def commit(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...


class CertificateVerifier(Protocol):
    async def check_login_signature(
        self, certificate: bytes, message: bytes, signature: bytes, now: datetime
    ) -> CertificateCheck:
        """Check the certificate (validity, trust, revocation) and the signature over message."""
        ...

    async def inspect(self, certificate: bytes, now: datetime) -> CertificateCheck:
        """Check the certificate alone (for binding it to an account)."""
        ...


# --- helpers ----------------------------------------------------------------------------------


def new_id() -> str:
    return str(uuid.uuid4())


def token_hash(token: str) -> str:
    """Sessions are stored by the hash of their token, so a database leak yields no live token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _audit(
    action: str,
    object_type: str,
    object_id: str,
    actor: Principal | None,
    ip: str,
    *,
    person_id: str | None = None,
    org_id: str | None = None,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> AuditRecord:
    return AuditRecord(
        action=action,
        object_type=object_type,
        object_id=object_id,
        actor_id=actor.person_id if actor else person_id,
        organisation_id=actor.org_id if actor else org_id,
        role=str(actor.role) if actor else None,
        ip=ip,
        before=before,
        after=after,
    )


def _org_view(org: Organisation) -> dict[str, object]:
    return {
        "name": org.name,
        "credit_code": org.credit_code,
        "type": str(org.type),
        "status": str(org.status),
        "region": org.region,
    }


# --- organisations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterOrganisation:
    name: str
    credit_code: str
    type: OrgType
    region: str
    qualifications: tuple[Qualification, ...] = ()


async def register_organisation(
    uow: IdentityUnitOfWork,
    cmd: RegisterOrganisation,
    *,
    actor: Principal | None,
    ip: str,
    now: datetime,
) -> Organisation:
    """Self-registration (bidders) or registration by the platform; approval comes separately."""
    code = cmd.credit_code.strip().upper()
    if not is_valid_credit_code(code):
        raise CreditCodeError(cmd.credit_code)
    name = cmd.name.strip()
    if not name or len(name) > 200:
        raise ValidationError(
            "The organisation name must be 1-200 characters.",
            "主体名称须为 1-200 个字符。",
            field="name",
        )
    async with uow:
        if await uow.identity.find_organisation_by_code(code) is not None:
            raise DuplicateError("This credit code", "该统一社会信用代码", "credit_code")
        org = Organisation(
            id=new_id(),
            name=name,
            credit_code=code,
            type=cmd.type,
            status=OrgStatus.PENDING,
            region=cmd.region.strip(),
            created_at=now,
            qualifications=list(cmd.qualifications),
        )
        await uow.identity.add_organisation(org)
        await uow.audit.append(
            _audit("org.registered", "organisation", org.id, actor, ip, after=_org_view(org)),
            at=now,
        )
        await uow.commit()
    return org


async def decide_organisation(
    uow: IdentityUnitOfWork,
    org_id: str,
    approve: bool,
    *,
    actor: Principal,
    ip: str,
    now: datetime,
) -> Organisation:
    """Approve or reject a registration. Repeating the same decision changes nothing."""
    target = OrgStatus.APPROVED if approve else OrgStatus.REJECTED
    async with uow:
        org = await uow.identity.get_organisation(org_id)
        if org is None:
            raise OrganisationNotFoundError(org_id)
        if org.status == target:
            return org
        before = _org_view(org)
        org = await uow.identity.save_organisation(replace(org, status=target))
        await uow.audit.append(
            _audit(
                "org.approved" if approve else "org.rejected",
                "organisation",
                org.id,
                actor,
                ip,
                before=before,
                after=_org_view(org),
            ),
            at=now,
        )
        await uow.commit()
    return org


# --- people -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatePerson:
    username: str
    display_name: str
    password: str | None
    memberships: tuple[Membership, ...]


MIN_PASSWORD_LENGTH = 10


async def create_person(
    uow: IdentityUnitOfWork,
    cmd: CreatePerson,
    hasher: PasswordHasher,
    *,
    actor: Principal | None,
    ip: str,
    now: datetime,
) -> Person:
    username = cmd.username.strip().lower()
    if not (3 <= len(username) <= 64) or not all(c.isalnum() or c in "._-@" for c in username):
        raise ValidationError(
            "The username must be 3-64 letters, digits or . _ - @.",
            "用户名须为 3-64 位字母、数字或 . _ - @。",
            field="username",
        )
    if cmd.password is not None and len(cmd.password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
            f"密码至少 {MIN_PASSWORD_LENGTH} 位。",
            field="password",
        )
    if not cmd.memberships:
        raise ValidationError(
            "A person needs at least one role in an organisation.",
            "人员至少需要在一个主体中担任一个角色。",
            field="memberships",
        )
    async with uow:
        for membership in cmd.memberships:
            org = await uow.identity.get_organisation(membership.org_id)
            if org is None:
                raise OrganisationNotFoundError(membership.org_id)
            if membership.role not in ROLES_BY_ORG_TYPE[org.type]:
                raise RoleNotAllowedError(str(membership.role), str(org.type))
        if await uow.identity.find_person(username) is not None:
            raise DuplicateError("This username", "该用户名", "username")
        person = Person(
            id=new_id(),
            username=username,
            display_name=cmd.display_name.strip() or username,
            password_hash=hasher.hash(cmd.password) if cmd.password else None,
            created_at=now,
            memberships=list(cmd.memberships),
        )
        await uow.identity.add_person(person)
        await uow.audit.append(
            _audit(
                "person.created",
                "person",
                person.id,
                actor,
                ip,
                after={
                    "username": username,
                    "memberships": [
                        {"org_id": m.org_id, "role": str(m.role)} for m in person.memberships
                    ],
                },
            ),
            at=now,
        )
        await uow.commit()
    return person


# --- sessions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedSession:
    token: str
    """The bearer token or cookie value; shown once, stored only as a hash."""
    csrf_token: str | None
    record: SessionRecord


def _choose_membership(person: Person, org_id: str | None, role: Role | None) -> Membership:
    for membership in person.memberships:
        if (org_id is None or membership.org_id == org_id) and (
            role is None or membership.role == role
        ):
            return membership
    raise ValidationError(
        "You hold no such role in that organisation.",
        "您在该主体中没有此角色。",
        field="role",
    )


async def _open_session(
    uow: IdentityUnitOfWork,
    person: Person,
    membership: Membership,
    *,
    kind: str,
    policy: LoginPolicy,
    ip: str,
    now: datetime,
) -> IssuedSession:
    org = await uow.identity.get_organisation(membership.org_id)
    if org is None or org.status != OrgStatus.APPROVED:
        raise OrganisationNotApprovedError()
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24) if kind == "browser" else None
    lifetime = policy.session_lifetime if kind == "browser" else policy.api_token_lifetime
    record = SessionRecord(
        id=new_id(),
        token_hash=token_hash(token),
        person_id=person.id,
        org_id=membership.org_id,
        role=membership.role,
        kind=kind,
        created_at=now,
        expires_at=now + lifetime,
        revoked_at=None,
        ip=ip,
        csrf_hash=token_hash(csrf) if csrf else None,
    )
    await uow.identity.add_session(record)
    return IssuedSession(token=token, csrf_token=csrf, record=record)


@dataclass(frozen=True)
class PasswordLogin:
    username: str
    password: str
    org_id: str | None = None
    role: Role | None = None
    kind: str = "api"


async def login_with_password(
    uow: IdentityUnitOfWork,
    cmd: PasswordLogin,
    hasher: PasswordHasher,
    *,
    policy: LoginPolicy,
    ip: str,
    now: datetime,
) -> IssuedSession:
    """Check the password; count failures and lock the account after too many.

    A failure is committed (and audited) before the error is raised: the lockout counter must
    survive the failed request.
    """
    username = cmd.username.strip().lower()
    async with uow:
        person = await uow.identity.find_person(username, for_update=True)
        failure: Exception | None = None
        if person is None:
            failure = UnknownUserError()
        elif person.disabled:
            failure = AccountDisabledError()
        elif person.is_locked(now):
            assert person.locked_until is not None
            failure = AccountLockedError(person.locked_until)
        elif person.password_hash is None or not hasher.verify(person.password_hash, cmd.password):
            person.failed_logins += 1
            if person.failed_logins >= policy.max_failures:
                person.locked_until = now + policy.lockout
                person.failed_logins = 0
            await uow.identity.save_login_state(person)
            failure = (
                AccountLockedError(person.locked_until)
                if person.locked_until and person.is_locked(now)
                else WrongPasswordError()
            )
        if failure is not None:
            reason = getattr(failure, "reason", None) or getattr(failure, "code", "failed")
            await uow.audit.append(
                AuditRecord(
                    action="auth.login_failed",
                    object_type="person",
                    object_id=person.id if person else "",
                    actor_id=person.id if person else None,
                    organisation_id=None,
                    role=None,
                    ip=ip,
                    after={"username": username, "reason": str(reason), "method": "password"},
                ),
                at=now,
            )
            await uow.commit()
            raise failure
        assert person is not None
        membership = _choose_membership(person, cmd.org_id, cmd.role)
        issued = await _open_session(
            uow, person, membership, kind=cmd.kind, policy=policy, ip=ip, now=now
        )
        if person.failed_logins or person.locked_until:
            person.failed_logins, person.locked_until = 0, None
            await uow.identity.save_login_state(person)
        await uow.audit.append(
            _audit(
                "auth.logged_in",
                "session",
                issued.record.id,
                None,
                ip,
                person_id=person.id,
                org_id=membership.org_id,
                after={"method": "password", "role": str(membership.role), "kind": cmd.kind},
            ),
            at=now,
        )
        await uow.commit()
    return issued


async def issue_challenge(
    uow: IdentityUnitOfWork, *, policy: LoginPolicy, now: datetime
) -> tuple[str, datetime]:
    """A single-use nonce for certificate sign-in."""
    nonce = secrets.token_urlsafe(32)
    expires = now + policy.nonce_lifetime
    async with uow:
        await uow.identity.add_nonce(nonce, now, expires)
        await uow.commit()
    return nonce, expires


def challenge_message(nonce: str) -> bytes:
    """The exact bytes a person signs: a fixed prefix so a signature can't be reused elsewhere."""
    return f"tenderhall-login:{nonce}".encode()


@dataclass(frozen=True)
class CertificateLogin:
    nonce: str
    certificate: bytes
    """DER."""
    signature: bytes
    org_id: str | None = None
    role: Role | None = None
    kind: str = "api"


async def login_with_certificate(
    uow: IdentityUnitOfWork,
    cmd: CertificateLogin,
    verifier: CertificateVerifier,
    *,
    policy: LoginPolicy,
    ip: str,
    now: datetime,
) -> IssuedSession:
    """Sign-in by signing a nonce with the key of a certificate bound to the account."""
    check = await verifier.check_login_signature(
        cmd.certificate, challenge_message(cmd.nonce), cmd.signature, now
    )
    async with uow:
        nonce_state = await uow.identity.consume_nonce(cmd.nonce, now)
        binding = await uow.identity.find_certificate(check.fingerprint)
        failure: Exception | None = None
        if nonce_state != "ok":
            failure = NonceError(nonce_state)
        elif check.problem is not None:
            failure = CertificateLoginError(check.problem, check.detail)
        elif binding is None:
            failure = CertificateLoginError("not_bound")
        if failure is not None:
            await uow.audit.append(
                AuditRecord(
                    action="auth.login_failed",
                    object_type="certificate",
                    object_id=check.fingerprint,
                    actor_id=binding.person_id if binding else None,
                    organisation_id=binding.org_id if binding else None,
                    role=None,
                    ip=ip,
                    after={
                        "method": "certificate",
                        "reason": getattr(failure, "code", "failed"),
                        "subject": check.subject,
                        "serial": check.serial,
                    },
                ),
                at=now,
            )
            await uow.commit()  # the nonce stays used: a replay of this attempt fails too
            raise failure
        assert binding is not None
        person = await uow.identity.get_person(binding.person_id)
        if person is None:
            raise PersonNotFoundError(binding.person_id)
        if person.disabled:
            raise AccountDisabledError()
        membership = _choose_membership(person, cmd.org_id or binding.org_id, cmd.role)
        issued = await _open_session(
            uow, person, membership, kind=cmd.kind, policy=policy, ip=ip, now=now
        )
        await uow.audit.append(
            _audit(
                "auth.logged_in",
                "session",
                issued.record.id,
                None,
                ip,
                person_id=person.id,
                org_id=membership.org_id,
                after={
                    "method": "certificate",
                    "certificate": check.fingerprint,
                    "role": str(membership.role),
                    "kind": cmd.kind,
                },
            ),
            at=now,
        )
        await uow.commit()
    return issued


async def bind_certificate(
    uow: IdentityUnitOfWork,
    person_id: str,
    certificate: bytes,
    verifier: CertificateVerifier,
    *,
    actor: Principal,
    ip: str,
    now: datetime,
) -> CertificateBinding:
    """Bind a certificate to a person, for the organisation whose credit code it carries."""
    check = await verifier.inspect(certificate, now)
    if check.problem is not None:
        raise CertificateLoginError(check.problem, check.detail)
    async with uow:
        person = await uow.identity.get_person(person_id)
        if person is None:
            raise PersonNotFoundError(person_id)
        org_for_cert: Organisation | None = None
        for membership in person.memberships:
            org = await uow.identity.get_organisation(membership.org_id)
            if org is not None and check.credit_code == org.credit_code:
                org_for_cert = org
        if org_for_cert is None:
            raise ValidationError(
                "The certificate's credit code does not match any organisation of this person "
                f"(certificate: {check.credit_code or 'none'}).",
                "证书中的统一社会信用代码与该人员所属主体不符"
                f"（证书：{check.credit_code or '无'}）。",
                field="certificate",
                reason="credit_code_mismatch",
            )
        existing = await uow.identity.find_certificate(check.fingerprint)
        if existing is not None:
            if existing.person_id == person_id:
                return existing
            raise DuplicateError("This certificate", "该证书", "certificate")
        binding = CertificateBinding(
            fingerprint=check.fingerprint,
            person_id=person_id,
            org_id=org_for_cert.id,
            subject=check.subject,
            serial=check.serial,
            not_after=check.not_after,
            bound_at=now,
        )
        await uow.identity.bind_certificate(binding, certificate)
        await uow.audit.append(
            _audit(
                "person.certificate_bound",
                "person",
                person_id,
                actor,
                ip,
                after={"fingerprint": check.fingerprint, "subject": check.subject},
            ),
            at=now,
        )
        await uow.commit()
    return binding


async def resolve_session(
    uow: IdentityUnitOfWork, token: str, *, ip: str, now: datetime
) -> tuple[Principal, SessionRecord]:
    async with uow:
        record = await uow.identity.find_session(token_hash(token))
    if record is None:
        raise SessionInvalidError("unknown")
    if record.revoked_at is not None:
        raise SessionInvalidError("revoked")
    if now >= record.expires_at:
        raise SessionInvalidError("expired")
    return (
        Principal(
            person_id=record.person_id,
            org_id=record.org_id,
            role=record.role,
            session_id=record.id,
            ip=ip,
        ),
        record,
    )


def check_csrf(record: SessionRecord, presented: str | None) -> None:
    """Double-submit check for cookie sessions: the form/header token must match the session's."""
    if record.csrf_hash is None:
        return
    if not presented or not secrets.compare_digest(token_hash(presented), record.csrf_hash):
        raise CsrfError()


async def logout(uow: IdentityUnitOfWork, principal: Principal, *, now: datetime) -> None:
    async with uow:
        await uow.identity.revoke_session(principal.session_id, now)
        await uow.audit.append(
            _audit("auth.logged_out", "session", principal.session_id, principal, principal.ip),
            at=now,
        )
        await uow.commit()
