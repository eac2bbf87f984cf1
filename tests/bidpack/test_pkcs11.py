"""bid pack with the key on a PKCS#11 token (SoftHSM), when SoftHSM and python-pkcs11 exist."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from signing.bidpack_check import check
from signing.verdicts import Status
from tests.bidpack.conftest import TENDER_ID, schema_fields
from tests.pki_fixtures import DemoPkiFiles

SOFTHSM_LIBS = [
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
]
PIN = "123456"


def _tools() -> tuple[Path, str, str]:
    pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed")
    lib = next((p for p in SOFTHSM_LIBS if p.exists()), None)
    util, tool = shutil.which("softhsm2-util"), shutil.which("pkcs11-tool")
    if lib is None or util is None or tool is None:
        pytest.skip("SoftHSM (softhsm2) and pkcs11-tool (opensc) are not installed")
    return lib, util, tool


def run(*args: str | Path) -> None:
    result = subprocess.run([str(a) for a in args], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()


def test_pack_with_a_key_on_a_softhsm_token(
    demo_pki: DemoPkiFiles,
    bid_pdfs: list[Path],
    data_file: Path,
    schema_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lib, util, tool = _tools()
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))
    bidder = demo_pki.entity("bidder-1-org")
    key_pem = tmp_path / "key.pem"
    key_pem.write_bytes(
        bidder.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_der = tmp_path / "cert.der"
    cert_der.write_bytes(bidder.cert.public_bytes(serialization.Encoding.DER))
    run(util, "--init-token", "--free", "--label", "bidder", "--pin", PIN, "--so-pin", "654321")
    run(util, "--import", key_pem, "--token", "bidder", "--label", "signing", "--id", "01",
        "--pin", PIN)  # fmt: skip
    run(tool, "--module", lib, "--token-label", "bidder", "--login", "--pin", PIN,
        "--write-object", cert_der, "--type", "cert", "--label", "signing",
        "--id", "01")  # fmt: skip

    from webapp.cli import main

    out = tmp_path / "bid.zip"
    result = CliRunner().invoke(
        main,
        [str(a) for a in [
            "bid", "pack", *bid_pdfs, "--data", data_file, "--schema", schema_file,
            "--tender", TENDER_ID, "--lot", "1", "--pkcs11-lib", lib, "--pkcs11-token", "bidder",
            "--pkcs11-key", "signing", "--pin", PIN, "--out", out,
        ]],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    verdict = check(out, trust=demo_pki.trust_store(), schema=schema_fields())
    assert verdict.status is Status.VALID, verdict.to_json()
    assert verdict.signer_credit_code == "91110105MA01DEM01M"
