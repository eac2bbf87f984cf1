"""A fresh platform trusts the demo CAs, seals a PDF with its own TSA and verifies it."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli_platform import tenderhall
from tests.pdf.pdfs import write_pdf


def test_demo_trust_then_seal_and_verify_with_the_platform_defaults(tmp_path: Path) -> None:
    env = {"TENDERHALL_DATA_DIR": str(tmp_path / "data")}
    assert tenderhall("db", "upgrade", env=env).returncode == 0
    pki = tmp_path / "pki"
    assert tenderhall("pki", "demo", "--out", str(pki), env=env).returncode == 0

    source = write_pdf(tmp_path / "notice.pdf", text="Tender notice")
    sealed = tmp_path / "sealed.pdf"
    made = tenderhall(
        "pdf", "seal", str(source), str(sealed), "--key", str(pki / "demo-rsa/agency-org.p12"),
        "--password", "demo", env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr

    # No CA trusted yet: the agency's signature cannot be trusted.
    untrusted = tenderhall("pdf", "verify", str(sealed), "--json", env=env)
    assert untrusted.returncode == 1, untrusted.stdout + untrusted.stderr
    assert "untrusted" in untrusted.stdout

    imported = tenderhall("ca", "import-demo", str(pki), env=env)
    assert imported.returncode == 0, imported.stderr
    listed = tenderhall("ca", "list", env=env)
    assert "demo-rsa" in listed.stdout and "ok, fetched" in listed.stdout

    trusted = tenderhall("pdf", "verify", str(sealed), env=env)
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr

    refreshed = tenderhall("ca", "refresh", env=env)
    assert refreshed.returncode == 0 and refreshed.stdout.count("ok") == 2
    removed = tenderhall("ca", "remove", "demo-rsa", env=env)
    assert removed.returncode == 0
    assert tenderhall("pdf", "verify", str(sealed), env=env).returncode == 1
