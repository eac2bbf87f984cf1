"""The identity repository on the unit of work's connection."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.identity_tables import (
    auth_nonces,
    memberships,
    organisations,
    people,
    person_certificates,
    sessions,
)
from storage.uow import StaleVersionError
from trading.identity.model import (
    Membership,
    Organisation,
    OrgStatus,
    OrgType,
    Person,
    Qualification,
    Role,
)
from trading.identity.services import CertificateBinding, SessionRecord


def _org(row: Any) -> Organisation:
    return Organisation(
        id=row.id,
        name=row.name,
        credit_code=row.credit_code,
        type=OrgType(row.type),
        status=OrgStatus(row.status),
        region=row.region,
        created_at=row.created_at,
        qualifications=[
            Qualification(
                name=q["name"],
                number=q["number"],
                expires_on=date.fromisoformat(q["expires_on"]) if q.get("expires_on") else None,
            )
            for q in row.qualifications
        ],
        version=row.version,
    )


def _qualifications(org: Organisation) -> list[dict[str, Any]]:
    return [
        {
            "name": q.name,
            "number": q.number,
            "expires_on": q.expires_on.isoformat() if q.expires_on else None,
        }
        for q in org.qualifications
    ]


class SqlIdentityRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    # organisations

    async def add_organisation(self, org: Organisation) -> None:
        await self._conn.execute(
            sa.insert(organisations).values(
                id=org.id,
                name=org.name,
                credit_code=org.credit_code,
                type=str(org.type),
                status=str(org.status),
                region=org.region,
                qualifications=_qualifications(org),
                created_at=org.created_at,
                version=org.version,
            )
        )

    async def get_organisation(self, org_id: str) -> Organisation | None:
        row = (
            await self._conn.execute(sa.select(organisations).where(organisations.c.id == org_id))
        ).first()
        return _org(row) if row else None

    async def find_organisation_by_code(self, credit_code: str) -> Organisation | None:
        row = (
            await self._conn.execute(
                sa.select(organisations).where(organisations.c.credit_code == credit_code)
            )
        ).first()
        return _org(row) if row else None

    async def save_organisation(self, org: Organisation) -> Organisation:
        result = await self._conn.execute(
            sa.update(organisations)
            .where(organisations.c.id == org.id, organisations.c.version == org.version)
            .values(
                name=org.name,
                status=str(org.status),
                region=org.region,
                qualifications=_qualifications(org),
                version=org.version + 1,
            )
        )
        if result.rowcount != 1:
            raise StaleVersionError("organisation", org.id)
        org.version += 1
        return org

    async def list_organisations(
        self, *, status: OrgStatus | None, limit: int, offset: int
    ) -> list[Organisation]:
        query = sa.select(organisations).order_by(organisations.c.created_at, organisations.c.id)
        if status is not None:
            query = query.where(organisations.c.status == str(status))
        rows = (await self._conn.execute(query.limit(limit).offset(offset))).all()
        return [_org(row) for row in rows]

    # people

    async def add_person(self, person: Person) -> None:
        await self._conn.execute(
            sa.insert(people).values(
                id=person.id,
                username=person.username,
                display_name=person.display_name,
                password_hash=person.password_hash,
                failed_logins=person.failed_logins,
                locked_until=person.locked_until,
                disabled=person.disabled,
                created_at=person.created_at,
            )
        )
        if person.memberships:
            await self._conn.execute(
                sa.insert(memberships),
                [
                    {"person_id": person.id, "org_id": m.org_id, "role": str(m.role)}
                    for m in person.memberships
                ],
            )

    async def _person(self, row: Any) -> Person:
        member_rows = (
            await self._conn.execute(
                sa.select(memberships.c.org_id, memberships.c.role)
                .where(memberships.c.person_id == row.id)
                .order_by(memberships.c.org_id, memberships.c.role)
            )
        ).all()
        return Person(
            id=row.id,
            username=row.username,
            display_name=row.display_name,
            password_hash=row.password_hash,
            created_at=row.created_at,
            memberships=[Membership(m.org_id, Role(m.role)) for m in member_rows],
            failed_logins=row.failed_logins,
            locked_until=row.locked_until,
            disabled=row.disabled,
        )

    async def get_person(self, person_id: str) -> Person | None:
        row = (await self._conn.execute(sa.select(people).where(people.c.id == person_id))).first()
        return await self._person(row) if row else None

    async def find_person(self, username: str, *, for_update: bool = False) -> Person | None:
        query = sa.select(people).where(people.c.username == username)
        if for_update and self._conn.dialect.name == "postgresql":
            # Concurrent wrong passwords must each count: serialise them on the person's row.
            query = query.with_for_update()
        row = (await self._conn.execute(query)).first()
        return await self._person(row) if row else None

    async def save_login_state(self, person: Person) -> None:
        await self._conn.execute(
            sa.update(people)
            .where(people.c.id == person.id)
            .values(failed_logins=person.failed_logins, locked_until=person.locked_until)
        )

    # certificates

    async def bind_certificate(self, binding: CertificateBinding, der: bytes) -> None:
        await self._conn.execute(
            sa.insert(person_certificates).values(
                fingerprint=binding.fingerprint,
                person_id=binding.person_id,
                org_id=binding.org_id,
                subject=binding.subject[:500],
                serial=binding.serial,
                not_after=binding.not_after,
                der=der,
                bound_at=binding.bound_at,
            )
        )

    async def find_certificate(self, fingerprint: str) -> CertificateBinding | None:
        row = (
            await self._conn.execute(
                sa.select(person_certificates).where(
                    person_certificates.c.fingerprint == fingerprint
                )
            )
        ).first()
        return _binding(row) if row else None

    async def list_certificates(self, person_id: str) -> list[CertificateBinding]:
        rows = (
            await self._conn.execute(
                sa.select(person_certificates).where(person_certificates.c.person_id == person_id)
            )
        ).all()
        return [_binding(row) for row in rows]

    # sessions and nonces

    async def add_session(self, session: SessionRecord) -> None:
        await self._conn.execute(
            sa.insert(sessions).values(
                id=session.id,
                token_hash=session.token_hash,
                person_id=session.person_id,
                org_id=session.org_id,
                role=str(session.role),
                kind=session.kind,
                created_at=session.created_at,
                expires_at=session.expires_at,
                revoked_at=session.revoked_at,
                ip=session.ip[:64],
                csrf_hash=session.csrf_hash,
            )
        )

    async def find_session(self, token_hash: str) -> SessionRecord | None:
        row = (
            await self._conn.execute(sa.select(sessions).where(sessions.c.token_hash == token_hash))
        ).first()
        if row is None:
            return None
        return SessionRecord(
            id=row.id,
            token_hash=row.token_hash,
            person_id=row.person_id,
            org_id=row.org_id,
            role=Role(row.role),
            kind=row.kind,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            ip=row.ip,
            csrf_hash=row.csrf_hash,
        )

    async def revoke_session(self, session_id: str, at: datetime) -> None:
        await self._conn.execute(
            sa.update(sessions)
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    async def add_nonce(self, nonce: str, created_at: datetime, expires_at: datetime) -> None:
        await self._conn.execute(
            sa.insert(auth_nonces).values(nonce=nonce, created_at=created_at, expires_at=expires_at)
        )

    async def consume_nonce(self, nonce: str, at: datetime) -> str:
        # The conditional UPDATE is the arbiter: of two concurrent uses only one sees rowcount 1.
        result = await self._conn.execute(
            sa.update(auth_nonces)
            .where(
                auth_nonces.c.nonce == nonce,
                auth_nonces.c.used_at.is_(None),
                auth_nonces.c.expires_at > at,
            )
            .values(used_at=at)
        )
        if result.rowcount == 1:
            return "ok"
        row = (
            await self._conn.execute(sa.select(auth_nonces).where(auth_nonces.c.nonce == nonce))
        ).first()
        if row is None:
            return "unknown"
        if row.used_at is not None:
            return "replayed"
        return "expired"


def _binding(row: Any) -> CertificateBinding:
    return CertificateBinding(
        fingerprint=row.fingerprint,
        person_id=row.person_id,
        org_id=row.org_id,
        subject=row.subject,
        serial=row.serial,
        not_after=row.not_after,
        bound_at=row.bound_at,
    )
