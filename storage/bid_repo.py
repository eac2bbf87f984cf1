"""The bid repository on the unit of work's connection."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.bid_tables import bid_receipts, bid_uploads, bids, lot_key_custodians, lot_opening_keys
from storage.identity_tables import person_certificates
from trading.bids.model import (
    Bid,
    BidStatus,
    BidUpload,
    Custodian,
    Evidence,
    OpeningKey,
    Receipt,
    ReceiptKind,
    UploadStatus,
)


def _evidence(value: Any) -> Evidence:
    data = value or {}
    return Evidence(
        ip=str(data.get("ip", "")),
        user_agent=str(data.get("user_agent", "")),
        client=str(data.get("client", "")),
        machine=str(data.get("machine", "")),
    )


def _upload(row: Any) -> BidUpload:
    return BidUpload(
        id=row.id,
        tender_id=row.tender_id,
        lot_id=row.lot_id,
        lot_number=row.lot_number,
        org_id=row.org_id,
        person_id=row.person_id,
        object_key=row.object_key,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
        evidence=_evidence(row.evidence),
        status=UploadStatus(row.status),
        bid_id=row.bid_id,
    )


def _bid(row: Any) -> Bid:
    return Bid(
        id=row.id,
        tender_id=row.tender_id,
        lot_id=row.lot_id,
        lot_number=row.lot_number,
        org_id=row.org_id,
        submitted_by=row.submitted_by,
        upload_id=row.upload_id,
        object_key=row.object_key,
        envelope_sha256=row.envelope_sha256,
        envelope_size=row.envelope_size,
        received_at=row.received_at,
        amendment_no=row.amendment_no,
        evidence=_evidence(row.evidence),
        status=BidStatus(row.status),
        replaces=row.replaces,
        replaced_by=row.replaced_by,
        withdrawn_at=row.withdrawn_at,
        needs_reconfirmation=bool(row.needs_reconfirmation),
    )


def _bid_values(bid: Bid) -> dict[str, Any]:
    return {
        "tender_id": bid.tender_id,
        "lot_id": bid.lot_id,
        "lot_number": bid.lot_number,
        "org_id": bid.org_id,
        "submitted_by": bid.submitted_by,
        "upload_id": bid.upload_id,
        "object_key": bid.object_key,
        "envelope_sha256": bid.envelope_sha256,
        "envelope_size": bid.envelope_size,
        "received_at": bid.received_at,
        "amendment_no": bid.amendment_no,
        "status": str(bid.status),
        "replaces": bid.replaces,
        "replaced_by": bid.replaced_by,
        "withdrawn_at": bid.withdrawn_at,
        "needs_reconfirmation": bid.needs_reconfirmation,
        "evidence": bid.evidence.as_dict(),
    }


def _receipt(row: Any) -> Receipt:
    return Receipt(
        id=row.id,
        kind=ReceiptKind(row.kind),
        org_id=row.org_id,
        tender_id=row.tender_id,
        lot_number=row.lot_number,
        bid_id=row.bid_id,
        issued_at=row.issued_at,
        audit_seq=row.audit_seq,
        document=dict(row.document),
    )


class SqlBidRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    # --- uploads ---------------------------------------------------------------------------

    async def add_upload(self, upload: BidUpload) -> None:
        await self._conn.execute(
            sa.insert(bid_uploads).values(
                id=upload.id,
                tender_id=upload.tender_id,
                lot_id=upload.lot_id,
                lot_number=upload.lot_number,
                org_id=upload.org_id,
                person_id=upload.person_id,
                object_key=upload.object_key,
                size=upload.size,
                sha256=upload.sha256,
                created_at=upload.created_at,
                status=str(upload.status),
                bid_id=upload.bid_id,
                evidence=upload.evidence.as_dict(),
            )
        )

    async def get_upload(self, upload_id: str) -> BidUpload | None:
        row = (
            await self._conn.execute(sa.select(bid_uploads).where(bid_uploads.c.id == upload_id))
        ).first()
        return _upload(row) if row else None

    async def save_upload(self, upload: BidUpload) -> None:
        await self._conn.execute(
            sa.update(bid_uploads)
            .where(bid_uploads.c.id == upload.id)
            .values(status=str(upload.status), bid_id=upload.bid_id)
        )

    # --- bids ------------------------------------------------------------------------------

    async def add_bid(self, bid: Bid) -> None:
        await self._conn.execute(sa.insert(bids).values(id=bid.id, **_bid_values(bid)))

    async def get_bid(self, bid_id: str) -> Bid | None:
        row = (await self._conn.execute(sa.select(bids).where(bids.c.id == bid_id))).first()
        return _bid(row) if row else None

    async def live_bid(self, tender_id: str, lot_id: str, org_id: str) -> Bid | None:
        row = (
            await self._conn.execute(
                sa.select(bids).where(
                    bids.c.tender_id == tender_id,
                    bids.c.lot_id == lot_id,
                    bids.c.org_id == org_id,
                    bids.c.status == str(BidStatus.SUBMITTED),
                )
            )
        ).first()
        return _bid(row) if row else None

    async def save_bid(self, bid: Bid) -> None:
        await self._conn.execute(
            sa.update(bids).where(bids.c.id == bid.id).values(_bid_values(bid))
        )

    async def flag_reconfirmation(self, tender_id: str, amendment_no: int) -> int:
        result = await self._conn.execute(
            sa.update(bids)
            .where(
                bids.c.tender_id == tender_id,
                bids.c.status == str(BidStatus.SUBMITTED),
                bids.c.amendment_no < amendment_no,
            )
            .values(needs_reconfirmation=True)
        )
        return int(result.rowcount)

    async def org_certificates(self, org_id: str) -> list[bytes]:
        found = await self._conn.scalars(
            sa.select(person_certificates.c.der).where(person_certificates.c.org_id == org_id)
        )
        return [bytes(der) for der in found.all()]

    # --- receipts --------------------------------------------------------------------------

    async def add_receipt(self, receipt: Receipt) -> None:
        await self._conn.execute(
            sa.insert(bid_receipts).values(
                id=receipt.id,
                kind=str(receipt.kind),
                org_id=receipt.org_id,
                tender_id=receipt.tender_id,
                lot_number=receipt.lot_number,
                bid_id=receipt.bid_id,
                issued_at=receipt.issued_at,
                audit_seq=receipt.audit_seq,
                document=receipt.document,
            )
        )

    async def get_receipt(self, receipt_id: str) -> Receipt | None:
        row = (
            await self._conn.execute(sa.select(bid_receipts).where(bid_receipts.c.id == receipt_id))
        ).first()
        return _receipt(row) if row else None

    async def list_receipts(self, org_id: str) -> list[Receipt]:
        rows = (
            await self._conn.execute(
                sa.select(bid_receipts)
                .where(bid_receipts.c.org_id == org_id)
                .order_by(bid_receipts.c.issued_at, bid_receipts.c.audit_seq)
            )
        ).all()
        return [_receipt(r) for r in rows]

    # --- opening keys ----------------------------------------------------------------------

    async def add_opening_key(self, key: OpeningKey) -> None:
        await self._conn.execute(
            sa.insert(lot_opening_keys).values(
                tender_id=key.tender_id,
                lot_number=key.lot_number,
                lot_id=key.lot_id,
                certificate=key.certificate,
                fingerprint=key.fingerprint,
                threshold=key.threshold,
                custody_lot=key.custody_lot,
                manifest=key.manifest,
                created_at=key.created_at,
                created_by=key.created_by,
                sealed_private_key=key.sealed_private_key,
                reconstructed_at=key.reconstructed_at,
            )
        )
        await self._conn.execute(
            sa.insert(lot_key_custodians),
            [
                {
                    "tender_id": key.tender_id,
                    "lot_number": key.lot_number,
                    "custodian_index": c.index,
                    "subject": c.subject,
                    "certificate_sha256": c.certificate_sha256,
                    "certificate": c.certificate,
                    "share": c.share,
                    "released_share": c.released_share,
                    "released_at": c.released_at,
                    "released_by": c.released_by,
                }
                for c in key.custodians
            ],
        )

    async def get_opening_key(self, tender_id: str, lot_number: int) -> OpeningKey | None:
        row = (
            await self._conn.execute(
                sa.select(lot_opening_keys).where(
                    lot_opening_keys.c.tender_id == tender_id,
                    lot_opening_keys.c.lot_number == lot_number,
                )
            )
        ).first()
        if row is None:
            return None
        rows = (
            await self._conn.execute(
                sa.select(lot_key_custodians)
                .where(
                    lot_key_custodians.c.tender_id == tender_id,
                    lot_key_custodians.c.lot_number == lot_number,
                )
                .order_by(lot_key_custodians.c.custodian_index)
            )
        ).all()
        return OpeningKey(
            tender_id=row.tender_id,
            lot_id=row.lot_id,
            lot_number=row.lot_number,
            certificate=row.certificate,
            fingerprint=row.fingerprint,
            threshold=row.threshold,
            manifest=dict(row.manifest),
            custodians=[
                Custodian(
                    index=c.custodian_index,
                    subject=c.subject,
                    certificate_sha256=c.certificate_sha256,
                    certificate=c.certificate,
                    share=bytes(c.share),
                    released_share=bytes(c.released_share) if c.released_share else None,
                    released_at=c.released_at,
                    released_by=c.released_by,
                )
                for c in rows
            ],
            created_at=row.created_at,
            created_by=row.created_by,
            sealed_private_key=bytes(row.sealed_private_key) if row.sealed_private_key else None,
            reconstructed_at=row.reconstructed_at,
            custody_lot=row.custody_lot,
        )

    async def save_opening_key(self, key: OpeningKey) -> None:
        await self._conn.execute(
            sa.update(lot_opening_keys)
            .where(
                lot_opening_keys.c.tender_id == key.tender_id,
                lot_opening_keys.c.lot_number == key.lot_number,
            )
            .values(
                sealed_private_key=key.sealed_private_key, reconstructed_at=key.reconstructed_at
            )
        )
        for c in key.custodians:
            await self._conn.execute(
                sa.update(lot_key_custodians)
                .where(
                    lot_key_custodians.c.tender_id == key.tender_id,
                    lot_key_custodians.c.lot_number == key.lot_number,
                    lot_key_custodians.c.custodian_index == c.index,
                )
                .values(
                    released_share=c.released_share,
                    released_at=c.released_at,
                    released_by=c.released_by,
                )
            )
