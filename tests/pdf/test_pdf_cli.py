"""`tenderhall pdf seal / cosign / verify` through click, as a person would run them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.pdf.pdfs import encrypt_pdf
from tests.pdf.pki import PASSWORD, Pki
from webapp.cli import main


@pytest.fixture
def files(pki: Pki, tmp_path: Path) -> dict[str, Path]:
    return pki.write(tmp_path / "pki")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _seal(files: dict[str, Path], source: Path, target: Path, command: str = "seal") -> int:
    code, _, err = _run(
        "pdf",
        command,
        str(source),
        str(target),
        "--key",
        str(files["signer.p12"]),
        "--password",
        PASSWORD.decode(),
        "--tsa-key",
        str(files["tsa.p12"]),
        "--tsa-password",
        PASSWORD.decode(),
        "--reason",
        "评标报告",
    )
    assert not err or code == 0, err
    return code


def test_seal_cosign_then_verify(files: dict[str, Path], blank_pdf: Path, tmp_path: Path) -> None:
    sealed, cosigned = tmp_path / "sealed.pdf", tmp_path / "cosigned.pdf"
    assert _seal(files, blank_pdf, sealed) == 0
    assert _seal(files, sealed, cosigned, "cosign") == 0

    code, out, _ = _run(
        "pdf",
        "verify",
        str(cosigned),
        "--trust",
        str(files["root.pem"]),
        "--crl",
        str(files["crl.der"]),
    )
    assert code == 0, out
    assert "有效 / valid" in out and "PlatformSeal" in out and "CoSign1" in out

    code, out, _ = _run("pdf", "verify", str(cosigned), "--json", "--trust", str(files["root.pem"]))
    body = json.loads(out)
    assert code == 0 and body["status"] == "valid" and len(body["signatures"]) == 2


def test_verify_without_trust_is_invalid_untrusted(
    files: dict[str, Path], blank_pdf: Path, tmp_path: Path
) -> None:
    sealed = tmp_path / "sealed.pdf"
    assert _seal(files, blank_pdf, sealed) == 0
    code, out, err = _run("pdf", "verify", str(sealed))
    assert code == 1
    assert "[untrusted]" in out and "Traceback" not in out + err


def test_verify_indeterminate_exits_2(tmp_path: Path, blank_pdf: Path) -> None:
    path = encrypt_pdf(blank_pdf, tmp_path / "enc.pdf")
    code, out, _ = _run("pdf", "verify", str(path))
    assert code == 2 and "[encrypted]" in out


def test_verify_not_a_pdf_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_text("hello")
    code, out, _ = _run("pdf", "verify", str(path))
    assert code == 1 and "[not_pdf]" in out


def test_bad_password_is_a_readable_error(
    files: dict[str, Path], blank_pdf: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out.pdf"
    code, _, err = _run(
        "pdf",
        "seal",
        str(blank_pdf),
        str(target),
        "--key",
        str(files["signer.p12"]),
        "--password",
        "wrong",
        "--tsa-key",
        str(files["tsa.p12"]),
    )
    assert code == 3 and not target.exists()
    assert "错误 / error" in err and "wrong password" in err and "Traceback" not in err


def test_seal_of_a_non_pdf_is_a_readable_error(files: dict[str, Path], tmp_path: Path) -> None:
    source, target = tmp_path / "x.pdf", tmp_path / "y.pdf"
    source.write_text("not a pdf")
    code, err = _seal_expect_failure(files, source, target)
    assert code == 3 and not target.exists()
    assert "不是可读取的 PDF" in err and "not a readable PDF" in err


def _seal_expect_failure(files: dict[str, Path], source: Path, target: Path) -> tuple[int, str]:
    code, _, err = _run(
        "pdf",
        "seal",
        str(source),
        str(target),
        "--key",
        str(files["signer.p12"]),
        "--password",
        PASSWORD.decode(),
        "--tsa-key",
        str(files["tsa.p12"]),
        "--tsa-password",
        PASSWORD.decode(),
    )
    assert "错误 / error" in err and "Traceback" not in err
    return code, err


def test_unreachable_tsa_is_a_readable_error(
    files: dict[str, Path], blank_pdf: Path, tmp_path: Path
) -> None:
    target = tmp_path / "out.pdf"
    code, _, err = _run(
        "pdf",
        "seal",
        str(blank_pdf),
        str(target),
        "--key",
        str(files["signer.p12"]),
        "--password",
        PASSWORD.decode(),
        "--tsa-url",
        "http://127.0.0.1:9/tsa",  # the discard port: nothing listens there
    )
    assert code == 3 and not target.exists()
    assert "时间戳服务无响应" in err and "timestamp authority did not answer" in err
    assert "Traceback" not in err
