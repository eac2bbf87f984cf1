"""bid pack / bid check and custody create --upload as a bidder and an agency officer run them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.bidpack.conftest import SCHEMA, TENDER_ID, Packed
from tests.bidpack.fake_server import TOKEN, FakeState, fake_server
from tests.bidpack.receipts import Issuer
from tests.bidpack.zips import rewrite
from tests.pki_fixtures import DemoPkiFiles


def tenderhall(*args: str | Path) -> Result:
    from webapp.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


@pytest.fixture
def server(issuer: Issuer) -> Iterator[tuple[str, FakeState]]:
    state = FakeState(issuer=issuer)
    state.tenders[TENDER_ID] = {"id": TENDER_ID, "lots": [{"number": 1, "opening_schema": SCHEMA}]}
    with fake_server(state) as url:
        yield url, state


def pack_args(demo_pki: DemoPkiFiles, pdfs: list[Path], data: Path, out: Path) -> list[str | Path]:
    return [
        "bid", "pack", *pdfs, "--data", data, "--tender", TENDER_ID, "--lot", "1",
        "--key", demo_pki.entity("bidder-1-org").p12, "--password", demo_pki.password,
        "--out", out,
    ]  # fmt: skip


def test_pack_then_check_on_the_command_line(
    demo_pki: DemoPkiFiles, bid_pdfs: list[Path], data_file: Path, schema_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bid.zip"
    packed = tenderhall(*pack_args(demo_pki, bid_pdfs, data_file, out), "--schema", schema_file)
    assert packed.exit_code == 0, packed.output
    assert "91110105MA01DEM01M" in packed.stdout
    checked = tenderhall(
        "bid", "check", out, "--schema", schema_file, "--trust", demo_pki.root, "--json"
    )
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["manifest"]["opening_data"]["price"] == 123456789


def test_pack_reads_the_schema_from_the_server(
    demo_pki: DemoPkiFiles,
    bid_pdfs: list[Path],
    data_file: Path,
    tmp_path: Path,
    server: tuple[str, FakeState],
) -> None:
    url, _ = server
    out = tmp_path / "bid.zip"
    packed = tenderhall(*pack_args(demo_pki, bid_pdfs, data_file, out), "--server", url)
    assert packed.exit_code == 0, packed.output
    assert out.exists()
    other_lot = pack_args(demo_pki, bid_pdfs, data_file, tmp_path / "b.zip")
    other_lot[other_lot.index("--lot") + 1] = "7"
    result = tenderhall(*other_lot, "--server", url)
    assert result.exit_code == 2 and "没有第 7 标段" in result.stderr


def test_pack_refuses_a_negative_price_and_writes_nothing(
    demo_pki: DemoPkiFiles, bid_pdfs: list[Path], schema_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"price": "-5", "duration_days": 10}))
    out = tmp_path / "bid.zip"
    result = tenderhall(*pack_args(demo_pki, bid_pdfs, data, out), "--schema", schema_file)
    assert result.exit_code == 2
    assert "不得为负数" in result.stderr and "must not be negative" in result.stderr
    assert not out.exists()


def test_pack_with_a_wrong_password_is_a_clear_error(
    demo_pki: DemoPkiFiles, bid_pdfs: list[Path], data_file: Path, schema_file: Path, tmp_path: Path
) -> None:
    args = pack_args(demo_pki, bid_pdfs, data_file, tmp_path / "bid.zip")
    args[args.index("--password") + 1] = "wrong"
    result = tenderhall(*args, "--schema", schema_file)
    assert result.exit_code == 2
    assert "密码错误" in result.stderr and "Traceback" not in result.output


def test_check_of_a_bad_package_exits_1_with_the_code(
    good_package: Packed, demo_pki: DemoPkiFiles, schema_file: Path, tmp_path: Path
) -> None:
    bad = rewrite(good_package.path, tmp_path / "bad.zip", drop=("manifest.json.p7s",))
    result = tenderhall("bid", "check", bad, "--schema", schema_file, "--trust", demo_pki.root)
    assert result.exit_code == 1
    assert "[manifest_unsigned]" in result.stdout and "投标清单未签名" in result.stdout


def test_check_with_only_a_root_certificate_cannot_judge_revocation(
    good_package: Packed, demo_pki: DemoPkiFiles
) -> None:
    root = demo_pki.provider(demo_pki.entity("bidder-1-org").provider).root_pem
    result = tenderhall("bid", "check", good_package.path, "--trust", root)
    assert result.exit_code == 2  # indeterminate: the CRL named in the certificate is missing
    assert "indeterminate" in result.stdout


def test_custody_create_uploads_the_key_and_the_sealed_shares(
    demo_pki: DemoPkiFiles, tmp_path: Path, server: tuple[str, FakeState]
) -> None:
    url, state = server
    custodians = [demo_pki.entity(f"custodian-{i}").cert_pem for i in (1, 2, 3)]
    args: list[str | Path] = ["custody", "create", "--lot", "1", "--threshold", "2"]
    for cert in custodians:
        args += ["--custodian", cert]
    args += ["--upload", "--server", url, "--tender", TENDER_ID, "--token", TOKEN]
    result = tenderhall(*args, "--out", tmp_path / "custody")
    assert result.exit_code == 0, result.output
    body = state.opening_keys[(TENDER_ID, 1)]
    assert body["threshold"] == 2 and len(body["shares"]) == 3
    assert body["certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert body["manifest"]["format"] == "tenderhall-custody/1"
    share_1 = (tmp_path / "custody" / "share-1.cms").read_bytes()
    import base64

    assert base64.b64decode(body["shares"][0]["share"]) == share_1
    assert body["shares"][0]["custodian_certificate"] == custodians[0].read_text()
    # Only once per lot: the server's 409 is reported, not a traceback.
    again = tenderhall(*args, "--out", tmp_path / "custody-2")
    assert again.exit_code == 2
    assert "opening_key_exists" in again.stderr


def test_check_without_trust_on_a_bidders_machine_trusts_no_ca(
    good_package: Packed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENDERHALL_DATA_DIR", str(tmp_path / "no-platform"))
    monkeypatch.delenv("TENDERHALL_DATABASE_URL", raising=False)
    result = tenderhall("bid", "check", good_package.path)
    assert result.exit_code == 1
    assert "no CA is trusted" in result.stderr
    assert "[manifest_signer_untrusted]" in result.stdout
