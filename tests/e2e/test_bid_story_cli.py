"""Issue 6's story through real processes: an agency publishes a tender on a running
`tenderhall serve`; three bidders pack, seal and upload their bids with the `tenderhall` command;
one replaces its bid and one withdraws before the deadline; an upload that started in time and
is resumed after the deadline is refused; every receipt the bidders hold verifies offline.

The platform is the embedded default (SQLite, filesystem store) filled by `tenderhall demo`
(demo PKI trusted, organisations, people with bound certificates). The server runs under
libfaketime (``ServerClock``) so that the test can move its clock past the deadline; each bidder
has a machine of its own (its own directory and saved sign-in) and talks to the server only
through the CLI, except for fetching the lot's opening certificate (no command does that).
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from signing.demo_pki import DEFAULT_PASSWORD as PKI_PASSWORD
from tests.e2e.conftest import Served, ServerClock, serving
from tests.e2e.test_cli_platform import tenderhall
from tests.pdf.pdfs import write_pdf
from trading.rules.calendar import CHINA_TZ
from webapp.demo import DEMO_PASSWORD

CHUNK = 64 * 1024
"""The server's upload chunk size: small, so that a bid with a scanned page spans many parts."""
OPENING_SCHEMA = [
    {
        "name": "price",
        "label_zh": "投标报价",
        "label_en": "Bid price",
        "type": "money",
        "unit": "元",
    },
    {"name": "duration_days", "label_zh": "工期", "label_en": "Duration", "type": "integer"},
]


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result


@dataclass(frozen=True)
class Pki:
    """The demo PKI that `tenderhall demo` wrote (``DATA/demo/pki``)."""

    root: Path
    files: dict[str, dict[str, str]]

    @classmethod
    def of(cls, root: Path) -> Pki:
        index = json.loads((root / "index.json").read_text(encoding="utf-8"))
        return cls(root, {e["id"]: e["files"] for e in index["entities"]})

    def p12(self, entity: str) -> str:
        return str(self.root / self.files[entity]["p12"])

    def cert(self, entity: str) -> str:
        return str(self.root / self.files[entity]["cert"])


@dataclass(frozen=True)
class Desk:
    """One person's machine: a working directory and the sign-in `tenderhall login` keeps."""

    home: Path

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        self.home.mkdir(parents=True, exist_ok=True)
        return tenderhall(*map(str, args), env={"XDG_CONFIG_HOME": str(self.home / "config")})

    def token(self, server: str) -> str:
        sessions = json.loads((self.home / "config/tenderhall/sessions.json").read_text())
        return str(sessions[server]["token"])

    def api(self, server: str) -> httpx.Client:
        """The same sign-in for the few steps no command covers."""
        return httpx.Client(
            base_url=server, timeout=60, headers={"Authorization": f"Bearer {self.token(server)}"}
        )


# --- a relay in front of the platform whose connection drops in the middle of an upload -------


class _Relay(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _RelayHandler)
        self.upstream = httpx.Client(base_url=upstream, timeout=60)
        self.cut_at_part: int | None = None
        self.cuts = 0


_HOP_BY_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length"}


