"""validate_pdf streams: peak memory does not grow with the size of the PDF."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from signing.seal import seal_pdf
from tests.pdf.conftest import make_timestamper, signer_for
from tests.pdf.pdfs import write_pdf
from tests.pdf.pki import Pki

# Runs in a fresh interpreter and prints its own high-water RSS (VmHWM, KiB) after validating.
# VmHWM belongs to the new process image, so the (large) pytest parent does not leak into it.
_CHILD = """
import asyncio, logging, sys
from pathlib import Path
from asn1crypto import x509
from pyhanko_certvalidator import ValidationContext
from signing.pdf_verify import validate_pdf
logging.disable(logging.CRITICAL)
root = x509.Certificate.load(Path(sys.argv[2]).read_bytes())
verdict = asyncio.run(validate_pdf(sys.argv[1], validation_context=ValidationContext(
    trust_roots=[root], allow_fetching=False)))
hwm = [l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM")]
print(verdict.status.value, hwm[0].split()[1])
"""


def _peak_rss_kib(pdf: Path, root_der: Path) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(pdf), str(root_der)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_memory_does_not_grow_with_file_size(pki: Pki, tmp_path: Path) -> None:
    root_der = tmp_path / "root.der"
    root_der.write_bytes(pki.root.asn1_cert.dump())
    sizes = {"small": 1 << 20, "large": 64 << 20}
    peaks = {}
    for name, image_bytes in sizes.items():
        unsigned = write_pdf(tmp_path / f"{name}.pdf", image_bytes=image_bytes)
        signed = tmp_path / f"{name}-signed.pdf"
        asyncio.run(
            seal_pdf(
                unsigned,
                signed,
                signer=signer_for(pki, pki.signer),
                timestamper=make_timestamper(pki),
                reason="r",
                location="l",
            )
        )
        status, peaks[name] = _peak_rss_kib(signed, root_der)
        assert status == "valid"
    # 63 MB more file may cost a few chunk buffers, not the file: allow 8 MB of noise.
    assert peaks["large"] - peaks["small"] < 8 * 1024, peaks
