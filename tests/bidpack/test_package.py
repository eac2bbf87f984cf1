"""pack -> check, and every bad package the issue names, each with its own problem code."""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

from signing.bidpack import PackError
from signing.bidpack_check import PackageVerdict, check
from signing.verdicts import Status
from tests.bidpack.conftest import DATA, TENDER_ID, Packed, build, schema_fields, signer_of
from tests.bidpack.zips import entries, rewrite
from tests.pki_fixtures import DemoPkiFiles
from trading.bidpackage import LimitSettings
from trading.tenders.opening_data import OpeningDataError


def checked(path: Path, demo_pki: DemoPkiFiles, **kw: Any) -> PackageVerdict:
    return check(path, trust=demo_pki.trust_store(), schema=schema_fields(), **kw)


def test_a_fresh_package_is_valid_and_names_the_bidder(
    good_package: Packed, demo_pki: DemoPkiFiles
) -> None:
    verdict = checked(good_package.path, demo_pki, tender_id=TENDER_ID, lot_number=1)
    assert verdict.status is Status.VALID, verdict.to_json()
    assert verdict.problems == ()
    manifest = verdict.manifest
    assert manifest is not None
    assert manifest["bidder_credit_code"] == "91110105MA01DEM01M"
    assert verdict.signer_credit_code == "91110105MA01DEM01M"
    # The price is normalised to fen: 1234567.89 yuan.
    assert manifest["opening_data"] == {"price": 123456789, "duration_days": 180}
    assert sorted(f["name"] for f in manifest["files"]) == ["commercial.pdf", "technical.pdf"]
    names = set(entries(good_package.path))
    assert names == {"manifest.json", "manifest.json.p7s", "technical.pdf", "commercial.pdf"}


def test_each_pdf_in_the_package_carries_the_bidders_pades_signature(
    good_package: Packed,
) -> None:
    pdf = entries(good_package.path)["technical.pdf"]
    assert b"/ETSI.CAdES.detached" in pdf
    assert b"/BidderSignature" in pdf or b"(BidderSignature)" in pdf


def test_another_tender_or_lot_is_named(good_package: Packed, demo_pki: DemoPkiFiles) -> None:
    verdict = checked(good_package.path, demo_pki, tender_id="tender-other", lot_number=2)
    assert verdict.status is Status.INVALID
    assert verdict.codes == {"wrong_tender"}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"drop": ("technical.pdf",)}, "missing_file"),
        ({"add": {"extra.pdf": b"%PDF-1.7 not listed"}}, "extra_file"),
        ({"drop": ("manifest.json.p7s",)}, "manifest_unsigned"),
        ({"drop": ("manifest.json",)}, "manifest_missing"),
        ({"add": {"notes.txt": b"hello"}}, "unexpected_entry"),
        ({"add": {"/etc/evil.pdf": b"x"}}, "zip_absolute_path"),
        ({"add": {"../evil.pdf": b"x"}}, "zip_path_traversal"),
        ({"add": {"docs/../../evil.pdf": b"x"}}, "zip_path_traversal"),
        ({"replace": {"manifest.json": b"{not json"}}, "manifest_invalid"),
    ],
)
def test_bad_packages_get_their_own_code(
    good_package: Packed,
    demo_pki: DemoPkiFiles,
    tmp_path: Path,
    change: dict[str, Any],
    code: str,
) -> None:
    bad = rewrite(good_package.path, tmp_path / "bad.zip", **change)
    verdict = checked(bad, demo_pki)
    assert verdict.status is Status.INVALID
    assert code in verdict.codes, verdict.to_json()


