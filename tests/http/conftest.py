"""An app on a real database with one signed-in person per role, for HTTP tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.pool import NullPool

from signing.passwords import Argon2PasswordHasher
from storage.audit_store import AuditQuery
from storage.db import create_engine
from tests.pki_fixtures import EntityFiles
from trading.credit_code import make_credit_code
from trading.identity import services as identity
from trading.identity.model import LoginPolicy, Membership, OrgType, Principal, Role
from trading.ports import Clock
from webapp.app import create_app
from webapp.settings import Settings

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Actor:
    role: Role
    person_id: str
    org_id: str
    token: str
    event_seq: int
    """An audit event this actor caused (their sign-in)."""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    client: AsyncTestClient[Litestar]
    app: Litestar
    actors: dict[Role, Actor]
    orgs: dict[OrgType, str]


ORG_CODES = {
    OrgType.CENTRE: "12350100MB0000001",
    OrgType.AGENCY: "91350100MA0000001",
    OrgType.BIDDER: "91350100MA0000002",
    OrgType.ISSUER: "91350100MA0000003",
    OrgType.SUPERVISION: "11350100MB0000002",
}
ROLE_ORG = {
    Role.ADMIN: OrgType.CENTRE,
    Role.EXPERT: OrgType.CENTRE,
    Role.AGENCY_OFFICER: OrgType.AGENCY,
    Role.BIDDER_REP: OrgType.BIDDER,
    Role.ISSUER_OFFICER: OrgType.ISSUER,
    Role.SUPERVISOR: OrgType.SUPERVISION,
}


def app_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        storage_url=(tmp_path / "objects").as_uri(),
        secret_key="k" * 32,
        log_json=True,
        # The access matrix signs in far more often than a person would from one address.
        signin_per_minute=10_000,
    )


async def populate(app: Litestar) -> tuple[dict[Role, Actor], dict[OrgType, str]]:
    services = app.state.services
    now = services.clock.now()
    hasher = Argon2PasswordHasher(time_cost=1, memory_cost=8 * 1024)
    system = Principal("system", "", Role.ADMIN, "setup", "")
    orgs: dict[OrgType, str] = {}
    for org_type, prefix in ORG_CODES.items():
        org = await identity.register_organisation(
            services.uow(),
            identity.RegisterOrganisation(
                f"测试{org_type}", make_credit_code(prefix), org_type, "福州"
            ),
            actor=None,
            ip="",
            now=now,
        )
        await identity.decide_organisation(
            services.uow(), org.id, True, actor=system, ip="", now=now
        )
        orgs[org_type] = org.id
    actors: dict[Role, Actor] = {}
    for role, org_type in ROLE_ORG.items():
        person = await identity.create_person(
            services.uow(),
            identity.CreatePerson(
                f"user.{role}", str(role), PASSWORD, (Membership(orgs[org_type], role),)
            ),
            hasher,
            actor=system,
            ip="",
            now=now,
        )
        issued = await identity.login_with_password(
            services.uow(),
            identity.PasswordLogin(f"user.{role}", PASSWORD),
            hasher,
            policy=LoginPolicy(),
            ip="",
            now=now,
        )
        async with services.uow() as uow:
            own, _ = await uow.audit.search(
                AuditQuery(actor_id=person.id, action="auth.logged_in"), now=now
            )
        actors[role] = Actor(role, person.id, orgs[org_type], issued.token, own[0].seq)
    return actors, orgs


def make_app(settings: Settings, clock: Clock | None = None) -> Litestar:
    """The app, its database connections unpooled: the test client serves the app on its own
    event loop while tests also use the services directly on theirs, and an asyncpg connection
    cannot cross loops."""
    app = create_app(settings, clock=clock, run_scheduler=False)
    app.state.services.engine = create_engine(settings.effective_database_url, poolclass=NullPool)
    return app


@pytest.fixture
async def world(tmp_path: Path, database_url: str) -> AsyncIterator[World]:
    app = make_app(app_settings(tmp_path, database_url))
    async with AsyncTestClient(app) as client:
        actors, orgs = await populate(app)
        yield World(client=client, app=app, actors=actors, orgs=orgs)


async def member_for(
    world: World, entity: EntityFiles, org_type: OrgType, role: Role
) -> tuple[str, dict[str, str]]:
    """An approved organisation with the demo entity's credit code and a signed-in member."""
    services = world.app.state.services
    now = services.clock.now()
    system = Principal("system", "", Role.ADMIN, "setup", "")
    assert entity.credit_code is not None
    org = await identity.register_organisation(
        services.uow(),
        identity.RegisterOrganisation(f"示例{org_type}", entity.credit_code, org_type, ""),
        actor=None,
        ip="",
        now=now,
    )
    await identity.decide_organisation(services.uow(), org.id, True, actor=system, ip="", now=now)
    hasher = Argon2PasswordHasher(time_cost=1, memory_cost=8 * 1024)
    person = await identity.create_person(
        services.uow(),
        identity.CreatePerson(
            f"user.{entity.id}", entity.id, PASSWORD, (Membership(org.id, role),)
        ),
        hasher,
        actor=system,
        ip="",
        now=now,
    )
    login = await world.client.post(
        "/api/auth/login", json={"username": f"user.{entity.id}", "password": PASSWORD}
    )
    assert login.status_code == 201, login.text
    return person.id, {"Authorization": f"Bearer {login.json()['token']}"}


# The bid tests' world (fixture ``bw``); imported last because it builds on the helpers above.
from tests.http.bid_world import bw, platform_keys  # noqa: E402, F401
