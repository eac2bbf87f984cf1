"""Pages over HTTP (the litestar test client): who reaches which page, forms and their errors,
CSRF, escaping, the language switch, and the sign-in round trip."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from tests.http.conftest import PASSWORD, World, app_settings, make_app, member_for, populate
from tests.http.test_access_matrix import published_tender
from tests.pki_fixtures import DemoPkiFiles
from trading.identity.model import OrgType, Role
from trading.rules.calendar import CHINA_TZ

# Page routes are not in the OpenAPI document, so their access decisions are written out here.
# None = public; a set = the roles that may open the page (others get 403, visitors go to sign-in).
PAGES: dict[str, set[Role] | None] = {
    "/": None,
    "/login": None,
    "/register": None,
    "/stats": None,
    "/notices/{tender}": None,
    "/agency/tenders": {Role.AGENCY_OFFICER},
    "/agency/tenders/new": {Role.AGENCY_OFFICER},
    "/agency/tenders/{tender}": {Role.AGENCY_OFFICER},
    "/agency/tenders/{tender}/edit": {Role.AGENCY_OFFICER},
    "/account/certificates": set(Role),
    "/bidder/tenders/{tender}/questions/new": {Role.BIDDER_REP},
    "/bidder/tenders/{tender}/submit": {Role.BIDDER_REP},
    "/bidder/receipts": {Role.BIDDER_REP},
    "/admin/organisations": {Role.ADMIN},
    "/admin/ca-providers": {Role.ADMIN},
}


@pytest.fixture
async def world(tmp_path: Path, sqlite_url: str) -> AsyncIterator[World]:
    """The HTTP suite's world on SQLite only: pages add nothing database-specific."""
    app = make_app(app_settings(tmp_path, sqlite_url))
    async with AsyncTestClient(app) as client:
        client.follow_redirects = False  # the tests look at each redirect
        actors, orgs = await populate(app)
        yield World(client=client, app=app, actors=actors, orgs=orgs)


async def sign_in(world: World, role: Role) -> str:
    """Sign in through the login form; returns the CSRF token the forms must carry."""
    client = world.client
    client.cookies.clear()
    await client.get("/login")
    token = client.cookies["th_csrf"]
    response = await client.post(
        "/login", data={"username": f"user.{role}", "password": PASSWORD, "_csrf": token}
    )
    assert response.status_code == 303, response.text
    return client.cookies["th_csrf"]


async def test_every_page_is_reachable_exactly_by_the_roles_it_names(world: World) -> None:
    tender = await published_tender(world, world.orgs[OrgType.AGENCY])
    failures = []
    for role in [None, *Role]:
        world.client.cookies.clear()
        headers = world.actors[role].headers if role else {}
        for template, allowed in PAGES.items():
            url = template.replace("{tender}", tender)
            response = await world.client.get(url, headers=headers, follow_redirects=False)
            may = allowed is None or (role is not None and role in allowed)
            if may and response.status_code != 200:
                failures.append(f"{role} refused {url}: {response.status_code}")
            if not may:
                want = 303 if role is None else 403
                if response.status_code != want:
                    failures.append(f"{role} reached {url}: {response.status_code}")
                if role is None and "/login?next=" not in response.headers.get("location", ""):
                    failures.append(f"visitor not sent to sign in from {url}")
            if response.status_code in (200, 403):
                assert response.headers["content-type"].startswith("text/html")
    assert failures == []


async def test_a_form_without_the_csrf_token_is_refused(world: World) -> None:
    token = await sign_in(world, Role.AGENCY_OFFICER)
    missing = await world.client.post("/agency/tenders/new", data={"title": "x"})
    assert missing.status_code == 403
    assert "表单安全令牌缺失或错误" in missing.text
    wrong = await world.client.post("/agency/tenders/new", data={"title": "x", "_csrf": "0" * 32})
    assert wrong.status_code == 403
    ok = await world.client.post("/agency/tenders/new", data={"title": "x", "_csrf": token})
    assert ok.status_code == 422  # past CSRF, on to validation
    # Visitors' forms too: registering without the token is refused.
    world.client.cookies.clear()
    anonymous = await world.client.post("/register", data={"name": "n", "credit_code": "c"})
    assert anonymous.status_code == 403


