"""A demo platform a newcomer can click through: the demo PKI trusted, organisations, people in
every role, tenders in draft, published and closed states with documents sealed by the demo
agency's certificate and timestamped by the platform's TSA.

Everything goes through the same use cases as the API, except the closed tender: the law does
not let anyone publish a tender whose deadline has passed, so it is stored as if it had been
published weeks ago (with documents sealed today).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign import signers

from signing import demo_pki
from signing.custody import CERTIFICATE_NAME, MANIFEST_NAME, create_custody
from signing.passwords import Argon2PasswordHasher
from signing.seal import seal_pdf
from signing.trust import demo_trust_store
from trading.bids import custody
from trading.credit_code import make_credit_code
from trading.identity import services as identity
from trading.identity.model import Membership, OrgType, Principal, Role
from trading.rules.calendar import CHINA_TZ
from trading.rules.packs import Regime
from trading.tenders import services as tenders
from trading.tenders.model import (
    BidSecurity,
    DocumentKind,
    EvaluationMethod,
    Lot,
    Procedure,
    Tender,
    TenderDocument,
    TenderDraft,
    TenderStatus,
)
from trading.tenders.opening_data import FieldType, OpeningField
from webapp.api.trust import refresh_revocation, store_provider
from webapp.bids import CustodyCryptography
from webapp.services import Services

DEMO_PASSWORD = "Demo-2026!"  # noqa: S105 - the documented password of the demo accounts
SYSTEM = Principal("system", "", Role.ADMIN, "demo")


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: Role
    organisation: str
    certificate: str = ""
    """The PKCS#12 file (password ``demo``) for certificate sign-in, if bound."""


@dataclass(frozen=True)
class DemoSummary:
    accounts: list[DemoAccount]
    tenders: dict[str, str]
    """State -> tender id."""
    pki_dir: Path
    samples: dict[DocumentKind, Path]
    """PDFs sealed by the demo agency, for trying the upload page (notice, tender documents)."""


def minimal_pdf(text: str) -> bytes:
    """A one-page A4 PDF with one line of (ASCII) text."""
    draw = f"BT /F1 16 Tf 72 760 Td ({text}) Tj ET\n".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


