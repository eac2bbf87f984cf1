"""Fixtures for the PDF signing tests: a small test PKI, an in-process TSA, signed PDFs."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
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


def make_timestamper(pki: Pki) -> DummyTimeStamper:
    return DummyTimeStamper(
        tsa_cert=pki.tsa.asn1_cert,
        tsa_key=pki.tsa.asn1_key,
        certs_to_embed=store_of([pki.intermediate.asn1_cert, pki.root.asn1_cert]),
    )


@pytest.fixture
def timestamper(pki: Pki) -> DummyTimeStamper:
    return make_timestamper(pki)


@pytest.fixture
def blank_pdf(tmp_path: Path) -> Path:
    return write_pdf(tmp_path / "blank.pdf")


@pytest.fixture(scope="session")
def sealed_originals(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """The blank PDF sealed once per test certificate (sealing embeds a CJK font: ~0.5 s)."""
    directory = tmp_path_factory.mktemp("sealed")
    blank = write_pdf(directory / "blank.pdf")
    timestamper = make_timestamper(pki)

    async def seal_all() -> dict[int, Path]:
        done = {}
        for issued in (pki.signer, pki.stranger, pki.expired, pki.revoked, pki.wrong_usage):
            out = directory / f"sealed-{issued.cert.serial_number}.pdf"
            await seal_pdf(
                blank,
                out,
                signer=signer_for(pki, issued),
                timestamper=timestamper,
                reason="开标记录 Opening record",
                location="福州 Fuzhou",
            )
            done[issued.cert.serial_number] = out
        return done

    return asyncio.run(seal_all())


SealWith = Callable[[Issued], Path]


@pytest.fixture
def seal_with(sealed_originals: dict[int, Path], tmp_path: Path) -> SealWith:
    """A fresh copy of the blank PDF as sealed with a given certificate (the platform's way)."""

    def copy(issued: Issued) -> Path:
        out = tmp_path / f"sealed-{issued.cert.serial_number}.pdf"
        shutil.copyfile(sealed_originals[issued.cert.serial_number], out)
        return out

    return copy


@pytest.fixture
def sealed_pdf(seal_with: SealWith, pki: Pki) -> Path:
    return seal_with(pki.signer)
