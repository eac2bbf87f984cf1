"""Hand-made test PDFs, written as a stream so that even a 100 MB one never sits in memory."""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def write_pdf(path: Path, *, text: str = "Tenderhall test document", image_bytes: int = 0) -> Path:
    """A one-page A4 PDF 1.7 with a line of text and, optionally, a grey image of ``image_bytes``.

    The image (a scanned page, say) is what makes a large file: its samples are random bytes
    written in 1 MiB chunks.
    """
    width = 1024
    height = max(1, -(-image_bytes // width)) if image_bytes else 0
    sample_len = width * height
    draw = f"BT /F1 18 Tf 72 760 Td ({text}) Tj ET\n"
    if image_bytes:
        draw += "q 451 0 0 600 72 100 cm /Im1 Do Q\n"
    objects: list[bytes | tuple[bytes, int]] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >>"
            + (b" /XObject << /Im1 6 0 R >>" if image_bytes else b"")
            + b" >> >>"
        ),
        f"<< /Length {len(draw)} >>\nstream\n{draw}endstream".encode("ascii"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if image_bytes:
        header = (
            f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height}"
            f" /ColorSpace /DeviceGray /BitsPerComponent 8 /Length {sample_len} >>\nstream\n"
        ).encode("ascii")
        objects.append((header, sample_len))
    offsets = []
    with path.open("wb") as out:
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        for number, obj in enumerate(objects, start=1):
            offsets.append(out.tell())
            out.write(f"{number} 0 obj\n".encode("ascii"))
            if isinstance(obj, tuple):
                head, length = obj
                out.write(head)
                left = length
                while left:
                    n = min(CHUNK, left)
                    out.write(os.urandom(n))
                    left -= n
                out.write(b"\nendstream")
            else:
                out.write(obj)
            out.write(b"\nendobj\n")
        xref_at = out.tell()
        out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii"))
        for offset in offsets:
            out.write(f"{offset:010d} 00000 n \n".encode("ascii"))
        out.write(
            f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
            f"startxref\n{xref_at}\n%%EOF\n".encode("ascii")
        )
    return path


def encrypt_pdf(source: Path, target: Path, user_password: str = "user-secret") -> Path:
    """A copy of ``source`` encrypted with AES-256 under a user password (pyHanko's writer)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    with source.open("rb") as inf:
        writer: Any = copy_into_new_writer(PdfFileReader(inf))  # pyHanko's writer is untyped
    writer.encrypt("owner-secret", user_password)
    with target.open("wb") as out:
        writer.write(out)
    return target


def replace_page_content(source: Path, target: Path, content: bytes) -> Path:
    """Append an incremental update that swaps page 1's content stream (tampering)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    with source.open("rb") as inf:
        writer: Any = IncrementalPdfFileWriter(inf)
        page_ref, _ = writer.find_page_for_modification(0)
        page = page_ref.get_object()
        page[generic.NameObject("/Contents")] = writer.add_object(
            generic.StreamObject(stream_data=content)
        )
        writer.update_container(page)
        out = BytesIO()
        writer.write(out)
    target.write_bytes(out.getvalue())
    return target