async def _sealed(services: Services, p12: Path, text: str) -> bytes:
    """``text`` as a PDF sealed (PAdES, timestamped by the platform) with ``p12``."""
    target = BytesIO()
    signer = signers.SimpleSigner.load_pkcs12_data(
        await asyncio.to_thread(p12.read_bytes),
        other_certs=[],
        passphrase=demo_pki.DEFAULT_PASSWORD.encode(),
    )
    await seal_pdf(
        BytesIO(minimal_pdf(text)),
        target,
        signer=signer,
        timestamper=services.timestamper(),
        reason="招标文件",
        location="示例市",
    )
    return target.getvalue()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def sample_draft(
    title: str, code: str, category: Regime, start: datetime, days: int, budget_fen: int
) -> TenderDraft:
    """An open tender of one lot whose deadline is ``days`` after ``start`` at 09:30 China
    time, asking for a price; for demo data and benchmarks."""
    deadline = (
        (start + timedelta(days=days))
        .astimezone(CHINA_TZ)
        .replace(hour=9, minute=30, second=0, microsecond=0)
    )
    return TenderDraft(
        title=title,
        code=code,
        category=category,
        procedure=Procedure.OPEN,
        region="示例市",
        evaluation_method=EvaluationMethod.COMPREHENSIVE,
        documents_from=start,
        deadline=deadline,
        opening_at=deadline,
        lots=(
            Lot(
                id=tenders.new_id(),
                number=1,
                name="第一标段",
                budget_fen=budget_fen,
                opening_schema=(OpeningField("price", "投标报价", "Bid price", FieldType.MONEY),),
                security=BidSecurity(budget_fen // 100),
            ),
        ),
        description=f"{title}。本项目为平台演示数据。",
    )


async def fill_demo(services: Services, work: Path) -> DemoSummary:
    """Fill a fresh platform; ``work`` receives the demo PKI (``work/pki``)."""
    # The platform TSA first: documents are validated at ``now``, which must not precede it.
    await asyncio.to_thread(services.tsa)
    now = services.clock.now()
    pki_dir = work / "pki"
    index = await asyncio.to_thread(demo_pki.build, pki_dir, now=now)
    files = {e["id"]: e["files"] for e in index["entities"]}
    for provider in demo_trust_store(pki_dir, now=now).providers:
        await store_provider(services, provider, None, "")
    await refresh_revocation(services)

    orgs: dict[str, str] = {}
    specs = [
        (slug, org.name, org.credit_code, OrgType.BIDDER if slug.startswith("bidder") else None)
        for slug, org in demo_pki.ORGANISATIONS.items()
    ]
    types = {"agency": OrgType.AGENCY, "platform": OrgType.CENTRE}
    for slug, name, code, org_type in specs:
        org = await identity.register_organisation(
            services.uow(),
            identity.RegisterOrganisation(name, code, org_type or types[slug], "示例市"),
            actor=None,
            ip="",
            now=now,
        )
        await identity.decide_organisation(
            services.uow(), org.id, True, actor=SYSTEM, ip="", now=now
        )
        orgs[slug] = org.id
    extra = [
        ("supervision", "示例市公共资源交易监督管理局", "11350100MB0DEM005", OrgType.SUPERVISION),
        ("issuer", "示例银行股份有限公司", "91350100MA0DEM006", OrgType.ISSUER),
    ]
    for slug, name, first17, org_type in extra:
        org = await identity.register_organisation(
            services.uow(),
            identity.RegisterOrganisation(name, make_credit_code(first17), org_type, "示例市"),
            actor=None,
            ip="",
            now=now,
        )
        await identity.decide_organisation(
            services.uow(), org.id, True, actor=SYSTEM, ip="", now=now
        )
        orgs[slug] = org.id
    # One registration left for the administrator to approve.
    await identity.register_organisation(
        services.uow(),
        identity.RegisterOrganisation(
            "待审核示例科技有限公司",
            make_credit_code("91350100MA0DEM007"),
            OrgType.BIDDER,
            "示例市",
        ),
        actor=None,
        ip="",
        now=now,
    )

    people = [
        ("admin", "平台管理员", Role.ADMIN, "platform", ""),
        ("agency", "示例代理 王经理", Role.AGENCY_OFFICER, "agency", ""),
        ("bidder1", "张伟", Role.BIDDER_REP, "bidder-1", "bidder-1-rep"),
        ("bidder2", "李娜", Role.BIDDER_REP, "bidder-2", "bidder-2-rep"),
        ("bidder3", "王芳", Role.BIDDER_REP, "bidder-3", "bidder-3-rep"),
        ("supervisor", "监管 赵科长", Role.SUPERVISOR, "supervision", ""),
        ("expert", "刘洋", Role.EXPERT, "platform", ""),
        ("issuer", "示例银行 保函岗", Role.ISSUER_OFFICER, "issuer", ""),
    ]
    hasher = Argon2PasswordHasher()
    accounts: list[DemoAccount] = []
    for username, display, role, org_slug, entity in people:
        person = await identity.create_person(
            services.uow(),
            identity.CreatePerson(
                username, display, DEMO_PASSWORD, (Membership(orgs[org_slug], role),)
            ),
            hasher,
            actor=SYSTEM,
            ip="",
            now=now,
        )
        p12 = ""
        if entity:
            path = pki_dir / files[entity]["p12"]
            cert = pki_dir / files[entity]["cert"]
            await identity.bind_certificate(
                services.uow(),
                person.id,
                _der(cert),
                services.certificate_verifier(),
                actor=SYSTEM,
                ip="",
                now=now,
            )
            p12 = str(path)
            # The organisation's own certificate too: envelopes are sealed to it (sign+encrypt).
            org_cert = pki_dir / files[entity.replace("-rep", "-org")]["cert"]
            await identity.bind_certificate(
                services.uow(),
                person.id,
                _der(org_cert),
                services.certificate_verifier(),
                actor=SYSTEM,
                ip="",
                now=now,
            )
        org_names = {s: o.name for s, o in demo_pki.ORGANISATIONS.items()}
        org_names.update({s: n for s, n, _c, _t in extra})
        name = org_names[org_slug]
        accounts.append(DemoAccount(username, DEMO_PASSWORD, role, name, p12))

    agency = Principal(
        await _person_id(services, "agency"), orgs["agency"], Role.AGENCY_OFFICER, "demo"
    )
    agency_p12 = pki_dir / files["agency-org"]["p12"]
    validator = services.document_validator
    assert validator is not None
    created: dict[str, str] = {}
    # Sealing draws a visible seal with a CJK font and costs about a second, so the demo seals
    # one notice and one set of documents and files them with every tender; the files are also
    # left in ``work/samples`` for trying the upload page.
    sealed = {
        DocumentKind.NOTICE: await _sealed(services, agency_p12, "Tender notice (demo)"),
        DocumentKind.DOCUMENTS: await _sealed(services, agency_p12, "Tender documents (demo)"),
    }
    samples = {kind: work / "samples" / f"{kind}-sealed.pdf" for kind in sealed}
    for kind, path in samples.items():
        await asyncio.to_thread(_write, path, sealed[kind])

    draft = await tenders.create_tender(
        services.uow(),
        sample_draft(
            "示例市第一中学教学楼改造工程",
            "DEMO-2026-001",
            Regime.CONSTRUCTION,
            now,
            30,
            850_000_000,
        ),
        actor=agency,
        ip="",
        now=now,
    )
    created["draft"] = draft.id
    for key, title, code, category, budget in (
        (
            "published",
            "示例市滨江路道路改造工程施工",
            "DEMO-2026-002",
            Regime.CONSTRUCTION,
            3_260_000_000,
        ),
        (
            "published_procurement",
            "示例市政府办公设备采购项目",
            "DEMO-2026-003",
            Regime.PROCUREMENT,
            128_000_000,
        ),
    ):
        tender = await tenders.create_tender(
            services.uow(),
            sample_draft(title, code, category, now, 25, budget),
            actor=agency,
            ip="",
            now=now,
        )
        for kind, data in sealed.items():
            await tenders.upload_document(
                services.uow(),
                services.objects,
                validator,
                tender.id,
                kind=kind,
                filename=f"{code}-{kind}.pdf",
                chunks=_once(data),
                actor=agency,
                ip="",
                now=now,
            )
        await tenders.publish_tender(services.uow(), tender.id, actor=agency, ip="", now=now)
        await _opening_key(services, agency, tender.id, pki_dir, files, work / "custody", now)
        created[key] = tender.id

    created["closed"] = await _closed_tender(services, agency, sealed, now)
    return DemoSummary(accounts, created, pki_dir, samples)


CUSTODIANS = ("custodian-1", "custodian-2", "custodian-3")


async def _opening_key(
    services: Services,
    agency: Principal,
    tender_id: str,
    pki_dir: Path,
    files: dict[str, dict[str, str]],
    custody_dir: Path,
    now: datetime,
) -> None:
    """Lot 1's opening key, made as a custodian's CLI would (2 of 3 demo custodians), so that
    bidders can seal to it; the private key exists only as the custodians' sealed shares."""
    certs = [_cert(pki_dir / files[c]["cert"]) for c in CUSTODIANS]
    directory = custody_dir / tender_id
    manifest = await asyncio.to_thread(
        create_custody, f"{tender_id}/1", 2, certs, directory, now=now
    )
    by_sha = {c.certificate_sha256: c for c in manifest.custodians}
    shares = []
    for cert in certs:
        entry = by_sha[cert.fingerprint(hashes.SHA256()).hex()]
        share = await asyncio.to_thread((directory / entry.file).read_bytes)
        shares.append((cert.public_bytes(Encoding.PEM).decode(), share))
    certificate = await asyncio.to_thread((directory / CERTIFICATE_NAME).read_text)
    manifest_json = await asyncio.to_thread((directory / MANIFEST_NAME).read_text)
    await custody.set_opening_key(
        services.uow(),
        CustodyCryptography(),
        custody.SetOpeningKey(
            tender_id=tender_id,
            lot_number=1,
            certificate=certificate,
            threshold=2,
            shares=tuple(shares),
            manifest=json.loads(manifest_json),
        ),
        actor=agency,
        ip="",
        now=now,
    )


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


async def _person_id(services: Services, username: str) -> str:
    async with services.uow() as uow:
        person = await uow.identity.find_person(username)
    assert person is not None
    return person.id


def _der(pem_path: Path) -> bytes:
    return x509.load_pem_x509_certificate(pem_path.read_bytes()).public_bytes(Encoding.DER)


async def _closed_tender(
    services: Services, agency: Principal, sealed: dict[DocumentKind, bytes], now: datetime
) -> str:
    published_at = now - timedelta(days=40)
    draft = sample_draft(
        "示例市污水处理厂提标改造工程",
        "DEMO-2025-099",
        Regime.CONSTRUCTION,
        published_at,
        25,
        5_400_000_000,
    )
    tender = Tender(
        id=tenders.new_id(),
        org_id=agency.org_id,
        created_by=agency.person_id,
        created_at=published_at,
        draft=draft,
        status=TenderStatus.PUBLISHED,
        rule_pack="cn-construction@2019-03-02",
        published_at=published_at,
    )
    async with services.uow() as uow:
        await uow.tenders.add(tender)
        await uow.commit()
    for kind, data in sealed.items():
        document_id = tenders.new_id()
        key = tenders.document_key(tender.id, document_id)
        stored = await services.objects.put(key, _once(data), content_type="application/pdf")
        async with services.uow() as uow:
            await uow.tenders.add_document(
                TenderDocument(
                    id=document_id,
                    tender_id=tender.id,
                    kind=kind,
                    filename=f"DEMO-2025-099-{kind}.pdf",
                    object_key=key,
                    sha256=stored.sha256,
                    size=stored.size,
                    content_type="application/pdf",
                    uploaded_at=published_at,
                    uploaded_by=agency.person_id,
                    signature_status="valid",
                )
            )
            await uow.commit()
    return tender.id
