"""The platform seal (电子见证章) and co-signatures on PDFs, with pyHanko.

``seal_pdf`` signs a platform-generated PDF as PAdES B-T (a CMS signature with the PAdES
subfilter and an RFC 3161 signature timestamp) with a visible seal: a red round seal drawn as PDF
vector graphics and a text block in Chinese and English, set in an embedded CJK font.
``cosign_pdf`` adds a further approval signature in an incremental update, so the people who must
sign a record (opening record, evaluation report) sign the same file and the earlier signatures
stay valid.

The key, the TSA and the trust used for embedding validation data are parameters (a pyHanko
``Signer``, ``TimeStamper`` and ``ValidationContext``): this module does not care where the key
lives or which TSA answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import IO, Any, cast

from pyhanko.pdf_utils import content, layout, text
from pyhanko.pdf_utils.font.api import FontEngine, FontEngineFactory
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext

from trading.errors import DomainError

DEFAULT_CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
"""WenQuanYi Zen Hei (Debian ``fonts-wqy-zenhei``), a free font covering simplified Chinese."""

SEAL_FIELD_NAME = "PlatformSeal"

SEAL_RED = (0.85, 0.08, 0.08)

# Beijing time for the human-readable line on the seal; the signed times themselves are UTC.
_BEIJING = timezone(timedelta(hours=8), "UTC+8")

_SEAL_TEXT = (
    "电子见证章 Platform seal\n"
    "签章方 Signed by: %(signer)s\n"
    "事由 Reason: %(reason)s\n"
    "地点 Location: %(location)s\n"
    "时间 Time: %(time)s"
)
_COSIGN_TEXT = (
    "签署 Signed by: %(signer)s\n"
    "事由 Reason: %(reason)s\n"
    "地点 Location: %(location)s\n"
    "时间 Time: %(time)s"
)

Source = Path | str | IO[bytes]


class SealError(DomainError):
    """Sealing or co-signing failed: the input is not a usable PDF, the font or key is missing."""

    code = "seal_failed"

    def __init__(self, reason_en: str, reason_zh: str) -> None:
        super().__init__(
            f"The PDF could not be signed: {reason_en}",
            f"PDF 签章失败：{reason_zh}",
            reason=reason_en,
        )


@dataclass(frozen=True)
class SealPlacement:
    """Where a visible signature goes: page index (negative counts from the end) and box."""

    page: int = -1
    box: tuple[int, int, int, int] = (330, 36, 570, 136)
    """``(x1, y1, x2, y2)`` in PDF points; the default sits in the bottom right of an A4 page."""


# --- the seal picture -------------------------------------------------------------------------


def _circle(cx: float, cy: float, r: float) -> bytes:
    """A circle path from four Bézier arcs (the usual 0.5523 control-point approximation)."""
    k = 0.5523 * r
    ops = [
        f"{cx + r:.3f} {cy:.3f} m",
        f"{cx + r:.3f} {cy + k:.3f} {cx + k:.3f} {cy + r:.3f} {cx:.3f} {cy + r:.3f} c",
        f"{cx - k:.3f} {cy + r:.3f} {cx - r:.3f} {cy + k:.3f} {cx - r:.3f} {cy:.3f} c",
        f"{cx - r:.3f} {cy - k:.3f} {cx - k:.3f} {cy - r:.3f} {cx:.3f} {cy - r:.3f} c",
        f"{cx + k:.3f} {cy - r:.3f} {cx + r:.3f} {cy - k:.3f} {cx + r:.3f} {cy:.3f} c",
        "h",
    ]
    return "\n".join(ops).encode("ascii")


def _star(cx: float, cy: float, outer: float, inner: float) -> bytes:
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else inner
        angle = math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    ops = [f"{points[0][0]:.3f} {points[0][1]:.3f} m"]
    ops += [f"{x:.3f} {y:.3f} l" for x, y in points[1:]]
    ops.append("h")
    return "\n".join(ops).encode("ascii")


@lru_cache(maxsize=1)
def _seal_drawing() -> bytes:
    """The round red seal as a PDF content stream on a 100 x 100 box (computed once)."""
    r, g, b = SEAL_RED
    colour = f"{r} {g} {b}".encode("ascii")
    return b"\n".join(
        [
            b"q",
            colour + b" RG " + colour + b" rg",
            b"3.5 w",
            _circle(50, 50, 47) + b" S",
            b"1 w",
            _circle(50, 50, 41) + b" S",
            _star(50, 50, 22, 8.5) + b" f",
            b"Q",
        ]
    )


def seal_image() -> content.PdfContent:
    """A fresh drawing of the round red seal (each stamp needs its own content object)."""
    return content.RawContent(_seal_drawing(), box=layout.BoxConstraints(width=100, height=100))


# --- the CJK font -----------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _font_bytes(path: Path) -> bytes:
    """The font program as a single TrueType/OpenType file (the first face of a collection).

    pyHanko's glyph accumulator reads single fonts only, and Debian ships WenQuanYi as a ``.ttc``
    collection, so the first face is extracted with fontTools once per process.
    """
    # fontTools (needed by pyHanko's font embedding anyway) ships no type information.
    from fontTools.ttLib import TTCollection  # type: ignore[import-untyped]

    data = path.read_bytes()
    if data[:4] != b"ttcf":
        return data
    collection = TTCollection(BytesIO(data), lazy=True)
    font = collection.fonts[0]
    # Bitmap strikes are of no use in a PDF and the subsetter cannot handle them (it warns).
    for tag in ("BDF ", "EBDT", "EBLC", "EBSC", "FFTM"):
        if tag in font:
            del font[tag]
    out = BytesIO()
    font.save(out)
    return out.getvalue()


class CjkFontFactory(FontEngineFactory):
    """Embeds (a subset of) a CJK TrueType font, from a ``.ttf``/``.otf`` or a ``.ttc`` file."""

    def __init__(self, path: Path = DEFAULT_CJK_FONT, size: int = 7) -> None:
        self.path = path
        self.size = size

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream: Any = None) -> FontEngine:
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = cast(Any, writer).prepare_object_stream()  # untyped in pyHanko
        return GlyphAccumulator(
            writer=writer,
            font_handle=BytesIO(_font_bytes(self.path)),
            font_size=self.size,
            obj_stream=obj_stream,
        )


def _style(
    image: content.PdfContent | None, template: str, font: Path, font_size: int
) -> TextStampStyle:
    return TextStampStyle(
        stamp_text=template,
        text_box_style=text.TextBoxStyle(
            font=CjkFontFactory(font, font_size),
            font_size=font_size,
            leading=font_size + 2,
        ),
        border_width=0,
        background=image,
        background_opacity=0.9,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins(left=2, right=2, top=2, bottom=2),
        ),
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MAX,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins(left=4, right=4, top=4, bottom=4),
        ),
    )


# --- signing ----------------------------------------------------------------------------------


@contextmanager
def _opened(source: Source, mode: str) -> Iterator[IO[bytes]]:
    if isinstance(source, str | Path):
        with Path(source).open(mode) as handle:
            yield handle
    else:
        yield source


def _signature_count(writer: IncrementalPdfFileWriter) -> int:
    return sum(1 for _ in fields.enumerate_sig_fields(writer.prev, filled_status=True))


async def _sign(
    source: Source,
    target: Source,
    *,
    signer: signers.Signer,
    timestamper: TimeStamper | None,
    field_name: str,
    reason: str,
    location: str,
    style: TextStampStyle,
    placement: SealPlacement,
    validation_context: ValidationContext | None,
    now: datetime | None,
) -> None:
    try:
        with _opened(source, "rb") as inf, _opened(target, "wb") as outf:
            writer = IncrementalPdfFileWriter(inf, strict=False)
            if writer.prev.encrypted:
                raise SealError("the PDF is encrypted", "PDF 已加密")
            meta = signers.PdfSignatureMetadata(
                field_name=field_name,
                reason=reason,
                location=location,
                md_algorithm="sha256",
                subfilter=fields.SigSeedSubFilter.PADES,
                # Long-term validation data (certificates, CRLs, OCSP) is embedded when the
                # caller gives trust to collect it with; PAdES B-LT/LTA is not asked for here.
                embed_validation_info=validation_context is not None,
                validation_context=validation_context,
                use_pades_lta=False,
            )
            spec = fields.SigFieldSpec(
                sig_field_name=field_name, on_page=placement.page, box=placement.box
            )
            pdf_signer = signers.PdfSigner(
                meta, signer, timestamper=timestamper, stamp_style=style, new_field_spec=spec
            )
            shown = (now or datetime.now(UTC)).astimezone(_BEIJING)
            await pdf_signer.async_sign_pdf(
                writer,
                output=outf,
                appearance_text_params={
                    "reason": reason,
                    "location": location,
                    "time": shown.strftime("%Y-%m-%d %H:%M:%S UTC+8"),
                },
            )
    except SealError:
        raise
    except (PdfError, SigningError, OSError, ValueError, KeyError) as exc:
        raise _explain(exc) from exc


def _explain(exc: Exception) -> SealError:
    """A sealing failure in words a person can act on."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, TimestampRequestError):
        return SealError(
            f"the timestamp authority did not answer ({detail})",
            f"时间戳服务无响应（{detail}）",
        )
    if isinstance(exc, PdfError):
        return SealError(
            f"the input is not a readable PDF ({detail})", f"输入文件不是可读取的 PDF（{detail}）"
        )
    if isinstance(exc, OSError):
        return SealError(
            f"a file could not be read or written ({detail})", f"文件读写失败（{detail}）"
        )
    return SealError(detail, detail)


