"""Concurrent sealed-bid uploads through the API against the raw backend write rate, same run.

    python3 benchmarks/upload.py [--count 20] [--size-mb 200] [--backend fs|s3|both] [--repeat 3]

For each backend a real ``tenderhall serve`` process is started on a free port with a fresh data
directory (SQLite; for S3, moto's server started here). The benchmark seeds it directly through the
use cases (a published tender whose lot 1 has an opening key in 2-of-3 custody, ``--count``
bidder organisations each with a bound certificate), seals ONE envelope of ``--size-mb`` MiB to
all the bidders' certificates and the lot's opening key, and then has every bidder upload it at
the same time through the contract (start, parts of the server's chunk size with
``X-Content-SHA256``, complete -> receipt) with aiohttp. Identical bytes are fine: the stores do not
deduplicate, and every completion is checked, signed and timestamped as usual.

Printed, for each of ``--repeat`` runs against the same server: aggregate MB/s of the API run
(all bytes / wall time from the first request to the last receipt; from the second run on every
bidder replaces its bid) next to the raw backend write rate measured just before it with the same
concurrency (filesystem: ``--count`` threads writing the file into the data directory's file
system with fsync; S3: ``--count`` concurrent ``minio`` ``fput_object``); then the median ratio
and the server's peak RSS (``VmHWM``) over all runs. Both rates swing by a third from run to run
on a shared 2-CPU machine, hence the repetitions. Targets: ratio >= 0.5, server peak RSS < 300 MB.

The load generator shares the machine's CPUs with the server, so it is made as cheap as it can
be: aiohttp sending slices of a memory map of the envelope, each part hashed once for all.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import mmap
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

import aiohttp  # noqa: E402 - after the path fix above
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

MB = 1024 * 1024
PASSWORD = "benchmark password 123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, proc: subprocess.Popen[bytes] | None = None) -> None:
    for _ in range(300):
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"process exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def self_signed(name: str, now: datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


@dataclass
class Material:
    """What every backend's run shares: certificates, the custody set and the sealed envelope."""

    bidder_certs: list[x509.Certificate]
    custody: dict[str, Any]
    envelope: Path
    sha256: str
    size: int
    part_digests: dict[tuple[int, int], str] = field(default_factory=dict)


def prepare(work: Path, count: int, size: int) -> Material:
    from signing.custody import CERTIFICATE_NAME, MANIFEST_NAME, create_custody
    from signing.envelope import seal

    now = datetime.now(UTC)
    bidders = [self_signed(f"bidder {i}", now)[1] for i in range(count)]
    custodians = [self_signed(f"custodian {i}", now)[1] for i in range(3)]
    directory = work / "custody"
    manifest = create_custody("bench/1", 2, custodians, directory, now=now)
    by_sha = {c.certificate_sha256: c for c in manifest.custodians}
    shares = []
    for cert in custodians:
        entry = by_sha[cert.fingerprint(hashes.SHA256()).hex()]
        shares.append(
            (
                cert.public_bytes(serialization.Encoding.PEM).decode(),
                (directory / entry.file).read_bytes(),
            )
        )
    custody = {
        "certificate": (directory / CERTIFICATE_NAME).read_text(),
        "shares": shares,
        "manifest": json.loads((directory / MANIFEST_NAME).read_text()),
    }
    opening = x509.load_pem_x509_certificate(custody["certificate"].encode())
    plain = work / "bid.zip"
    block = os.urandom(8 * MB)
    with plain.open("wb") as out:
        left = size
        while left:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))
    envelope = work / "bid.p7m"
    started = time.perf_counter()
    seal(plain, envelope, [*bidders, opening])
    took = time.perf_counter() - started
    print(f"sealed {size / MB:.0f} MiB to {count + 1} recipients in {took:.1f}s")
    plain.unlink()
    digest = hashlib.sha256()
    with envelope.open("rb") as fh:
        while chunk := fh.read(8 * MB):
            digest.update(chunk)
    return Material(bidders, custody, envelope, digest.hexdigest(), envelope.stat().st_size)


