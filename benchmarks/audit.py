"""The audit log's append rate on PostgreSQL next to bare single-row inserts, in the same run.

    python3 benchmarks/audit.py [--events 100000] [--postgres-url URL]

Both loops commit one row per transaction (an audit event is appended in the transaction of the
change it records). Then it times signing a tree head and inclusion / consistency proofs at the
final size. Targets: append rate >= 0.5 of the bare insert rate; proofs under 5 ms.
The database is created for the run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from signing import log_key  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.uow import SqlUnitOfWork  # noqa: E402
from trading.ports import AuditRecord  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


async def admin(url: str, statement: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()


def record(i: int) -> AuditRecord:
    return AuditRecord(
        action="bench.changed",
        object_type="bench",
        object_id=str(i),
        actor_id=str(uuid.UUID(int=i)),
        organisation_id=None,
        role="agency_officer",
        ip="127.0.0.1",
        after={"n": i, "note": "benchmark event"},
    )


async def run(url: str, events: int) -> None:
    engine = create_engine(url, pool_size=2)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "CREATE TABLE bare (id bigserial PRIMARY KEY, at timestamptz NOT NULL, "
                    "payload bytea NOT NULL)"
                )
            )
        payload = os.urandom(300)  # about the size of an event's canonical JSON
        start = time.perf_counter()
        for _ in range(events):
            async with engine.begin() as conn:
                await conn.execute(
                    sa.text("INSERT INTO bare (at, payload) VALUES (:at, :p)"),
                    {"at": datetime.now(UTC), "p": payload},
                )
        bare = events / (time.perf_counter() - start)

        start = time.perf_counter()
        for i in range(events):
            async with SqlUnitOfWork(engine) as uow:
                await uow.audit.append(record(i), at=datetime.now(UTC))
                await uow.commit()
        appended = events / (time.perf_counter() - start)

        signer = log_key.signer(log_key.load_private_key(_key_pem()))
        start = time.perf_counter()
        async with SqlUnitOfWork(engine) as uow:
            head = await uow.audit.sign_tree_head(signer, datetime.now(UTC))
            await uow.commit()
        head_ms = (time.perf_counter() - start) * 1000

        inclusion, consistency = [], []
        async with SqlUnitOfWork(engine) as uow:
            # One untimed call of each first: it prepares the statements on this connection.
            await uow.audit.inclusion_proof(0, head.size)
            await uow.audit.consistency_proof(1, head.size)
            for _ in range(200):
                seq = random.randrange(head.size)
                t = time.perf_counter()
                await uow.audit.inclusion_proof(seq, head.size)
                inclusion.append((time.perf_counter() - t) * 1000)
                first = random.randrange(1, head.size)
                t = time.perf_counter()
                await uow.audit.consistency_proof(first, head.size)
                consistency.append((time.perf_counter() - t) * 1000)
    finally:
        await engine.dispose()

    print(f"events: {events} on {make_url(url).render_as_string(hide_password=True)}")
    print(f"  bare single-row inserts  {bare:9.0f} rows/s")
    print(
        f"  audit appends            {appended:9.0f} events/s   ratio {appended / bare:.2f}"
        "  (target >= 0.5)"
    )
    print(f"  sign a tree head         {head_ms:9.1f} ms at size {head.size}")
    print(
        f"  inclusion proof          {statistics.median(inclusion):9.2f} ms median, "
        f"{max(inclusion):.2f} max  (target < 5)"
    )
    print(
        f"  consistency proof        {statistics.median(consistency):9.2f} ms median, "
        f"{max(consistency):.2f} max  (target < 5)"
    )


def _key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TENDERHALL_TEST_POSTGRES_URL", DEFAULT_URL),
        help="server to create the benchmark database on",
    )
    args = parser.parse_args()
    name = f"th_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(args.postgres_url, f'CREATE DATABASE "{name}"'))
    url = make_url(args.postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        asyncio.run(run(url, args.events))
    finally:
        asyncio.run(admin(args.postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
