"""Sealing and opening bids through the library: recipients, streaming form, key release."""

from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import Path

import pytest
from asn1crypto import cms

from signing.envelope import (
    decrypt_with_content_key,
    seal,
    seal_stream,
    unseal,
    unseal_bytes,
    unwrap_content_key,
)
from signing.envelope_errors import RecipientCertificateError
from tests.envelope.conftest import Identity


def sealed(data: bytes, *recipients: Identity, chunk_size: int = 1 << 20) -> bytes:
    sink = io.BytesIO()
    seal_stream(io.BytesIO(data), sink, [r.cert for r in recipients], chunk_size=chunk_size)
    return sink.getvalue()


@pytest.mark.parametrize("who", ["rsa_bidder", "ec_bidder", "ec384_bidder"])
def test_each_kind_of_recipient_opens_its_envelope(
    who: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    recipient: Identity = request.getfixturevalue(who)
    source = tmp_path / "bid.zip"
    source.write_bytes(os.urandom(300_000))
    summary = seal(source, tmp_path / "bid.cms", [recipient.cert], chunk_size=65_536)
    assert summary.plaintext_size == 300_000 and summary.recipients == 1

    opened = unseal(tmp_path / "bid.cms", tmp_path / "out.zip", recipient.key, recipient.cert)

    assert (tmp_path / "out.zip").read_bytes() == source.read_bytes()
    assert opened.plaintext_size == 300_000
    assert opened.algorithm == "aes256_gcm"
    assert opened.content_type == "1.2.840.113549.1.7.1"


def test_every_recipient_of_a_multi_recipient_envelope_can_open_it(
    rsa_bidder: Identity, ec_bidder: Identity, ec384_bidder: Identity
) -> None:
    envelope = sealed(b"price 1000000", rsa_bidder, ec_bidder, ec384_bidder)
    for who in (rsa_bidder, ec_bidder, ec384_bidder):
        assert unseal_bytes(envelope, who.key, who.cert) == b"price 1000000"
        # Without a certificate the key tries every recipient info of its type, as openssl does.
        assert unseal_bytes(envelope, who.key) == b"price 1000000"


def test_the_envelope_is_indefinite_length_ber_in_chunks_and_standard_cms(
    rsa_bidder: Identity, ec_bidder: Identity
) -> None:
    envelope = sealed(b"x" * 2500, rsa_bidder, ec_bidder, chunk_size=1000)

    assert envelope.startswith(b"\x30\x80")  # streamed: no length known up front
    info = cms.ContentInfo.load(envelope)
    assert info["content_type"].native == "authenticated_enveloped_data"
    content = info["content"]
    assert [ri.name for ri in content["recipient_infos"]] == ["ktri", "kari"]
    assert content["recipient_infos"][0].chosen["key_encryption_algorithm"]["algorithm"].native == (
        "rsaes_oaep"
    )
    eci = content["auth_encrypted_content_info"]
    assert eci["content_encryption_algorithm"]["algorithm"].native == "aes256_gcm"
    assert len(eci["encrypted_content"].native) == 2500  # asn1crypto joins the 3 segments
    assert len(content["mac"].native) == 16


def test_two_envelopes_of_the_same_bid_share_no_key_or_nonce(ec_bidder: Identity) -> None:
    a, b = sealed(b"same", ec_bidder), sealed(b"same", ec_bidder)
    assert a != b
    assert unwrap_content_key(io.BytesIO(a), ec_bidder.key) != unwrap_content_key(
        io.BytesIO(b), ec_bidder.key
    )


def test_the_content_key_is_released_from_the_header_alone(
    rsa_bidder: Identity, ec_bidder: Identity, tmp_path: Path
) -> None:
    envelope = sealed(os.urandom(200_000), rsa_bidder, ec_bidder)
    header_only = io.BytesIO(envelope[:2048])  # the bid itself is not needed

    from_rsa = unwrap_content_key(header_only, rsa_bidder.key, rsa_bidder.cert)
    from_ec = unwrap_content_key(io.BytesIO(envelope[:2048]), ec_bidder.key, ec_bidder.cert)

    assert from_rsa == from_ec and len(from_rsa) == 32
    (tmp_path / "bid.cms").write_bytes(envelope)
    summary = decrypt_with_content_key(tmp_path / "bid.cms", from_rsa, tmp_path / "bid.zip")
    assert summary.plaintext_size == 200_000
    assert (tmp_path / "bid.zip").read_bytes() == unseal_bytes(envelope, ec_bidder.key)


def test_unwrap_reads_only_the_header_of_a_big_envelope(
    ec_bidder: Identity, tmp_path: Path
) -> None:
    class CountingStream(io.BytesIO):
        consumed = 0

        def read(self, size: int | None = -1, /) -> bytes:
            data = super().read(size)
            self.consumed += len(data)
            return data

    stream = CountingStream(sealed(os.urandom(3 << 20), ec_bidder))
    unwrap_content_key(stream, ec_bidder.key)
    assert stream.consumed < 4096


def test_a_certificate_that_cannot_receive_is_refused(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import NameOID

    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ed")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, None)
    )
    with pytest.raises(RecipientCertificateError):
        seal_stream(io.BytesIO(b"x"), io.BytesIO(), [cert])
    with pytest.raises(RecipientCertificateError):
        seal_stream(io.BytesIO(b"x"), io.BytesIO(), [])


def test_memory_stays_bounded_whatever_the_size(ec_bidder: Identity, tmp_path: Path) -> None:
    source = tmp_path / "big.zip"
    with source.open("wb") as f:
        for _ in range(24):
            f.write(os.urandom(1 << 20))
    tracemalloc.start()
    try:
        seal(source, tmp_path / "big.cms", [ec_bidder.cert])
        _, seal_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        unseal(tmp_path / "big.cms", tmp_path / "out.zip", ec_bidder.key)
        _, unseal_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Two 1 MiB buffers each way, whatever the file size (24 MiB here).
    assert seal_peak < 6 << 20
    assert unseal_peak < 6 << 20
    assert (tmp_path / "out.zip").stat().st_size == 24 << 20
