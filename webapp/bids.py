"""The real adapters of the bids module's ports: envelope header check, receipt signer, custody
cryptography, encryption at rest, and the tenders module's amendment hook."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signing.at_rest import SecretBox
from signing.cms import sign_detached
from signing.custody import CustodyManifest, CustodyShare, combine_shares, public_key_sha256
from signing.envelope import read_recipient_infos
from signing.envelope_errors import CustodyError, EnvelopeError, TruncatedEnvelopeError
from signing.envelope_recipients import names_recipient
from signing.platform_cert import chain_pems
from storage.uow import SqlUnitOfWork
from trading.bids.custody import CustodianFacts, CustodyFacts, ShareFacts
from trading.bids.errors import (
    CustodySetupInvalidError,
    ReceiptSigningUnavailableError,
    ShareRejectedError,
)
from trading.bids.services import EnvelopeCheck, flag_bids_for_reconfirmation
from trading.errors import DomainError
from trading.ports import ObjectStore
from trading.tenders.model import Clarification, Tender
from trading.tenders.services import TendersUnitOfWork
from webapp.services import Services

HEADER_BYTES = 64 * 1024
"""How much of a stored envelope is read to check its recipients: the header is a few KB."""


class EnvelopeHeaderInspector:
    """Reads only the first bytes of a stored envelope and compares its recipient identifiers."""

    async def inspect(
        self, objects: ObjectStore, key: str, opening_certificate: str, bidder_certs: list[bytes]
    ) -> EnvelopeCheck:
        head = bytearray()
        async for chunk in objects.get(key, start=0, end=HEADER_BYTES):
            head += chunk
        try:
            infos = read_recipient_infos(io.BytesIO(bytes(head)))
        except TruncatedEnvelopeError:
            return EnvelopeCheck("envelope_header_too_large_or_truncated", "信封头部残缺或过大")
        except EnvelopeError as exc:
            return EnvelopeCheck(
                f"not a well-formed CMS AuthEnvelopedData ({exc.code})",
                f"不是格式正确的 CMS AuthEnvelopedData（{exc.code}）",
            )
        opening = x509.load_pem_x509_certificate(opening_certificate.encode())
        if not names_recipient(infos, opening):
            return EnvelopeCheck(
                "no recipient for the lot's opening key", "未以该标段（包）开标公钥为接收者"
            )
        for der in bidder_certs:
            try:
                cert = x509.load_der_x509_certificate(der)
            except ValueError:
                continue
            if names_recipient(infos, cert):
                return EnvelopeCheck(None)
        return EnvelopeCheck(
            "no recipient certificate bound to your organisation",
            "未以贵单位已绑定的证书为接收者",
        )


class PlatformReceiptSigner:
    """Signs receipts with the platform certificate and timestamps envelope digests."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def sign(self, data: bytes) -> bytes:
        bundle = self._services.platform_signer()
        return await sign_detached(
            io.BytesIO(data),
            bundle.key,
            bundle.cert,
            bundle.chain,
            signing_time=self._services.clock.now(),
        )

    async def timestamp(self, digest: bytes) -> bytes:
        try:
            return await self._services.timestamp(digest)
        except DomainError:
            raise
        # Any failure of an external TSA (network, HTTP, bad response) means "unavailable".
        except Exception as exc:
            raise ReceiptSigningUnavailableError(str(exc)[:200]) from exc

    def platform_chain(self) -> list[str]:
        return chain_pems(self._services.platform_signer())

    def tsa_chain(self, token: bytes) -> list[str]:
        if not self._services.settings.tsa_url:
            return chain_pems(self._services.tsa().bundle)
        # An external TSA: the certificates it put in the token (its root is the verifier's
        # business, configured as a CA provider).
        signed = asn1_cms.ContentInfo.load(token)["content"]
        return [
            x509.load_der_x509_certificate(c.chosen.dump())
            .public_bytes(serialization.Encoding.PEM)
            .decode()
            for c in signed["certificates"] or []
        ]


