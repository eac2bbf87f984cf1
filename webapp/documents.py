"""The tender documents' signature check: ``signing.pdf_verify`` against the trusted CA providers.

A document is accepted only if every signature in it is valid and one of them carries the credit
code of the organisation that uploads it (the agency signs its own notice and documents).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from signing.pdf_verify import PdfVerdict, validate_pdf
from signing.verdicts import Problem, Status
from trading.ports import ObjectStore

if TYPE_CHECKING:
    from webapp.services import Services

NOT_SIGNED_BY_ORGANISATION = Problem(
    "not_signed_by_organisation",
    "No signature in the PDF carries the uploading organisation's credit code.",
    "PDF 中没有上传单位（按统一社会信用代码）的签名。",
)


@dataclass(frozen=True)
class DocumentCheck:
    """The verdict the tender use cases see (status and problems) plus the full PDF verdict."""

    status: str
    problems: Sequence[Problem]
    verdict: PdfVerdict


class PdfDocumentValidator:
    """:class:`trading.tenders.services.DocumentValidator` over pyhanko."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def validate(
        self, objects: ObjectStore, key: str, *, org_id: str, now: datetime
    ) -> DocumentCheck:
        async with self._services.uow() as uow:
            org = await uow.identity.get_organisation(org_id)
        store = await self._services.trust_store()
        context = store.validation_context(at=now)
        with tempfile.TemporaryDirectory(prefix="tenderhall-pdf-") as tmp:
            # pyhanko reads with seeks; the object is spooled to disk, never held in memory.
            path = Path(tmp) / "document.pdf"
            async with await anyio.open_file(path, "wb") as out:
                async for chunk in objects.get(key):
                    await out.write(chunk)
            verdict = await validate_pdf(path, validation_context=context, at=now)
        if verdict.status is not Status.VALID:
            return DocumentCheck(str(verdict.status), verdict.all_problems, verdict)
        codes = {s.credit_code for s in verdict.signatures if s.credit_code}
        if org is None or org.credit_code not in codes:
            return DocumentCheck(str(Status.INVALID), [NOT_SIGNED_BY_ORGANISATION], verdict)
        return DocumentCheck(str(Status.VALID), [], verdict)
