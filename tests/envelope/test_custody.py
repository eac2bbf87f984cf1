"""Threshold custody of a lot's opening key: create, release, combine, and the refusals."""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from signing.custody import (
    CustodyExistsError,
    CustodyManifest,
    CustodySetupError,
    CustodyShare,
    combine_shares,
    create_custody,
    public_key_sha256,
    release_share,
    write_private_key,
)
from signing.envelope import seal_stream, unseal_bytes
from signing.envelope_errors import (
    DuplicateShareError,
    ForeignShareError,
    InsufficientSharesError,
    InvalidShareError,
    NotARecipientError,
)
from tests.envelope.conftest import Identity

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@dataclasses.dataclass
class Custody:
    directory: Path
    manifest: CustodyManifest
    shares: list[CustodyShare]
    certificate: x509.Certificate


def make_custody(directory: Path, lot: str, custodians: list[Identity], k: int = 2) -> Custody:
    manifest = create_custody(lot, k, [c.cert for c in custodians], directory, now=NOW)
    shares = [
        release_share((directory / entry.file).read_bytes(), who.key, who.cert)
        for entry, who in zip(manifest.custodians, custodians, strict=True)
    ]
    cert = x509.load_pem_x509_certificate((directory / manifest.certificate).read_bytes())
    return Custody(directory, manifest, shares, cert)


@pytest.fixture(scope="module")
def lot_a(tmp_path_factory: pytest.TempPathFactory, custodians: list[Identity]) -> Custody:
    return make_custody(tmp_path_factory.mktemp("lot-a"), "LOT-A", custodians)


def test_any_k_shares_rebuild_the_opening_key_that_opens_the_bids(
    lot_a: Custody, rsa_bidder: Identity
) -> None:
    sink = io.BytesIO()
    seal_stream(io.BytesIO(b"price: 1 234 000"), sink, [rsa_bidder.cert, lot_a.certificate])
    for pair in itertools.permutations(lot_a.shares, 2):
        key = combine_shares(
            list(pair), lot="LOT-A", public_key_fingerprint=lot_a.manifest.public_key_sha256
        )
        assert public_key_sha256(key.public_key()) == lot_a.manifest.public_key_sha256
        assert unseal_bytes(sink.getvalue(), key, lot_a.certificate) == b"price: 1 234 000"
    assert combine_shares(lot_a.shares, lot="LOT-A").private_numbers() == key.private_numbers()


def test_the_manifest_and_files_are_public_data_only(lot_a: Custody) -> None:
    body = json.loads((lot_a.directory / "manifest.json").read_bytes())
    assert body["lot"] == "LOT-A" and body["threshold"] == 2 and body["count"] == 3
    assert [c["file"] for c in body["custodians"]] == ["share-1.cms", "share-2.cms", "share-3.cms"]
    key = combine_shares(lot_a.shares, lot="LOT-A")
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for path in lot_a.directory.iterdir():
        content = path.read_bytes()
        assert scalar not in content and der not in content, path.name
        assert scalar.hex().encode() not in content, path.name
    # Each share is sealed: its plaintext value does not appear either.
    for share in lot_a.shares:
        for path in lot_a.directory.iterdir():
            assert share.value.hex().encode() not in path.read_bytes()


def test_fewer_than_k_shares_are_refused(lot_a: Custody) -> None:
    with pytest.raises(InsufficientSharesError) as caught:
        combine_shares(lot_a.shares[:1], lot="LOT-A")
    assert caught.value.details == {"given": 1, "threshold": 2}
    with pytest.raises(InsufficientSharesError):
        combine_shares([], lot="LOT-A")


def test_a_duplicate_share_does_not_count_twice(lot_a: Custody) -> None:
    with pytest.raises(DuplicateShareError):
        combine_shares([lot_a.shares[0], lot_a.shares[0]], lot="LOT-A")


