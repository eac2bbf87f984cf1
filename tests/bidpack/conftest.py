"""Fixtures for the bid package suite: a lot's schema, two PDFs, the bidder's key, one package."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyhanko.sign.signers.pdf_cms import Signer

from signing.bidpack import PackSummary, pack, pkcs12_signer
from tests.bidpack.receipts import Issuer, make_issuer
from tests.pdf.pdfs import write_pdf
from tests.pki_fixtures import DemoPkiFiles
from trading.tenders.opening_data import OpeningField, field_from_dict

TENDER_ID = "tender-0001"
LOT = 1
SCHEMA: list[dict[str, Any]] = [
    {
        "name": "price",
        "label_zh": "投标报价",
        "label_en": "Bid price",
        "type": "money",
        "unit": "元",
        "min": None,
        "max": "50000000",
        "required": True,
        "choices": [],
        "max_length": 500,
    },
    {
        "name": "duration_days",
        "label_zh": "工期",
        "label_en": "Duration",
        "type": "integer",
        "unit": "天",
        "min": "1",
        "max": "1000",
        "required": True,
        "choices": [],
        "max_length": 500,
    },
]
DATA = {"price": "1234567.89", "duration_days": 180}


@dataclass(frozen=True)
class Packed:
    path: Path
    summary: PackSummary
    pdfs: list[Path]


def schema_fields() -> list[OpeningField]:
    return [field_from_dict(f) for f in SCHEMA]


@pytest.fixture(scope="session")
def schema_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "schema.json"
    path.write_text(json.dumps(SCHEMA, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "data.json"
    path.write_text(json.dumps(DATA), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def bid_pdfs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("pdfs")
    return [
        write_pdf(directory / "technical.pdf", text="Technical proposal"),
        write_pdf(directory / "commercial.pdf", text="Commercial proposal"),
    ]


def signer_of(demo_pki: DemoPkiFiles, entity: str) -> Signer:
    files = demo_pki.entity(entity)
    return pkcs12_signer(files.p12.read_bytes(), demo_pki.password)


def build(
    demo_pki: DemoPkiFiles,
    pdfs: list[Path],
    out: Path,
    *,
    entity: str = "bidder-1-org",
    data: dict[str, Any] | None = None,
) -> Packed:
    summary = asyncio.run(
        pack(
            pdfs,
            out,
            tender_id=TENDER_ID,
            lot_number=LOT,
            opening_data=data or DATA,
            schema=schema_fields(),
            signer=signer_of(demo_pki, entity),
            now=datetime.now(UTC),
        )
    )
    return Packed(out, summary, pdfs)


@pytest.fixture(scope="session")
def good_package(
    demo_pki: DemoPkiFiles, bid_pdfs: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> Packed:
    """A valid package by 示例建设工程有限公司 (built once; tests copy or rewrite it)."""
    return build(demo_pki, bid_pdfs, tmp_path_factory.mktemp("pkg") / "bid.zip")


@pytest.fixture(scope="session")
def issuer() -> Issuer:
    """The test platform's receipt key and TSA."""
    return make_issuer()
