"""verify-receipt, as a library function and as a command, per the contract."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from signing.receipt import ReceiptVerdict, verify_receipt
from signing.verdicts import Status
from tests.bidpack.receipts import Issuer, make_issuer
from webapp.cli import main


def tenderhall(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def verified(receipt: dict[str, Any], **kw: Any) -> ReceiptVerdict:
    return asyncio.run(verify_receipt(json.dumps(receipt).encode(), **kw))


@pytest.fixture
def envelope(tmp_path: Path) -> Path:
    path = tmp_path / "bid.cms"
    path.write_bytes(os.urandom(5000))
    return path


@pytest.fixture
def receipt_file(issuer: Issuer, envelope: Path, tmp_path: Path) -> Path:
    path = tmp_path / "bid.cms.receipt.json"
    path.write_text(json.dumps(issuer.receipt(envelope.read_bytes()), ensure_ascii=False))
    return path


def test_a_receipt_and_its_envelope_verify(issuer: Issuer, envelope: Path) -> None:
    receipt = issuer.receipt(envelope.read_bytes())
    verdict = verified(receipt, envelope=envelope)
    assert verdict.status is Status.VALID, verdict.to_json()
    assert verdict.envelope_checked
    assert verdict.timestamped_at is not None
    assert verdict.receipt == receipt["receipt"]


def test_another_envelope_does_not_match(issuer: Issuer, envelope: Path, tmp_path: Path) -> None:
    receipt = issuer.receipt(envelope.read_bytes())
    other = tmp_path / "other.cms"
    other.write_bytes(envelope.read_bytes()[:-1])
    verdict = verified(receipt, envelope=other)
    assert verdict.status is Status.INVALID
    assert verdict.codes == {"envelope_mismatch", "envelope_size_mismatch"}


def test_a_changed_receipt_fails_the_platform_signature(issuer: Issuer) -> None:
    receipt = issuer.receipt(b"envelope")
    receipt["receipt"]["received_at"] = "2026-11-30T09:00:00.000000Z"  # "earlier"
    verdict = verified(receipt)
    assert verdict.status is Status.INVALID
    assert verdict.codes == {"signature_digest_mismatch"}


def test_a_timestamp_for_another_envelope_is_refused(issuer: Issuer) -> None:
    receipt = issuer.receipt(b"envelope")
    receipt["timestamp_token"] = issuer.receipt(b"another envelope")["timestamp_token"]
    assert verified(receipt).codes == {"timestamp_imprint_mismatch"}


def test_pinned_trust_refuses_a_receipt_from_another_platform(
    issuer: Issuer, tmp_path: Path
) -> None:
    forger = make_issuer()
    receipt = forger.receipt(b"envelope")
    assert verified(receipt).status is Status.VALID  # self-consistent...
    from signing.receipt import chain_trust

    pinned = chain_trust([issuer.platform_root], "pinned")
    verdict = verified(receipt, trust=pinned)  # ...but not under the real platform's roots
    # Same names, other keys: no path to the pinned root ("untrusted" or a broken chain).
    assert verdict.status is Status.INVALID
    assert verdict.codes & {"signature_untrusted", "signature_chain_invalid"}


@pytest.mark.parametrize(
    "mangle",
    [
        lambda r: r.pop("signature"),
        lambda r: r["receipt"].pop("envelope_sha256"),
        lambda r: r["receipt"].update(format="tenderhall-receipt/0"),
        lambda r: r.update(platform_chain=["not a certificate"]),
        lambda r: r.update(timestamp_token="%%%"),
    ],
)
def test_a_malformed_receipt(issuer: Issuer, mangle: Any) -> None:
    receipt = issuer.receipt(b"envelope")
    mangle(receipt)
    assert verified(receipt).codes == {"receipt_malformed"}


def test_a_garbled_signature_is_invalid(issuer: Issuer) -> None:
    receipt = issuer.receipt(b"envelope")
    receipt["signature"] = base64.b64encode(b"\x30\x03\x02\x01\x01").decode()
    assert verified(receipt).codes == {"signature_malformed_signature"}


# --- the command ------------------------------------------------------------------------------


def test_cli_valid_receipt_exits_0(receipt_file: Path, envelope: Path) -> None:
    result = tenderhall("bid", "verify-receipt", receipt_file, "--envelope", envelope)
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout and "envelope file checked" in result.stdout


def test_cli_json_output(receipt_file: Path) -> None:
    result = tenderhall("bid", "verify-receipt", receipt_file, "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["status"] == "valid"
    assert body["receipt"]["kind"] == "submission"


def test_cli_wrong_envelope_exits_1(receipt_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.cms"
    other.write_bytes(b"x")
    result = tenderhall("bid", "verify-receipt", receipt_file, "--envelope", other)
    assert result.exit_code == 1
    assert "envelope_mismatch" in result.stdout and "信封文件与回执不符" in result.stdout


def test_cli_pinned_roots(issuer: Issuer, receipt_file: Path, tmp_path: Path) -> None:
    roots = tmp_path / "roots.pem"
    from tests.bidpack.receipts import pem

    roots.write_text(pem(issuer.platform_root) + pem(issuer.tsa_root))
    assert tenderhall("bid", "verify-receipt", receipt_file, "--trust", roots).exit_code == 0
    stranger = tmp_path / "stranger.pem"
    stranger.write_text(pem(make_issuer().platform_root))
    result = tenderhall("bid", "verify-receipt", receipt_file, "--trust", stranger)
    assert result.exit_code == 1
    assert "[signature_" in result.stdout and "[timestamp_untrusted]" in result.stdout


def test_cli_garbage_is_invalid_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("not json")
    result = tenderhall("bid", "verify-receipt", path)
    assert result.exit_code == 1
    assert "receipt_malformed" in result.stdout
    assert "Traceback" not in result.output


def test_cli_usage_error_exits_2(tmp_path: Path) -> None:
    assert tenderhall("bid", "verify-receipt", tmp_path / "missing.json").exit_code == 2
