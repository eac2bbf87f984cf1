"""Object store throughput and memory against a plain copy of the same bytes, in the same run.

    python3 benchmarks/storage.py [--size-mb 1024] [--backend fs|s3|both] [--s3-url URL]

For each backend it streams one object in (``put``) and out again (``get``, into a file) and
compares the rate with a plain copy of the same file: ``cp`` for the filesystem store, the bare
``minio`` client (``fput_object``/``fget_object``) for S3. Without ``--s3-url`` (or
``TENDERHALL_TEST_S3_URL``) the S3 endpoint is moto's server, started here in its own process.

Every measurement runs in a fresh child process that reports its own peak RSS (``ru_maxrss`` of
itself, or of ``cp`` for the copy), so one measurement's memory never counts against another.
Targets: ratio >= 0.8 and peak RSS < 100 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
# This file is named like the ``storage`` package; run as a script, its own directory would come
# first on sys.path and hide the package.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
MB = 1024 * 1024
READ_CHUNK = MB


def make_source(path: Path, size: int) -> None:
    block = os.urandom(8 * MB)
    with path.open("wb") as out:
        left = size
        while left:
            n = min(left, len(block))
            out.write(block[:n])
            left -= n


async def read_file(path: Path) -> AsyncIterator[bytes]:
    import anyio

    with path.open("rb", buffering=0) as fh:
        while chunk := await anyio.to_thread.run_sync(fh.read, READ_CHUNK):
            yield chunk


async def write_file(chunks: AsyncIterator[bytes], path: Path) -> None:
    import anyio

    with path.open("wb", buffering=0) as fh:
        async for chunk in chunks:
            await anyio.to_thread.run_sync(fh.write, chunk)


def open_s3(spec: dict[str, str]) -> object:
    from storage.objects.s3 import S3ObjectStore

    return S3ObjectStore(
        endpoint=spec["endpoint"],
        bucket=spec["bucket"],
        access_key=spec["access_key"],
        secret_key=spec["secret_key"],
        secure=spec["secure"] == "1",
        upload_root=Path(spec["work"]) / "uploads",
    )


async def store_task(task: str, spec: dict[str, str]) -> None:
    src, dst, work, key = Path(spec["src"]), Path(spec["dst"]), Path(spec["work"]), spec["key"]
    if task.startswith("fs-"):
        from storage.objects.fs import FilesystemObjectStore

        fs = FilesystemObjectStore(work / "objects", public_url="http://x", signing_key=b"k")
        if task == "fs-put":
            await fs.put(key, read_file(src))
        else:
            await write_file(fs.get(key), dst)
    else:
        store = open_s3(spec)
        if task == "s3-put":
            await store.put(key, read_file(src))  # type: ignore[attr-defined]
        else:
            await write_file(store.get(key), dst)  # type: ignore[attr-defined]


def child_task(task: str, spec: dict[str, str]) -> None:
    """One measurement, in this (fresh) process; prints seconds and peak RSS as JSON."""
    src, dst = Path(spec["src"]), Path(spec["dst"])
    dst.unlink(missing_ok=True)
    rss_of = resource.RUSAGE_SELF
    # Imports before the clock starts: they are start-up cost, not throughput.
    from minio import Minio

    import storage.objects.fs
    import storage.objects.s3  # noqa: F401

    started = time.perf_counter()
    if task in {"cp", "cp+fsync", "dd"}:
        if task == "dd":  # a plain userspace read/write copy, 1 MiB at a time
            subprocess.run(["dd", f"if={src}", f"of={dst}", "bs=1M", "status=none"], check=True)
        else:
            subprocess.run(["cp", str(src), str(dst)], check=True)
        if task == "cp+fsync":
            subprocess.run(["sync", str(dst)], check=True)
        rss_of = resource.RUSAGE_CHILDREN  # cp's own peak, not this Python's
    elif task.startswith("minio-"):
        client = Minio(
            spec["endpoint"],
            access_key=spec["access_key"],
            secret_key=spec["secret_key"],
            secure=spec["secure"] == "1",
        )
        if task == "minio-fput":
            client.fput_object(spec["bucket"], spec["key"], str(src))
        else:
            client.fget_object(spec["bucket"], spec["key"], str(dst))
    else:
        asyncio.run(store_task(task, spec))
    seconds = time.perf_counter() - started
    rss_kib = resource.getrusage(rss_of).ru_maxrss
    print(json.dumps({"seconds": seconds, "rss_mb": rss_kib / 1024}))


def measure(task: str, spec: dict[str, str]) -> dict[str, float]:
    os.sync()  # start each measurement without the previous one's dirty pages still flushing
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, __file__, "--child", task, "--spec", json.dumps(spec)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode:
        raise SystemExit(f"{task} failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


class Table:
    """Each measurement of each run, reported per run and as the median over the runs."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.results: dict[str, list[dict[str, float]]] = {}

    def add(self, name: str, result: dict[str, float]) -> None:
        self.results.setdefault(name, []).append(result)

    def rate(self, name: str, index: int | None = None) -> float:
        runs = self.results[name]
        rates = [self.size / MB / r["seconds"] for r in runs]
        return rates[index] if index is not None else statistics.median(rates)

    def line(self, name: str, reference: str, index: int | None = None) -> str:
        runs = self.results[name]
        rss = runs[index]["rss_mb"] if index is not None else max(r["rss_mb"] for r in runs)
        rate, ref = self.rate(name, index), self.rate(reference, index)
        return (
            f"  {name:<26} {rate:8.1f} MB/s  peak RSS {rss:6.1f} MB  "
            f"ratio {rate / ref:5.2f} (vs {reference})"
        )

    def show(self, lines: list[tuple[str, str]], runs: int) -> None:
        for index in range(runs):
            print(f"-- run {index + 1}")
            for name, reference in lines:
                print(self.line(name, reference, index))
        print(f"-- median of {runs} run(s) (RSS: the highest)")
        for name, reference in lines:
            print(self.line(name, reference))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"s3://bench:bench@127.0.0.1:{port}/bench"


