"""The platform TSA, the external-TSA client, and token verification (openssl ts interop)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import tsp

from signing.keys import KeyBundle
from signing.trust import TrustStore
from signing.tsa import (
    DEFAULT_POLICY,
    TimestampAuthority,
    TimestampRequestRejectedError,
    TsaConfigError,
    build_request,
    http_timestamper,
    request_external,
    timestamp,
    token_from_response,
    verify_token,
)
from signing.verdicts import Status
from tests.pki_fixtures import DemoPkiFiles
from tests.signing.helpers import openssl

DATA = b"sealed bid envelope bytes"
DIGEST = hashlib.sha256(DATA).digest()


@pytest.fixture(scope="module")
def authority(demo_pki: DemoPkiFiles) -> TimestampAuthority:
    return TimestampAuthority.from_file(demo_pki.entity("platform-tsa").p12, demo_pki.password)


def codes(verdict: object) -> list[str]:
    return [p.code for p in verdict.problems]  # type: ignore[attr-defined]


def status_of(response: bytes) -> str:
    try:
        token_from_response(response)
    except TimestampRequestRejectedError as exc:
        return str(exc.details["reason"])
    return "granted"


async def test_token_round_trip(authority: TimestampAuthority, trust_store: TrustStore) -> None:
    token = await authority.timestamp(DIGEST)
    verdict = await verify_token(token, DIGEST, trust_store)
    assert verdict.status is Status.VALID, verdict.problems
    assert verdict.policy == DEFAULT_POLICY
    assert verdict.gen_time is not None
    assert abs(verdict.gen_time - datetime.now(UTC)) < timedelta(minutes=5)
    assert verdict.tsa is not None and verdict.tsa.provider == "demo-rsa"
    assert verdict.to_dict()["status"] == "valid"


async def test_clock_decides_the_time(demo_pki: DemoPkiFiles, trust_store: TrustStore) -> None:
    instant = demo_pki.now - timedelta(days=2, hours=3)
    fixed = TimestampAuthority(demo_pki.entity("platform-tsa").bundle, clock=lambda: instant)
    verdict = await verify_token(await fixed.timestamp(DIGEST), DIGEST, trust_store)
    assert verdict.gen_time == instant
    assert verdict.status is Status.VALID, verdict.problems


async def test_token_for_other_data_is_refused(
    authority: TimestampAuthority, trust_store: TrustStore
) -> None:
    token = await authority.timestamp(DIGEST)
    verdict = await verify_token(token, hashlib.sha256(b"other").digest(), trust_store)
    assert verdict.status is Status.INVALID
    assert codes(verdict) == ["imprint_mismatch"]


async def test_altered_token_is_refused(
    authority: TimestampAuthority, trust_store: TrustStore
) -> None:
    token = bytearray(await authority.timestamp(DIGEST))
    token[-5] ^= 0x01  # inside the RSA signature value at the end
    verdict = await verify_token(bytes(token), DIGEST, trust_store)
    assert verdict.status is Status.INVALID
    assert "bad_signature" in codes(verdict)


@pytest.mark.parametrize("garbage", [b"", b"junk", b"\x30\x03\x02\x01\x00"])
async def test_garbage_token_is_a_verdict(trust_store: TrustStore, garbage: bytes) -> None:
    verdict = await verify_token(garbage, DIGEST, trust_store)
    assert verdict.status is Status.INVALID
    assert codes(verdict) == ["malformed_timestamp"]


async def test_token_from_untrusted_tsa(foreign_pki: DemoPkiFiles, trust_store: TrustStore) -> None:
    rogue = TimestampAuthority(foreign_pki.entity("platform-tsa").bundle)
    verdict = await verify_token(await rogue.timestamp(DIGEST), DIGEST, trust_store)
    assert codes(verdict) == ["untrusted"]


async def test_token_signed_by_a_non_tsa_certificate(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    impostor = TimestampAuthority(demo_pki.entity("bidder-1-org").bundle)
    verdict = await verify_token(await impostor.timestamp(DIGEST), DIGEST, trust_store)
    assert verdict.status is Status.INVALID
    assert codes(verdict) == ["wrong_key_usage"]


def test_ec_key_is_refused(demo_pki: DemoPkiFiles) -> None:
    files = demo_pki.entity("bidder-3-org")
    with pytest.raises(TsaConfigError) as info:
        TimestampAuthority(KeyBundle(files.key, files.cert, files.chain))
    assert "RSA" in info.value.message_zh


def test_bad_requests_get_rejections(authority: TimestampAuthority) -> None:
    assert "bad_data_format" not in status_of(authority.respond(build_request(DIGEST)))
    assert status_of(authority.respond(build_request(DIGEST))) == "granted"
    assert "not a DER TimeStampReq" in status_of(authority.respond(b"junk"))
    sha1 = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha1"},
                "hashed_message": hashlib.sha1(DATA).digest(),
            },
        }
    )
    assert "unsupported hash algorithm" in status_of(authority.respond(sha1.dump()))
    short = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": DIGEST[:20],
            },
        }
    )
    assert "digest length" in status_of(authority.respond(short.dump()))
    with pytest.raises(TsaConfigError):
        build_request(DIGEST[:5])


async def test_rejection_is_not_a_valid_timestamp(
    authority: TimestampAuthority, trust_store: TrustStore
) -> None:
    verdict = await verify_token(authority.respond(b"junk"), DIGEST, trust_store)
    assert codes(verdict) == ["malformed_timestamp"]
    assert "rejection" in verdict.problems[0].message_en


@pytest.fixture
def tsa_server(authority: TimestampAuthority) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            answer = authority.respond(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()


async def test_external_tsa_client_over_http(tsa_server: str, trust_store: TrustStore) -> None:
    token = await timestamp(DIGEST, http_timestamper(tsa_server))
    assert (await verify_token(token, DIGEST, trust_store)).status is Status.VALID
    response = await request_external(tsa_server, build_request(DIGEST))
    assert (await verify_token(response, DIGEST, trust_store)).status is Status.VALID


async def test_unreachable_tsa_is_a_domain_error() -> None:
    with pytest.raises(TimestampRequestRejectedError):
        await timestamp(DIGEST, http_timestamper("http://127.0.0.1:9/tsa", timeout=2))


@pytest.mark.interop
def test_openssl_verifies_the_platform_tsa_response(
    authority: TimestampAuthority, demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    data = tmp_path / "envelope.bin"
    data.write_bytes(DATA)
    query = tmp_path / "q.tsq"
    made = openssl("ts", "-query", "-data", str(data), "-sha256", "-cert", "-out", str(query))
    assert made.returncode == 0, made.stderr
    reply = tmp_path / "r.tsr"
    reply.write_bytes(authority.respond(query.read_bytes()))
    provider = demo_pki.provider("demo-rsa")
    common = ["-in", str(reply), "-CAfile", str(provider.root_pem)]
    common += ["-untrusted", str(provider.intermediate_pem)]
    result = openssl("ts", "-verify", "-data", str(data), *common)
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"Verification: OK" in result.stdout
    by_digest = openssl("ts", "-verify", "-digest", DIGEST.hex(), *common)
    assert by_digest.returncode == 0, by_digest.stderr
    other = openssl("ts", "-verify", "-digest", hashlib.sha256(b"x").hexdigest(), *common)
    assert other.returncode != 0


@pytest.mark.interop
async def test_openssl_verifies_a_token_made_by_the_pyhanko_timestamper(
    authority: TimestampAuthority, demo_pki: DemoPkiFiles, tmp_path: Path
) -> None:
    token = tmp_path / "token.der"
    token.write_bytes(await timestamp(DIGEST, authority.timestamper))
    provider = demo_pki.provider("demo-rsa")
    result = openssl(
        "ts", "-verify", "-digest", DIGEST.hex(), "-token_in", "-in", str(token),
        "-CAfile", str(provider.root_pem), "-untrusted", str(provider.intermediate_pem),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


async def test_embedded_tsa_is_created_once_and_trusted_through_its_provider(
    tmp_path: Path,
) -> None:
    from signing.tsa import ensure_platform_tsa, platform_tsa_provider

    now = datetime.now(UTC)
    first = ensure_platform_tsa(tmp_path / "tsa", now=now)
    assert (tmp_path / "tsa" / "tsa.key.pem").stat().st_mode & 0o077 == 0
    again = ensure_platform_tsa(tmp_path / "tsa", now=now)
    assert again.bundle.cert == first.bundle.cert
    store = TrustStore([platform_tsa_provider(again)])
    verdict = await verify_token(await again.timestamp(DIGEST), DIGEST, store)
    assert verdict.status is Status.VALID, verdict.problems
    assert verdict.tsa is not None and verdict.tsa.provider == "platform-tsa"
