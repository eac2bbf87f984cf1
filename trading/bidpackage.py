"""Rules of the bid package (投标文件包): its manifest, its entry names, its size limits.

A bid package is a ZIP holding ``manifest.json``, ``manifest.json.p7s`` (a detached CMS signature
over the manifest by the bidder's certificate) and the bid's PDFs, each PAdES-signed. The
manifest names the tender, the lot, the bidder (credit code), every file with its SHA-256 and
size, and the opening data (唱标内容) normalised by :mod:`trading.tenders.opening_data`: money in
integer fen, integers as int, decimals and text as strings.

This module is pure: it judges names, numbers and JSON. Reading the ZIP and checking signatures
is :mod:`signing.bidpack`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from trading.credit_code import is_valid_credit_code
from trading.tenders.opening_data import FieldType, OpeningField, validate_opening_data

FORMAT = "tenderhall-bid-package/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.json.p7s"

MAX_ENTRIES = 1000
"""More entries than this is not a bid but an attack on the checker."""
MAX_TOTAL_SIZE = 8 << 30
"""Default limit of the package's total uncompressed size (8 GiB)."""
MAX_RATIO = 100
"""Largest compression ratio accepted for an entry bigger than :data:`RATIO_FLOOR`: PDFs are
stored, and even deflated text rarely passes 20:1, while a zip bomb reaches 1000:1."""
RATIO_FLOOR = 1 << 20
MAX_MANIFEST_SIZE = 1 << 20
MAX_SIGNATURE_SIZE = 1 << 20

_FILE_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,200}\.pdf$", re.IGNORECASE)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class LimitSettings:
    """The zip-bomb limits :func:`signing.bidpack.check` applies."""

    max_entries: int = MAX_ENTRIES
    max_total_size: int = MAX_TOTAL_SIZE
    max_ratio: int = MAX_RATIO
    ratio_floor: int = RATIO_FLOOR


def entry_name_problem(name: str) -> str | None:
    """The problem code of an unsafe ZIP entry name (absolute, climbing out), or None."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or re.match(r"^[A-Za-z]:", normalised):
        return "zip_absolute_path"
    if ".." in normalised.split("/"):
        return "zip_path_traversal"
    return None


def is_document_name(name: str) -> bool:
    """A bid document's name in the package: a flat ``*.pdf`` name."""
    return bool(_FILE_NAME.match(name)) and name not in {MANIFEST_NAME, SIGNATURE_NAME}


@dataclass(frozen=True)
class FileEntry:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class BidManifest:
    """A parsed, well-formed ``manifest.json``."""

    tender_id: str
    lot_number: int
    bidder_credit_code: str
    created_at: str
    files: tuple[FileEntry, ...]
    opening_data: dict[str, Any]
    """Normalised values: money in integer fen."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "tender_id": self.tender_id,
            "lot_number": self.lot_number,
            "bidder_credit_code": self.bidder_credit_code,
            "created_at": self.created_at,
            "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in self.files],
            "opening_data": self.opening_data,
        }


class ManifestFormatError(ValueError):
    """The manifest JSON is not a bid manifest; the message says why (English)."""


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise ManifestFormatError(reason)


def parse_manifest(data: Mapping[str, Any]) -> BidManifest:
    """Check the manifest's shape; raise :class:`ManifestFormatError` naming the first fault."""
    _require(isinstance(data, Mapping), "not a JSON object")
    _require(data.get("format") == FORMAT, f"format must be {FORMAT!r}")
    expected = {
        "format",
        "tender_id",
        "lot_number",
        "bidder_credit_code",
        "created_at",
        "files",
        "opening_data",
    }
    unknown = sorted(set(data) - expected)
    _require(not unknown, f"unknown keys {unknown}")
    tender_id = data.get("tender_id")
    _require(isinstance(tender_id, str) and bool(tender_id.strip()), "tender_id is missing")
    lot = data.get("lot_number")
    _require(type(lot) is int and lot >= 1, "lot_number must be a positive integer")
    code = data.get("bidder_credit_code")
    _require(isinstance(code, str) and is_valid_credit_code(code), "bad bidder_credit_code")
    created = data.get("created_at")
    _require(isinstance(created, str), "created_at is missing")
    files_raw = data.get("files")
    _require(isinstance(files_raw, list) and bool(files_raw), "files must be a non-empty list")
    files: list[FileEntry] = []
    seen: set[str] = set()
    for item in files_raw:  # type: ignore[union-attr]  # checked just above
        _require(isinstance(item, Mapping) and set(item) == {"name", "sha256", "size"}, "bad file")
        name, digest, size = item["name"], item["sha256"], item["size"]
        _require(isinstance(name, str) and is_document_name(name), f"bad file name {name!r}")
        _require(name not in seen, f"file {name!r} listed twice")
        _require(isinstance(digest, str) and bool(_HEX64.match(digest)), f"bad sha256 of {name}")
        _require(type(size) is int and size >= 0, f"bad size of {name}")
        seen.add(name)
        files.append(FileEntry(name, digest, size))
    opening = data.get("opening_data")
    _require(isinstance(opening, Mapping), "opening_data must be an object")
    return BidManifest(
        tender_id=tender_id,  # type: ignore[arg-type]  # checked by _require
        lot_number=lot,  # type: ignore[arg-type]
        bidder_credit_code=code,  # type: ignore[arg-type]
        created_at=created,  # type: ignore[arg-type]
        files=tuple(files),
        opening_data=dict(opening),  # type: ignore[arg-type]
    )


def _as_entered(fields: Sequence[OpeningField], values: Mapping[str, Any]) -> dict[str, Any]:
    """Normalised values back in the form a person enters them (money: yuan) for re-checking."""
    money = {f.name for f in fields if f.type == FieldType.MONEY}
    entered: dict[str, Any] = {}
    for name, value in values.items():
        if name in money and type(value) is int:
            entered[name] = str(Decimal(value).scaleb(-2))
        else:
            entered[name] = value
    return entered


def opening_data_problems(
    fields: Sequence[OpeningField], values: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Problems of a manifest's (normalised) opening data against the tender's schema.

    The values are re-validated with :func:`validate_opening_data` as if entered, and must equal
    the normalised result: a money value must be integer fen, never a string or a float.
    Each problem is ``(English, Chinese)`` text naming the field and the validator's code.
    """
    verdict = validate_opening_data(fields, _as_entered(fields, values))
    found = [
        (
            f"{p.field}: {p.message_en} ({p.code})",
            f"{p.field}：{p.message_zh}（{p.code}）",
        )
        for p in verdict.problems
    ]
    if not found:
        for name, value in verdict.values.items():
            if values.get(name) != value or type(values.get(name)) is not type(value):
                found.append(
                    (
                        f"{name}: not in normalised form (money in integer fen) (not_normalised)",
                        f"{name}：不是规范形式（金额须为整数分）（not_normalised）",
                    )
                )
    return found