def _setup_error(en: str, zh: str) -> CustodySetupInvalidError:
    return CustodySetupInvalidError(en, zh)


class CustodyCryptography:
    """Checks custody sets and combines released shares (``signing.custody``)."""

    def check_setup(
        self,
        certificate: str,
        threshold: int,
        shares: Sequence[tuple[str, bytes]],
        manifest: dict[str, object],
    ) -> CustodyFacts:
        try:
            opening = x509.load_pem_x509_certificate(certificate.encode())
        except ValueError:
            raise _setup_error("the certificate is not PEM", "开标证书不是 PEM 格式") from None
        public = opening.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise _setup_error("the opening key is not an EC key", "开标密钥不是椭圆曲线密钥")
        fingerprint = public_key_sha256(public)
        try:
            parsed = CustodyManifest.from_json(json.dumps(manifest).encode())
        except CustodyError:
            raise _setup_error(
                "the manifest is not a custody manifest", "托管清单格式错误"
            ) from None
        if parsed.public_key_sha256 != fingerprint:
            raise _setup_error(
                "the manifest is for another opening key", "托管清单对应的开标公钥不符"
            )
        if parsed.threshold != threshold or not 2 <= threshold <= len(shares):
            raise _setup_error(
                "the threshold disagrees with the manifest or the number of shares",
                "门限值与托管清单或分片数量不符",
            )
        if len(shares) != len(parsed.custodians):
            raise _setup_error(
                "the shares do not match the manifest's custodians", "分片与托管清单中的托管人不符"
            )
        entries = {entry.certificate_sha256: entry for entry in parsed.custodians}
        found: dict[str, CustodianFacts] = {}
        for pem, sealed in shares:
            try:
                cert = x509.load_pem_x509_certificate(pem.encode())
            except ValueError:
                raise _setup_error(
                    "a custodian certificate is not PEM", "托管人证书不是 PEM 格式"
                ) from None
            cert_sha = cert.fingerprint(hashes.SHA256()).hex()
            entry = entries.get(cert_sha)
            if entry is None or cert_sha in found:
                raise _setup_error(
                    "a custodian certificate is not in the manifest (or listed twice)",
                    "托管人证书不在托管清单中（或重复）",
                )
            try:
                addressed = names_recipient(read_recipient_infos(io.BytesIO(sealed)), cert)
            except EnvelopeError:
                addressed = False
            if not addressed:
                raise _setup_error(
                    f"share {entry.index} is not sealed to its custodian",
                    f"分片 {entry.index} 未加密给其托管人",
                )
            found[cert_sha] = CustodianFacts(
                index=entry.index,
                subject=cert.subject.rfc4514_string(),
                certificate_sha256=cert_sha,
                certificate=cert.public_bytes(serialization.Encoding.PEM).decode(),
                share=sealed,
            )
        custodians = tuple(sorted(found.values(), key=lambda c: c.index))
        return CustodyFacts(fingerprint=fingerprint, lot=parsed.lot, custodians=custodians)

    def read_share(self, released: bytes) -> ShareFacts:
        try:
            share = CustodyShare.from_json(released)
        except CustodyError:
            raise ShareRejectedError(
                "not a released custody share", "不是已解密的密钥分片文件"
            ) from None
        return ShareFacts(share.index, share.lot, share.public_key_sha256)

    def combine(self, released: Sequence[bytes], *, lot: str, fingerprint: str) -> bytes:
        shares = [CustodyShare.from_json(data) for data in released]
        key = combine_shares(shares, lot=lot, public_key_fingerprint=fingerprint)
        return key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def secret_box(services: Services) -> SecretBox:
    return SecretBox(services.secret, b"tenderhall/opening-keys/1")


async def reconfirmation_hook(
    uow: TendersUnitOfWork, tender: Tender, clarification: Clarification
) -> None:
    """The tenders module's ``AmendmentHook``: flag bids made before this amendment."""
    assert isinstance(uow, SqlUnitOfWork)  # the only unit of work the web layer builds
    await flag_bids_for_reconfirmation(uow, tender)