async def seed(env: dict[str, str], material: Material) -> str:
    """Organisations, people, bound certificates, a published tender and its lot's opening key."""
    from signing.passwords import Argon2PasswordHasher
    from storage import migrate
    from trading.bids.custody import SetOpeningKey, set_opening_key
    from trading.credit_code import make_credit_code
    from trading.identity import services as identity
    from trading.identity.model import Membership, OrgType, Principal, Role
    from trading.identity.services import CertificateBinding
    from trading.rules.packs import Regime
    from trading.tenders.model import Tender, TenderStatus
    from webapp.bids import CustodyCryptography
    from webapp.demo import sample_draft
    from webapp.services import build_services
    from webapp.settings import Settings

    settings = Settings.from_env(env)
    await asyncio.to_thread(migrate.upgrade, settings.effective_database_url)
    services = build_services(settings)
    now = services.clock.now()
    system = Principal("system", "", Role.ADMIN, "setup", "")
    hasher = Argon2PasswordHasher(time_cost=1, memory_cost=8 * 1024)

    async def member(index: int, org_type: OrgType, role: Role) -> tuple[str, str]:
        org = await identity.register_organisation(
            services.uow(),
            identity.RegisterOrganisation(
                f"基准{org_type}{index}",
                make_credit_code("91350100MA" + f"{1000 + index:07d}"),
                org_type,
                "福州",
            ),
            actor=None,
            ip="",
            now=now,
        )
        await identity.decide_organisation(
            services.uow(), org.id, True, actor=system, ip="", now=now
        )
        person = await identity.create_person(
            services.uow(),
            identity.CreatePerson(
                f"bench.{index}", f"bench {index}", PASSWORD, (Membership(org.id, role),)
            ),
            hasher,
            actor=system,
            ip="",
            now=now,
        )
        return org.id, person.id

    agency_org, agency_person = await member(0, OrgType.AGENCY, Role.AGENCY_OFFICER)
    for i, cert in enumerate(material.bidder_certs, start=1):
        org_id, person_id = await member(i, OrgType.BIDDER, Role.BIDDER_REP)
        der = cert.public_bytes(serialization.Encoding.DER)
        async with services.uow() as uow:
            await uow.identity.bind_certificate(
                CertificateBinding(
                    hashlib.sha256(der).hexdigest(),
                    person_id,
                    org_id,
                    cert.subject.rfc4514_string(),
                    str(cert.serial_number),
                    cert.not_valid_after_utc,
                    now,
                ),
                der,
            )
            await uow.commit()
    tender = Tender(
        id=str(uuid.uuid4()),
        org_id=agency_org,
        created_by=agency_person,
        created_at=now,
        draft=sample_draft("上传基准", "BENCH", Regime.CONSTRUCTION, now, 25, 100_000_000),
        status=TenderStatus.PUBLISHED,
        rule_pack="cn-construction@2019-03-02",
        published_at=now,
    )
    async with services.uow() as uow:
        await uow.tenders.add(tender)
        await uow.commit()
    await set_opening_key(
        services.uow(),
        CustodyCryptography(),
        SetOpeningKey(
            tender.id,
            1,
            material.custody["certificate"],
            2,
            tuple(material.custody["shares"]),
            material.custody["manifest"],
        ),
        actor=Principal(agency_person, agency_org, Role.AGENCY_OFFICER, "seed", ""),
        ip="",
        now=now,
    )
    # Create the platform's keys now, so that the first receipt does not pay for them.
    services.tsa()
    services.platform_signer()
    await services.close()
    return tender.id


