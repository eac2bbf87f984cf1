"""bid submit against a small fake server speaking the contract: upload, retry, resume, receipt."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.bidpack.fake_server import PASSWORD, TOKEN, USERNAME, FakeState, fake_server
from tests.bidpack.receipts import Issuer
from webapp.cli import main
from webapp.cli.bid_client import machine_fingerprint

SIZE = 4500  # 5 parts of 1000 bytes at most


def tenderhall(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


@pytest.fixture
def state(issuer: Issuer) -> FakeState:
    return FakeState(issuer=issuer, chunk_size=1000)


@pytest.fixture
def server(state: FakeState) -> Iterator[str]:
    with fake_server(state) as url:
        yield url


@pytest.fixture
def envelope(tmp_path: Path) -> Path:
    path = tmp_path / "bid.cms"
    path.write_bytes(os.urandom(SIZE))
    return path


def submit(server: str, envelope: Path, *extra: str | Path) -> Result:
    return tenderhall(
        "bid", "submit", envelope, "--server", server, "--tender", "tender-0001", "--lot", "1",
        "--retry-delay", "0", *extra,
    )  # fmt: skip


def test_submit_uploads_in_parts_and_saves_a_verified_receipt(
    server: str, state: FakeState, envelope: Path
) -> None:
    result = submit(server, envelope, "--username", USERNAME, "--password", PASSWORD)
    assert result.exit_code == 0, result.output
    (upload,) = state.uploads.values()
    assert upload.completed and len(upload.parts) == 5
    assert b"".join(b for _, b in sorted(upload.parts.items())) == envelope.read_bytes()
    saved = json.loads((envelope.parent / "bid.cms.receipt.json").read_text())
    assert saved["receipt"]["envelope_sha256"] == hashlib.sha256(envelope.read_bytes()).hexdigest()
    assert not (envelope.parent / "bid.cms.upload.json").exists()
    assert "receipt saved" in result.stdout and "valid" in result.stdout
    # Every request names the client and the machine.
    last = state.headers[-1]
    assert last["X-Tenderhall-Client"].startswith("tenderhall-cli/")
    assert last["X-Tenderhall-Machine"] == machine_fingerprint()
    # The saved receipt verifies on its own.
    check = tenderhall(
        "bid", "verify-receipt", envelope.parent / "bid.cms.receipt.json", "--envelope", envelope
    )
    assert check.exit_code == 0, check.output


def test_the_machine_fingerprint_follows_the_contract(tmp_path: Path) -> None:
    machine_id = tmp_path / "machine-id"
    machine_id.write_text("0123456789abcdef\n")
    expected = hashlib.sha256(
        b"tenderhall-machine/1\n0123456789abcdef\n\n" + sys.platform.encode()
    ).hexdigest()
    assert machine_fingerprint(machine_id) == expected


def test_a_failed_chunk_is_retried(server: str, state: FakeState, envelope: Path) -> None:
    state.fail_part = {2: 2}
    result = submit(server, envelope, "--token", TOKEN, "--receipt", envelope.parent / "r.json")
    assert result.exit_code == 0, result.output
    assert state.puts.count(2) == 3
    assert (envelope.parent / "r.json").exists()


def test_an_interrupted_upload_resumes_with_the_missing_parts_only(
    server: str, state: FakeState, envelope: Path
) -> None:
    state.refuse_parts_after = 3
    first = submit(server, envelope, "--token", TOKEN, "--retries", "1")
    assert first.exit_code == 2
    assert "错误 / error" in first.stderr and "503" in first.stderr
    assert "Traceback" not in first.output
    saved = json.loads((envelope.parent / "bid.cms.upload.json").read_text())
    assert saved["upload_id"] in state.uploads
    assert not (envelope.parent / "bid.cms.receipt.json").exists()

    state.refuse_parts_after = None
    state.puts.clear()
    second = submit(server, envelope, "--token", TOKEN)
    assert second.exit_code == 0, second.output
    assert "resumed" in second.stdout
    assert sorted(state.puts) == [4, 5]  # parts 1-3 were already on the server
    assert len(state.uploads) == 1
    assert (envelope.parent / "bid.cms.receipt.json").exists()


def test_a_rerun_after_completion_fetches_the_receipt_instead_of_bidding_twice(
    server: str, state: FakeState, envelope: Path
) -> None:
    state_file = envelope.parent / "bid.cms.upload.json"
    assert submit(server, envelope, "--token", TOKEN).exit_code == 0
    (upload_id,) = state.uploads
    # As if the first run died after completing but before saving the receipt.
    receipt = envelope.parent / "bid.cms.receipt.json"
    receipt.unlink()
    state_file.write_text(
        json.dumps(
            {
                "format": "tenderhall-upload-state/1",
                "server": server,
                "tender_id": "tender-0001",
                "lot_number": 1,
                "upload_id": upload_id,
                "size": SIZE,
                "sha256": hashlib.sha256(envelope.read_bytes()).hexdigest(),
            }
        )
    )
    again = submit(server, envelope, "--token", TOKEN)
    assert again.exit_code == 0, again.output
    assert len(state.uploads) == 1 and len(state.receipts) == 1
    assert receipt.exists()


def test_a_receipt_that_does_not_verify_is_not_saved_as_good(
    server: str, state: FakeState, envelope: Path
) -> None:
    state.tamper_receipt = True
    result = submit(server, envelope, "--token", TOKEN)
    assert result.exit_code == 2
    assert "回执未通过核验" in result.stderr
    assert not (envelope.parent / "bid.cms.receipt.json").exists()
    assert (envelope.parent / "bid.cms.receipt.json.unverified").exists()


def test_a_wrong_password_is_a_clear_error(server: str, envelope: Path) -> None:
    result = submit(server, envelope, "--username", USERNAME, "--password", "wrong")
    assert result.exit_code == 2
    assert "login_failed" in result.stderr and "Traceback" not in result.output


def test_an_unreachable_server_is_a_clear_error(envelope: Path) -> None:
    result = submit("http://127.0.0.1:9", envelope, "--token", TOKEN, "--retries", "0")
    assert result.exit_code == 2
    assert "无法连接服务器" in result.stderr


def test_submit_needs_credentials(
    server: str, envelope: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    result = submit(server, envelope)
    assert result.exit_code == 2
    assert "--token" in result.output


def test_submit_uses_the_session_of_tenderhall_login(
    server: str, envelope: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    from webapp.cli.session_cli import sessions_file

    sessions_file().parent.mkdir(parents=True)
    sessions_file().write_text(json.dumps({server: {"token": TOKEN}}))
    result = submit(server, envelope)
    assert result.exit_code == 0, result.output
