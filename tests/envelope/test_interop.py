"""Interop with the real `openssl cms`: it opens our envelopes, we open its envelopes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms

from signing.envelope import seal, unseal
from tests.envelope.conftest import Identity

pytestmark = pytest.mark.interop


def run(*argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, capture_output=True, check=False, timeout=60)


def openssl_decrypt(openssl: str, envelope: Path, who: Identity, out: Path) -> None:
    result = run(
        openssl, "cms", "-decrypt", "-inform", "DER", "-in", str(envelope),
        "-recip", str(who.cert_path), "-inkey", str(who.key_path), "-out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()


def openssl_encrypt(
    openssl: str, source: Path, out: Path, recipients: list[Identity], *options: str
) -> None:
    argv = [openssl, "cms", "-encrypt", "-aes-256-gcm", "-stream", "-binary", "-outform", "DER"]
    argv += ["-in", str(source), "-out", str(out)]
    for who in recipients:
        argv += ["-recip", str(who.cert_path), *options]
    result = run(*argv)
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.parametrize("size", [0, 1, 70_000])
def test_openssl_opens_our_envelopes_for_rsa_and_ec_recipients(
    openssl: str,
    rsa_bidder: Identity,
    ec_bidder: Identity,
    ec384_bidder: Identity,
    tmp_path: Path,
    size: int,
) -> None:
    source = tmp_path / "bid.zip"
    source.write_bytes(os.urandom(size))
    recipients = [rsa_bidder, ec_bidder, ec384_bidder]
    seal(source, tmp_path / "bid.cms", [r.cert for r in recipients], chunk_size=16_384)
    for who in recipients:
        out = tmp_path / f"{who.name}.zip"
        openssl_decrypt(openssl, tmp_path / "bid.cms", who, out)
        assert out.read_bytes() == source.read_bytes()


def test_openssl_refuses_our_envelope_once_damaged(
    openssl: str, ec_bidder: Identity, tmp_path: Path
) -> None:
    source = tmp_path / "bid.zip"
    source.write_bytes(os.urandom(5000))
    seal(source, tmp_path / "bid.cms", [ec_bidder.cert])
    data = bytearray((tmp_path / "bid.cms").read_bytes())
    data[len(data) // 2] ^= 0x40
    (tmp_path / "bad.cms").write_bytes(bytes(data))
    result = run(
        openssl, "cms", "-decrypt", "-inform", "DER", "-in", str(tmp_path / "bad.cms"),
        "-recip", str(ec_bidder.cert_path), "-inkey", str(ec_bidder.key_path),
        "-out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode != 0  # the same tag our reader checks


@pytest.mark.parametrize(
    ("who", "options"),
    [
        ("rsa_bidder", []),  # openssl's default: PKCS#1 v1.5 key transport
        ("rsa_bidder", ["-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"]),
        ("ec_bidder", []),  # openssl's default: dhSinglePass-stdDH-sha1kdf-scheme
        ("ec384_bidder", []),
        ("rsa_bidder", ["-keyid"]),  # recipient named by subject key identifier
        ("ec_bidder", ["-keyid"]),
    ],
    ids=["rsa-pkcs1", "rsa-oaep-sha256", "ec-p256", "ec-p384", "rsa-keyid", "ec-keyid"],
)
def test_we_open_openssl_envelopes(
    openssl: str,
    who: str,
    options: list[str],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    recipient: Identity = request.getfixturevalue(who)
    source = tmp_path / "bid.zip"
    source.write_bytes(os.urandom(100_003))
    openssl_encrypt(openssl, source, tmp_path / "bid.cms", [recipient], *options)
    summary = unseal(tmp_path / "bid.cms", tmp_path / "out.zip", recipient.key, recipient.cert)
    assert summary.plaintext_size == 100_003
    assert (tmp_path / "out.zip").read_bytes() == source.read_bytes()


def test_we_open_openssl_multi_recipient_and_definite_length_envelopes(
    openssl: str, rsa_bidder: Identity, ec_bidder: Identity, tmp_path: Path
) -> None:
    source = tmp_path / "bid.zip"
    source.write_bytes(os.urandom(3_000_000))  # larger than our 1 MiB read buffer
    # Without -stream openssl writes DER: definite lengths and one primitive content octet string.
    result = run(
        openssl, "cms", "-encrypt", "-aes-256-gcm", "-binary", "-outform", "DER",
        "-in", str(source), "-out", str(tmp_path / "bid.cms"),
        str(rsa_bidder.cert_path), str(ec_bidder.cert_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    for who in (rsa_bidder, ec_bidder):
        out = tmp_path / f"{who.name}.zip"
        unseal(tmp_path / "bid.cms", out, who.key, who.cert)
        assert out.read_bytes() == source.read_bytes()


def test_our_oaep_parameters_are_encoded_as_openssl_encodes_them(
    openssl: str, rsa_bidder: Identity, tmp_path: Path
) -> None:
    source = tmp_path / "bid.zip"
    source.write_bytes(b"x")
    openssl_encrypt(
        openssl, source, tmp_path / "theirs.cms", [rsa_bidder],
        "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256",
    )  # fmt: skip
    seal(source, tmp_path / "ours.cms", [rsa_bidder.cert])

    def key_transport_algorithm(path: Path) -> bytes:
        info = cms.ContentInfo.load(path.read_bytes())
        ktri = info["content"]["recipient_infos"][0].chosen
        der: bytes = ktri["key_encryption_algorithm"].dump()
        return der

    assert key_transport_algorithm(tmp_path / "ours.cms") == key_transport_algorithm(
        tmp_path / "theirs.cms"
    )


def test_a_bare_key_finds_its_pkcs1_recipient_among_several(
    openssl: str, rsa_bidder: Identity, custodians: list[Identity], tmp_path: Path
) -> None:
    agency = custodians[0]  # a second RSA identity
    source = tmp_path / "bid.zip"
    source.write_bytes(os.urandom(1000))
    openssl_encrypt(openssl, source, tmp_path / "bid.cms", [rsa_bidder, agency])
    # No certificate: every PKCS#1 v1.5 recipient info is tried, and a wrong one may "decrypt"
    # to random bytes (implicit rejection) rather than fail; the second one is ours.
    unseal(tmp_path / "bid.cms", tmp_path / "out.zip", agency.key)
    assert (tmp_path / "out.zip").read_bytes() == source.read_bytes()
