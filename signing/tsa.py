"""RFC 3161 timestamps: the platform's own TSA, a client for an external one, and verification.

The platform's TSA answers DER ``TimeStampReq`` bodies with ``TimeStampResp`` bodies (the HTTP
route is the web layer's: POST, ``application/timestamp-query`` → ``application/timestamp-reply``).
It is built on pyhanko's in-process RFC 3161 signer (``DummyTimeStamper``, a complete TSA despite
its name), with the platform's policy OID and the request checks a public service needs. Its
tokens verify with ``openssl ts -verify``.

Both the platform TSA and :func:`http_timestamper` are pyhanko ``TimeStamper`` objects, so the
PDF seal can use whichever the settings choose.

Limitation: pyhanko's in-process signer is RSA-only, so the platform's TSA key must be RSA.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import cms as asn1_cms
from asn1crypto import core, tsp
from asn1crypto.core import VOID
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.sign import general
from pyhanko.sign.general import CMSStructuralError
from pyhanko.sign.timestamps import DummyTimeStamper, HTTPTimeStamper, TimeStamper
from pyhanko.sign.validation.generic_cms import (
    extract_certs_for_validation,
    validate_sig_integrity,
)
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from signing.keys import KeyBundle, from_asn1_cert, load_key_bundle, to_asn1_cert, to_asn1_key
from signing.self_issued import ensure_self_issued, root_provider
from signing.trust import (
    CaProvider,
    CertificateVerdict,
    TrustStore,
    Usage,
    problem,
    problem_dict,
)
from signing.verdicts import Problem, Status, worst
from trading.errors import ValidationError

DEFAULT_POLICY = "2.25.118366471598224063389421839101385542553"
"""The platform TSA's default policy OID (UUID-derived, X.667); configure a registered one."""
DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
"""Message-imprint algorithms the platform TSA accepts (SHA-1 and MD5 are refused)."""


class TsaConfigError(ValidationError):
    code = "tsa_config_invalid"

    def __init__(self, reason_en: str, reason_zh: str) -> None:
        super().__init__(
            f"The TSA cannot be set up: {reason_en}",
            f"时间戳服务无法配置：{reason_zh}",
            field="tsa",
        )


class TimestampRequestRejectedError(ValidationError):
    """A TSA (ours or an external one) refused or failed a request."""

    code = "timestamp_rejected"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"The time-stamping authority did not issue a timestamp: {reason}",
            f"时间戳服务未签发时间戳：{reason}",
            reason=reason,
        )


