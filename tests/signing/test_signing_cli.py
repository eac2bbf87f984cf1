"""The pki, cms and ts commands: exit codes, JSON output, and readable errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.pki_fixtures import DemoPkiFiles
from webapp.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text('{"price": "100.00"}\n', "utf-8")
    return path


def sign(demo_pki: DemoPkiFiles, document: Path, entity: str) -> Path:
    out = document.with_suffix(f".{entity}.p7s")
    files = demo_pki.entity(entity)
    result = run(
        "cms", "sign", str(document), "--key", str(files.p12),
        "--password", demo_pki.password, "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_pki_demo_writes_index(tmp_path: Path) -> None:
    out = tmp_path / "pki"
    result = run("pki", "demo", "--out", str(out), "--password", "s3cret")
    assert result.exit_code == 0, result.output
    index = json.loads((out / "index.json").read_text("utf-8"))
    assert len(index["entities"]) >= 16
    p12 = next(e for e in index["entities"] if e["id"] == "bidder-1-org")["files"]["p12"]
    from signing.keys import KeyFileError, load_key_bundle

    assert load_key_bundle(out / p12, "s3cret").cert
    with pytest.raises(KeyFileError):
        load_key_bundle(out / p12, "demo")


def test_cms_sign_and_verify_exit_codes(demo_pki: DemoPkiFiles, document: Path) -> None:
    good = sign(demo_pki, document, "bidder-1-org")
    result = run("cms", "verify", str(document), str(good), "--trust", str(demo_pki.root))
    assert result.exit_code == 0, result.output
    assert "VALID" in result.output

    revoked = sign(demo_pki, document, "bidder-1-rep-old")
    result = run("cms", "verify", str(document), str(revoked), "--trust", str(demo_pki.root))
    assert result.exit_code == 1
    assert "[revoked]" in result.output and "吊销" in result.output

    # Trust given as a PEM root without CRLs: revocation unknown → indeterminate (2) ...
    root = demo_pki.provider("demo-rsa").root_pem
    result = run("cms", "verify", str(document), str(good), "--trust", str(root), "--json")
    assert result.exit_code == 2
    assert json.loads(result.output)["problems"][0]["code"] == "revocation_unavailable"
    # ... and valid once the CRL is supplied.
    crl = demo_pki.provider("demo-rsa").crl_der
    result = run("cms", "verify", str(document), str(good), "--trust", str(root), "--crl", str(crl))
    assert result.exit_code == 0, result.output


def test_cms_verify_tampered_file_and_trust_json(
    demo_pki: DemoPkiFiles, document: Path, tmp_path: Path
) -> None:
    good = sign(demo_pki, document, "bidder-3-rep")
    store = tmp_path / "trust.json"
    store.write_text(demo_pki.trust_store().to_json(), "utf-8")
    document.write_text('{"price": "99.00"}\n', "utf-8")
    result = run("cms", "verify", str(document), str(good), "--trust", str(store), "--json")
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["status"] == "invalid" and body["intact"] is False
    assert [p["code"] for p in body["problems"]] == ["digest_mismatch"]


@pytest.mark.parametrize(
    "args",
    [
        ["cms", "sign", "{doc}", "--key", "{p12}", "--password", "wrong", "--out", "{tmp}/x"],
        ["cms", "sign", "{doc}", "--key", "{doc}", "--out", "{tmp}/x"],
        ["cms", "verify", "{doc}", "{doc}"],
        ["cms", "verify", "{doc}", "{doc}", "--trust", "{doc}"],
        ["ts", "stamp", "{doc}", "--out", "{tmp}/x.tsr"],
        ["ts", "stamp", "{doc}", "--out", "{tmp}/x.tsr", "--url", "http://127.0.0.1:9/"],
        [
            "ts",
            "stamp",
            "{doc}",
            "--out",
            "{tmp}/x.tsr",
            "--tsa-key",
            "{ec_p12}",
            "--password",
            "{pw}",
        ],
    ],
)
def test_errors_are_readable_and_exit_2(
    demo_pki: DemoPkiFiles, document: Path, tmp_path: Path, args: list[str]
) -> None:
    values = {
        "doc": str(document),
        "p12": str(demo_pki.entity("bidder-1-org").p12),
        "ec_p12": str(demo_pki.entity("bidder-3-org").p12),
        "pw": demo_pki.password,
        "tmp": str(tmp_path),
    }
    result = CliRunner().invoke(main, [a.format(**values) for a in args])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "错误 / error" in result.output


def test_cms_verify_garbage_signature_is_invalid(demo_pki: DemoPkiFiles, document: Path) -> None:
    result = run("cms", "verify", str(document), str(document), "--trust", str(demo_pki.root))
    assert result.exit_code == 1
    assert "[malformed_signature]" in result.output


def test_ts_stamp_and_verify(demo_pki: DemoPkiFiles, document: Path, tmp_path: Path) -> None:
    tsr = tmp_path / "manifest.tsr"
    tsa = demo_pki.entity("platform-tsa")
    result = run(
        "ts", "stamp", str(document), "--out", str(tsr),
        "--tsa-key", str(tsa.p12), "--password", demo_pki.password,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    result = run("ts", "verify", str(document), str(tsr), "--trust", str(demo_pki.root), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tsa"]["provider"] == "demo-rsa"
    other = tmp_path / "other.txt"
    other.write_bytes(b"other")
    result = run("ts", "verify", str(other), str(tsr), "--trust", str(demo_pki.root))
    assert result.exit_code == 1
    assert "[imprint_mismatch]" in result.output
