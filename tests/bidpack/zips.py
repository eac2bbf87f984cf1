"""Rewriting a package ZIP to make bad ones: drop, add, replace entries, edit and re-sign."""

from __future__ import annotations

import asyncio
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyhanko.sign.signers.pdf_cms import Signer

from signing.bidpack import sign_manifest


def entries(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(package) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rewrite(
    package: Path,
    out: Path,
    *,
    drop: tuple[str, ...] = (),
    replace: dict[str, bytes] | None = None,
    add: dict[str, bytes] | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
    resign: Signer | None = None,
) -> Path:
    """A copy of ``package`` with entries dropped, replaced or added; ``edit`` changes the
    manifest (and ``resign`` signs the edited manifest anew)."""
    items = entries(package)
    if edit is not None:
        manifest = json.loads(items["manifest.json"])
        edit(manifest)
        items["manifest.json"] = json.dumps(manifest, ensure_ascii=False).encode()
    if resign is not None:
        items["manifest.json.p7s"] = asyncio.run(
            sign_manifest(items["manifest.json"], resign, signing_time=datetime.now(UTC))
        )
    items.update(replace or {})
    for name in drop:
        del items[name]
    items.update(add or {})
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in items.items():
            archive.writestr(zipfile.ZipInfo(name), data)
    return out
