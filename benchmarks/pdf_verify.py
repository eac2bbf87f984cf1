"""Benchmark: validate_pdf on a large signed PDF, next to pdfsig and sha256sum on the same file.

    python3 benchmarks/pdf_verify.py [--size-mb 100] [--repeat 3] [--cache-dir DIR]

Builds (once, cached in a temp directory) a one-page PDF carrying a ``size-mb`` scanned image,
sealed by the platform code with the test PKI, then runs, each in its own process and measured
by wall time and by peak RSS as GNU ``/usr/bin/time`` reports it (``%M``):

* ``sha256sum FILE`` — the floor: reading and hashing every byte once;
* ``pdfsig -nocert FILE`` — poppler checking the signature (its own trust store, hence -nocert);
* ``tenderhall pdf verify FILE --trust ROOT --crl CRL`` — the product's command, as a person
  runs it (full validation: digest, chain, CRL, timestamp, difference analysis), start-up,
  imports and exit included;
* ``python3 benchmarks/pdf_verify.py --child FILE`` — :func:`signing.pdf_verify.validate_pdf`
  with the same trust, which also reports the time spent inside ``validate_pdf`` alone (what the
  server pays per upload, its imports long done).

Targets (issue 4): within 2x of pdfsig, peak RSS under 100 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def build(size_mb: int, cache: Path) -> tuple[Path, Path, Path]:
    """The signed PDF, the trust root and the CRL (reused when already built for this size)."""
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    from signing.seal import seal_pdf
    from tests.pdf.conftest import signer_for, store_of
    from tests.pdf.pdfs import write_pdf
    from tests.pdf.pki import make_test_pki

    cache.mkdir(parents=True, exist_ok=True)
    signed = cache / f"signed-{size_mb}mb.pdf"
    root, crl = cache / f"root-{size_mb}mb.pem", cache / f"crl-{size_mb}mb.der"
    if signed.exists() and root.exists() and crl.exists():
        return signed, root, crl
    pki = make_test_pki()
    unsigned = write_pdf(cache / f"unsigned-{size_mb}mb.pdf", image_bytes=size_mb * 1024 * 1024)
    timestamper = DummyTimeStamper(
        tsa_cert=pki.tsa.asn1_cert,
        tsa_key=pki.tsa.asn1_key,
        certs_to_embed=store_of([pki.intermediate.asn1_cert, pki.root.asn1_cert]),
    )
    t = time.perf_counter()
    asyncio.run(
        seal_pdf(
            unsigned,
            signed,
            signer=signer_for(pki, pki.signer),
            timestamper=timestamper,
            reason="基准测试 benchmark",
            location="bench",
        )
    )
    print(
        f"built and sealed {signed} ({signed.stat().st_size / 1e6:.1f} MB) in "
        f"{time.perf_counter() - t:.2f} s (sealing)"
    )
    unsigned.unlink()
    root.write_bytes(pki.root.cert_pem)
    crl.write_bytes(pki.crl_der)
    return signed, root, crl


def child(path: Path, root: Path, crl: Path) -> None:
    """Run inside the measured process: validate and print the status and in-process time."""
    import logging

    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import ValidationContext

    from signing.pdf_verify import validate_pdf

    logging.disable(logging.CRITICAL)
    _, _, der = pem.unarmor(root.read_bytes())
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(der)],
        crls=[crl.read_bytes()],
        allow_fetching=False,
    )
    t = time.perf_counter()
    verdict = asyncio.run(validate_pdf(path, validation_context=context))
    inner = time.perf_counter() - t
    print(
        json.dumps({"status": verdict.status.value, "inner": inner, "codes": sorted(verdict.codes)})
    )


def measure(argv: list[str]) -> dict[str, object]:
    """Wall time (perf_counter around the process) and peak RSS from GNU time's ``%M``.

    GNU time is used rather than ``getrusage(RUSAGE_CHILDREN)`` from Python: Linux folds the
    forking parent's high-water mark into the child's at exec, so a Python parent would set a
    floor of its own size under every measurement; GNU time's floor is about 2 MB.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        t = time.perf_counter()
        run = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", rss_file.name, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        wall = time.perf_counter() - t
        rss_kib = int(rss_file.read().strip().splitlines()[-1])
    return {"wall": wall, "rss_kib": rss_kib, "rc": run.returncode, "out": run.stdout[-2000:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "tenderhall-bench-pdf"
    )
    parser.add_argument("--child", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    signed, root, crl = build(args.size_mb, args.cache_dir)
    size_mb = signed.stat().st_size / 1e6
    commands = {
        "sha256sum": ["sha256sum", str(signed)],
        "pdfsig": ["pdfsig", "-nocert", str(signed)],
        "pdf verify": [
            sys.executable,
            "-m",
            "webapp",
            "pdf",
            "verify",
            str(signed),
            "--trust",
            str(root),
            "--crl",
            str(crl),
        ],
        "validate_pdf": [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            str(signed),
            str(root),
            str(crl),
        ],
    }
    tools = [argv[0] for argv in commands.values()] + ["/usr/bin/time"]
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        sys.exit(f"missing tools: {', '.join(missing)}")
    measure(commands["sha256sum"])  # warm the page cache so every tool reads from memory

    rows: dict[str, dict[str, float]] = {}
    for name, argv in commands.items():
        runs = [measure(argv) for _ in range(args.repeat)]
        walls = [float(r["wall"]) for r in runs]  # type: ignore[arg-type]
        rss = max(int(r["rss_kib"]) for r in runs)  # type: ignore[call-overload]
        rows[name] = {"wall": statistics.median(walls), "rss_mb": rss / 1024}
        last = runs[-1]
        if name == "validate_pdf":
            detail = json.loads(str(last["out"]).strip().splitlines()[-1])
            rows[name]["inner"] = detail["inner"]
            print(f"validate_pdf verdict: {detail['status']} {detail['codes']}")
        elif name == "pdf verify":
            print(f"tenderhall pdf verify: exit {last['rc']} (0 = valid)")
        elif name == "pdfsig":
            ok = "Signature is Valid." in str(last["out"])
            print(f"pdfsig: {'Signature is Valid.' if ok else 'signature NOT valid'}")

    base = rows["pdfsig"]["wall"]
    print(f"\nfile {signed} ({size_mb:.1f} MB), median of {args.repeat} runs, warm page cache")
    print(f"{'tool':<14}{'wall s':>9}{'x pdfsig':>10}{'peak RSS MB':>13}")
    for name, row in rows.items():
        print(f"{name:<14}{row['wall']:>9.3f}{row['wall'] / base:>10.2f}{row['rss_mb']:>13.1f}")
    inner = rows["validate_pdf"]["inner"]
    print(
        f"validate_pdf in-process (without start-up/imports): {inner:.3f} s "
        f"({inner / base:.2f} x pdfsig)"
    )
    process_ratio = rows["pdf verify"]["wall"] / base
    print(
        f"target time <= 2x pdfsig: tenderhall pdf verify {process_ratio:.2f}x "
        f"({'met' if process_ratio <= 2 else 'NOT met'}); in-process {inner / base:.2f}x "
        f"({'met' if inner <= 2 * base else 'NOT met'})"
    )
    rss_ok = max(rows["pdf verify"]["rss_mb"], rows["validate_pdf"]["rss_mb"]) < 100
    print(f"target peak RSS < 100 MB: {'met' if rss_ok else 'NOT met'}")


if __name__ == "__main__":
    main()
