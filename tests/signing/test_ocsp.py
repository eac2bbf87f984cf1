"""OCSP: a real responder on loopback, responses cached in the trust store and used offline."""

from __future__ import annotations

from signing.trust import TrustStore, Usage
from signing.verdicts import Status
from tests.pki_fixtures import DemoPkiFiles, Responder, with_responder


def ocsp_only_store(demo_pki: DemoPkiFiles, url: str) -> TrustStore:
    """The demo RSA provider with an OCSP responder and no CRLs at all."""
    from dataclasses import replace

    provider = next(p for p in demo_pki.trust_store().providers if p.name == "demo-rsa")
    return TrustStore([replace(provider, crl_urls=(), ocsp_urls=())])


async def test_ocsp_answers_are_cached_and_decide_revocation(
    demo_pki: DemoPkiFiles, responder: tuple[Responder, str]
) -> None:
    state, url = responder
    store = ocsp_only_store(demo_pki, url)
    good = with_responder(demo_pki, "bidder-1-rep", url)
    bad = with_responder(demo_pki, "bidder-2-rep", url)
    state.certs += [good, bad]
    state.revoked.add(bad.serial_number)

    before = await store.validate_certificate(good, at=demo_pki.now, usage=Usage.LOGIN)
    assert before.status is Status.INDETERMINATE, before.problems

    results = await store.refresh_ocsp([good, bad], now=demo_pki.now)
    assert [r.ok for r in results] == [True, True] and state.requests == 2
    cached = store.ocsp_for(good)
    assert cached is not None and cached.status == "good"

    valid = await store.validate_certificate(good, at=demo_pki.now, usage=Usage.LOGIN)
    assert valid.status is Status.VALID, valid.problems
    revoked = await store.validate_certificate(bad, at=demo_pki.now, usage=Usage.LOGIN)
    assert revoked.status is Status.INVALID
    assert [p.code for p in revoked.problems] == ["revoked"]

    # The responder going away keeps the cached answers usable (offline validation).
    failed = await store.refresh_ocsp([good], now=demo_pki.now, fetch=_unreachable)
    assert [r.ok for r in failed] == [False]
    again = await store.validate_certificate(good, at=demo_pki.now, usage=Usage.LOGIN)
    assert again.status is Status.VALID


async def _unreachable(url: str, request: bytes) -> bytes:
    raise OSError("connection refused")


async def test_a_response_about_another_certificate_is_refused(
    demo_pki: DemoPkiFiles, responder: tuple[Responder, str]
) -> None:
    state, url = responder
    store = ocsp_only_store(demo_pki, url)
    good = with_responder(demo_pki, "bidder-1-rep", url)
    other = demo_pki.entity("bidder-2-rep").cert

    async def swapped(url: str, request: bytes) -> bytes:
        from signing.ocsp import build_request

        issuer = store.issuer_of(other)
        assert issuer is not None
        return state.answer(build_request(other, issuer))

    results = await store.refresh_ocsp([good], fetch=swapped, now=demo_pki.now)
    assert [r.ok for r in results] == [False] and "another certificate" in results[0].error
    assert store.ocsp_for(good) is None
