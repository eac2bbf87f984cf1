"""Fixtures for the PDF signing tests: a small test PKI, an in-process TSA, signed PDFs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
from pyhanko.sign import signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.seal import seal_pdf
from tests.pdf.pdfs import write_pdf
from tests.pdf.pki import Issued, Pki, make_test_pki


@pytest.fixture(scope="session")
def pki() -> Pki:
    return make_test_pki()


def store_of(certs: list[Any]) -> SimpleCertificateStore:
    store: SimpleCertificateStore = cast(Any, SimpleCertificateStore).from_certs(certs)  # untyped
    return store


def chain_store(pki: Pki) -> SimpleCertificateStore:
    return store_of([pki.intermediate.asn1_cert, pki.root.asn1_cert, pki.stranger_root.asn1_cert])


def signer_for(pki: Pki, issued: Issued) -> signers.SimpleSigner:
    return signers.SimpleSigner(
        signing_cert=issued.asn1_cert, signing_key=issued.asn1_key, cert_registry=chain_store(pki)
    )


def make_context(pki: Pki, *, crls: bool = True, mode: str = "soft-fail") -> ValidationContext:
    """Trust in the test root only; the CRL is given, nothing is fetched."""
    return ValidationContext(
        trust_roots=[pki.root.asn1_cert],
        other_certs=[pki.intermediate.asn1_cert],
        crls=[pki.crl_der] if crls else [],
        allow_fetching=False,
        revocation_mode=mode,
    )


@pytest.fixture
def context(pki: Pki) -> ValidationContext:
    return make_context(pki)


@pytest.fixture
def timestamper(pki: Pki) -> DummyTimeStamper:
    return DummyTimeStamper(
        tsa_cert=pki.tsa.asn1_cert,
        tsa_key=pki.tsa.asn1_key,
        certs_to_embed=store_of([pki.intermediate.asn1_cert, pki.root.asn1_cert]),
    )


@pytest.fixture
def blank_pdf(tmp_path: Path) -> Path:
    return write_pdf(tmp_path / "blank.pdf")


SealWith = Callable[[Issued], Awaitable[Path]]


@pytest.fixture
def seal_with(pki: Pki, blank_pdf: Path, timestamper: DummyTimeStamper, tmp_path: Path) -> SealWith:
    """Seal the blank PDF with a given certificate (as the platform would)."""

    async def seal(issued: Issued) -> Path:
        out = tmp_path / f"sealed-{issued.cert.serial_number}.pdf"
        await seal_pdf(
            blank_pdf,
            out,
            signer=signer_for(pki, issued),
            timestamper=timestamper,
            reason="开标记录 Opening record",
            location="福州 Fuzhou",
        )
        return out

    return seal


@pytest.fixture
async def sealed_pdf(seal_with: SealWith, pki: Pki) -> Path:
    return await seal_with(pki.signer)
