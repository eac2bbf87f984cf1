"""Bad envelopes and wrong keys: each a specific error, and nothing written under OUT."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from asn1crypto import cms

from signing.envelope import (
    decrypt_with_content_key,
    seal_stream,
    unseal,
    unwrap_content_key,
)
from signing.envelope_errors import (
    KeyFileError,
    KeyUnwrapError,
    MalformedEnvelopeError,
    NotARecipientError,
    NotCmsError,
    TamperedEnvelopeError,
    TruncatedEnvelopeError,
    UnsupportedAlgorithmError,
    WrongContentTypeError,
)
from signing.envelope_keys import load_key_pair
from tests.envelope.conftest import P12_PASSWORD, Identity

PLAINTEXT = os.urandom(5000)


@pytest.fixture(scope="module")
def envelope(rsa_bidder: Identity, ec_bidder: Identity) -> bytes:
    sink = io.BytesIO()
    seal_stream(io.BytesIO(PLAINTEXT), sink, [rsa_bidder.cert, ec_bidder.cert], chunk_size=1024)
    return sink.getvalue()


def open_into(tmp_path: Path, data: bytes, who: Identity) -> Path:
    """Open ``data`` as ``who``; on failure assert that nothing is left in the directory."""
    (tmp_path / "in.cms").write_bytes(data)
    out = tmp_path / "out.zip"
    try:
        unseal(tmp_path / "in.cms", out, who.key, who.cert)
    except Exception:
        assert sorted(p.name for p in tmp_path.iterdir()) == ["in.cms"]
        raise
    return out


def mac_offset(envelope: bytes) -> int:
    # The MAC is the last OCTET STRING: 04 10 <16 bytes>, then three end-of-contents.
    offset = len(envelope) - 6 - 16
    assert envelope[offset - 2 : offset] == b"\x04\x10"
    return offset


def test_an_envelope_for_someone_else(envelope: bytes, outsider: Identity, tmp_path: Path) -> None:
    with pytest.raises(NotARecipientError):
        open_into(tmp_path, envelope, outsider)


def test_the_right_certificate_with_the_wrong_key(
    envelope: bytes, rsa_bidder: Identity, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    wrong = rsa.generate_private_key(65537, 2048)
    with pytest.raises(KeyUnwrapError):
        unwrap_content_key(io.BytesIO(envelope), wrong, rsa_bidder.cert)
    with pytest.raises((KeyUnwrapError, NotARecipientError)):
        unwrap_content_key(io.BytesIO(envelope), wrong)


def test_a_key_file_whose_certificate_belongs_to_another_key(
    rsa_bidder: Identity, ec_bidder: Identity
) -> None:
    mixed = ec_bidder.key_path.read_bytes() + rsa_bidder.cert_path.read_bytes()
    with pytest.raises(KeyFileError):
        load_key_pair(mixed)


def test_a_pkcs12_with_the_wrong_password(rsa_bidder: Identity) -> None:
    assert load_key_pair(rsa_bidder.p12_path.read_bytes(), P12_PASSWORD.encode()).certificate
    with pytest.raises(KeyFileError):
        load_key_pair(rsa_bidder.p12_path.read_bytes(), b"wrong")
    with pytest.raises(KeyFileError):
        load_key_pair(b"not a key at all")


@pytest.mark.parametrize("keep", [0, 1, 2, 10, 100, 700, 1500, 3000, -30, -22, -6, -1])
def test_a_truncated_envelope(
    keep: int, envelope: bytes, ec_bidder: Identity, tmp_path: Path
) -> None:
    cut = envelope[:keep] if keep >= 0 else envelope[: len(envelope) + keep]
    expected = NotCmsError if keep == 0 else TruncatedEnvelopeError  # 0 bytes: an empty file
    with pytest.raises(expected):
        open_into(tmp_path, cut, ec_bidder)


@pytest.mark.parametrize("where", ["first", "middle", "last", "mac"])
def test_a_bit_flipped_envelope_fails_the_tag_and_releases_nothing(
    where: str, envelope: bytes, rsa_bidder: Identity, tmp_path: Path
) -> None:
    mac = mac_offset(envelope)
    offsets = {"first": envelope.index(b"\xa0\x80\x04") + 6, "middle": len(envelope) // 2}
    offsets |= {"last": mac - 2 - 4 - 1, "mac": mac + 5}
    damaged = bytearray(envelope)
    damaged[offsets[where]] ^= 0x01
    with pytest.raises(TamperedEnvelopeError):
        open_into(tmp_path, bytes(damaged), rsa_bidder)


def test_a_wrong_content_key(envelope: bytes, tmp_path: Path) -> None:
    (tmp_path / "in.cms").write_bytes(envelope)
    with pytest.raises(TamperedEnvelopeError):
        decrypt_with_content_key(tmp_path / "in.cms", os.urandom(32), tmp_path / "out")
    with pytest.raises(TamperedEnvelopeError):
        decrypt_with_content_key(tmp_path / "in.cms", os.urandom(16), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "data",
    [b"", b"PK\x03\x04 a zip, not an envelope", b"\x04\x03abc", b"\x30\x03\x02\x01\x00"],
    ids=["empty", "zip", "octet-string", "sequence-of-integer"],
)
def test_not_cms(data: bytes, ec_bidder: Identity, tmp_path: Path) -> None:
    with pytest.raises(NotCmsError):
        open_into(tmp_path, data, ec_bidder)


def test_wrong_content_type(ec_bidder: Identity, tmp_path: Path) -> None:
    data = cms.ContentInfo({"content_type": "data", "content": b"hello"}).dump()
    with pytest.raises(WrongContentTypeError) as caught:
        open_into(tmp_path, data, ec_bidder)
    assert caught.value.details["content_type"] == "data"
    enveloped = cms.ContentInfo(
        {"content_type": "enveloped_data", "content": {"version": "v0", "recipient_infos": []}}
    )
    with pytest.raises(WrongContentTypeError):
        open_into(tmp_path, _partial(enveloped), ec_bidder)


def _partial(info: cms.ContentInfo) -> bytes:
    # Only the content type matters; the rest need not be complete.
    return b"\x30\x80" + info["content_type"].dump() + b"\xa0\x80\x30\x80"


def test_unsupported_content_encryption(
    envelope: bytes, ec_bidder: Identity, tmp_path: Path
) -> None:
    gcm = bytes.fromhex("060960864801650304012e")  # aes256-GCM
    cbc = bytes.fromhex("060960864801650304012a")  # aes256-CBC
    assert envelope.count(gcm) == 1
    with pytest.raises(UnsupportedAlgorithmError):
        open_into(tmp_path, envelope.replace(gcm, cbc), ec_bidder)


def test_unsupported_key_transport(envelope: bytes, rsa_bidder: Identity, tmp_path: Path) -> None:
    oaep = bytes.fromhex("06092a864886f70d010107")
    pss = bytes.fromhex("06092a864886f70d01010a")  # RSASSA-PSS is no key transport
    with pytest.raises(UnsupportedAlgorithmError):
        open_into(tmp_path, envelope.replace(oaep, pss), rsa_bidder)


def test_authenticated_attributes_are_refused_not_ignored(
    envelope: bytes, ec_bidder: Identity, tmp_path: Path
) -> None:
    mac = mac_offset(envelope)
    attrs = b"\xa1\x00"  # an (empty) authAttrs before the MAC
    with pytest.raises(UnsupportedAlgorithmError):
        open_into(tmp_path, envelope[: mac - 2] + attrs + envelope[mac - 2 :], ec_bidder)


def test_a_damaged_length_is_malformed(
    envelope: bytes, ec_bidder: Identity, tmp_path: Path
) -> None:
    mac = mac_offset(envelope)
    damaged = bytearray(envelope)
    damaged[mac - 1] = 0x11  # MAC length 17: runs into the end-of-contents
    with pytest.raises((MalformedEnvelopeError, TruncatedEnvelopeError)):
        open_into(tmp_path, bytes(damaged), ec_bidder)
