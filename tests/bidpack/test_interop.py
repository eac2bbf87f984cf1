"""The real openssl binary accepts the manifest signature and the pieces of a receipt."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from signing.receipt import canonical
from tests.bidpack.conftest import Packed
from tests.bidpack.receipts import Issuer, pem
from tests.bidpack.zips import entries
from tests.pki_fixtures import DemoPkiFiles
from tests.signing.helpers import openssl

pytestmark = pytest.mark.interop


def test_openssl_cms_verifies_the_manifest_signature(
    good_package: Packed, demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    items = entries(good_package.path)
    (tmp_path / "manifest.json").write_bytes(items["manifest.json"])
    (tmp_path / "manifest.json.p7s").write_bytes(items["manifest.json.p7s"])
    bidder = demo_pki.entity("bidder-1-org")
    provider = demo_pki.provider(bidder.provider)
    args = [
        "cms", "-verify", "-binary", "-inform", "DER",
        "-content", str(tmp_path / "manifest.json"), "-in", str(tmp_path / "manifest.json.p7s"),
        "-CAfile", str(provider.root_pem), "-certfile", str(bidder.chain_pem),
        "-purpose", "any", "-out", "/dev/null",
    ]  # fmt: skip
    result = openssl(*args)
    assert result.returncode == 0, result.stderr.decode()
    assert b"Verification successful" in result.stderr
    # The same command refuses a manifest changed by one byte.
    (tmp_path / "manifest.json").write_bytes(items["manifest.json"].replace(b"180", b"181"))
    assert openssl(*args).returncode != 0


def test_openssl_verifies_the_receipt_signature_and_timestamp(
    issuer: Issuer, tmp_path: Path
) -> None:
    envelope = b"sealed bid bytes" * 100
    receipt = issuer.receipt(envelope)
    (tmp_path / "receipt.json").write_bytes(canonical(receipt["receipt"]))
    (tmp_path / "receipt.p7s").write_bytes(base64.b64decode(receipt["signature"]))
    (tmp_path / "platform-root.pem").write_text(receipt["platform_chain"][-1])
    cms = openssl(
        "cms", "-verify", "-binary", "-inform", "DER",
        "-content", str(tmp_path / "receipt.json"), "-in", str(tmp_path / "receipt.p7s"),
        "-CAfile", str(tmp_path / "platform-root.pem"), "-purpose", "any", "-out", "/dev/null",
    )  # fmt: skip
    assert cms.returncode == 0, cms.stderr.decode()

    (tmp_path / "token.der").write_bytes(base64.b64decode(receipt["timestamp_token"]))
    (tmp_path / "tsa-root.pem").write_text(receipt["tsa_chain"][-1])
    (tmp_path / "tsa.pem").write_text(receipt["tsa_chain"][0])
    ts = openssl(
        "ts", "-verify", "-token_in", "-in", str(tmp_path / "token.der"),
        "-digest", receipt["receipt"]["envelope_sha256"],
        "-CAfile", str(tmp_path / "tsa-root.pem"), "-untrusted", str(tmp_path / "tsa.pem"),
    )  # fmt: skip
    assert ts.returncode == 0, ts.stderr.decode() + ts.stdout.decode()
    assert b"Verification: OK" in ts.stdout
    assert json.loads(canonical(receipt["receipt"]))["envelope_size"] == len(envelope)
    assert pem(issuer.tsa.bundle.cert) == receipt["tsa_chain"][0]
