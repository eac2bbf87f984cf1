"""validate_pdf: one verdict per PDF, one report per signature, a coded problem for each fault."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator import ValidationContext

from signing.pdf_verify import PdfVerdict, validate_pdf, validate_pdf_sync
from signing.seal import cosign_pdf, seal_pdf
from signing.verdicts import Status
from tests.pdf.conftest import SealWith, make_context, signer_for
from tests.pdf.pdfs import encrypt_pdf, replace_page_content
from tests.pdf.pki import CREDIT_CODE, Pki


async def test_sealed_pdf_is_valid_with_details(
    sealed_pdf: Path, context: ValidationContext, pki: Pki
) -> None:
    verdict = await validate_pdf(sealed_pdf, validation_context=context)

    assert verdict.status is Status.VALID, verdict.all_problems
    (sig,) = verdict.signatures
    assert sig.field_name == "PlatformSeal"
    assert "Zhang San" in (sig.signer_subject or "")
    assert sig.credit_code == CREDIT_CODE
    assert sig.intact and sig.signature_valid and sig.trusted and not sig.revoked
    assert sig.coverage == "entire_file" and sig.modification_level == "none"
    assert sig.timestamp_time is not None and sig.timestamp_trusted
    assert sig.signing_time is not None
    assert abs((sig.timestamp_time - pki.now).total_seconds()) < 3600


async def test_verdict_round_trips_through_json(
    sealed_pdf: Path, context: ValidationContext
) -> None:
    verdict = await validate_pdf(sealed_pdf, validation_context=context)
    text = verdict.to_json()
    assert '"status": "valid"' in text
    assert PdfVerdict.from_json(text) == verdict


async def test_stream_input_gives_the_same_verdict(
    sealed_pdf: Path, context: ValidationContext
) -> None:
    with sealed_pdf.open("rb") as stream:
        verdict = await validate_pdf(stream, validation_context=context)
    assert verdict.status is Status.VALID


async def test_cosigned_pdf_keeps_both_signatures_valid(
    sealed_pdf: Path,
    context: ValidationContext,
    pki: Pki,
    timestamper: DummyTimeStamper,
    tmp_path: Path,
) -> None:
    cosigned = tmp_path / "cosigned.pdf"
    await cosign_pdf(
        sealed_pdf,
        cosigned,
        signer=signer_for(pki, pki.cosigner),
        timestamper=timestamper,
        reason="见证 Witness",
        location="福州",
    )
    twice = tmp_path / "twice.pdf"
    await cosign_pdf(
        cosigned,
        twice,
        signer=signer_for(pki, pki.signer),
        timestamper=None,
        reason="r",
        location="l",
    )

    verdict = await validate_pdf(twice, validation_context=context)

    assert verdict.status is Status.VALID, verdict.all_problems
    assert [s.field_name for s in verdict.signatures] == ["PlatformSeal", "CoSign1", "CoSign2"]
    first, second, third = verdict.signatures
    assert first.coverage == "entire_revision" and first.modification_level == "form_filling"
    assert "Li Si" in (second.signer_subject or "")
    assert third.coverage == "entire_file" and third.timestamp_time is None


async def test_not_a_pdf(tmp_path: Path, context: ValidationContext) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(b"PK\x03\x04 this is a zip file, not a PDF")
    verdict = await validate_pdf(path, validation_context=context)
    assert verdict.status is Status.INVALID and verdict.codes == {"not_pdf"}
    assert verdict.problems[0].message_zh == "文件不是 PDF 文档。"


async def test_empty_file_is_not_a_pdf(tmp_path: Path, context: ValidationContext) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    assert (await validate_pdf(path, validation_context=context)).codes == {"not_pdf"}


async def test_missing_file_is_a_verdict(tmp_path: Path, context: ValidationContext) -> None:
    verdict = await validate_pdf(tmp_path / "nope.pdf", validation_context=context)
    assert verdict.codes == {"unreadable"}


def _edit(path: Path, change: Callable[[bytes], bytes]) -> None:
    path.write_bytes(change(path.read_bytes()))


async def test_truncated(sealed_pdf: Path, context: ValidationContext) -> None:
    _edit(sealed_pdf, lambda data: data[: len(data) // 2])
    verdict = await validate_pdf(sealed_pdf, validation_context=context)
    assert verdict.status is Status.INVALID and verdict.codes == {"truncated"}


async def test_garbage_after_header_is_unreadable(
    tmp_path: Path, context: ValidationContext
) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 100 + b"\n%%EOF\n")
    verdict = await validate_pdf(path, validation_context=context)
    assert verdict.status is Status.INVALID and verdict.codes == {"unreadable"}


async def test_encrypted(blank_pdf: Path, context: ValidationContext, tmp_path: Path) -> None:
    path = encrypt_pdf(blank_pdf, tmp_path / "encrypted.pdf")
    verdict = await validate_pdf(path, validation_context=context)
    assert verdict.status is Status.INDETERMINATE and verdict.codes == {"encrypted"}


async def test_unsigned(blank_pdf: Path, context: ValidationContext) -> None:
    verdict = await validate_pdf(blank_pdf, validation_context=context)
    assert verdict.status is Status.INVALID and verdict.codes == {"no_signature"}


async def test_broken_byte_range(sealed_pdf: Path, context: ValidationContext) -> None:
    def shorten_first_range(data: bytes) -> bytes:
        match = re.search(rb"/ByteRange \[0 (\d+) (\d+) (\d+)\]", data)
        assert match
        len1, start2, len2 = (int(g) for g in match.groups())
        # Same width, so no offset moves: the first range stops one byte short.
        new = f"/ByteRange [0 {len1 - 1} {start2} {len2}]".encode()
        assert len(new) == len(match.group(0))
        return data.replace(match.group(0), new)

    _edit(sealed_pdf, shorten_first_range)

    verdict = await validate_pdf(sealed_pdf, validation_context=context)
    assert verdict.status is Status.INVALID
    assert "byte_range_broken" in verdict.codes


async def test_content_changed_inside_signed_range(
    sealed_pdf: Path, context: ValidationContext
) -> None:
    _edit(sealed_pdf, lambda d: d.replace(b"Tenderhall test document", b"Tenderhall TEST document"))
    verdict = await validate_pdf(sealed_pdf, validation_context=context)
    assert verdict.status is Status.INVALID and verdict.codes == {"digest_mismatch"}


async def test_modified_after_signing(
    sealed_pdf: Path, context: ValidationContext, tmp_path: Path
) -> None:
    tampered = replace_page_content(
        sealed_pdf, tmp_path / "tampered.pdf", b"BT /F1 18 Tf 72 700 Td (Price: 1 yuan) Tj ET"
    )

    verdict = await validate_pdf(tampered, validation_context=context)

    assert verdict.status is Status.INVALID
    (sig,) = verdict.signatures
    assert sig.intact and sig.coverage == "entire_revision" and sig.modification_level == "other"
    assert verdict.codes == {"modified_after_signing"}


async def test_untrusted_signer(seal_with: SealWith, pki: Pki) -> None:
    path = seal_with(pki.stranger)
    verdict = await validate_pdf(path, validation_context=make_context(pki))
    assert verdict.status is Status.INVALID and verdict.codes == {"untrusted"}
    assert not verdict.signatures[0].trusted


async def test_expired_signer(seal_with: SealWith, pki: Pki) -> None:
    path = seal_with(pki.expired)
    verdict = await validate_pdf(path, validation_context=make_context(pki))
    assert verdict.status is Status.INVALID and verdict.codes == {"expired"}


async def test_revoked_signer(seal_with: SealWith, pki: Pki) -> None:
    path = seal_with(pki.revoked)
    verdict = await validate_pdf(path, validation_context=make_context(pki))
    assert verdict.status is Status.INVALID and verdict.codes == {"revoked"}
    assert verdict.signatures[0].revoked


async def test_wrong_key_usage(seal_with: SealWith, pki: Pki) -> None:
    path = seal_with(pki.wrong_usage)
    verdict = await validate_pdf(path, validation_context=make_context(pki))
    assert verdict.status is Status.INVALID and verdict.codes == {"wrong_key_usage"}


async def test_revocation_unknown_when_required_and_missing(sealed_pdf: Path, pki: Pki) -> None:
    context = make_context(pki, crls=False, mode="require")
    verdict = await validate_pdf(sealed_pdf, validation_context=context)
    assert verdict.status is Status.INDETERMINATE
    assert "revocation_unknown" in verdict.codes


@pytest.mark.parametrize("code", ["not_pdf", "revoked", "modified_after_signing"])
def test_messages_exist_in_both_languages(code: str) -> None:
    from signing.pdf_verify import problem

    found = problem(code, "2026-01-01")
    assert found.message_en and found.message_zh and found.message_en != found.message_zh


async def test_owner_password_only_pdf_is_opened(
    blank_pdf: Path, context: ValidationContext, tmp_path: Path
) -> None:
    path = encrypt_pdf(blank_pdf, tmp_path / "owner-only.pdf", user_password="")
    verdict = await validate_pdf(path, validation_context=context)
    assert verdict.codes == {"no_signature"}


async def test_validation_after_the_certificate_expired(sealed_pdf: Path, pki: Pki) -> None:
    later = pki.now + timedelta(days=400)  # past every test certificate's end, TSA's included
    context = ValidationContext(
        trust_roots=[pki.root.asn1_cert], crls=[pki.crl_der], allow_fetching=False, moment=later
    )
    verdict = await validate_pdf(sealed_pdf, validation_context=context)
    assert verdict.status is Status.INVALID and "expired" in verdict.codes
    assert verdict.checked_at == later


async def test_document_timestamp_is_validated(
    sealed_pdf: Path, context: ValidationContext, timestamper: DummyTimeStamper, tmp_path: Path
) -> None:
    stamped = tmp_path / "stamped.pdf"
    with sealed_pdf.open("rb") as inf, stamped.open("wb") as out:
        await PdfTimeStamper(timestamper).async_timestamp_pdf(
            IncrementalPdfFileWriter(inf), "sha256", output=out
        )
    verdict = await validate_pdf(stamped, validation_context=context)
    assert verdict.status is Status.VALID, verdict.all_problems
    seal, stamp = verdict.signatures
    assert seal.modification_level == "lta_updates"
    assert stamp.kind == "document_timestamp" and stamp.timestamp_time is not None


async def test_seal_with_validation_data_embedded(
    blank_pdf: Path, pki: Pki, timestamper: DummyTimeStamper, tmp_path: Path
) -> None:
    sealed = tmp_path / "lt.pdf"
    await seal_pdf(
        blank_pdf,
        sealed,
        signer=signer_for(pki, pki.signer),
        timestamper=timestamper,
        reason="r",
        location="l",
        validation_context=make_context(pki),
    )
    assert b"/DSS" in sealed.read_bytes()
    verdict = await validate_pdf(sealed, validation_context=make_context(pki))
    assert verdict.status is Status.VALID, verdict.all_problems


def test_random_corruption_never_raises_and_is_never_valid(
    sealed_pdf: Path, context: ValidationContext
) -> None:
    original = sealed_pdf.read_bytes()
    contents = re.search(rb"/Contents <([0-9a-fA-F]+)>", original)
    assert contents
    rng = random.Random(4)  # fixed seed: the same 20 corruptions on every run
    for _ in range(20):
        data = bytearray(original)
        at = rng.randrange(len(data))
        data[at] ^= 1 << rng.randrange(8)
        sealed_pdf.write_bytes(bytes(data))
        verdict = validate_pdf_sync(sealed_pdf, validation_context=context)
        # The zero padding after the DER signature inside /Contents is not signed by design.
        in_signature_blob = contents.start(1) <= at < contents.end(1)
        if not in_signature_blob:
            assert verdict.status is not Status.VALID, (at, verdict)
        assert verdict.to_json()


async def test_cut_inside_the_last_update_is_truncated(
    sealed_pdf: Path, context: ValidationContext, tmp_path: Path
) -> None:
    tampered = replace_page_content(sealed_pdf, tmp_path / "two-revisions.pdf", b"BT ET")
    data = tampered.read_bytes()
    assert data.count(b"%%EOF") >= 2
    cut = len(data) - 40  # inside the last update: the earlier %%EOF is still in the tail
    tampered.write_bytes(data[:cut])
    verdict = await validate_pdf(tampered, validation_context=context)
    assert verdict.status is Status.INVALID and verdict.codes == {"truncated"}
