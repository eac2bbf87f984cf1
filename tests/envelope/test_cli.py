"""The bid and custody commands as a bidder, a custodian and the platform run them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.envelope.conftest import P12_PASSWORD, Identity
from webapp.cli import main


def tenderhall(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def assert_refused(result: Result, code_hint: str) -> None:
    """Exit 2 with a bilingual message, no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "错误 / error" in result.stderr
    assert code_hint in result.stderr


@pytest.fixture
def bid_zip(tmp_path: Path) -> Path:
    path = tmp_path / "bid.zip"
    path.write_bytes(os.urandom(50_000))
    return path


def seal(bid_zip: Path, out: Path, *recipients: Identity) -> None:
    options = [x for r in recipients for x in ("--recipient", str(r.cert_path))]
    result = tenderhall("bid", "seal", bid_zip, out, *options)
    assert result.exit_code == 0, result.output


def test_seal_then_unseal_with_a_pkcs12(
    bid_zip: Path, rsa_bidder: Identity, ec_bidder: Identity, tmp_path: Path
) -> None:
    seal(bid_zip, tmp_path / "bid.cms", rsa_bidder, ec_bidder)
    for who in (rsa_bidder, ec_bidder):
        out = tmp_path / f"{who.name}.zip"
        result = tenderhall(
            "bid", "unseal", tmp_path / "bid.cms", out, "--key", who.p12_path,
            "--password", P12_PASSWORD,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert out.read_bytes() == bid_zip.read_bytes()


def test_release_key_from_the_first_kilobytes_then_the_platform_decrypts(
    bid_zip: Path, rsa_bidder: Identity, ec_bidder: Identity, tmp_path: Path
) -> None:
    seal(bid_zip, tmp_path / "bid.cms", ec_bidder, rsa_bidder)
    # The bidder keeps only the start of its envelope: enough to release the key.
    (tmp_path / "head.cms").write_bytes((tmp_path / "bid.cms").read_bytes()[:4096])
    result = tenderhall(
        "bid", "release-key", tmp_path / "head.cms", "--key", rsa_bidder.p12_path,
        "--password", P12_PASSWORD, "--out", tmp_path / "cek.txt",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cek.txt").stat().st_mode & 0o077 == 0
    printed = tenderhall("bid", "release-key", tmp_path / "head.cms", "--key", ec_bidder.key_path)
    assert printed.stdout.strip() == (tmp_path / "cek.txt").read_text().strip()

    result = tenderhall(
        "bid", "unseal", tmp_path / "bid.cms", tmp_path / "out.zip",
        "--content-key", tmp_path / "cek.txt",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.zip").read_bytes() == bid_zip.read_bytes()


def test_bad_input_exits_2_with_a_message_and_writes_nothing(
    bid_zip: Path, ec_bidder: Identity, outsider: Identity, tmp_path: Path
) -> None:
    seal(bid_zip, tmp_path / "bid.cms", ec_bidder)
    good = (tmp_path / "bid.cms").read_bytes()
    out = tmp_path / "out.zip"

    def unseal(data: bytes, who: Identity = ec_bidder) -> Result:
        (tmp_path / "in.cms").write_bytes(data)
        return tenderhall("bid", "unseal", tmp_path / "in.cms", out, "--key", who.key_path)

    assert_refused(unseal(good, outsider), "not addressed to this key")
    assert_refused(unseal(good[:-100]), "truncated")
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 1
    assert_refused(unseal(bytes(flipped)), "integrity check")
    assert_refused(unseal(bid_zip.read_bytes()), "not a CMS envelope")
    assert_refused(unseal(b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"), "signed_data")
    gcm, cbc = bytes.fromhex("060960864801650304012e"), bytes.fromhex("060960864801650304012a")
    assert_refused(unseal(good.replace(gcm, cbc)), "Unsupported")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bid.cms", "bid.zip", "in.cms"]

    wrong_password = tenderhall(
        "bid", "unseal", tmp_path / "bid.cms", out, "--key", ec_bidder.p12_path,
        "--password", "nope",
    )  # fmt: skip
    assert_refused(wrong_password, "wrong password")
    not_a_cert = tenderhall("bid", "seal", bid_zip, tmp_path / "x.cms", "--recipient", bid_zip)
    assert_refused(not_a_cert, "not an X.509 certificate")
    assert not (tmp_path / "x.cms").exists()


def test_custody_create_release_combine_then_open_a_bid(
    custodians: list[Identity], rsa_bidder: Identity, bid_zip: Path, tmp_path: Path
) -> None:
    agency, _supervisor, witness = custodians
    lot_dir = tmp_path / "lot-7"
    options = [x for c in custodians for x in ("--custodian", str(c.cert_path))]
    result = tenderhall(
        "custody", "create", "--lot", "LOT-7", "--threshold", "2", *options, "--out", lot_dir
    )
    assert result.exit_code == 0, result.output
    assert {p.name for p in lot_dir.iterdir()} == {
        "manifest.json", "opening-cert.pem", "opening-public-key.pem",
        "share-1.cms", "share-2.cms", "share-3.cms",
    }  # fmt: skip
    result = tenderhall(
        "bid", "seal", bid_zip, tmp_path / "sealed.cms", "--recipient", rsa_bidder.cert_path,
        "--recipient", lot_dir / "opening-cert.pem",
    )  # fmt: skip
    assert result.exit_code == 0, result.output

    released = []
    for index, who in ((1, agency), (3, witness)):
        path = tmp_path / f"released-{index}.json"
        result = tenderhall(
            "custody", "release", lot_dir / f"share-{index}.cms", "--key", who.p12_path,
            "--password", P12_PASSWORD, "--out", path,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        released.append(path)

    too_few = tenderhall(
        "custody", "combine", released[0], "--lot", "LOT-7", "--out", tmp_path / "k.pem"
    )
    assert_refused(too_few, "are needed")
    twice = tenderhall(
        "custody", "combine", released[0], released[0], "--lot", "LOT-7",
        "--out", tmp_path / "k.pem",
    )  # fmt: skip
    assert_refused(twice, "more than once")
    other_lot = tenderhall(
        "custody", "combine", *released, "--lot", "LOT-8", "--out", tmp_path / "k.pem"
    )
    assert_refused(other_lot, "LOT-8")
    assert not (tmp_path / "k.pem").exists()

    result = tenderhall(
        "custody", "combine", *released, "--lot", "LOT-7", "--manifest",
        lot_dir / "manifest.json", "--out", tmp_path / "opening.pem",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = tenderhall(
        "bid", "unseal", tmp_path / "sealed.cms", tmp_path / "opened.zip",
        "--key", tmp_path / "opening.pem",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "opened.zip").read_bytes() == bid_zip.read_bytes()


def test_an_existing_output_is_never_overwritten(
    bid_zip: Path, ec_bidder: Identity, tmp_path: Path
) -> None:
    seal(bid_zip, tmp_path / "bid.cms", ec_bidder)
    (tmp_path / "out.zip").write_bytes(b"keep me")
    result = tenderhall(
        "bid", "unseal", tmp_path / "bid.cms", tmp_path / "out.zip", "--key", ec_bidder.key_path
    )
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert (tmp_path / "out.zip").read_bytes() == b"keep me"


def test_big_files_show_progress_on_stderr(
    bid_zip: Path, ec_bidder: Identity, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp.cli import bid_cli

    monkeypatch.setattr(bid_cli, "_PROGRESS_FROM", 1)  # 50 kB counts as big here
    seal(bid_zip, tmp_path / "bid.cms", ec_bidder)
    result = tenderhall(
        "bid", "unseal", tmp_path / "bid.cms", tmp_path / "out.zip", "--key", ec_bidder.key_path
    )
    assert result.exit_code == 0, result.output
    assert "unsealing" in result.stderr
    assert (tmp_path / "out.zip").read_bytes() == bid_zip.read_bytes()