def sha256_hex(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def cpu_seconds(pid: int, task: int | None = None, *, system: bool = False) -> float:
    """User + system (or only system) CPU time the process or one thread has used so far."""
    path = f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[12]) if system else int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def upload_one(
    session: aiohttp.ClientSession, token: str, tender_id: str, material: Material, body: mmap.mmap
) -> dict[str, Any]:
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Tenderhall-Client": "benchmark/1",
        "X-Tenderhall-Machine": "00" * 32,
    }
    async with session.post(
        f"/api/tenders/{tender_id}/lots/1/uploads",
        json={"size": material.size, "sha256": material.sha256},
        headers=headers,
    ) as started:
        started.raise_for_status()
        upload = await started.json()
    chunk = int(upload["chunk_size"])
    with memoryview(body) as view:
        for number, offset in enumerate(range(0, material.size, chunk), start=1):
            data = view[offset : offset + chunk]
            # Every bidder sends the same bytes: each part is hashed once for all of them, so
            # that this client, which shares the machine with the server, costs less of it.
            if (chunk, number) not in material.part_digests:
                digest = await asyncio.to_thread(sha256_hex, data)
                material.part_digests[(chunk, number)] = digest
            digest = material.part_digests[(chunk, number)]
            async with session.put(
                f"/api/uploads/{upload['upload_id']}/parts/{number}",
                data=data,
                headers={**headers, "X-Content-SHA256": digest},
            ) as put:
                put.raise_for_status()
                await put.read()
    async with session.post(
        f"/api/uploads/{upload['upload_id']}/complete", headers=headers
    ) as done:
        if done.status != 201:
            raise SystemExit(f"complete failed: {done.status} {(await done.text())[:300]}")
        receipt: dict[str, Any] = await done.json()
    return receipt


async def api_run(port: int, tender_id: str, count: int, material: Material) -> tuple[float, float]:
    connector = aiohttp.TCPConnector(limit=count + 2)
    timeout = aiohttp.ClientTimeout(total=600)
    with (
        warnings.catch_warnings(),  # aiohttp warns about large in-memory bodies
        material.envelope.open("rb") as fh,
        mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as body,
    ):
        warnings.simplefilter("ignore", ResourceWarning)
        async with aiohttp.ClientSession(
            f"http://127.0.0.1:{port}", connector=connector, timeout=timeout
        ) as session:
            tokens = []
            for i in range(1, count + 1):
                async with session.post(
                    "/api/auth/login", json={"username": f"bench.{i}", "password": PASSWORD}
                ) as login:
                    login.raise_for_status()
                    tokens.append((await login.json())["token"])
            started, client_cpu = time.perf_counter(), time.process_time()
            receipts = await asyncio.gather(
                *(upload_one(session, t, tender_id, material, body) for t in tokens)
            )
            elapsed = time.perf_counter() - started
            client_cpu = time.process_time() - client_cpu
    assert len({r["receipt"]["bid_id"] for r in receipts}) == count
    return elapsed, client_cpu


