"""Organisations, people and the roles they act in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum


class OrgType(StrEnum):
    AGENCY = "agency"  # 招标人 / 招标代理
    BIDDER = "bidder"  # 投标人
    ISSUER = "issuer"  # 保函出具机构 (bank, insurer, guarantor)
    CENTRE = "centre"  # 交易中心 (runs the platform and the expert pool)
    SUPERVISION = "supervision"  # 行政监督部门


class Role(StrEnum):
    AGENCY_OFFICER = "agency_officer"
    BIDDER_REP = "bidder_rep"
    EXPERT = "expert"
    SUPERVISOR = "supervisor"
    ISSUER_OFFICER = "issuer_officer"
    ADMIN = "admin"


# Which roles a person may hold in an organisation of each type.
ROLES_BY_ORG_TYPE: dict[OrgType, frozenset[Role]] = {
    OrgType.AGENCY: frozenset({Role.AGENCY_OFFICER}),
    OrgType.BIDDER: frozenset({Role.BIDDER_REP}),
    OrgType.ISSUER: frozenset({Role.ISSUER_OFFICER}),
    OrgType.CENTRE: frozenset({Role.ADMIN, Role.EXPERT}),
    OrgType.SUPERVISION: frozenset({Role.SUPERVISOR}),
}


class OrgStatus(StrEnum):
    PENDING = "pending"  # self-registered, waiting for the platform's approval
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class Qualification:
    """A licence or grade (资质) with its expiry."""

    name: str
    number: str
    expires_on: date | None


@dataclass
class Organisation:
    id: str
    name: str
    credit_code: str
    """统一社会信用代码, check digit verified on entry."""
    type: OrgType
    status: OrgStatus
    region: str
    created_at: datetime
    qualifications: list[Qualification] = field(default_factory=list)
    version: int = 1


@dataclass(frozen=True)
class Membership:
    org_id: str
    role: Role


@dataclass
class Person:
    id: str
    username: str
    display_name: str
    password_hash: str | None
    created_at: datetime
    memberships: list[Membership] = field(default_factory=list)
    failed_logins: int = 0
    locked_until: datetime | None = None
    disabled: bool = False

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


@dataclass(frozen=True)
class Principal:
    """Who is acting: a person, in one role, for one organisation, from one address."""

    person_id: str
    org_id: str
    role: Role
    session_id: str
    ip: str = ""


@dataclass(frozen=True)
class LoginPolicy:
    """Lock an account after repeated wrong passwords (a defence against guessing)."""

    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    session_lifetime: timedelta = timedelta(hours=8)
    api_token_lifetime: timedelta = timedelta(days=30)
    nonce_lifetime: timedelta = timedelta(minutes=5)
