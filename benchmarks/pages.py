"""Benchmark: median render time of each main page, next to ``/healthz``, on the embedded default
(SQLite + directory store) filled with 1,000 tenders.

    python3 benchmarks/pages.py [--tenders 1000] [--repeat 30]

The app runs in-process (litestar's ASGI test client, no network), so the figures are the
server's own time for a request: guard, session lookup, queries and template rendering.
Target (issue 7): every page under 300 ms median.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_MS = 300.0


async def run(tenders: int, repeat: int) -> int:
    from litestar.testing import AsyncTestClient

    from signing.passwords import Argon2PasswordHasher
    from storage import migrate
    from trading.credit_code import make_credit_code
    from trading.identity import services as identity
    from trading.identity.model import Membership, OrgType, Principal, Role
    from trading.rules.packs import Regime
    from trading.tenders.model import (
        EvaluationMethod,
        Lot,
        Procedure,
        Tender,
        TenderDraft,
        TenderStatus,
    )
    from trading.tenders.opening_data import FieldType, OpeningField
    from webapp.app import create_app
    from webapp.settings import Settings

    logging.getLogger("httpx").setLevel(logging.WARNING)
    data = Path(tempfile.mkdtemp(prefix="tenderhall-bench-pages-"))
    settings = Settings(data_dir=data, secret_key="b" * 32, log_level="WARNING")
    migrate.upgrade(settings.effective_database_url)
    app = create_app(settings, run_scheduler=False, migrate_on_startup=False)
    services = app.state.services
    now = services.clock.now()
    system = Principal("system", "", Role.ADMIN, "bench")
    agency = await identity.register_organisation(
        services.uow(),
        identity.RegisterOrganisation(
            "基准代理", make_credit_code("91350100MA0BENCH1"), OrgType.AGENCY, "福州"
        ),
        actor=None,
        ip="",
        now=now,
    )
    await identity.decide_organisation(
        services.uow(), agency.id, True, actor=system, ip="", now=now
    )
    hasher = Argon2PasswordHasher(time_cost=1, memory_cost=8 * 1024)
    await identity.create_person(
        services.uow(),
        identity.CreatePerson(
            "bench.agency", "代理", "bench-password", (Membership(agency.id, Role.AGENCY_OFFICER),)
        ),
        hasher,
        actor=system,
        ip="",
        now=now,
    )
    regions = ["福州", "厦门", "泉州", "漳州", "莆田"]
    ids: list[str] = []
    async with services.uow() as uow:
        for i in range(tenders):
            published = now - timedelta(days=i % 60, hours=i % 24)
            deadline = published + timedelta(days=25)
            category = Regime.CONSTRUCTION if i % 3 else Regime.PROCUREMENT
            tender = Tender(
                id=str(uuid.uuid4()),
                org_id=agency.id,
                created_by="bench",
                created_at=published,
                draft=TenderDraft(
                    title=f"基准测试项目 第{i}号 道路改造工程",
                    code=f"B-{i:05d}",
                    category=category,
                    procedure=Procedure.OPEN,
                    region=regions[i % len(regions)],
                    evaluation_method=EvaluationMethod.COMPREHENSIVE,
                    documents_from=published,
                    deadline=deadline,
                    opening_at=deadline,
                    lots=(
                        Lot(
                            str(uuid.uuid4()),
                            1,
                            "第一标段",
                            100_000_000 + i,
                            (OpeningField("price", "报价", "Price", FieldType.MONEY),),
                        ),
                    ),
                    description="基准测试数据。" * 10,
                ),
                status=TenderStatus.PUBLISHED if i % 10 else TenderStatus.DRAFT,
                rule_pack="cn-construction@2019-03-02" if category == Regime.CONSTRUCTION else None,
                published_at=published if i % 10 else None,
            )
            await uow.tenders.add(tender)
            ids.append(tender.id)
        await uow.commit()
    published_id = ids[1]

    pages = [
        ("/healthz", False),
        ("/", False),
        ("/?category=construction&region=福州&q=道路", False),
        ("/?page=20", False),
        (f"/notices/{published_id}", False),
        ("/stats", False),
        ("/login", False),
        ("/agency/tenders", True),
        ("/agency/tenders/new", True),
        (f"/agency/tenders/{published_id}", True),
        (f"/agency/tenders/{ids[0]}/edit", True),
    ]
    results: list[tuple[str, float, float]] = []
    async with AsyncTestClient(app) as client:
        await client.get("/login")
        login = await client.post(
            "/login",
            data={
                "username": "bench.agency",
                "password": "bench-password",
                "_csrf": client.cookies["th_csrf"],
            },
            follow_redirects=False,
        )
        assert login.status_code == 303, login.text
        session = dict(client.cookies)
        for path, signed_in in pages:
            cookies = session if signed_in else {}
            client.cookies.clear()
            client.cookies.update(cookies)
            first = await client.get(path, follow_redirects=False)
            assert first.status_code == 200, (path, first.status_code, first.text[:300])
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                response = await client.get(path, follow_redirects=False)
                times.append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200
            results.append((path, statistics.median(times), max(times)))
    await services.close()

    print(f"{tenders} tenders, {repeat} requests per page (in-process, SQLite)")
    print(f"{'page':<48} {'median ms':>10} {'max ms':>9}")
    slow = 0
    for path, median, worst in results:
        flag = "" if median < TARGET_MS else "  OVER TARGET"
        slow += median >= TARGET_MS
        print(f"{path[:48]:<48} {median:>10.1f} {worst:>9.1f}{flag}")
    return 1 if slow else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenders", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.tenders, args.repeat)))


if __name__ == "__main__":
    main()
