"""Reading the credit code and person from certificates, per provider, and binding them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signing.identity import (
    CreditCodeInvalidError,
    CreditCodeMismatchError,
    CreditCodeMissingError,
    PersonMismatchError,
    bind,
    extract_identity,
    identity_of,
)
from signing.trust import IdentityFields, TrustStore
from tests.pki_fixtures import DemoPkiFiles


def self_signed(attributes: list[x509.NameAttribute[str]]) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(attributes)
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize(
    ("entity", "provider"),
    [("bidder-1-org", "demo-rsa"), ("bidder-3-org", "demo-ecc")],
)
def test_organisation_certificates_of_both_providers(
    demo_pki: DemoPkiFiles, trust_store: TrustStore, entity: str, provider: str
) -> None:
    files = demo_pki.entity(entity)
    identity = identity_of(files.cert, trust_store)
    assert identity.provider == provider
    assert identity.credit_code == files.credit_code
    assert identity.organisation and not identity.is_person
    assert identity.person_id is None and identity.person_name is None


@pytest.mark.parametrize("entity", ["bidder-1-rep", "bidder-3-rep"])
def test_person_certificates_carry_name_and_id(
    demo_pki: DemoPkiFiles, trust_store: TrustStore, entity: str
) -> None:
    files = demo_pki.entity(entity)
    identity = identity_of(files.cert, trust_store)
    assert identity.is_person
    assert identity.person_id == files.person_id
    assert identity.person_name in {"张伟", "王芳"}
    assert identity.credit_code == files.credit_code


def test_the_provider_configuration_matters(demo_pki: DemoPkiFiles) -> None:
    # Read with the default (organizationIdentifier) fields, the ECDSA provider's code is missed.
    cert = demo_pki.entity("bidder-3-org").cert
    assert extract_identity(cert).credit_code is None
    fields = IdentityFields(credit_code_oid="2.5.4.5", person_id_oid=None)
    assert extract_identity(cert, fields).credit_code == demo_pki.entity("bidder-3-org").credit_code


def test_bind_accepts_the_right_organisation_and_person(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    files = demo_pki.entity("bidder-1-rep")
    assert files.credit_code and files.person_id
    identity = bind(
        files.cert, files.credit_code.lower(), trust=trust_store, person_id=files.person_id
    )
    assert identity.credit_code == files.credit_code


def test_bind_refuses_another_organisations_certificate(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    other = demo_pki.entity("bidder-2-org").credit_code
    assert other is not None
    with pytest.raises(CreditCodeMismatchError) as info:
        bind(demo_pki.entity("bidder-1-org").cert, other, trust=trust_store)
    assert info.value.code == "credit_code_mismatch"
    assert other in info.value.message_zh and other in info.value.message_en


def test_bind_refuses_the_wrong_person(demo_pki: DemoPkiFiles, trust_store: TrustStore) -> None:
    files = demo_pki.entity("bidder-2-rep")
    assert files.credit_code
    with pytest.raises(PersonMismatchError):
        bind(files.cert, files.credit_code, trust=trust_store, person_id="11010519491231002X")


def test_bind_refuses_a_certificate_without_code(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    with pytest.raises(CreditCodeMissingError):
        bind(demo_pki.entity("expert-1").cert, "91110105MA01DEM01M", trust=trust_store)


def test_bind_refuses_a_code_with_a_wrong_check_character() -> None:
    cert = self_signed(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "伪造公司"),
            x509.NameAttribute(x509.ObjectIdentifier("2.5.4.97"), "NTRCN-91350100M000100Y44"),
        ]
    )
    fields = IdentityFields(credit_code_prefix="NTRCN-")
    with pytest.raises(CreditCodeInvalidError):
        bind(cert, "91350100M000100Y44", fields=fields)
    assert extract_identity(cert, fields).credit_code == "91350100M000100Y44"
