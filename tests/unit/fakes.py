"""In-memory fakes of the domain's ports, so use cases are tested without IO."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from types import TracebackType

from trading.identity.model import Organisation, OrgStatus, Person
from trading.identity.services import CertificateBinding, CertificateCheck, SessionRecord
from trading.ports import AuditRecord


class FakeAuditLog:
    def __init__(self) -> None:
        self.events: list[tuple[int, datetime, AuditRecord]] = []
        self.pending: list[tuple[datetime, AuditRecord]] = []

    async def append(self, record: AuditRecord, *, at: datetime) -> int:
        self.pending.append((at, record))
        return len(self.events) + len(self.pending)

    def actions(self) -> list[str]:
        return [record.action for _, _, record in self.events]


class FakeIdentityRepository:
    def __init__(self) -> None:
        self.orgs: dict[str, Organisation] = {}
        self.people: dict[str, Person] = {}
        self.certs: dict[str, CertificateBinding] = {}
        self.sessions: dict[str, SessionRecord] = {}
        self.nonces: dict[str, tuple[datetime, datetime | None]] = {}

    async def add_organisation(self, org: Organisation) -> None:
        self.orgs[org.id] = copy.deepcopy(org)

    async def get_organisation(self, org_id: str) -> Organisation | None:
        org = self.orgs.get(org_id)
        return copy.deepcopy(org) if org else None

    async def find_organisation_by_code(self, credit_code: str) -> Organisation | None:
        return next((o for o in self.orgs.values() if o.credit_code == credit_code), None)

    async def save_organisation(self, org: Organisation) -> Organisation:
        saved = replace(org, version=org.version + 1)
        self.orgs[org.id] = saved
        return copy.deepcopy(saved)

    async def list_organisations(
        self, *, status: OrgStatus | None, limit: int, offset: int
    ) -> list[Organisation]:
        orgs = [o for o in self.orgs.values() if status is None or o.status == status]
        return orgs[offset : offset + limit]

    async def add_person(self, person: Person) -> None:
        self.people[person.id] = copy.deepcopy(person)

    async def get_person(self, person_id: str) -> Person | None:
        person = self.people.get(person_id)
        return copy.deepcopy(person) if person else None

    async def find_person(self, username: str, *, for_update: bool = False) -> Person | None:
        person = next((p for p in self.people.values() if p.username == username), None)
        return copy.deepcopy(person) if person else None

    async def save_login_state(self, person: Person) -> None:
        stored = self.people[person.id]
        stored.failed_logins, stored.locked_until = person.failed_logins, person.locked_until

    async def bind_certificate(self, binding: CertificateBinding, der: bytes) -> None:
        self.certs[binding.fingerprint] = binding

    async def find_certificate(self, fingerprint: str) -> CertificateBinding | None:
        return self.certs.get(fingerprint)

    async def list_certificates(self, person_id: str) -> list[CertificateBinding]:
        return [c for c in self.certs.values() if c.person_id == person_id]

    async def add_session(self, session: SessionRecord) -> None:
        self.sessions[session.token_hash] = session

    async def find_session(self, token_hash: str) -> SessionRecord | None:
        return self.sessions.get(token_hash)

    async def revoke_session(self, session_id: str, at: datetime) -> None:
        for key, session in self.sessions.items():
            if session.id == session_id:
                self.sessions[key] = replace(session, revoked_at=at)

    async def add_nonce(self, nonce: str, created_at: datetime, expires_at: datetime) -> None:
        self.nonces[nonce] = (expires_at, None)

    async def consume_nonce(self, nonce: str, at: datetime) -> str:
        if nonce not in self.nonces:
            return "unknown"
        expires, used = self.nonces[nonce]
        if used is not None:
            return "replayed"
        if at >= expires:
            return "expired"
        self.nonces[nonce] = (expires, at)
        return "ok"


class FakeUnitOfWork:
    """Commits make audit events permanent; leaving without commit drops them (like a rollback)."""

    def __init__(self) -> None:
        self.identity = FakeIdentityRepository()
        self.audit = FakeAuditLog()
        self.commits = 0

    async def __aenter__(self) -> FakeUnitOfWork:
        self.audit.pending = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.audit.pending = []

    async def commit(self) -> None:
        self.commits += 1
        for at, record in self.audit.pending:
            self.audit.events.append((len(self.audit.events) + 1, at, record))
        self.audit.pending = []


class PlainHasher:
    """Not a password hash: a reversible stand-in so domain tests run in microseconds."""

    def hash(self, password: str) -> str:
        return "plain:" + password

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == "plain:" + password


class FakeCertificateVerifier:
    """Certificates are byte strings ``cert:<fingerprint>:<credit code>:<problem>``; a valid
    signature is ``signed:<fingerprint>:<message>``."""

    async def inspect(self, certificate: bytes, now: datetime) -> CertificateCheck:
        _, fingerprint, code, problem = certificate.decode().split(":")
        return CertificateCheck(
            fingerprint=fingerprint,
            subject=f"CN={fingerprint}",
            serial="01",
            not_after=now.replace(year=now.year + 1),
            credit_code=code or None,
            problem=problem or None,
        )

    async def check_login_signature(
        self, certificate: bytes, message: bytes, signature: bytes, now: datetime
    ) -> CertificateCheck:
        check = await self.inspect(certificate, now)
        if check.problem is None and signature != f"signed:{check.fingerprint}:".encode() + message:
            return replace(check, problem="bad_signature")
        return check