def run_fs(size: int, src: Path, work: Path, repeat: int) -> None:
    print(f"\n== filesystem store, {size // MB} MiB, {work}")
    table = Table(size)
    for _ in range(repeat):
        key = f"bench/{uuid.uuid4().hex}"
        spec = {"src": str(src), "dst": str(work / "out"), "work": str(work), "key": key}
        # Interleaved, so that the references see the same state of the (shared) machine.
        table.add("cp", measure("cp", spec))
        table.add("dd bs=1M", measure("dd", spec))
        table.add("cp + fsync", measure("cp+fsync", spec))
        table.add("fs put (sha256, fsync)", measure("fs-put", spec))
        table.add("fs get (into a file)", measure("fs-get", spec))
    table.show(
        [
            ("cp", "cp"),
            ("dd bs=1M", "cp"),
            ("cp + fsync", "cp"),
            ("fs put (sha256, fsync)", "cp"),
            ("fs put (sha256, fsync)", "cp + fsync"),
            ("fs get (into a file)", "cp"),
            ("fs get (into a file)", "dd bs=1M"),
        ],
        repeat,
    )


def run_s3(size: int, src: Path, work: Path, url: str, repeat: int) -> None:
    parts = urlsplit(url)
    base = {
        "src": str(src),
        "dst": str(work / "out"),
        "work": str(work),
        "endpoint": f"{parts.hostname}:{parts.port}",
        "access_key": parts.username or "",
        "secret_key": parts.password or "",
        "secure": "1" if "secure=true" in parts.query else "0",
        "bucket": f"bench-{uuid.uuid4().hex[:12]}",
    }
    print(f"\n== S3 store, {size // MB} MiB, {parts.hostname}:{parts.port}")
    # Create the bucket the way the store does (with object lock) before any timing.
    measure("s3-put", base | {"key": "warmup", "src": str(work / "empty")})
    table = Table(size)
    for _ in range(repeat):
        spec = base | {"key": f"bench/{uuid.uuid4().hex}"}
        table.add("minio fput", measure("minio-fput", spec | {"key": spec["key"] + "-ref"}))
        table.add("s3 put (sha256)", measure("s3-put", spec))
        table.add("minio fget", measure("minio-fget", spec | {"key": spec["key"] + "-ref"}))
        table.add("s3 get (into a file)", measure("s3-get", spec))
    table.show(
        [
            ("minio fput", "minio fput"),
            ("s3 put (sha256)", "minio fput"),
            ("minio fget", "minio fget"),
            ("s3 get (into a file)", "minio fget"),
        ],
        repeat,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--backend", choices=["fs", "s3", "both"], default="both")
    parser.add_argument("--s3-url", default=os.environ.get("TENDERHALL_TEST_S3_URL"))
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_task(args.child, json.loads(args.spec))
        return
    size = args.size_mb * MB
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="th-bench-") as tmp:
        work = Path(tmp)
        src = work / "source.bin"
        make_source(src, size)
        (work / "empty").write_bytes(b"")
        if args.backend in {"fs", "both"}:
            run_fs(size, src, work, args.repeat)
        if args.backend in {"s3", "both"}:
            moto = None
            url = args.s3_url
            if not url:
                moto, url = start_moto()
            try:
                run_s3(size, src, work, url, args.repeat)
            finally:
                if moto is not None:
                    moto.terminate()
                    moto.wait()


if __name__ == "__main__":
    main()
