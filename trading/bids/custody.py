"""Lot opening keys under threshold custody (开标密钥门限托管): use cases.

The agency uploads the opening certificate, the custody manifest and each custodian's sealed share
(all written by ``tenderhall custody create``); the private key exists nowhere. After the opening
time each custodian hands over its decrypted share; with k of them the platform rebuilds the key
for that lot only and keeps it encrypted at rest. Every step is an audit event with ``tender_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from trading.bids.errors import (
    LotNotFoundError,
    NotACustodianError,
    OpeningKeyExistsError,
    ReleaseNotYetError,
    ShareAlreadyReleasedError,
    ShareRejectedError,
)
from trading.bids.model import Custodian, OpeningKey
from trading.bids.services import BidsUnitOfWork
from trading.errors import NotFoundError
from trading.identity.model import Principal, Role
from trading.ports import AuditRecord
from trading.tenders.errors import NotYourTenderError, TenderNotFoundError
from trading.tenders.model import Tender, TenderStatus

# --- ports ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustodianFacts:
    index: int
    subject: str
    certificate_sha256: str
    certificate: str
    share: bytes


@dataclass(frozen=True)
class CustodyFacts:
    """What the signing layer verified about an uploaded custody set."""

    fingerprint: str
    lot: str
    custodians: tuple[CustodianFacts, ...]


@dataclass(frozen=True)
class ShareFacts:
    index: int
    lot: str
    public_key_sha256: str


class CustodyCrypto(Protocol):
    def check_setup(
        self,
        certificate: str,
        threshold: int,
        shares: Sequence[tuple[str, bytes]],
        manifest: dict[str, object],
    ) -> CustodyFacts:
        """Check certificate, manifest and sealed shares agree; raise
        :class:`~trading.bids.errors.CustodySetupInvalidError` if not."""
        ...

    def read_share(self, released: bytes) -> ShareFacts:
        """Parse a released share; raise :class:`~trading.bids.errors.ShareRejectedError`."""
        ...

    def combine(self, released: Sequence[bytes], *, lot: str, fingerprint: str) -> bytes:
        """Rebuild the opening private key (PKCS#8 DER) from k released shares."""
        ...


class AtRestCipher(Protocol):
    """Authenticated encryption with a key derived from the platform secret."""

    def encrypt(self, data: bytes, context: str) -> bytes: ...
    def decrypt(self, blob: bytes, context: str) -> bytes: ...


# --- helpers ----------------------------------------------------------------------------------


class OpeningKeyNotFoundError(NotFoundError):
    code = "opening_key_not_found"

    def __init__(self, lot_number: int) -> None:
        super().__init__(
            f"Lot {lot_number} has no opening key.",
            f"标段（包）{lot_number} 未设置开标密钥。",
            lot=lot_number,
        )


def _record(
    action: str,
    tender: Tender,
    actor: Principal,
    ip: str,
    lot_number: int,
    after: dict[str, object],
) -> AuditRecord:
    return AuditRecord(
        action=action,
        object_type="opening_key",
        object_id=f"{tender.id}/{lot_number}",
        actor_id=actor.person_id,
        organisation_id=actor.org_id,
        role=str(actor.role),
        ip=ip,
        after={"lot_number": lot_number, **after},
        tender_id=tender.id,
    )


async def _tender(uow: BidsUnitOfWork, tender_id: str, *, for_update: bool = False) -> Tender:
    tender = await uow.tenders.get(tender_id, for_update=for_update)
    if tender is None:
        raise TenderNotFoundError(tender_id)
    return tender


async def _key(
    uow: BidsUnitOfWork, tender: Tender, lot_number: int, actor: Principal | None = None
) -> OpeningKey:
    # A draft is its agency's alone: to everyone else it does not exist.
    if tender.status == TenderStatus.DRAFT and (actor is None or actor.org_id != tender.org_id):
        raise TenderNotFoundError(tender.id)
    key = await uow.bids.get_opening_key(tender.id, lot_number)
    if key is None:
        raise OpeningKeyNotFoundError(lot_number)
    return key


async def _custodian(uow: BidsUnitOfWork, key: OpeningKey, actor: Principal) -> Custodian:
    bound = {b.fingerprint for b in await uow.identity.list_certificates(actor.person_id)}
    custodian = key.custodian_by_certificate(bound)
    if custodian is None:
        raise NotACustodianError()
    return custodian


def share_context(key: OpeningKey, index: int) -> str:
    return f"custody-share:{key.tender_id}:{key.lot_number}:{index}"


def key_context(key: OpeningKey) -> str:
    return f"opening-key:{key.tender_id}:{key.lot_number}"


# --- use cases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetOpeningKey:
    tender_id: str
    lot_number: int
    certificate: str
    threshold: int
    shares: tuple[tuple[str, bytes], ...]
    """(custodian certificate PEM, sealed share envelope) pairs."""
    manifest: dict[str, object]


async def set_opening_key(
    uow: BidsUnitOfWork,
    crypto: CustodyCrypto,
    cmd: SetOpeningKey,
    *,
    actor: Principal,
    ip: str,
    now: datetime,
) -> OpeningKey:
    """The tender's agency stores a lot's opening key, once, before the deadline."""
    async with uow:
        tender = await _tender(uow, cmd.tender_id, for_update=True)
        if actor.role != Role.AGENCY_OFFICER or actor.org_id != tender.org_id:
            raise NotYourTenderError()
        lot = next((lot for lot in tender.draft.lots if lot.number == cmd.lot_number), None)
        if lot is None:
            raise LotNotFoundError(cmd.lot_number)
        if tender.status == TenderStatus.CANCELLED or now >= tender.deadline:
            raise OpeningKeyExistsError(lot.number, "closed")
        if await uow.bids.get_opening_key(tender.id, lot.number) is not None:
            raise OpeningKeyExistsError(lot.number)
        facts = crypto.check_setup(cmd.certificate, cmd.threshold, cmd.shares, cmd.manifest)
        key = OpeningKey(
            tender_id=tender.id,
            lot_id=lot.id,
            lot_number=lot.number,
            certificate=cmd.certificate,
            fingerprint=facts.fingerprint,
            threshold=cmd.threshold,
            manifest=cmd.manifest,
            custodians=[
                Custodian(c.index, c.subject, c.certificate_sha256, c.certificate, c.share)
                for c in facts.custodians
            ],
            created_at=now,
            created_by=actor.person_id,
            custody_lot=facts.lot,
        )
        await uow.bids.add_opening_key(key)
        await uow.audit.append(
            _record(
                "opening_key.set",
                tender,
                actor,
                ip,
                lot.number,
                {
                    "fingerprint": key.fingerprint,
                    "threshold": key.threshold,
                    "custodians": [c.subject for c in key.custodians],
                },
            ),
            at=now,
        )
        await uow.commit()
    return key


async def get_opening_key(
    uow: BidsUnitOfWork, tender_id: str, lot_number: int, *, actor: Principal
) -> OpeningKey:
    async with uow:
        tender = await _tender(uow, tender_id)
        return await _key(uow, tender, lot_number, actor)


async def fetch_my_share(
    uow: BidsUnitOfWork,
    tender_id: str,
    lot_number: int,
    *,
    actor: Principal,
    ip: str,
    now: datetime,
) -> bytes:
    """A custodian fetches its own sealed share (useless to anyone else)."""
    async with uow:
        tender = await _tender(uow, tender_id)
        key = await _key(uow, tender, lot_number)
        custodian = await _custodian(uow, key, actor)
        await uow.audit.append(
            _record(
                "opening_key.share_fetched",
                tender,
                actor,
                ip,
                lot_number,
                {"index": custodian.index, "custodian": custodian.subject},
            ),
            at=now,
        )
        await uow.commit()
    return custodian.share


@dataclass(frozen=True)
class ReleaseOutcome:
    released: int
    threshold: int
    reconstructed: bool


async def release_share(
    uow: BidsUnitOfWork,
    crypto: CustodyCrypto,
    cipher: AtRestCipher,
    tender_id: str,
    lot_number: int,
    released: bytes,
    *,
    actor: Principal,
    ip: str,
    now: datetime,
) -> ReleaseOutcome:
    """A custodian hands over its decrypted share after the opening time; the k-th rebuilds the
    lot's opening key, which is kept encrypted at rest for that lot only."""
    async with uow:
        tender = await _tender(uow, tender_id, for_update=True)
        key = await _key(uow, tender, lot_number)
        custodian = await _custodian(uow, key, actor)
        if now < tender.opening_at:
            raise ReleaseNotYetError(tender.opening_at.isoformat())
        if custodian.released_share is not None:
            raise ShareAlreadyReleasedError()
        facts = crypto.read_share(released)
        if facts.index != custodian.index:
            raise ShareRejectedError("it is another custodian's share", "该分片属于其他托管人")
        if facts.public_key_sha256 != key.fingerprint or facts.lot != key.custody_lot:
            raise ShareRejectedError("it belongs to another opening key", "该分片属于其他开标密钥")
        custodian.released_share = cipher.encrypt(released, share_context(key, custodian.index))
        custodian.released_at = now
        custodian.released_by = actor.person_id
        await uow.audit.append(
            _record(
                "opening_key.share_released",
                tender,
                actor,
                ip,
                lot_number,
                {"index": custodian.index, "custodian": custodian.subject},
            ),
            at=now,
        )
        reconstructed = key.sealed_private_key is not None
        if not reconstructed and key.released >= key.threshold:
            shares = [
                cipher.decrypt(c.released_share, share_context(key, c.index))
                for c in key.custodians
                if c.released_share is not None
            ]
            private = crypto.combine(shares, lot=key.custody_lot, fingerprint=key.fingerprint)
            key.sealed_private_key = cipher.encrypt(private, key_context(key))
            key.reconstructed_at = now
            reconstructed = True
            await uow.audit.append(
                _record(
                    "opening_key.reconstructed",
                    tender,
                    actor,
                    ip,
                    lot_number,
                    {"fingerprint": key.fingerprint, "shares": key.released},
                ),
                at=now,
            )
        await uow.bids.save_opening_key(key)
        await uow.commit()
    return ReleaseOutcome(key.released, key.threshold, reconstructed)
