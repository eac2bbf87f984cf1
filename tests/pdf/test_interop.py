"""Interop: poppler's pdfsig accepts the platform seal; a PDF signed by pyHanko's CLI validates."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from signing.pdf_verify import validate_pdf
from signing.seal import cosign_pdf
from signing.verdicts import Status
from tests.pdf.conftest import make_context, signer_for
from tests.pdf.pki import Pki

pytestmark = pytest.mark.interop


def _pdfsig(path: Path) -> str:
    if not shutil.which("pdfsig"):
        pytest.skip("pdfsig (poppler-utils) is not installed")
    # -nocert: poppler does not know our test root (its trust comes from an NSS database), so
    # only the signature itself is judged; "issuer isn't Trusted" is expected and accepted.
    result = subprocess.run(
        ["pdfsig", "-nocert", str(path)], capture_output=True, text=True, timeout=60
    )
    return result.stdout


def test_pdfsig_accepts_the_platform_seal(sealed_pdf: Path) -> None:
    out = _pdfsig(sealed_pdf)
    assert "Signature #1:" in out
    assert "Signature Validation: Signature is Valid." in out
    assert "ETSI.CAdES.detached" in out  # the PAdES subfilter
    assert "Total document signed" in out


async def test_pdfsig_accepts_both_signatures_of_a_cosigned_pdf(
    sealed_pdf: Path, pki: Pki, timestamper: DummyTimeStamper, tmp_path: Path
) -> None:
    cosigned = tmp_path / "cosigned.pdf"
    await cosign_pdf(
        sealed_pdf,
        cosigned,
        signer=signer_for(pki, pki.cosigner),
        timestamper=timestamper,
        reason="r",
        location="l",
    )
    out = _pdfsig(cosigned)
    assert out.count("Signature Validation: Signature is Valid.") == 2


def test_pdfsig_sees_tampering(sealed_pdf: Path) -> None:
    data = sealed_pdf.read_bytes()
    sealed_pdf.write_bytes(data.replace(b"Tenderhall test document", b"Tenderhall TEST document"))
    out = _pdfsig(sealed_pdf)
    assert "Signature is Valid." not in out


def _sign_with_pyhanko_cli(pki: Pki, blank_pdf: Path, tmp_path: Path) -> Path:
    files = pki.write(tmp_path / "pki")
    signed = tmp_path / "cli-signed.pdf"
    pyhanko = shutil.which("pyhanko")
    if not pyhanko:
        pytest.skip("pyhanko-cli is not installed")
    subprocess.run(
        [
            pyhanko,
            "sign",
            "addsig",
            "--field",
            "Sig1",
            "--use-pades",
            "pemder",
            "--key",
            str(files["signer.key"]),
            "--cert",
            str(files["signer.pem"]),
            "--chain",
            str(files["intermediate.pem"]),
            "--no-pass",
            str(blank_pdf),
            str(signed),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return signed


async def test_pdf_signed_by_pyhanko_cli_validates(
    pki: Pki, blank_pdf: Path, tmp_path: Path
) -> None:
    signed = _sign_with_pyhanko_cli(pki, blank_pdf, tmp_path)
    verdict = await validate_pdf(signed, validation_context=make_context(pki))
    assert verdict.status is Status.VALID, verdict.all_problems
    assert verdict.signatures[0].field_name == "Sig1"
    assert verdict.signatures[0].timestamp_time is None
