"""The demo PKI generator: files, index, certificate contents; checked by openssl too."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from signing import demo_pki as generator
from signing.keys import KeyFileError, load_key_bundle
from tests.pki_fixtures import DemoPkiFiles
from tests.signing.helpers import openssl
from trading.credit_code import is_valid_credit_code


def test_index_lists_exactly_the_files_written(demo_pki: DemoPkiFiles) -> None:
    on_disk = {
        str(p.relative_to(demo_pki.root)) for p in demo_pki.root.rglob("*") if p.is_file()
    } - {"index.json"}
    listed = {f["path"] for f in demo_pki.index["files"]}
    assert listed == on_disk
    for entry in demo_pki.index["files"]:
        assert {"role", "organisation", "credit_code", "key_type", "status", "provider"} <= set(
            entry
        )


def test_index_covers_the_roles_and_statuses_the_platform_needs(demo_pki: DemoPkiFiles) -> None:
    entities = demo_pki.index["entities"]
    roles = [e["role"] for e in entities if e["status"] == "valid"]
    assert roles.count("bidder_org") >= 3
    assert roles.count("bidder_person") >= 3
    assert roles.count("expert") == 2
    assert roles.count("custodian") == 3
    assert {"agency", "platform", "tsa"} <= set(roles)
    assert sorted(e["status"] for e in entities if e["status"] != "valid") == [
        "expired",
        "revoked",
    ]
    assert {p["key_type"] for p in demo_pki.index["providers"]} == {"rsa", "ec"}
    key_types = {e["key_type"] for e in entities}
    assert key_types == {"rsa-2048", "ec-secp256r1"}


def test_credit_codes_in_index_and_certificates_are_valid(demo_pki: DemoPkiFiles) -> None:
    orgs = [e for e in demo_pki.index["entities"] if e["role"] == "bidder_org"]
    assert len({e["credit_code"] for e in orgs}) == 3
    for entry in demo_pki.index["entities"]:
        if entry["credit_code"] is not None:
            assert is_valid_credit_code(entry["credit_code"])
            assert entry["credit_code"] in entry["subject"]


def test_tsa_certificate_has_critical_time_stamping_eku(demo_pki: DemoPkiFiles) -> None:
    (tsa,) = demo_pki.by_role("tsa")
    eku = tsa.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


@pytest.mark.parametrize(("entity", "rsa_flag"), [("custodian-1", True), ("custodian-3", False)])
def test_custodian_keys_are_for_envelopes_only(
    demo_pki: DemoPkiFiles, entity: str, rsa_flag: bool
) -> None:
    usage = demo_pki.entity(entity).cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment is rsa_flag
    assert usage.key_agreement is not rsa_flag
    assert not usage.digital_signature


def test_pkcs12_opens_with_the_password_only(demo_pki: DemoPkiFiles) -> None:
    bidder = demo_pki.entity("bidder-3-rep")
    bundle = load_key_bundle(bidder.p12, demo_pki.password)
    assert bundle.cert == bidder.cert
    assert [c.subject for c in bundle.chain] == [c.subject for c in bidder.chain]
    with pytest.raises(KeyFileError) as info:
        load_key_bundle(bidder.p12, "wrong")
    assert info.value.code == "key_file_invalid" and "密码" in info.value.message_zh
    pem = load_key_bundle(bidder.key_pem, None, cert_path=bidder.cert_pem)
    assert pem.cert == bidder.cert


def test_garbage_key_file_is_a_domain_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFileError):
        load_key_bundle(junk)
    with pytest.raises(KeyFileError):
        load_key_bundle(tmp_path / "missing.p12", "x")


def test_resident_id_check_character() -> None:
    # The GB 11643 example number from the standard's annex.
    assert generator.resident_id("11010519491231002") == "11010519491231002X"


@pytest.mark.interop
@pytest.mark.parametrize("provider", ["demo-rsa", "demo-ecc"])
def test_openssl_accepts_valid_and_rejects_revoked_and_expired(
    demo_pki: DemoPkiFiles, provider: str
) -> None:
    files = demo_pki.provider(provider)
    for entry in demo_pki.index["entities"]:
        if entry["provider"] != provider:
            continue
        result = openssl(
            "verify",
            "-crl_check",
            "-CRLfile",
            str(files.crl_pem),
            "-CAfile",
            str(files.root_pem),
            "-untrusted",
            str(files.intermediate_pem),
            str(demo_pki.root / entry["files"]["cert"]),
        )
        output = result.stdout + result.stderr
        if entry["status"] == "valid":
            assert result.returncode == 0, output
        elif entry["status"] == "revoked":
            assert b"revoked" in output
        else:
            assert b"expired" in output


@pytest.mark.interop
def test_openssl_reads_the_pkcs12(demo_pki: DemoPkiFiles) -> None:
    bidder = demo_pki.entity("bidder-1-org")
    result = openssl(
        "pkcs12", "-in", str(bidder.p12), "-passin", f"pass:{demo_pki.password}", "-nokeys"
    )
    assert result.returncode == 0, result.stderr
    assert b"BEGIN CERTIFICATE" in result.stdout
    # And cryptography agrees that the key matches the certificate.
    key, cert, _ = pkcs12.load_key_and_certificates(
        bidder.p12.read_bytes(), demo_pki.password.encode()
    )
    assert key is not None and cert is not None
    assert key.public_key() == cert.public_key()