class _RelayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Relay

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        part = re.fullmatch(r"/api/uploads/[^/]+/parts/(\d+)", self.path)
        if self.command == "PUT" and part and int(part[1]) == self.server.cut_at_part:
            # The network fails: the part never reaches the platform and no answer comes back.
            self.server.cut_at_part = None
            self.server.cuts += 1
            self.close_connection = True
            return
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in _HOP_BY_HOP | {"accept-encoding"}
        }
        answer = self.server.upstream.request(
            self.command, self.path, content=body, headers=headers
        )
        self.send_response(answer.status_code)
        for key, value in answer.headers.items():
            if key.lower() not in _HOP_BY_HOP | {"content-encoding"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = do_DELETE = _relay


@contextmanager
def relay(upstream: str) -> Iterator[_Relay]:
    server = _Relay(upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        server.upstream.close()
        thread.join()


# --- the agency's side ------------------------------------------------------------------------


def publish_tender(served: Served, desk: Desk, pki: Pki, samples: Path) -> dict[str, Any]:
    """The agency officer creates a construction tender closing in about 25 days, files the
    notice and documents sealed with the agency's certificate, publishes it, and puts lot 1's
    opening key in 2-of-3 custody with `tenderhall custody create --upload`."""
    ok(
        desk.run(
            "login", "--server", served.url, "--username", "agency", "--password", DEMO_PASSWORD
        )
    )
    now = datetime.now(UTC)
    deadline = (
        (now + timedelta(days=25))
        .astimezone(CHINA_TZ)
        .replace(hour=9, minute=30, second=0, microsecond=0)
    )
    body = {
        "title": "示例市滨江路二期道路改造工程",
        "code": "E2E-2026-006",
        "category": "construction",
        "procedure": "open",
        "evaluation_method": "comprehensive",
        "region": "示例市",
        "documents_from": now.isoformat(),
        "deadline": deadline.isoformat(),
        "opening_at": deadline.isoformat(),
        "decryption": {"mode": "bidder_with_custodian_fallback", "threshold": 2, "custodians": 3},
        "lots": [
            {
                "number": 1,
                "name": "第一标段",
                "budget_fen": 500_000_000,
                "security": {"amount_fen": 5_000_000, "forms": ["guarantee", "deposit"]},
                "opening_schema": OPENING_SCHEMA,
            }
        ],
    }
    with desk.api(served.url) as api:
        created = api.post("/api/tenders", json=body)
        assert created.status_code == 201, created.text
        tender_id = created.json()["id"]
        for kind in ("notice", "documents"):
            filed = api.post(
                f"/api/tenders/{tender_id}/documents",
                params={"kind": kind, "filename": f"{kind}.pdf"},
                content=(samples / f"{kind}-sealed.pdf").read_bytes(),
                headers={"content-type": "application/pdf"},
            )
            assert filed.status_code == 201, filed.text
        published = api.post(f"/api/tenders/{tender_id}/publish")
        assert published.status_code == 200, published.text
    tender: dict[str, Any] = published.json()
    assert tender["phase"] == "submission_open"
    custodians = [
        arg
        for c in ("custodian-1", "custodian-2", "custodian-3")
        for arg in ("--custodian", pki.cert(c))
    ]
    ok(
        desk.run(
            "custody", "create", "--lot", f"{tender_id}/1", "--threshold", "2", *custodians,
            "--out", desk.home / "lot-key", "--upload", "--server", served.url,
            "--tender", tender_id, "--lot-number", "1",
        )
    )  # fmt: skip
    return tender


# --- the bidders' side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Bidder:
    n: int
    desk: Desk
    pki: Pki

    def login(self, server: str) -> None:
        rep = self.pki.p12(f"bidder-{self.n}-rep")
        ok(self.desk.run("login", "--server", server, "--key", rep, "--password", PKI_PASSWORD))

    def prepare(self, server: str, tender_id: str, name: str, price: str, scan: int = 0) -> Path:
        """Pack (signing with the company's certificate) and seal a bid: ``name.cms``."""
        home = self.desk.home
        opening = home / "opening-cert.pem"
        if not opening.exists():
            got = ok(
                self.desk.run(
                    "bid", "opening-cert", "--server", server, "--tender", tender_id,
                    "--lot", "1", "--out", opening,
                )
            )  # fmt: skip
            with self.desk.api(server) as api:  # the fingerprint the platform publishes
                published = api.get(f"/api/tenders/{tender_id}/lots/1/opening-key").json()
            assert published["fingerprint"] in got.stdout
            assert opening.read_text(encoding="ascii") == published["certificate"]
        pdfs = [
            write_pdf(home / f"{name}-technical.pdf", text=f"Technical proposal {self.n}"),
            write_pdf(home / f"{name}-commercial.pdf", text="Commercial", image_bytes=scan),
        ]
        offer = home / f"{name}-offer.json"
        offer.write_text(json.dumps({"price": price, "duration_days": 180}), encoding="utf-8")
        org = f"bidder-{self.n}-org"
        package = home / f"{name}.zip"
        ok(
            self.desk.run(
                "bid", "pack", *pdfs, "--data", offer, "--server", server, "--tender", tender_id,
                "--lot", "1", "--key", self.pki.p12(org), "--password", PKI_PASSWORD,
                "--out", package,
            )
        )  # fmt: skip
        envelope = home / f"{name}.cms"
        ok(
            self.desk.run(
                "bid", "seal", package, envelope,
                "--recipient", self.pki.cert(org), "--recipient", opening,
            )
        )  # fmt: skip
        return envelope

    def submit(
        self, server: str, tender_id: str, envelope: Path, *extra: str
    ) -> subprocess.CompletedProcess[str]:
        return self.desk.run(
            "bid", "submit", envelope, "--server", server, "--tender", tender_id, "--lot", "1",
            *extra,
        )  # fmt: skip


def receipt_of(path: Path) -> dict[str, Any]:
    receipt: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["receipt"]
    return receipt


def test_three_bidders_replace_withdraw_and_a_late_bid_all_through_tenderhall_commands(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    ok(tenderhall("demo", "--data-dir", str(data)))
    pki = Pki.of(data / "demo" / "pki")
    clock = ServerClock(tmp_path / "server-clock")
    settings = {"TENDERHALL_UPLOAD_CHUNK_BYTES": str(CHUNK)}
    with serving(data, settings=settings, clock=clock) as served:
        url = served.url
        tender = publish_tender(served, Desk(tmp_path / "agency"), pki, data / "demo" / "samples")
        tid = tender["id"]
        bidders = {n: Bidder(n, Desk(tmp_path / f"bidder-{n}"), pki) for n in (1, 2, 3)}

        # Three bidders sign in with their certificates and submit sealed bids.
        envelopes: dict[str, Path] = {}
        for n, bidder in bidders.items():
            bidder.login(url)
            envelope = bidder.prepare(url, tid, "bid", price=f"{4_000_000 + n}.00")
            submitted = ok(bidder.submit(url, tid, envelope))
            assert "已提交 / submitted" in submitted.stdout
            assert "回执 / receipt: 有效 / valid" in submitted.stdout
            receipt = receipt_of(envelope.with_name("bid.cms.receipt.json"))
            assert (receipt["kind"], receipt["tender_id"], receipt["replaces"]) == (
                "submission",
                tid,
                None,
            )
            envelopes[f"{n}"] = envelope
        first = {
            n: receipt_of(envelopes[f"{n}"].with_name("bid.cms.receipt.json")) for n in (1, 2, 3)
        }
        assert len({r["bid_id"] for r in first.values()}) == 3

        # Bidder 2 replaces its bid with a lower price; the receipt names the bid it replaces.
        b2 = bidders[2]
        again = b2.prepare(url, tid, "bid-again", price="3999999.00")
        ok(b2.submit(url, tid, again))
        envelopes["2-again"] = again
        replacing = receipt_of(again.with_name("bid-again.cms.receipt.json"))
        assert replacing["replaces"] == first[2]["bid_id"]
        # The replaced bid is no longer live: it cannot be withdrawn, and nothing is saved.
        stale = b2.desk.run(
            "bid", "withdraw", first[2]["bid_id"], "--server", url, "--envelope", envelopes["2"]
        )
        assert stale.returncode == 2, stale.stdout + stale.stderr
        assert "bid_not_live" in stale.stderr and "Traceback" not in stale.stderr
        assert not envelopes["2"].with_name("bid.cms.withdrawal.json").exists()

        # Bidder 3 withdraws its bid before the deadline and keeps the withdrawal receipt.
        b3 = bidders[3]
        withdraw = ("bid", "withdraw", first[3]["bid_id"], "--server", url)
        withdrawn = ok(b3.desk.run(*withdraw, "--envelope", envelopes["3"]))
        assert "已撤回 / withdrawn" in withdrawn.stdout
        withdrawal_file = envelopes["3"].with_name("bid.cms.withdrawal.json")
        withdrawal = receipt_of(withdrawal_file)
        assert withdrawal["kind"] == "withdrawal" and withdrawal["bid_id"] == first[3]["bid_id"]
        assert withdrawal["envelope_sha256"] == first[3]["envelope_sha256"]
        # Run again (say the first run's answer was lost): the receipt is fetched, not re-issued.
        elsewhere = b3.desk.home / "withdrawal-again.json"
        repeated = ok(b3.desk.run(*withdraw, "--receipt", elsewhere))
        assert "withdrawn earlier" in repeated.stdout
        assert receipt_of(elsewhere) == withdrawal

        # Bidder 1 starts uploading a new, bigger bid before the deadline; the connection drops
        # after the first part (`--retries 0`: no retry), leaving the upload to be resumed.
        b1 = bidders[1]
        with relay(url) as cut:
            through = f"http://127.0.0.1:{cut.server_address[1]}"
            b1.login(through)
            late = b1.prepare(through, tid, "late", price="3800000.00", scan=4 * CHUNK)
            assert late.stat().st_size > 3 * CHUNK
            cut.cut_at_part = 2
            dropped = b1.submit(through, tid, late, "--retries", "0")
            assert dropped.returncode == 2 and cut.cuts == 1, dropped.stdout + dropped.stderr
            assert "无法连接服务器" in dropped.stderr and "Cannot reach" in dropped.stderr
            state = json.loads(late.with_name("late.cms.upload.json").read_text())
            with b1.desk.api(url) as api:
                held = api.get(f"/api/uploads/{state['upload_id']}").json()["parts"]
            assert [p["number"] for p in held] == [1]  # the upload began in time

            # The deadline passes (on the server's clock) before the bidder resumes.
            deadline = datetime.fromisoformat(tender["deadline"])
            clock.set_offset(math.ceil((deadline - datetime.now(UTC)).total_seconds()) + 60)
            phase = httpx.get(f"{url}/api/portal/tenders/{tid}", timeout=30).json()["phase"]
            assert phase == "submission_closed"
            refused = b1.submit(through, tid, late, "--retries", "0")  # the same command
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "submission_closed" in refused.stderr
        assert "投标截止时间" in refused.stderr and "The deadline" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert not late.with_name("late.cms.receipt.json").exists()
        with b1.desk.api(url) as api:
            mine = [r["receipt"] for r in api.get("/api/receipts").json()]
        assert [(r["kind"], r["bid_id"]) for r in mine] == [("submission", first[1]["bid_id"])]

    # Offline, on the bidders' own machines (the server is gone): every receipt they hold
    # verifies against its envelope.
    held_receipts = [
        (bidders[1], envelopes["1"].with_name("bid.cms.receipt.json"), envelopes["1"]),
        (b2, envelopes["2"].with_name("bid.cms.receipt.json"), envelopes["2"]),
        (b2, again.with_name("bid-again.cms.receipt.json"), again),
        (b3, envelopes["3"].with_name("bid.cms.receipt.json"), envelopes["3"]),
        (b3, withdrawal_file, envelopes["3"]),
    ]
    for bidder, receipt_file, envelope in held_receipts:
        checked = ok(bidder.desk.run("bid", "verify-receipt", receipt_file, "--envelope", envelope))
        assert "有效 / valid" in checked.stdout and "envelope file checked" in checked.stdout
    # A receipt does not verify against another bid's envelope.
    swapped = b2.desk.run("bid", "verify-receipt", held_receipts[1][1], "--envelope", again)
    assert swapped.returncode == 1 and "envelope_mismatch" in swapped.stdout