async def seal_pdf(
    source: Source,
    target: Source,
    *,
    signer: signers.Signer,
    timestamper: TimeStamper,
    reason: str,
    location: str,
    image: content.PdfContent | None = None,
    field_name: str = SEAL_FIELD_NAME,
    placement: SealPlacement | None = None,
    validation_context: ValidationContext | None = None,
    font: Path = DEFAULT_CJK_FONT,
    now: datetime | None = None,
) -> None:
    """Apply the platform seal (PAdES B-T, visible) to ``source``, writing ``target``.

    ``source`` and ``target`` are paths or binary streams; the input is read as a stream and
    copied, never held in memory as a whole. ``image`` replaces the drawn red seal.
    ``validation_context`` (e.g. the trust store's) enables embedding validation data.
    Raises :class:`SealError` with a readable reason when signing is impossible.
    """
    await _sign(
        source,
        target,
        signer=signer,
        timestamper=timestamper,
        field_name=field_name,
        reason=reason,
        location=location,
        style=_style(image if image is not None else seal_image(), _SEAL_TEXT, font, 7),
        placement=placement or SealPlacement(),
        validation_context=validation_context,
        now=now,
    )


async def cosign_pdf(
    source: Source,
    target: Source,
    *,
    signer: signers.Signer,
    timestamper: TimeStamper | None,
    reason: str,
    location: str,
    image: content.PdfContent | None = None,
    field_name: str | None = None,
    placement: SealPlacement | None = None,
    validation_context: ValidationContext | None = None,
    font: Path = DEFAULT_CJK_FONT,
    now: datetime | None = None,
) -> None:
    """Add a further visible signature to an already signed PDF, as an incremental update.

    The earlier signatures keep covering their revisions, and pyHanko's difference analysis
    classes the update as form filling, so they stay valid. Without ``field_name`` the field is
    ``CoSign<n>``; without ``placement`` each co-signature takes the next box to the left of,
    then above, the earlier ones.
    """
    with _opened(source, "rb") as probe:
        try:
            existing = _signature_count(IncrementalPdfFileWriter(probe, strict=False))
        except (PdfError, OSError, ValueError) as exc:
            raise _explain(exc) from exc
        if not isinstance(source, str | Path):
            probe.seek(0)
    if placement is None:
        slot = existing - 1 if existing else 0  # slot 0 is normally the platform seal's
        column, row = (slot + 1) % 2, (slot + 1) // 2
        placement = SealPlacement(
            box=(330 - 250 * column, 36 + 104 * row, 570 - 250 * column, 136 + 104 * row)
        )
    await _sign(
        source,
        target,
        signer=signer,
        timestamper=timestamper,
        field_name=field_name or f"CoSign{existing}",
        reason=reason,
        location=location,
        style=_style(image, _COSIGN_TEXT, font, 7),
        placement=placement,
        validation_context=validation_context,
        now=now,
    )