class _TimeStampResp(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """RFC 3161 ``TimeStampResp``: asn1crypto's own class wrongly requires the token, which a
    refusal does not carry."""

    _fields = [  # noqa: RUF012 - asn1crypto's declaration style
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", asn1_cms.ContentInfo, {"optional": True}),
    ]


def _rejection(fail_info: str, text: str) -> _TimeStampResp:
    return _TimeStampResp(
        {
            "status": tsp.PKIStatusInfo(
                {
                    "status": tsp.PKIStatus("rejection"),
                    "status_string": [text],
                    "fail_info": tsp.PKIFailureInfo({fail_info}),
                }
            )
        }
    )


class PlatformTimeStamper(DummyTimeStamper):
    """pyhanko's in-process RFC 3161 signer with the platform's policy, clock and checks."""

    def __init__(
        self,
        bundle: KeyBundle,
        *,
        policy: str = DEFAULT_POLICY,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not isinstance(bundle.key, rsa.RSAPrivateKey):
            raise TsaConfigError("the TSA key must be RSA", "时间戳服务密钥必须是 RSA 密钥")
        chain = SimpleCertificateStore()  # type: ignore[no-untyped-call]  # untyped __init__
        for cert in bundle.chain:
            chain.register(to_asn1_cert(cert))
        super().__init__(
            tsa_cert=to_asn1_cert(bundle.cert),
            tsa_key=to_asn1_key(bundle.key),
            certs_to_embed=chain,
        )
        self.policy = policy
        self._clock = clock or (lambda: datetime.now(UTC))
        self._key = bundle.key

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, asn1_cms.CMSAttributes]:
        """pyhanko's, signing with the key loaded once: pyhanko loads it from DER for every token,
        and OpenSSL checks an RSA key as it loads it (60 ms for a 3072-bit key here), which made
        each receipt's timestamp cost 0.13 s inside the submission's transaction."""
        hash_algorithm = get_pyca_cryptography_hash(md_algorithm)
        digest = hashes.Hash(hash_algorithm)
        digest.update(tst_info_data)
        signing_time = asn1_cms.Time({"utc_time": core.UTCTime(dt)})
        signed_attrs = asn1_cms.CMSAttributes(
            [
                asn1_cms.CMSAttribute({"type": name, "values": [value]})
                for name, value in (
                    ("content_type", "tst_info"),
                    ("signing_time", signing_time),
                    ("signing_certificate", general.as_signing_certificate(self.tsa_cert)),
                    ("message_digest", digest.finalize()),
                )
            ]
        )
        signature = self._key.sign(signed_attrs.dump(), PKCS1v15(), hash_algorithm)
        return signature, signed_attrs

    def _build_tst_info(
        self, message_imprint: tsp.MessageImprint, dt: datetime, req: tsp.TimeStampReq
    ) -> tsp.TSTInfo:
        info = super()._build_tst_info(message_imprint, dt, req)
        info["policy"] = tsp.ObjectIdentifier(self.policy)
        info["accuracy"] = tsp.Accuracy({"seconds": 1})
        return info

    def request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp | _TimeStampResp:
        try:
            imprint = req["message_imprint"]
            algorithm = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            policy = req["req_policy"].native
        except (ValueError, TypeError, KeyError):
            return _rejection("bad_data_format", "malformed request")
        if algorithm not in DIGEST_SIZES:
            return _rejection("bad_alg", f"unsupported hash algorithm {algorithm}")
        if not isinstance(digest, bytes) or len(digest) != DIGEST_SIZES[algorithm]:
            return _rejection("bad_data_format", "digest length does not match its algorithm")
        if policy is not None and policy != self.policy:
            return _rejection("unaccepted_policy", f"policy {policy} is not offered")
        dt = self._clock()
        tst_info = self._build_tst_info(imprint, dt, req)
        data = tst_info.dump()
        signature, signed_attrs = self._sign_tst_info(data, algorithm, dt)
        signed_data = self._build_signed_data(data, algorithm, signature, signed_attrs)
        token = asn1_cms.ContentInfo(
            {"content_type": "signed_data", "content": asn1_cms.SignedData(signed_data)}
        )
        granted = tsp.PKIStatusInfo({"status": tsp.PKIStatus("granted")})
        return tsp.TimeStampResp({"status": granted, "time_stamp_token": token})


class TimestampAuthority:
    """The platform's own TSA (the embedded default; production may use an external TSA)."""

    def __init__(
        self,
        bundle: KeyBundle,
        *,
        policy: str = DEFAULT_POLICY,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.bundle = bundle
        self.stamper = PlatformTimeStamper(bundle, policy=policy, clock=clock)

    @classmethod
    def from_file(
        cls,
        path: Path,
        password: str | None = None,
        *,
        cert_path: Path | None = None,
        policy: str = DEFAULT_POLICY,
    ) -> TimestampAuthority:
        """From a PKCS#12 file, or a PEM key (plus certificate file) in the data directory."""
        return cls(load_key_bundle(path, password, cert_path=cert_path), policy=policy)

    @property
    def timestamper(self) -> TimeStamper:
        """The pyhanko ``TimeStamper`` for this TSA (for PAdES signature timestamps)."""
        return self.stamper

    def respond(self, request: bytes) -> bytes:
        """Answer a DER ``TimeStampReq`` with a DER ``TimeStampResp`` (a rejection if malformed)."""
        try:
            parsed = tsp.TimeStampReq.load(request, strict=True)
            parsed.native  # noqa: B018 - forces asn1crypto's lazy parse to find errors now
        except (ValueError, TypeError):
            return bytes(_rejection("bad_data_format", "not a DER TimeStampReq").dump())
        return bytes(self.stamper.request_tsa_response(parsed).dump())

    async def timestamp(self, digest: bytes, algorithm: str = "sha256") -> bytes:
        """A timestamp token (DER ContentInfo) over ``digest``."""
        return await timestamp(digest, self.stamper, algorithm)


def http_timestamper(url: str, *, timeout: int = 10) -> TimeStamper:
    """A client for an external RFC 3161 TSA at ``url`` (pyhanko's ``HTTPTimeStamper``)."""
    return HTTPTimeStamper(url, timeout=timeout)


def build_request(digest: bytes, algorithm: str = "sha256", *, nonce: bool = True) -> bytes:
    """A DER ``TimeStampReq`` for ``digest`` asking for the TSA's certificate (certReq)."""
    if DIGEST_SIZES.get(algorithm) != len(digest):
        raise TsaConfigError(
            f"a {algorithm} digest of {len(digest)} bytes",
            f"{algorithm} 摘要长度 {len(digest)} 不对",
        )
    fields: dict[str, Any] = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
        "cert_req": True,
    }
    if nonce:
        fields["nonce"] = int.from_bytes(secrets.token_bytes(8), "big")
    return bytes(tsp.TimeStampReq(fields).dump())


async def request_external(url: str, request: bytes, *, timeout_s: int = 10) -> bytes:
    """POST a DER ``TimeStampReq`` to an external TSA; its DER ``TimeStampResp``."""
    stamper = HTTPTimeStamper(url, timeout=timeout_s)
    try:
        response = await stamper.async_request_tsa_response(tsp.TimeStampReq.load(request))
    except (OSError, ValueError) as exc:
        raise TimestampRequestRejectedError(str(exc)[:300]) from exc
    return bytes(response.dump())


async def timestamp(digest: bytes, stamper: TimeStamper, algorithm: str = "sha256") -> bytes:
    """Ask ``stamper`` for a token over ``digest``; the token as DER ContentInfo."""
    try:
        token = await stamper.async_timestamp(digest, algorithm)
    except (OSError, ValueError) as exc:
        # TimestampRequestError is an IOError, as are network failures; a refusal without a
        # token makes asn1crypto raise ValueError inside pyhanko.
        raise TimestampRequestRejectedError(str(exc)[:300]) from exc
    return bytes(token.dump())


@dataclass(frozen=True)
class TimestampVerdict:
    """The result of checking a timestamp token against a digest."""

    status: Status
    problems: tuple[Problem, ...]
    gen_time: datetime | None
    """The time the TSA asserts (TSTInfo genTime)."""
    serial: int | None
    policy: str | None
    hash_algorithm: str | None
    tsa: CertificateVerdict | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "problems": [problem_dict(p) for p in self.problems],
            "gen_time": self.gen_time.isoformat() if self.gen_time else None,
            "serial": self.serial,
            "policy": self.policy,
            "hash_algorithm": self.hash_algorithm,
            "tsa": self.tsa.to_dict() if self.tsa else None,
        }


