"""Identity use cases against in-memory fakes: no database, no clock, no crypto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.unit.fakes import FakeCertificateVerifier, FakeUnitOfWork, PlainHasher
from trading.credit_code import make_credit_code
from trading.errors import PermissionDeniedError, ValidationError
from trading.identity import services as svc
from trading.identity.errors import (
    AccountLockedError,
    CertificateLoginError,
    CreditCodeError,
    CsrfError,
    DuplicateError,
    InvalidCredentialsError,
    NonceError,
    OrganisationNotApprovedError,
    RoleNotAllowedError,
    SessionInvalidError,
    UnknownUserError,
    WrongPasswordError,
)
from trading.identity.model import LoginPolicy, Membership, OrgStatus, OrgType, Principal, Role
from trading.identity.policy import POLICY, Resource, UnknownActionError, authorize

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
POLICY_DEFAULT = LoginPolicy()
ADMIN = Principal("admin-person", "centre-org", Role.ADMIN, "s0", "127.0.0.1")
BIDDER_CODE = make_credit_code("91350100M00010001")
OTHER_CODE = make_credit_code("91110000100000000")


async def bidder_with_person(uow: FakeUnitOfWork) -> tuple[str, str]:
    org = await svc.register_organisation(
        uow,
        svc.RegisterOrganisation("福州建工集团有限公司", BIDDER_CODE, OrgType.BIDDER, "福州"),
        actor=None,
        ip="10.0.0.9",
        now=NOW,
    )
    await svc.decide_organisation(uow, org.id, True, actor=ADMIN, ip="", now=NOW)
    person = await svc.create_person(
        uow,
        svc.CreatePerson(
            "zhang.san", "张三", "correct horse battery", (Membership(org.id, Role.BIDDER_REP),)
        ),
        PlainHasher(),
        actor=ADMIN,
        ip="",
        now=NOW,
    )
    return org.id, person.id


async def login(uow: FakeUnitOfWork, password: str, now: datetime = NOW) -> svc.IssuedSession:
    return await svc.login_with_password(
        uow,
        svc.PasswordLogin("zhang.san", password),
        PlainHasher(),
        policy=POLICY_DEFAULT,
        ip="10.0.0.9",
        now=now,
    )


async def test_registration_checks_the_credit_code_and_refuses_duplicates() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(CreditCodeError):
        await svc.register_organisation(
            uow,
            svc.RegisterOrganisation(
                "X", BIDDER_CODE[:-1] + ("0" if BIDDER_CODE[-1] != "0" else "1"), OrgType.BIDDER, ""
            ),
            actor=None,
            ip="",
            now=NOW,
        )
    org = await svc.register_organisation(
        uow,
        svc.RegisterOrganisation("甲公司", BIDDER_CODE.lower(), OrgType.BIDDER, ""),
        actor=None,
        ip="",
        now=NOW,
    )
    assert org.status == OrgStatus.PENDING and org.credit_code == BIDDER_CODE
    with pytest.raises(DuplicateError):
        await svc.register_organisation(
            uow,
            svc.RegisterOrganisation("乙公司", BIDDER_CODE, OrgType.BIDDER, ""),
            actor=None,
            ip="",
            now=NOW,
        )
    assert uow.audit.actions() == ["org.registered"]


async def test_approval_is_idempotent_and_audited_once() -> None:
    uow = FakeUnitOfWork()
    org = await svc.register_organisation(
        uow,
        svc.RegisterOrganisation("甲公司", BIDDER_CODE, OrgType.BIDDER, ""),
        actor=None,
        ip="",
        now=NOW,
    )
    for _ in range(2):
        approved = await svc.decide_organisation(uow, org.id, True, actor=ADMIN, ip="", now=NOW)
        assert approved.status == OrgStatus.APPROVED
    assert uow.audit.actions() == ["org.registered", "org.approved"]
    [(_, _, event)] = [e for e in uow.audit.events if e[2].action == "org.approved"]
    assert event.before is not None and event.before["status"] == "pending"
    assert event.after is not None and event.after["status"] == "approved"
    assert event.actor_id == ADMIN.person_id


async def test_a_role_must_fit_the_organisation_type() -> None:
    uow = FakeUnitOfWork()
    org_id, _ = await bidder_with_person(uow)
    with pytest.raises(RoleNotAllowedError):
        await svc.create_person(
            uow,
            svc.CreatePerson(
                "li.si", "李四", "long enough pw", (Membership(org_id, Role.SUPERVISOR),)
            ),
            PlainHasher(),
            actor=ADMIN,
            ip="",
            now=NOW,
        )
    with pytest.raises(ValidationError):
        await svc.create_person(
            uow,
            svc.CreatePerson("li.si", "李四", "short", (Membership(org_id, Role.BIDDER_REP),)),
            PlainHasher(),
            actor=ADMIN,
            ip="",
            now=NOW,
        )


async def test_password_login_issues_a_session_that_resolves_to_the_principal() -> None:
    uow = FakeUnitOfWork()
    org_id, person_id = await bidder_with_person(uow)
    issued = await login(uow, "correct horse battery")
    principal, _ = await svc.resolve_session(uow, issued.token, ip="10.0.0.9", now=NOW)
    assert (principal.person_id, principal.org_id, principal.role) == (
        person_id,
        org_id,
        Role.BIDDER_REP,
    )
    assert issued.token not in str(uow.identity.sessions)  # only the hash is stored
    assert uow.audit.actions()[-1] == "auth.logged_in"


async def test_unknown_user_and_wrong_password_are_distinct_in_the_log_not_to_the_client() -> None:
    uow = FakeUnitOfWork()
    await bidder_with_person(uow)
    with pytest.raises(WrongPasswordError) as wrong:
        await login(uow, "not the password")
    with pytest.raises(UnknownUserError) as unknown:
        await svc.login_with_password(
            uow,
            svc.PasswordLogin("nobody", "whatever"),
            PlainHasher(),
            policy=POLICY_DEFAULT,
            ip="",
            now=NOW,
        )
    assert isinstance(wrong.value, InvalidCredentialsError) and isinstance(
        unknown.value, InvalidCredentialsError
    )
    assert wrong.value.code == unknown.value.code == "invalid_credentials"
    failures = [e for _, _, e in uow.audit.events if e.action == "auth.login_failed"]
    assert [f.after["reason"] for f in failures if f.after] == ["wrong_password", "unknown_user"]


async def test_repeated_wrong_passwords_lock_the_account_until_the_lockout_ends() -> None:
    uow = FakeUnitOfWork()
    await bidder_with_person(uow)
    for _ in range(POLICY_DEFAULT.max_failures - 1):
        with pytest.raises(WrongPasswordError):
            await login(uow, "guess")
    with pytest.raises(AccountLockedError):
        await login(uow, "guess")
    # Even the right password is refused while locked.
    with pytest.raises(AccountLockedError):
        await login(uow, "correct horse battery", NOW + timedelta(minutes=1))
    issued = await login(uow, "correct horse battery", NOW + POLICY_DEFAULT.lockout)
    assert issued.token


async def test_sessions_expire_and_can_be_revoked() -> None:
    uow = FakeUnitOfWork()
    await bidder_with_person(uow)
    issued = await login(uow, "correct horse battery")
    with pytest.raises(SessionInvalidError) as expired:
        await svc.resolve_session(
            uow, issued.token, ip="", now=NOW + POLICY_DEFAULT.api_token_lifetime
        )
    assert expired.value.reason == "expired"
    principal, _ = await svc.resolve_session(uow, issued.token, ip="", now=NOW)
    await svc.logout(uow, principal, now=NOW)
    with pytest.raises(SessionInvalidError) as revoked:
        await svc.resolve_session(uow, issued.token, ip="", now=NOW)
    assert revoked.value.reason == "revoked"
    with pytest.raises(SessionInvalidError):
        await svc.resolve_session(uow, "made-up", ip="", now=NOW)


async def test_browser_sessions_need_the_csrf_token() -> None:
    uow = FakeUnitOfWork()
    await bidder_with_person(uow)
    issued = await svc.login_with_password(
        uow,
        svc.PasswordLogin("zhang.san", "correct horse battery", kind="browser"),
        PlainHasher(),
        policy=POLICY_DEFAULT,
        ip="",
        now=NOW,
    )
    assert issued.csrf_token
    svc.check_csrf(issued.record, issued.csrf_token)
    for wrong in (None, "", "forged"):
        with pytest.raises(CsrfError):
            svc.check_csrf(issued.record, wrong)


async def test_a_pending_organisation_cannot_sign_in() -> None:
    uow = FakeUnitOfWork()
    org = await svc.register_organisation(
        uow,
        svc.RegisterOrganisation("甲公司", BIDDER_CODE, OrgType.BIDDER, ""),
        actor=None,
        ip="",
        now=NOW,
    )
    await svc.create_person(
        uow,
        svc.CreatePerson(
            "zhang.san", "张三", "correct horse battery", (Membership(org.id, Role.BIDDER_REP),)
        ),
        PlainHasher(),
        actor=ADMIN,
        ip="",
        now=NOW,
    )
    with pytest.raises(OrganisationNotApprovedError):
        await login(uow, "correct horse battery")


async def cert_login(
    uow: FakeUnitOfWork,
    cert: bytes,
    *,
    nonce: str | None = None,
    signature: bytes | None = None,
    now: datetime = NOW,
) -> svc.IssuedSession:
    if nonce is None:
        nonce, _ = await svc.issue_challenge(uow, policy=POLICY_DEFAULT, now=now)
    fingerprint = cert.decode().split(":")[1]
    if signature is None:
        signature = f"signed:{fingerprint}:".encode() + svc.challenge_message(nonce)
    return await svc.login_with_certificate(
        uow,
        svc.CertificateLogin(nonce=nonce, certificate=cert, signature=signature),
        FakeCertificateVerifier(),
        policy=POLICY_DEFAULT,
        ip="10.0.0.9",
        now=now,
    )


async def test_certificate_binding_and_login() -> None:
    uow = FakeUnitOfWork()
    _, person_id = await bidder_with_person(uow)
    cert = f"cert:fp1:{BIDDER_CODE}:".encode()
    with pytest.raises(CertificateLoginError) as not_bound:
        await cert_login(uow, cert)
    assert not_bound.value.code == "certificate_not_bound"
    me = Principal(person_id, "", Role.BIDDER_REP, "s", "")
    with pytest.raises(ValidationError) as mismatch:
        await svc.bind_certificate(
            uow,
            person_id,
            f"cert:fp2:{OTHER_CODE}:".encode(),
            FakeCertificateVerifier(),
            actor=me,
            ip="",
            now=NOW,
        )
    assert mismatch.value.details["reason"] == "credit_code_mismatch"
    await svc.bind_certificate(
        uow, person_id, cert, FakeCertificateVerifier(), actor=me, ip="", now=NOW
    )
    issued = await cert_login(uow, cert)
    assert issued.record.person_id == person_id


@pytest.mark.parametrize("problem", ["expired", "revoked", "untrusted"])
async def test_certificate_problems_are_specific_errors(problem: str) -> None:
    uow = FakeUnitOfWork()
    await bidder_with_person(uow)
    with pytest.raises(CertificateLoginError) as info:
        await cert_login(uow, f"cert:fpx:{BIDDER_CODE}:{problem}".encode())
    assert info.value.code == f"certificate_{problem}"
    assert uow.audit.actions()[-1] == "auth.login_failed"


async def test_bad_signatures_and_replayed_or_stale_nonces_are_refused() -> None:
    uow = FakeUnitOfWork()
    _, person_id = await bidder_with_person(uow)
    cert = f"cert:fp1:{BIDDER_CODE}:".encode()
    me = Principal(person_id, "", Role.BIDDER_REP, "s", "")
    await svc.bind_certificate(
        uow, person_id, cert, FakeCertificateVerifier(), actor=me, ip="", now=NOW
    )
    with pytest.raises(CertificateLoginError) as bad:
        await cert_login(uow, cert, signature=b"signed:fp1:something else")
    assert bad.value.code == "certificate_bad_signature"

    nonce, _ = await svc.issue_challenge(uow, policy=POLICY_DEFAULT, now=NOW)
    await cert_login(uow, cert, nonce=nonce)
    with pytest.raises(NonceError) as replay:
        await cert_login(uow, cert, nonce=nonce)
    assert replay.value.code == "nonce_replayed"

    stale, _ = await svc.issue_challenge(uow, policy=POLICY_DEFAULT, now=NOW)
    with pytest.raises(NonceError) as expired:
        await cert_login(uow, cert, nonce=stale, now=NOW + POLICY_DEFAULT.nonce_lifetime)
    assert expired.value.code == "nonce_expired"
    with pytest.raises(NonceError) as unknown:
        await cert_login(uow, cert, nonce="never-issued")
    assert unknown.value.code == "nonce_unknown"


def test_policy_fails_closed_and_scopes_organisations() -> None:
    with pytest.raises(UnknownActionError):
        authorize(ADMIN, "no.such.action", Resource(), NOW)
    bidder = Principal("p", "org-a", Role.BIDDER_REP, "s")
    assert authorize(bidder, "org.read", Resource(org_id="org-a"), NOW).allowed
    assert not authorize(bidder, "org.read", Resource(org_id="org-b"), NOW).allowed
    assert authorize(None, "org.register", Resource(), NOW).allowed
    assert authorize(None, "auth.me", Resource(), NOW).reason == "not_signed_in"
    assert not authorize(bidder, "org.approve", Resource(org_id="org-a"), NOW).allowed
    assert all(isinstance(action, str) and "." in action for action in POLICY)


def test_permission_error_is_the_base_of_policy_refusals() -> None:
    assert issubclass(CsrfError, PermissionDeniedError)