def tender_form(token: str, **overrides: str) -> dict[str, str]:
    from datetime import datetime

    now = datetime.now(CHINA_TZ).replace(second=0, microsecond=0)
    deadline = (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    form = {
        "_csrf": token,
        "title": "道路工程",
        "code": "T-1",
        "category": "construction",
        "procedure": "open",
        "evaluation_method": "comprehensive",
        "region": "福州",
        "description": "",
        "documents_from": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "deadline": deadline,
        "opening_at": deadline,
        "lot_name": "第一标段",
        "budget": "1000000.00",
        "security": "20000",
    }
    form.update(overrides)
    return form


def field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="error" id="e-{name}" role="alert">([^<]*)</p>', html)
    return found.group(1) if found else ""


async def test_tender_form_errors_stand_next_to_their_fields_in_the_persons_language(
    world: World,
) -> None:
    token = await sign_in(world, Role.AGENCY_OFFICER)
    bad = await world.client.post(
        "/agency/tenders/new",
        data=tender_form(token, title="", budget="12.345", deadline="tomorrow"),
    )
    assert bad.status_code == 422
    assert field_error(bad.text, "title") == "此项必填。"
    assert "两位小数" in field_error(bad.text, "budget")
    assert field_error(bad.text, "deadline") == "请填写有效的日期和时间。"
    assert 'value="T-1"' in bad.text  # what was typed is kept

    world.client.cookies.set("lang", "en")
    english = await world.client.post("/agency/tenders/new", data=tender_form(token, title=""))
    assert field_error(english.text, "title") == "This field is required."

    # The inline check names the rule pack's rule next to the field it constrains.
    world.client.cookies.set("lang", "zh-CN")
    check = await world.client.post(
        "/agency/tenders/check",
        data=tender_form(token, security="50000"),
        headers={"HX-Request": "true", "HX-Target": "tender-form"},
    )
    assert "security_cap" in field_error(check.text, "security")
    assert "<html" not in check.text  # only the form, for htmx to swap in


async def test_user_text_is_escaped_everywhere_it_is_shown(world: World) -> None:
    token = await sign_in(world, Role.AGENCY_OFFICER)
    payload = '<script>alert("x")</script>'
    created = await world.client.post(
        "/agency/tenders/new", data=tender_form(token, title=payload, description=payload)
    )
    assert created.status_code == 303, created.text
    page = await world.client.get(created.headers["location"])
    assert payload not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    # In form values and error pages too.
    form = await world.client.post(
        "/agency/tenders/new", data=tender_form(token, code=payload, budget="")
    )
    assert payload not in form.text and "&lt;script&gt;" in form.text


async def test_an_upload_that_is_not_a_pdf_is_refused_with_a_message(world: World) -> None:
    token = await sign_in(world, Role.AGENCY_OFFICER)
    created = await world.client.post("/agency/tenders/new", data=tender_form(token))
    url = created.headers["location"].split("?")[0]
    response = await world.client.post(
        f"{url}/documents",
        data={"_csrf": token, "kind": "notice"},
        files={"file": ("notice.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")},
    )
    assert response.status_code == 422
    assert field_error(response.text, "file") == "只接受已签章的 PDF 文件。"
    unsigned = await world.client.post(
        f"{url}/documents",
        data={"_csrf": token, "kind": "notice"},
        files={"file": ("notice.pdf", b"%PDF-1.7\n%%EOF\n", "application/pdf")},
    )
    assert unsigned.status_code == 422
    assert "文件未通过校验" in field_error(unsigned.text, "file")


async def test_sign_in_returns_to_the_page_asked_for_and_an_ended_session_comes_back(
    world: World,
) -> None:
    world.client.cookies.clear()
    first = await world.client.get("/agency/tenders/new", follow_redirects=False)
    assert first.headers["location"] == "/login?next=%2Fagency%2Ftenders%2Fnew"
    form = await world.client.get(first.headers["location"])
    assert 'name="next" value="/agency/tenders/new"' in form.text
    token = world.client.cookies["th_csrf"]
    login = await world.client.post(
        "/login",
        data={
            "username": f"user.{Role.AGENCY_OFFICER}",
            "password": PASSWORD,
            "_csrf": token,
            "next": "/agency/tenders/new",
        },
    )
    assert login.headers["location"] == "/agency/tenders/new"
    # An offsite "next" is not followed.
    await world.client.get("/login")
    evil = await world.client.post(
        "/login",
        data={
            "username": f"user.{Role.AGENCY_OFFICER}",
            "password": PASSWORD,
            "_csrf": world.client.cookies["th_csrf"],
            "next": "//evil.example/",
        },
    )
    assert evil.headers["location"] == "/"
    # The session ends (signed out elsewhere): the next page view goes to sign-in and back.
    session = world.client.cookies["th_session"]
    token = world.client.cookies["th_csrf"]
    out = await world.client.post("/logout", data={"_csrf": token})
    assert out.status_code == 303
    world.client.cookies.set("th_session", session)
    again = await world.client.get("/agency/tenders", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"] == "/login?next=%2Fagency%2Ftenders"


async def test_wrong_password_is_shown_on_the_form(world: World) -> None:
    world.client.cookies.clear()
    await world.client.get("/login")
    response = await world.client.post(
        "/login",
        data={
            "username": "user.admin",
            "password": "wrong",
            "_csrf": world.client.cookies["th_csrf"],
        },
    )
    assert response.status_code == 422
    assert 'role="alert"' in response.text and "th_session" not in response.cookies


async def test_language_and_care_mode_are_remembered(world: World) -> None:
    world.client.cookies.clear()
    switched = await world.client.get("/prefs/lang?set=en&next=%2Fstats", follow_redirects=False)
    assert switched.headers["location"] == "/stats"
    assert "lang=en" in switched.headers["set-cookie"]
    world.client.cookies.set("lang", "en")
    page = await world.client.get("/stats")
    assert "<h1>Statistics</h1>" in page.text and 'lang="en"' in page.text
    world.client.cookies.set("care", "1")
    care = await world.client.get("/")
    assert '<body class="care"' in care.text
    offsite = await world.client.get("/prefs/care?set=1&next=https://evil.example")
    assert offsite.headers["location"] == "/"


async def test_static_files_are_served_with_cache_headers(world: World) -> None:
    for name in ("htmx.min.js", "forge.min.js", "app.css", "cert-login.js"):
        response = await world.client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert "max-age=86400" in response.headers["cache-control"]


async def test_admin_approves_a_registration_made_on_the_public_form(world: World) -> None:
    from trading.credit_code import make_credit_code

    world.client.cookies.clear()
    await world.client.get("/register")
    code = make_credit_code("91350100MA0000777")
    registered = await world.client.post(
        "/register",
        data={"name": "新投标人<b>", "credit_code": code, "_csrf": world.client.cookies["th_csrf"]},
    )
    assert registered.status_code == 200 and "等待平台审核" in registered.text
    assert "新投标人&lt;b&gt;" in registered.text
    bad = await world.client.post(
        "/register",
        data={"name": "x", "credit_code": "123", "_csrf": world.client.cookies["th_csrf"]},
    )
    assert bad.status_code == 422 and 'id="e-credit_code"' in bad.text

    token = await sign_in(world, Role.ADMIN)
    pending = await world.client.get("/admin/organisations")
    org_id = re.search(r'action="/admin/organisations/([^/]+)/approval"', pending.text)
    assert org_id is not None
    decided = await world.client.post(
        f"/admin/organisations/{org_id.group(1)}/approval", data={"approve": "1", "_csrf": token}
    )
    assert decided.status_code == 303
    after = await world.client.get("/admin/organisations")
    assert "新投标人" not in after.text


async def test_admin_manages_ca_providers_and_a_bidder_binds_a_certificate(
    world: World, demo_pki: DemoPkiFiles
) -> None:
    token = await sign_in(world, Role.ADMIN)
    files = demo_pki.provider("demo-rsa")
    entry = next(p for p in demo_pki.index["providers"] if p["name"] == "demo-rsa")
    identity_fields = entry["identity"]
    not_pem = await world.client.post(
        "/admin/ca-providers",
        data={"_csrf": token, "name": "demo-rsa"},
        files={"roots": ("root.der", b"\x30\x82 binary", "application/octet-stream")},
    )
    assert not_pem.status_code == 422
    assert field_error(not_pem.text, "roots") == "请上传 PEM 格式的根证书。"
    saved = await world.client.post(
        "/admin/ca-providers",
        data={
            "_csrf": token,
            "name": "demo-rsa",
            "crl_urls": files.crl_der.resolve().as_uri(),
            "credit_code_oid": identity_fields["credit_code_oid"],
            "credit_code_prefix": identity_fields["credit_code_prefix"],
            "person_id_oid": identity_fields["person_id_oid"] or "",
        },
        files={
            "roots": ("root.pem", files.root_pem.read_bytes(), "application/x-pem-file"),
            "intermediates": (
                "intermediate.pem",
                files.intermediate_pem.read_bytes(),
                "application/x-pem-file",
            ),
        },
    )
    assert saved.status_code == 303, saved.text
    refreshed = await world.client.post("/admin/ca-providers/refresh", data={"_csrf": token})
    assert refreshed.status_code == 303
    listed = await world.client.get("/admin/ca-providers")
    assert "demo-rsa" in listed.text and "过期或未获取" not in listed.text

    # A bidder of the organisation named in the demo certificate binds it from a PEM file.
    entity = demo_pki.entity("bidder-1-rep")
    world.client.cookies.clear()
    await member_for(world, entity, OrgType.BIDDER, Role.BIDDER_REP)
    world.client.cookies.clear()
    await world.client.get("/login")
    login = await world.client.post(
        "/login",
        data={
            "username": f"user.{entity.id}",
            "password": PASSWORD,
            "_csrf": world.client.cookies["th_csrf"],
        },
    )
    assert login.status_code == 303
    bidder_token = world.client.cookies["th_csrf"]
    key_instead = await world.client.post(
        "/account/certificates",
        data={"_csrf": bidder_token},
        files={"file": ("key.pem", entity.key_pem.read_bytes(), "application/x-pem-file")},
    )
    assert key_instead.status_code == 422
    assert "PEM" in field_error(key_instead.text, "file")
    bound = await world.client.post(
        "/account/certificates",
        data={"_csrf": bidder_token},
        files={"file": ("cert.pem", entity.cert_pem.read_bytes(), "application/x-pem-file")},
    )
    assert bound.status_code == 303, bound.text
    mine = await world.client.get("/account/certificates")
    assert entity.cert.subject.rfc4514_string() in mine.text.replace("&#34;", '"')

    # The admin removes the provider again.
    await sign_in(world, Role.ADMIN)
    removed = await world.client.post(
        "/admin/ca-providers/demo-rsa/remove", data={"_csrf": world.client.cookies["th_csrf"]}
    )
    assert removed.status_code == 303
    assert "demo-rsa" not in (await world.client.get("/admin/ca-providers")).text


async def test_a_late_clarification_shows_the_moved_deadline(world: World) -> None:
    from dataclasses import replace

    services = world.app.state.services
    tender_id = await published_tender(world, world.orgs[OrgType.AGENCY])
    async with services.uow() as uow:
        tender = await uow.tenders.get(tender_id)
        assert tender is not None
        soon = services.clock.now() + timedelta(days=8)
        tender.draft = replace(tender.draft, deadline=soon, opening_at=soon)
        await uow.tenders.save(tender)
        await uow.commit()
    token = await sign_in(world, Role.AGENCY_OFFICER)
    missing = await world.client.post(
        f"/agency/tenders/{tender_id}/clarifications", data={"_csrf": token, "title": ""}
    )
    assert missing.status_code == 422 and field_error(missing.text, "body") == "此项必填。"
    issued = await world.client.post(
        f"/agency/tenders/{tender_id}/clarifications",
        data={"_csrf": token, "title": "补充说明", "body": "<i>工期</i>不变。"},
    )
    assert issued.status_code == 303, issued.text
    notice = await world.client.get(f"/notices/{tender_id}")
    assert "投标截止时间由" in notice.text and "顺延至" in notice.text
    assert "&lt;i&gt;工期&lt;/i&gt;" in notice.text