def _malformed_token(detail: str) -> TimestampVerdict:
    return TimestampVerdict(
        Status.INVALID,
        (
            problem(
                "malformed_timestamp",
                f"The timestamp is not a usable RFC 3161 token or response: {detail}",
                "时间戳不是可用的 RFC 3161 时间戳令牌或响应。",
            ),
        ),
        None,
        None,
        None,
        None,
        None,
    )


def token_from_response(data: bytes) -> bytes:
    """The token inside a DER ``TimeStampResp`` (as ``.tsr`` files hold), or ``data`` if it is
    already a token. Raises :class:`TimestampRequestRejectedError` for a refusal."""
    try:
        response = _TimeStampResp.load(data, strict=True)
        status = response["status"]["status"].native
    except (ValueError, TypeError, KeyError):
        return data
    if status not in {"granted", "granted_with_mods"}:
        texts = response["status"]["status_string"].native or []
        raise TimestampRequestRejectedError(f"{status}: {'; '.join(texts)}")
    return bytes(response["time_stamp_token"].dump())


async def verify_token(
    token: bytes,
    digest: bytes,
    trust: TrustStore,
    *,
    algorithm: str = "sha256",
    at: datetime | None = None,
) -> TimestampVerdict:
    """Check that ``token`` (a token or a full response) timestamps ``digest``, is intact, and is
    signed by a TSA certificate trusted for time-stamping. The certificate is judged at the
    token's own time unless ``at`` is given."""
    try:
        token = token_from_response(token)
    except TimestampRequestRejectedError as exc:
        return _malformed_token(exc.message_en)
    try:
        content_info = asn1_cms.ContentInfo.load(token, strict=True)
        if content_info["content_type"].native != "signed_data":
            return _malformed_token("not SignedData")
        signed_data = content_info["content"]
        encap = signed_data["encap_content_info"]
        if encap["content_type"].native != "tst_info" or encap["content"] is VOID:
            return _malformed_token("does not encapsulate a TSTInfo")
        tst_info = encap["content"].parsed
        imprint = tst_info["message_imprint"]
        tst_algorithm = imprint["hash_algorithm"]["algorithm"].native
        gen_time: datetime = tst_info["gen_time"].native
        serial: int = tst_info["serial_number"].native
        policy: str = tst_info["policy"].native
        signer_info = signed_data["signer_infos"][0]
        certs = extract_certs_for_validation(signed_data)
        md_algorithm = signer_info["digest_algorithm"]["algorithm"].native
        content_digest = hashlib.new(md_algorithm, bytes(encap["content"])).digest()
    except (ValueError, TypeError, KeyError, IndexError, CMSStructuralError) as exc:
        return _malformed_token(str(exc)[:200])
    problems: list[tuple[Status, Problem]] = []
    try:
        intact, valid = validate_sig_integrity(
            signer_info,
            certs.signer_cert,
            expected_content_type="tst_info",
            actual_digest=content_digest,
        )
    except ValueError as exc:
        intact, valid = True, False
        problems.append(
            (
                Status.INVALID,
                problem(
                    "bad_signature",
                    f"The TSA's signature on the token does not verify: {exc}",
                    "时间戳令牌上的签名无法验证。",
                ),
            )
        )
    if not (intact and valid) and not problems:
        problems.append(
            (
                Status.INVALID,
                problem(
                    "bad_signature",
                    "The token was altered or its signature does not verify.",
                    "时间戳令牌被改动或其签名无法验证。",
                ),
            )
        )
    if tst_algorithm != algorithm or imprint["hashed_message"].native != digest:
        problems.append(
            (
                Status.INVALID,
                problem(
                    "imprint_mismatch",
                    "The timestamp is for different data (its message imprint does not match).",
                    "该时间戳不是针对此数据签发的（消息摘要不符）。",
                ),
            )
        )
    tsa = await trust.validate_certificate(
        from_asn1_cert(certs.signer_cert),
        at=at or gen_time,
        usage=Usage.TIMESTAMPING,
        extra_certs=[from_asn1_cert(c) for c in certs.other_certs],
    )
    problems += [(tsa.status, p) for p in tsa.problems]
    return TimestampVerdict(
        status=worst([s for s, _ in problems]),
        problems=tuple(p for _, p in problems),
        gen_time=gen_time,
        serial=serial,
        policy=policy,
        hash_algorithm=tst_algorithm,
        tsa=tsa,
    )


def ensure_platform_tsa(
    directory: Path, *, now: datetime, organisation: str = "Tenderhall"
) -> TimestampAuthority:
    """The embedded default TSA: load ``directory/tsa.key.pem`` + ``tsa.chain.pem``, or create
    them on first use (see :mod:`signing.self_issued`; RSA-3072, which pyhanko's in-process
    TSA signer needs).

    Verifiers trust the platform's tokens through :func:`platform_tsa_provider`.
    """
    bundle = ensure_self_issued(
        directory / "tsa.key.pem",
        directory / "tsa.chain.pem",
        now=now,
        organisation=organisation,
        root_name="Platform TSA Root",
        leaf_name="Platform Time-Stamping Authority",
        new_key=lambda: rsa.generate_private_key(public_exponent=65537, key_size=3072),
        extended_usage=x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
    )
    return TimestampAuthority(bundle)


def platform_tsa_provider(authority: TimestampAuthority, name: str = "platform-tsa") -> CaProvider:
    """A :class:`signing.trust.CaProvider` trusting the platform TSA's root (last in its chain)."""
    return root_provider(authority.bundle, name)