def test_shares_of_another_lot_are_refused(
    lot_a: Custody, custodians: list[Identity], tmp_path: Path
) -> None:
    lot_b = make_custody(tmp_path / "b", "LOT-B", custodians)
    with pytest.raises(ForeignShareError):
        combine_shares([lot_a.shares[0], lot_b.shares[1]], lot="LOT-A")
    with pytest.raises(ForeignShareError):
        combine_shares(lot_b.shares, lot="LOT-A")
    # A second custody set of the same lot (e.g. re-created) does not mix with the first.
    again = make_custody(tmp_path / "a2", "LOT-A", custodians)
    with pytest.raises(ForeignShareError):
        combine_shares([lot_a.shares[0], again.shares[1]], lot="LOT-A")
    # Shares of a key other than the one the platform holds are refused too.
    with pytest.raises(ForeignShareError):
        combine_shares(
            again.shares, lot="LOT-A", public_key_fingerprint=lot_a.manifest.public_key_sha256
        )


def test_a_damaged_share_is_caught_by_the_public_key(lot_a: Custody) -> None:
    first = lot_a.shares[0]
    damaged = dataclasses.replace(first, value=bytes([first.value[0] ^ 1]) + first.value[1:])
    with pytest.raises(InvalidShareError):
        combine_shares([damaged, lot_a.shares[1]], lot="LOT-A")
    with pytest.raises(InvalidShareError):
        CustodyShare.from_json(b'{"format": "something else"}')
    with pytest.raises(InvalidShareError):
        CustodyShare.from_json(first.to_json().replace(b'"index": 1', b'"index": 9'))


def test_a_custodian_can_release_only_its_own_share(
    lot_a: Custody, custodians: list[Identity], outsider: Identity
) -> None:
    sealed = (lot_a.directory / "share-1.cms").read_bytes()
    with pytest.raises(NotARecipientError):
        release_share(sealed, custodians[1].key, custodians[1].cert)
    with pytest.raises(NotARecipientError):
        release_share(sealed, outsider.key, outsider.cert)


@pytest.mark.parametrize(("k", "n"), [(1, 3), (4, 3), (0, 2), (2, 1)])
def test_thresholds_that_break_the_rule_are_refused(
    k: int, n: int, custodians: list[Identity], tmp_path: Path
) -> None:
    with pytest.raises(CustodySetupError):
        create_custody("LOT-X", k, [c.cert for c in custodians[:n]], tmp_path, now=NOW)


def test_a_custodian_listed_twice_or_an_existing_set_is_refused(
    custodians: list[Identity], lot_a: Custody, tmp_path: Path
) -> None:
    twice = [custodians[0].cert, custodians[0].cert, custodians[1].cert]
    with pytest.raises(CustodySetupError):
        create_custody("LOT-X", 2, twice, tmp_path, now=NOW)
    with pytest.raises(CustodyExistsError):
        create_custody("LOT-A", 2, [c.cert for c in custodians], lot_a.directory, now=NOW)


@pytest.mark.interop
def test_openssl_opens_a_bid_with_the_rebuilt_opening_key(
    openssl: str, lot_a: Custody, rsa_bidder: Identity, tmp_path: Path
) -> None:
    (tmp_path / "bid.cms").write_bytes(_sealed(b"the bid", [rsa_bidder.cert, lot_a.certificate]))
    key = combine_shares(lot_a.shares[1:], lot="LOT-A")
    write_private_key(key, tmp_path / "opening.pem")
    assert (tmp_path / "opening.pem").stat().st_mode & 0o077 == 0
    result = subprocess.run(
        [openssl, "cms", "-decrypt", "-inform", "DER", "-in", str(tmp_path / "bid.cms"),
         "-recip", str(lot_a.directory / "opening-cert.pem"),
         "-inkey", str(tmp_path / "opening.pem")],
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b"the bid"


def _sealed(data: bytes, certs: list[x509.Certificate]) -> bytes:
    sink = io.BytesIO()
    seal_stream(io.BytesIO(data), sink, certs)
    return sink.getvalue()
