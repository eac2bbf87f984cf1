"""The trust store: several providers, coded verdicts, the CRL cache and its staleness."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko_certvalidator import CertificateValidator, ValidationContext

from signing.trust import (
    CaProvider,
    TrustConfigError,
    TrustStore,
    Usage,
)
from signing.verdicts import Status
from tests.pki_fixtures import DemoPkiFiles


def codes(verdict: object) -> list[str]:
    return [p.code for p in verdict.problems]  # type: ignore[attr-defined]


@pytest.mark.parametrize("entity", ["bidder-1-org", "bidder-1-rep", "bidder-3-org", "expert-2"])
async def test_valid_certificates_of_both_providers(
    demo_pki: DemoPkiFiles, trust_store: TrustStore, entity: str
) -> None:
    files = demo_pki.entity(entity)
    verdict = await trust_store.validate_certificate(files.cert)
    assert verdict.status is Status.VALID, verdict.problems
    assert verdict.provider == files.provider
    assert len(verdict.path) == 3
    assert verdict.path[-1] == files.cert.subject.rfc4514_string()
    assert verdict.to_dict()["status"] == "valid"


async def test_revoked_certificate_is_invalid(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    verdict = await trust_store.validate_certificate(demo_pki.entity("bidder-1-rep-old").cert)
    assert verdict.status is Status.INVALID
    assert codes(verdict) == ["revoked"]
    assert verdict.problems[0].message_zh and verdict.provider == "demo-rsa"


async def test_revoked_certificate_was_fine_before_its_revocation(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    # Revoked one day before `now`: a signature made three days ago still stands.
    verdict = await trust_store.validate_certificate(
        demo_pki.entity("bidder-1-rep-old").cert, at=demo_pki.now - timedelta(days=3)
    )
    assert verdict.status is Status.VALID, verdict.problems


async def test_expired_and_not_yet_valid(demo_pki: DemoPkiFiles, trust_store: TrustStore) -> None:
    expired = await trust_store.validate_certificate(demo_pki.entity("bidder-3-org-old").cert)
    assert expired.status is Status.INVALID and codes(expired) == ["expired"]
    early = await trust_store.validate_certificate(
        demo_pki.entity("bidder-3-org").cert, at=demo_pki.now - timedelta(days=60)
    )
    assert early.status is Status.INVALID and codes(early) == ["not_yet_valid"]


async def test_certificate_from_another_pki_is_untrusted(
    foreign_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    verdict = await trust_store.validate_certificate(foreign_pki.entity("bidder-1-org").cert)
    assert verdict.status is Status.INVALID
    assert codes(verdict) == ["untrusted"]
    assert verdict.provider is None


async def test_key_usage_is_enforced_per_usage(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    custodian = demo_pki.entity("custodian-3").cert
    assert codes(await trust_store.validate_certificate(custodian)) == ["wrong_key_usage"]
    ok = await trust_store.validate_certificate(custodian, usage=Usage.ENCIPHERMENT)
    assert ok.status is Status.VALID
    tsa = demo_pki.entity("platform-tsa").cert
    assert codes(await trust_store.validate_certificate(tsa)) == ["wrong_key_usage"]
    assert (await trust_store.validate_certificate(tsa, usage=Usage.TIMESTAMPING)).valid
    bidder = demo_pki.entity("bidder-1-rep").cert
    assert codes(await trust_store.validate_certificate(bidder, usage=Usage.TIMESTAMPING)) == [
        "wrong_key_usage"
    ]


async def test_garbage_der_is_a_verdict(trust_store: TrustStore) -> None:
    verdict = await trust_store.validate_certificate(b"\x30\x03\x02\x01\x00")
    assert verdict.status is Status.INVALID
    assert codes(verdict) == ["malformed_certificate"]


async def test_stale_crl_makes_the_verdict_indeterminate(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    # The demo CRLs' nextUpdate is a week after generation.
    later = demo_pki.now + timedelta(days=10)
    verdict = await trust_store.validate_certificate(demo_pki.entity("bidder-2-org").cert, at=later)
    assert verdict.status is Status.INDETERMINATE
    assert codes(verdict) == ["revocation_stale"]
    assert all(crl.is_stale(later) for crl in trust_store.crls)


async def test_missing_revocation_data_is_indeterminate_until_refreshed(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    store = TrustStore(trust_store.providers)
    cert = demo_pki.entity("bidder-3-rep").cert
    verdict = await store.validate_certificate(cert)
    assert verdict.status is Status.INDETERMINATE and codes(verdict) == ["revocation_unavailable"]
    results = await store.refresh_revocation(now=demo_pki.now)
    assert [r.ok for r in results] == [True, True]
    assert (await store.validate_certificate(cert)).valid


async def test_failed_refresh_keeps_the_cached_crl(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    before = {crl.url: crl.fetched_at for crl in trust_store.crls}

    async def unreachable(url: str) -> bytes:
        raise OSError(f"connection refused: {url}")

    results = await trust_store.refresh_revocation(
        unreachable, now=demo_pki.now + timedelta(hours=1)
    )
    assert [r.ok for r in results] == [False, False]
    assert "connection refused" in results[0].error
    assert {crl.url: crl.fetched_at for crl in trust_store.crls} == before
    assert (await trust_store.validate_certificate(demo_pki.entity("bidder-1-org").cert)).valid


async def test_refresh_refuses_a_crl_signed_by_another_ca(
    demo_pki: DemoPkiFiles, foreign_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    forged = foreign_pki.provider("demo-rsa").crl_der.read_bytes()
    genuine = demo_pki.provider("demo-ecc").crl_der.read_bytes()

    async def fetch(url: str) -> bytes:
        return forged if "demo-rsa" in url else genuine

    results = await trust_store.refresh_revocation(fetch, now=demo_pki.now)
    by_provider = {r.provider: r for r in results}
    assert not by_provider["demo-rsa"].ok and "not signed" in by_provider["demo-rsa"].error
    assert by_provider["demo-ecc"].ok
    with pytest.raises(TrustConfigError):
        trust_store.add_crl("demo-rsa", "x", b"not a crl", demo_pki.now)


async def test_json_round_trip_keeps_providers_and_crls(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    copy = TrustStore.from_json(trust_store.to_json())
    assert [p.name for p in copy.providers] == ["demo-rsa", "demo-ecc"]
    assert copy.providers == trust_store.providers
    assert [c.der for c in copy.crls] == [c.der for c in trust_store.crls]
    revoked = await copy.validate_certificate(demo_pki.entity("bidder-1-rep-old").cert)
    assert codes(revoked) == ["revoked"]
    with pytest.raises(TrustConfigError):
        TrustStore.from_json("{not json")


async def test_validation_context_is_usable_by_pyhanko(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    context = trust_store.validation_context()
    assert isinstance(context, ValidationContext)
    der = demo_pki.entity("bidder-3-rep").cert.public_bytes(serialization.Encoding.DER)
    validator = CertificateValidator(asn1_x509.Certificate.load(der), validation_context=context)
    path = await validator.async_validate_usage({"digital_signature"})  # type: ignore[no-untyped-call]
    assert path.pkix_len == 2  # intermediate and end entity below the anchor


def test_provider_without_root_is_refused(demo_pki: DemoPkiFiles) -> None:
    with pytest.raises(TrustConfigError) as info:
        TrustStore([CaProvider(name="empty", roots=())])
    assert info.value.message_zh


async def test_removing_a_provider_stops_trusting_it(
    demo_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    trust_store.remove_provider("demo-ecc")
    assert all(c.provider == "demo-rsa" for c in trust_store.crls)
    verdict = await trust_store.validate_certificate(demo_pki.entity("bidder-3-org").cert)
    assert codes(verdict) == ["untrusted"]


async def test_login_trust_check_hook(
    demo_pki: DemoPkiFiles, foreign_pki: DemoPkiFiles, trust_store: TrustStore
) -> None:
    from signing.login import X509CertificateVerifier
    from signing.trust import login_trust_check

    check = login_trust_check(trust_store)
    now = demo_pki.now
    assert await check(demo_pki.entity("bidder-1-rep").cert, now) == (None, "")
    assert (await check(demo_pki.entity("bidder-1-rep-old").cert, now))[0] == "revoked"
    assert (await check(foreign_pki.entity("bidder-1-rep").cert, now))[0] == "untrusted"
    bare = login_trust_check(TrustStore(trust_store.providers))
    assert (await bare(demo_pki.entity("bidder-1-rep").cert, now))[0] == "indeterminate"
    verifier = X509CertificateVerifier(check)
    der = demo_pki.entity("bidder-1-rep-old").cert.public_bytes(serialization.Encoding.DER)
    inspected = await verifier.inspect(der, now)
    assert inspected.problem == "revoked"
    assert inspected.credit_code == demo_pki.entity("bidder-1-rep-old").credit_code