def raw_fs(directory: Path, count: int, material: Material) -> float:
    directory.mkdir(parents=True, exist_ok=True)

    def copy(i: int) -> None:
        with (
            material.envelope.open("rb", buffering=0) as src,
            (directory / f"raw-{i}").open("wb", buffering=0) as dst,
        ):
            while chunk := src.read(8 * MB):
                dst.write(chunk)
            os.fsync(dst.fileno())

    threads = [threading.Thread(target=copy, args=(i,)) for i in range(count)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    for i in range(count):
        (directory / f"raw-{i}").unlink()
    return elapsed


def raw_s3(endpoint: str, count: int, material: Material) -> float:
    from minio import Minio

    client = Minio(endpoint, access_key="bench", secret_key="bench", secure=False)
    bucket = f"raw-{uuid.uuid4().hex[:12]}"
    client.make_bucket(bucket)

    def put(i: int) -> None:
        client.fput_object(bucket, f"raw-{i}", str(material.envelope), part_size=16 * MB)

    threads = [threading.Thread(target=put, args=(i,)) for i in range(count)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    for i in range(count):
        client.remove_object(bucket, f"raw-{i}")
    return elapsed


def run_backend(
    backend: str, work: Path, count: int, material: Material, chunk_mb: int | None, repeat: int
) -> None:
    data_dir = work / f"data-{backend}"
    port = free_port()
    env = {
        "TENDERHALL_DATA_DIR": str(data_dir),
        "TENDERHALL_HOST": "127.0.0.1",
        "TENDERHALL_PORT": str(port),
        "TENDERHALL_SECRET_KEY": "b" * 40,
        "TENDERHALL_LOG_LEVEL": "WARNING",
        "TENDERHALL_SIGNIN_PER_MINUTE": "10000",
    }
    if chunk_mb is not None:
        env["TENDERHALL_UPLOAD_CHUNK_BYTES"] = str(chunk_mb * MB)
        env["TENDERHALL_MAX_REQUEST_BYTES"] = str(max(16, chunk_mb + 1) * MB)
    moto: subprocess.Popen[bytes] | None = None
    if backend == "s3":
        moto_port = free_port()
        moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(moto_port, moto)
        env |= {
            "TENDERHALL_STORAGE_URL": f"s3://127.0.0.1:{moto_port}/bids",
            "TENDERHALL_STORAGE_ACCESS_KEY": "bench",
            "TENDERHALL_STORAGE_SECRET_KEY": "bench",
        }
    server: subprocess.Popen[bytes] | None = None
    try:
        tender_id = asyncio.run(seed(env, material))
        total = count * material.size / MB
        server = subprocess.Popen(
            [sys.executable, "-m", "webapp", "serve"],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        wait_port(port, server)
        chunk = env.get("TENDERHALL_UPLOAD_CHUNK_BYTES", "server default")
        print(f"\n== {backend}: {count} x {material.size / MB:.1f} MiB concurrently, chunk {chunk}")
        ratios = []
        for round_ in range(1, repeat + 1):
            # The raw rate is measured right before each API run (the server idles meanwhile).
            if backend == "fs":
                raw = raw_fs(data_dir / "raw", count, material)
                raw_name = f"{count} threads write+fsync"
            else:
                raw = raw_s3(f"127.0.0.1:{moto_port}", count, material)
                raw_name = f"{count} x minio fput_object"
            cpu_before = cpu_seconds(server.pid)
            sys_before = cpu_seconds(server.pid, system=True)
            loop_before = cpu_seconds(server.pid, server.pid)
            # From the second round on, every bidder replaces its bid: the same work again.
            elapsed, client_cpu = asyncio.run(api_run(port, tender_id, count, material))
            cpu = cpu_seconds(server.pid) - cpu_before
            sys_cpu = cpu_seconds(server.pid, system=True) - sys_before
            loop_cpu = cpu_seconds(server.pid, server.pid) - loop_before
            api_rate, raw_rate = total / elapsed, total / raw
            ratios.append(api_rate / raw_rate)
            print(f" run {round_}/{repeat}")
            print(f"  raw backend ({raw_name}): {raw_rate:8.1f} MB/s")
            print(f"  API uploads (start/parts/complete, receipts): {api_rate:8.1f} MB/s")
            print(f"  ratio API/raw: {ratios[-1]:.2f}")
            print(
                f"  server CPU: {cpu:.1f} s in {elapsed:.1f} s ({os.cpu_count()} CPUs), "
                f"{sys_cpu:.1f} s of it in the kernel, {loop_cpu:.1f} s on the event loop's "
                f"thread; client CPU {client_cpu:.1f} s"
            )
        ratio = statistics.median(ratios)
        rss = peak_rss_mb(server.pid)
        runs = ", ".join(f"{r:.2f}" for r in ratios)
        verdict = "ok" if ratio >= 0.5 else "MISSED"
        print(f" {backend}: median ratio API/raw of {repeat} run(s): {ratio:.2f} ({runs})")
        print(f"   target >= 0.5: {verdict}")
        verdict = "ok" if rss < 300 else "MISSED"
        print(f" {backend}: server peak RSS: {rss:.0f} MB (target < 300) {verdict}")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        if moto is not None:
            moto.terminate()
            moto.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--backend", choices=["fs", "s3", "both"], default="both")
    parser.add_argument(
        "--chunk-mb",
        type=int,
        default=None,
        help="TENDERHALL_UPLOAD_CHUNK_BYTES for the server (default: the server's default)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per backend (raw, then API), median ratio"
    )
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="th-upload-") as tmp:
        work = Path(tmp)
        material = prepare(work, args.count, args.size_mb * MB)
        for backend in ("fs", "s3"):
            if args.backend in {backend, "both"}:
                run_backend(backend, work, args.count, material, args.chunk_mb, args.repeat)


if __name__ == "__main__":
    main()
