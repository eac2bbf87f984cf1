"""Detached CMS signatures: round trip, bad input, signer problems, and openssl both ways."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms

from signing.cms import sign_detached, verify_detached
from signing.trust import TrustStore
from signing.verdicts import Status
from tests.pki_fixtures import DemoPkiFiles, EntityFiles
from tests.signing.helpers import openssl

DATA = b'{"tender": "T-2026-001", "price": "1234567.89"}\n' * 50


async def sign(files: EntityFiles, data: bytes = DATA) -> bytes:
    return await sign_detached(io.BytesIO(data), files.key, files.cert, files.chain)


def codes(verdict: object) -> list[str]:
    return [p.code for p in verdict.problems]  # type: ignore[attr-defined]


@pytest.mark.parametrize("entity", ["bidder-1-org", "bidder-3-rep"])
async def test_round_trip_rsa_and_ecdsa(
    demo_pki: DemoPkiFiles, trust_store: TrustStore, entity: str
) -> None:
    files = demo_pki.entity(entity)
    signature = await sign(files)
    verdict = await verify_detached(io.BytesIO(DATA), signature, trust_store)
    assert verdict.status is Status.VALID, verdict.problems
    assert verdict.intact and verdict.signature_valid
    assert verdict.signer is not None and verdict.signer.provider == files.provider
    assert verdict.digest_algorithm == "sha256"
    assert verdict.signing_time is not None
    assert verdict.to_dict()["signer"]["status"] == "valid"


async def test_large_file_is_streamed(
    demo_pki: DemoPkiFiles, trust_store: TrustStore, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        for i in range(24):  # 24 MiB in 1 MiB pieces, never held whole
            out.write(bytes([i]) * (1 << 20))
    files = demo_pki.entity("bidder-2-org")
    with big.open("rb") as stream:
        signature = await sign_detached(stream, files.key, files.cert, files.chain)
    with big.open("rb") as stream:
        verdict = await verify_detached(stream, signature, trust_store)
    assert verdict.status is Status.VALID


async def test_changed_content_is_detected(demo_pki: DemoPkiFiles, trust_store: TrustStore) -> None:
    signature = await sign(demo_pki.entity("bidder-1-org"))
    tampered = DATA.replace(b"1234567.89", b"1234567.88")
    verdict = await verify_detached(io.BytesIO(tampered), signature, trust_store)
    assert verdict.status is Status.INVALID
    assert not verdict.intact
    assert codes(verdict) == ["digest_mismatch"]


async def test_altered_signature_value_is_detected(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    signature = await sign(demo_pki.entity("bidder-2-rep"))
    info = asn1_cms.ContentInfo.load(signature)
    signer_info = info["content"]["signer_infos"][0]
    value = bytearray(signer_info["signature"].native)
    value[-1] ^= 0x01
    signer_info["signature"] = bytes(value)
    verdict = await verify_detached(io.BytesIO(DATA), info.dump(force=True), trust_store)
    assert verdict.status is Status.INVALID
    assert verdict.intact and not verdict.signature_valid
    assert codes(verdict) == ["bad_signature"]


@pytest.mark.parametrize(
    "garbage",
    [b"", b"not der at all", b"\x30\x03\x02\x01\x00", b"\x30\x80" + b"\x00" * 10],
)
async def test_garbage_signature_is_a_verdict(trust_store: TrustStore, garbage: bytes) -> None:
    verdict = await verify_detached(io.BytesIO(DATA), garbage, trust_store)
    assert verdict.status is Status.INVALID
    assert codes(verdict) == ["malformed_signature"]
    assert verdict.problems[0].message_zh


async def test_signature_over_other_data_with_someone_elses_certificate(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    # Swap the embedded signer certificate for another one: the signer is no longer found.
    signature = await sign(demo_pki.entity("bidder-1-org"))
    other = await sign(demo_pki.entity("bidder-2-org"))
    info = asn1_cms.ContentInfo.load(signature)
    info["content"]["certificates"] = asn1_cms.ContentInfo.load(other)["content"]["certificates"]
    verdict = await verify_detached(io.BytesIO(DATA), info.dump(force=True), trust_store)
    assert verdict.status is Status.INVALID
    assert codes(verdict) == ["malformed_signature"]


@pytest.mark.parametrize(
    ("entity", "code"),
    [
        ("bidder-1-rep-old", "revoked"),
        ("bidder-3-org-old", "expired"),
        ("custodian-1", "wrong_key_usage"),
        ("platform-tsa", "wrong_key_usage"),
    ],
)
async def test_signer_certificate_problems(
    demo_pki: DemoPkiFiles, trust_store: TrustStore, entity: str, code: str
) -> None:
    signature = await sign(demo_pki.entity(entity))
    verdict = await verify_detached(io.BytesIO(DATA), signature, trust_store)
    assert verdict.intact and verdict.signature_valid
    assert verdict.status is Status.INVALID
    assert codes(verdict) == [code]


async def test_untrusted_signer(foreign_pki: DemoPkiFiles, trust_store: TrustStore) -> None:
    signature = await sign(foreign_pki.entity("bidder-1-org"))
    verdict = await verify_detached(io.BytesIO(DATA), signature, trust_store)
    assert verdict.intact and verdict.signature_valid
    assert codes(verdict) == ["untrusted"]


async def test_without_revocation_data_it_is_indeterminate(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    signature = await sign(demo_pki.entity("bidder-1-org"))
    bare = TrustStore(trust_store.providers)
    verdict = await verify_detached(io.BytesIO(DATA), signature, bare)
    assert verdict.status is Status.INDETERMINATE
    assert codes(verdict) == ["revocation_unavailable"]


@pytest.mark.interop
@pytest.mark.parametrize("entity", ["bidder-1-org", "bidder-3-rep"])
async def test_openssl_verifies_our_signature(
    demo_pki: DemoPkiFiles, tmp_path: Path, entity: str
) -> None:
    files = demo_pki.entity(entity)
    content = tmp_path / "manifest.json"
    content.write_bytes(DATA)
    sig = tmp_path / "manifest.json.p7s"
    sig.write_bytes(await sign(files))
    provider = demo_pki.provider(files.provider)
    args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", str(sig)]
    args += ["-content", str(content), "-CAfile", str(provider.root_pem), "-out", "/dev/null"]
    result = openssl(*args)
    assert result.returncode == 0, result.stderr
    assert b"Verification successful" in result.stderr
    content.write_bytes(DATA + b" ")
    assert openssl(*args).returncode != 0


@pytest.mark.interop
@pytest.mark.parametrize("entity", ["bidder-2-rep", "bidder-3-org"])
async def test_we_verify_openssl_signatures(
    demo_pki: DemoPkiFiles, trust_store: TrustStore, tmp_path: Path, entity: str
) -> None:
    files = demo_pki.entity(entity)
    content = tmp_path / "data.bin"
    content.write_bytes(DATA)
    sig = tmp_path / "data.p7s"
    result = openssl(
        "cms", "-sign", "-binary", "-outform", "DER", "-in", str(content),
        "-signer", str(files.cert_pem), "-inkey", str(files.key_pem),
        "-certfile", str(files.chain_pem), "-out", str(sig),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    verdict = await verify_detached(io.BytesIO(DATA), sig.read_bytes(), trust_store)
    assert verdict.status is Status.VALID, verdict.problems
    tampered = await verify_detached(io.BytesIO(DATA[:-1]), sig.read_bytes(), trust_store)
    assert codes(tampered) == ["digest_mismatch"]


@pytest.mark.interop
async def test_attached_openssl_signature_is_refused(
    demo_pki: DemoPkiFiles, trust_store: TrustStore, tmp_path: Path
) -> None:
    files = demo_pki.entity("bidder-1-org")
    content = tmp_path / "data.bin"
    content.write_bytes(DATA)
    result = openssl(
        "cms", "-sign", "-nodetach", "-binary", "-outform", "DER", "-in", str(content),
        "-signer", str(files.cert_pem), "-inkey", str(files.key_pem),
    )  # fmt: skip
    assert result.returncode == 0
    verdict = await verify_detached(io.BytesIO(DATA), result.stdout, trust_store)
    assert codes(verdict) == ["malformed_signature"]
    assert "detached" in verdict.problems[0].message_en