def test_a_changed_pdf_is_a_hash_mismatch(
    good_package: Packed, demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    pdf = bytearray(entries(good_package.path)["commercial.pdf"])
    pdf[200] ^= 0x01
    bad = rewrite(good_package.path, tmp_path / "bad.zip", replace={"commercial.pdf": bytes(pdf)})
    verdict = checked(bad, demo_pki)
    assert verdict.codes == {"hash_mismatch"}


def test_a_manifest_changed_after_signing_fails_its_signature(
    good_package: Packed, demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    def cheaper(manifest: dict[str, Any]) -> None:
        manifest["opening_data"]["price"] = 100000000

    bad = rewrite(good_package.path, tmp_path / "bad.zip", edit=cheaper)
    verdict = checked(bad, demo_pki)
    assert verdict.codes == {"manifest_signature_invalid"}


def test_a_manifest_signed_by_another_bidder_is_a_signer_mismatch(
    good_package: Packed, demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    bad = rewrite(
        good_package.path, tmp_path / "bad.zip", resign=signer_of(demo_pki, "bidder-2-org")
    )
    verdict = checked(bad, demo_pki)
    assert verdict.status is Status.INVALID
    assert verdict.codes == {"signer_mismatch"}
    assert verdict.signer_credit_code == "91310115MA1HDEM025"


def test_a_package_signed_under_an_untrusted_ca_is_refused(
    foreign_pki: DemoPkiFiles, demo_pki: DemoPkiFiles, bid_pdfs: list[Path], tmp_path: Path
) -> None:
    packed = build(foreign_pki, bid_pdfs, tmp_path / "foreign.zip")
    verdict = checked(packed.path, demo_pki)
    assert verdict.status is Status.INVALID
    assert {"manifest_signer_untrusted", "pdf_signature_invalid"} <= verdict.codes
    assert "untrusted" in verdict.to_json()


@pytest.mark.parametrize(
    ("price", "validator_code"),
    [(-100, "negative"), ("abc", "not_a_number"), ("12.5", "not_normalised"), (1.5, "float")],
)
def test_opening_data_against_the_schema(
    good_package: Packed,
    demo_pki: DemoPkiFiles,
    tmp_path: Path,
    price: object,
    validator_code: str,
) -> None:
    def set_price(manifest: dict[str, Any]) -> None:
        manifest["opening_data"]["price"] = price

    # Properly signed by the bidder: only the opening data is wrong.
    bad = rewrite(
        good_package.path,
        tmp_path / "bad.zip",
        edit=set_price,
        resign=signer_of(demo_pki, "bidder-1-org"),
    )
    verdict = checked(bad, demo_pki)
    assert verdict.codes == {"opening_data_invalid"}, verdict.to_json()
    assert validator_code in verdict.problems[0].message_en


def test_without_a_schema_the_opening_data_is_not_judged(
    good_package: Packed, demo_pki: DemoPkiFiles
) -> None:
    assert check(good_package.path, trust=demo_pki.trust_store()).status is Status.VALID


def test_pack_refuses_bad_opening_data_and_writes_nothing(
    demo_pki: DemoPkiFiles, bid_pdfs: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "bid.zip"
    with pytest.raises(OpeningDataError) as caught:
        build(demo_pki, bid_pdfs, out, data={**DATA, "price": "-1"})
    assert "negative" in caught.value.details["problems"]
    assert list(tmp_path.iterdir()) == []


def test_pack_of_a_file_that_is_not_a_pdf_leaves_nothing_behind(
    demo_pki: DemoPkiFiles, bid_pdfs: list[Path], tmp_path: Path
) -> None:
    fake = tmp_path / "src" / "fake.pdf"
    fake.parent.mkdir()
    fake.write_bytes(b"this is not a PDF at all")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(PackError):
        build(demo_pki, [bid_pdfs[0], fake], out_dir / "bid.zip")
    assert list(out_dir.iterdir()) == []


def test_symlinks_and_duplicates_in_the_zip(
    good_package: Packed, demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    items = entries(good_package.path)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate, as it should
        for name, data in items.items():
            archive.writestr(name, data)
        link = zipfile.ZipInfo("link.pdf")
        link.external_attr = (0o120777 << 16) | 0x20
        archive.writestr(link, "/etc/passwd")
        archive.writestr("technical.pdf", b"%PDF-1.7 the second one")
    verdict = checked(bad, demo_pki)
    assert {"zip_symlink", "zip_duplicate_entry"} <= verdict.codes
    assert verdict.manifest is None  # refused before anything was decompressed


def test_a_zip_bomb_is_refused_before_decompression(
    good_package: Packed, demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    bad = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        for name, data in entries(good_package.path).items():
            archive.writestr(name, data)
        info = zipfile.ZipInfo("bomb.pdf")
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as sink:
            zeros = bytes(1 << 20)
            for _ in range(16):
                sink.write(zeros)
    assert bad.stat().st_size < 200_000
    verdict = checked(bad, demo_pki)
    assert verdict.codes == {"zip_bomb"}
    assert verdict.manifest is None


def test_the_total_size_limit(good_package: Packed, demo_pki: DemoPkiFiles) -> None:
    verdict = checked(good_package.path, demo_pki, limits=LimitSettings(max_total_size=10_000))
    assert verdict.codes == {"zip_bomb"}


def test_too_many_entries(good_package: Packed, demo_pki: DemoPkiFiles) -> None:
    verdict = checked(good_package.path, demo_pki, limits=LimitSettings(max_entries=3))
    assert verdict.codes == {"zip_too_many_entries"}


def test_a_header_that_lies_about_the_size(
    good_package: Packed, demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    # Shrink the declared size of a stored PDF in the central directory only.
    data = bytearray(good_package.path.read_bytes())
    with zipfile.ZipFile(good_package.path) as archive:
        info = archive.getinfo("technical.pdf")
    start = bytes(data).find(b"PK\x01\x02")  # the central directory
    header = bytes(data).find(b"technical.pdf", start) - 46  # its fixed part precedes the name
    assert data[header : header + 4] == b"PK\x01\x02"
    data[header + 24 : header + 28] = (info.file_size - 10).to_bytes(4, "little")
    bad = tmp_path / "liar.zip"
    bad.write_bytes(bytes(data))
    verdict = checked(bad, demo_pki)
    assert verdict.status is Status.INVALID
    assert verdict.codes & {"zip_size_mismatch", "zip_corrupt"}


def test_not_a_zip(tmp_path: Path, demo_pki: DemoPkiFiles) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(os.urandom(500))
    assert checked(path, demo_pki).codes == {"not_a_zip"}


def test_the_verdict_is_json_with_bilingual_problems(
    good_package: Packed, demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    bad = rewrite(good_package.path, tmp_path / "bad.zip", drop=("manifest.json.p7s",))
    body = json.loads(checked(bad, demo_pki).to_json())
    assert body["status"] == "invalid"
    (item,) = body["problems"]
    assert item["code"] == "manifest_unsigned"
    assert "签名" in item["message_zh"] and "signed" in item["message_en"]
