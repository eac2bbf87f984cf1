"""Trust in several CA providers at once (CA 互认), with a revocation cache.

A :class:`CaProvider` is one CA as the platform administrator configures it: its roots,
intermediates, where its CRLs and OCSP responders are, and where it puts the credit code and the
person's ID in a certificate. A :class:`TrustStore` holds every provider plus the CRLs fetched for
them (by a scheduled job calling :meth:`TrustStore.refresh_revocation`), so validation works while
a CA's server is unreachable and reports stale data instead of guessing.

Validation is pyhanko-certvalidator's path building and checking; the outcome is a frozen
:class:`CertificateVerdict` with coded problems in Chinese and English, never an exception.

SM2 certificates: neither ``cryptography`` nor pyhanko verify SM2 today. A provider's certificates
are kept as DER, so an SM2 path can later be added beside pyhanko's without changing the store.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import anyio
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator import errors as cv_errors

from signing.keys import load_certificates, to_asn1_cert
from signing.ocsp import OcspResponseError, ocsp_urls_of
from signing.ocsp import build_request as build_ocsp_request
from signing.ocsp import fetch as fetch_ocsp
from signing.ocsp import read_response as read_ocsp_response
from signing.verdicts import Problem, Status, worst
from trading.errors import ValidationError

Fetch = Callable[[str], Awaitable[bytes]]
"""Fetches a URL's body (a CRL); raises ``OSError`` or an ``httpx`` error when it cannot."""


class Usage(StrEnum):
    """What a certificate is being used for; decides the key usage it must carry."""

    SIGNING = "signing"
    """Signing documents and manifests: digitalSignature or nonRepudiation."""
    LOGIN = "login"
    """Signing a login challenge: digitalSignature."""
    ENCIPHERMENT = "encipherment"
    """Receiving a wrapped content key: keyEncipherment (RSA) or keyAgreement (EC)."""
    TIMESTAMPING = "timestamping"
    """Signing RFC 3161 tokens: the timeStamping extended key usage."""
    ANY = "any"
    """No key-usage requirement (only chain, validity and revocation)."""


@dataclass(frozen=True)
class IdentityFields:
    """Where a provider puts identities in a certificate subject (dotted OIDs)."""

    credit_code_oid: str = "2.5.4.97"
    """Attribute holding the organisation's unified social credit code (organizationIdentifier,
    serialNumber 2.5.4.5, or a provider-specific OID)."""
    credit_code_prefix: str = ""
    """A prefix some CAs put before the code, e.g. ``NTRCN-`` (ETSI EN 319 412-1 style)."""
    person_id_oid: str | None = "2.5.4.5"
    """Attribute holding the person's ID number; the person's name is the commonName."""


@dataclass(frozen=True)
class CaProvider:
    """One certification authority the platform trusts, as configured by the administrator."""

    name: str
    roots: tuple[bytes, ...]
    """Trust anchors, DER."""
    intermediates: tuple[bytes, ...] = ()
    """Issuing CA certificates, DER (offered for path building, not trusted by themselves)."""
    crl_urls: tuple[str, ...] = ()
    """Where to fetch this provider's CRLs (http(s)://, or file:// for tests and air gaps)."""
    ocsp_urls: tuple[str, ...] = ()
    """OCSP responders (kept for the fetch job and for display; CRLs are what is cached today)."""
    identity: IdentityFields = field(default_factory=IdentityFields)

    def root_certs(self) -> list[x509.Certificate]:
        return [x509.load_der_x509_certificate(der) for der in self.roots]

    def intermediate_certs(self) -> list[x509.Certificate]:
        return [x509.load_der_x509_certificate(der) for der in self.intermediates]

    def to_dict(self) -> dict[str, Any]:
        def pem(der: bytes) -> str:
            cert = x509.load_der_x509_certificate(der)
            return cert.public_bytes(serialization.Encoding.PEM).decode()

        return {
            "name": self.name,
            "roots": [pem(der) for der in self.roots],
            "intermediates": [pem(der) for der in self.intermediates],
            "crl_urls": list(self.crl_urls),
            "ocsp_urls": list(self.ocsp_urls),
            "identity": {
                "credit_code_oid": self.identity.credit_code_oid,
                "credit_code_prefix": self.identity.credit_code_prefix,
                "person_id_oid": self.identity.person_id_oid,
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaProvider:
        def ders(pems: list[str]) -> tuple[bytes, ...]:
            certs = [c for p in pems for c in load_certificates(p.encode(), source=data["name"])]
            return tuple(c.public_bytes(serialization.Encoding.DER) for c in certs)

        identity = data.get("identity") or {}
        return cls(
            name=str(data["name"]),
            roots=ders(data.get("roots", [])),
            intermediates=ders(data.get("intermediates", [])),
            crl_urls=tuple(data.get("crl_urls", [])),
            ocsp_urls=tuple(data.get("ocsp_urls", [])),
            identity=IdentityFields(
                credit_code_oid=identity.get("credit_code_oid", "2.5.4.97"),
                credit_code_prefix=identity.get("credit_code_prefix", ""),
                person_id_oid=identity.get("person_id_oid", "2.5.4.5"),
            ),
        )


@dataclass(frozen=True)
class CachedCrl:
    """A CRL as last fetched: kept so validation works offline, with its age for staleness."""

    url: str
    provider: str
    der: bytes
    fetched_at: datetime
    this_update: datetime
    next_update: datetime | None
    issuer: str

    def is_stale(self, at: datetime) -> bool:
        return self.next_update is not None and at > self.next_update


@dataclass(frozen=True)
class CachedOcsp:
    """An OCSP response for one certificate as last fetched (kept for offline validation)."""

    fingerprint: str
    """SHA-256 of the certificate it answers for."""
    provider: str
    certificate: bytes
    """The certificate (DER), so the response can be fetched again."""
    der: bytes
    fetched_at: datetime
    next_update: datetime | None
    status: str

    def is_stale(self, at: datetime) -> bool:
        return self.next_update is not None and at > self.next_update


@dataclass(frozen=True)
class RefreshResult:
    """The outcome of fetching one CRL URL."""

    url: str
    provider: str
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class CertificateVerdict:
    """The result of validating one certificate at one moment."""

    status: Status
    problems: tuple[Problem, ...]
    subject: str
    serial: str
    """Hexadecimal, lower case."""
    fingerprint: str
    """SHA-256 of the DER certificate, hex."""
    provider: str | None
    """The trusted provider the certificate chains to, if any."""
    path: tuple[str, ...]
    """Subjects from the trust anchor down to the certificate, when a path was found."""
    validated_at: datetime
    """The moment validity and revocation were judged at."""

    @property
    def valid(self) -> bool:
        return self.status is Status.VALID

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "problems": [problem_dict(p) for p in self.problems],
            "subject": self.subject,
            "serial": self.serial,
            "fingerprint": self.fingerprint,
            "provider": self.provider,
            "path": list(self.path),
            "validated_at": self.validated_at.isoformat(),
        }


def problem_dict(problem: Problem) -> dict[str, str]:
    return {
        "code": problem.code,
        "message_en": problem.message_en,
        "message_zh": problem.message_zh,
    }


def problem(code: str, en: str, zh: str) -> Problem:
    return Problem(code, en, zh)


class TrustConfigError(ValidationError):
    """A provider or trust file that cannot be used."""

    code = "trust_config_invalid"

    def __init__(self, reason_en: str, reason_zh: str) -> None:
        super().__init__(
            f"Invalid trust configuration: {reason_en}", f"信任配置无效：{reason_zh}", field="trust"
        )


async def default_fetch(url: str) -> bytes:
    """Fetch over http(s) with httpx, or read a ``file://`` URL (tests, air-gapped mirrors)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = anyio.Path(unquote(parsed.path))
        return await path.read_bytes()
    if parsed.scheme not in {"http", "https"}:
        raise OSError(f"unsupported URL scheme {parsed.scheme!r}")
    import httpx

    async with httpx.AsyncClient(timeout=10.0, follow_redirects=True) as client:
        response = await client.get(url)
        response.raise_for_status()
        return response.content


def _parse_crl(data: bytes) -> x509.CertificateRevocationList:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def _fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _has_key_usage(cert: x509.Certificate, usage: Usage) -> bool:
    if usage is Usage.ANY:
        return True
    try:
        ku: x509.KeyUsage | None = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        ku = None
    try:
        eku: list[x509.ObjectIdentifier] | None = list(
            cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        )
    except x509.ExtensionNotFound:
        eku = None
    time_stamping = x509.oid.ExtendedKeyUsageOID.TIME_STAMPING
    if usage is Usage.TIMESTAMPING:
        return eku is not None and time_stamping in eku
    if ku is None:
        # RFC 5280 §4.2.1.3: without the extension the key is not restricted.
        return True
    if usage is Usage.ENCIPHERMENT:
        return ku.key_encipherment or ku.key_agreement
    if usage is Usage.LOGIN:
        return ku.digital_signature
    # SIGNING: a TSA key (EKU exactly timeStamping) must sign nothing but tokens (RFC 3161 §2.3).
    if eku == [time_stamping]:
        return False
    return ku.digital_signature or ku.content_commitment


class TrustStore:
    """Every trusted CA provider, and the revocation data cached for them."""

    def __init__(self, providers: Iterable[CaProvider] = (), crls: Iterable[CachedCrl] = ()):
        self._providers: dict[str, CaProvider] = {}
        for provider in providers:
            self.add_provider(provider)
        self._crls: dict[str, CachedCrl] = {crl.url: crl for crl in crls}
        self._ocsps: dict[str, CachedOcsp] = {}

    # --- providers -------------------------------------------------------------------------

    @property
    def providers(self) -> tuple[CaProvider, ...]:
        return tuple(self._providers.values())

    def add_provider(self, provider: CaProvider) -> None:
        if not provider.roots:
            raise TrustConfigError(
                f"provider {provider.name!r} has no root", f"CA {provider.name!r} 没有根证书"
            )
        self._providers[provider.name] = provider

    def remove_provider(self, name: str) -> None:
        self._providers.pop(name, None)
        self._crls = {url: c for url, c in self._crls.items() if c.provider != name}
        self._ocsps = {fp: o for fp, o in self._ocsps.items() if o.provider != name}

    def provider(self, name: str) -> CaProvider | None:
        return self._providers.get(name)

    def provider_for(self, cert: x509.Certificate) -> CaProvider | None:
        """The provider whose root or intermediate issued ``cert`` (by name, not yet validated)."""
        for provider in self._providers.values():
            for ca in provider.root_certs() + provider.intermediate_certs():
                if ca.subject == cert.issuer or ca.subject == cert.subject:
                    return provider
        return None

    # --- revocation cache ------------------------------------------------------------------

    @property
    def crls(self) -> tuple[CachedCrl, ...]:
        return tuple(self._crls.values())

    def add_crl(self, provider: str, url: str, data: bytes, fetched_at: datetime) -> CachedCrl:
        """Check that ``data`` is a CRL signed by one of ``provider``'s CAs and cache it."""
        owner = self._providers.get(provider)
        if owner is None:
            raise TrustConfigError(f"unknown provider {provider!r}", f"未知的 CA {provider!r}")
        try:
            parsed = _parse_crl(data)
        except ValueError as exc:
            raise TrustConfigError(f"{url}: not a CRL", f"{url}：不是证书吊销列表") from exc
        issuers = [
            ca
            for ca in owner.root_certs() + owner.intermediate_certs()
            if ca.subject == parsed.issuer
        ]
        # A CRL from an issuer the provider does not list (an intermediate that arrives with the
        # signature) is kept: path validation checks its signature against the built path.
        if issuers and not any(parsed.is_signature_valid(ca.public_key()) for ca in issuers):  # type: ignore[arg-type]
            raise TrustConfigError(
                f"{url}: CRL not signed by a CA of {provider!r}",
                f"{url}：吊销列表不是 CA {provider!r} 签发的",
            )
        cached = CachedCrl(
            url=url,
            provider=provider,
            der=parsed.public_bytes(serialization.Encoding.DER),
            fetched_at=fetched_at,
            this_update=parsed.last_update_utc,
            next_update=parsed.next_update_utc,
            issuer=parsed.issuer.rfc4514_string(),
        )
        previous = self._crls.get(url)
        # Never replace a newer CRL with an older one (a replayed or cached response).
        if previous is None or previous.this_update <= cached.this_update:
            self._crls[url] = cached
        return self._crls[url]

    @property
    def ocsps(self) -> tuple[CachedOcsp, ...]:
        return tuple(self._ocsps.values())

    def ocsp_for(self, cert: x509.Certificate) -> CachedOcsp | None:
        return self._ocsps.get(_fingerprint(cert))

    def issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        """The provider CA certificate named as ``cert``'s issuer (not yet validated)."""
        for provider in self._providers.values():
            for ca in provider.intermediate_certs() + provider.root_certs():
                if ca.subject == cert.issuer:
                    return ca
        return None

    def add_ocsp(
        self, provider: str, cert: x509.Certificate, data: bytes, fetched_at: datetime
    ) -> CachedOcsp:
        """Cache an OCSP response about ``cert`` (it must answer for that certificate)."""
        if provider not in self._providers:
            raise TrustConfigError(f"unknown provider {provider!r}", f"未知的 CA {provider!r}")
        status = read_ocsp_response(data, cert)
        cached = CachedOcsp(
            fingerprint=_fingerprint(cert),
            provider=provider,
            certificate=cert.public_bytes(serialization.Encoding.DER),
            der=data,
            fetched_at=fetched_at,
            next_update=status.next_update,
            status=status.status,
        )
        previous = self._ocsps.get(cached.fingerprint)
        if previous is None or previous.fetched_at <= fetched_at:
            self._ocsps[cached.fingerprint] = cached
        return self._ocsps[cached.fingerprint]

    async def refresh_ocsp(
        self,
        certs: Iterable[x509.Certificate],
        fetch: Callable[[str, bytes], Awaitable[bytes]] | None = None,
        *,
        now: datetime | None = None,
    ) -> list[RefreshResult]:
        """Ask each certificate's provider's OCSP responders; keep the old answer on failure."""
        post = fetch or fetch_ocsp
        fetched_at = now or datetime.now(UTC)
        results: list[RefreshResult] = []
        for cert in certs:
            provider = self.provider_for(cert)
            issuer = self.issuer_of(cert)
            # The certificate's own responder first (certvalidator only consults OCSP for
            # certificates that name one), then those the administrator configured.
            urls = list(
                dict.fromkeys([*ocsp_urls_of(cert), *(provider.ocsp_urls if provider else ())])
            )
            if provider is None or issuer is None or not urls:
                continue
            request = build_ocsp_request(cert, issuer)
            for url in urls:
                try:
                    self.add_ocsp(provider.name, cert, await post(url, request), fetched_at)
                except (TrustConfigError, OcspResponseError) as exc:
                    results.append(RefreshResult(url, provider.name, False, exc.message_en))
                except Exception as exc:  # network errors of any client library
                    results.append(
                        RefreshResult(url, provider.name, False, f"{type(exc).__name__}: {exc}")
                    )
                else:
                    results.append(RefreshResult(url, provider.name, True))
                    break  # one responder's answer is enough
        return results

    async def refresh_revocation(
        self, fetch: Fetch | None = None, *, now: datetime | None = None
    ) -> list[RefreshResult]:
        """Fetch every provider's CRLs; keep the old copy of any that cannot be fetched."""
        fetcher = fetch or default_fetch
        fetched_at = now or datetime.now(UTC)
        results: list[RefreshResult] = []
        for provider in list(self._providers.values()):
            for url in provider.crl_urls:
                try:
                    data = await fetcher(url)
                    self.add_crl(provider.name, url, data, fetched_at)
                except TrustConfigError as exc:
                    results.append(RefreshResult(url, provider.name, False, exc.message_en))
                except Exception as exc:  # network errors of any client library
                    results.append(
                        RefreshResult(url, provider.name, False, f"{type(exc).__name__}: {exc}")
                    )
                else:
                    results.append(RefreshResult(url, provider.name, True))
        return results

    # --- validation ------------------------------------------------------------------------

    def validation_context(
        self, at: datetime | None = None, *, extra_certs: Iterable[x509.Certificate] = ()
    ) -> ValidationContext:
        """A pyhanko validation context over every provider, with the cached CRLs, offline.

        Revocation is "hard-fail": a certificate that names a CRL must be covered by a cached,
        current one. Revocation data is accepted retroactively (a CRL issued after ``at`` still
        says whether the certificate had been revoked by ``at``), which is what validating a
        signature at its (timestamped) signing time needs.
        """
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)  # the platform's clocks are UTC; pyhanko refuses naive
        roots = [
            asn1_x509.Certificate.load(der) for p in self._providers.values() for der in p.roots
        ]
        others = [
            asn1_x509.Certificate.load(der)
            for p in self._providers.values()
            for der in p.intermediates
        ] + [to_asn1_cert(c) for c in extra_certs]
        return ValidationContext(
            trust_roots=roots,
            other_certs=others,
            crls=[asn1_crl.CertificateList.load(c.der) for c in self._crls.values()],
            ocsps=[asn1_ocsp.OCSPResponse.load(o.der) for o in self._ocsps.values()],
            moment=at,
            allow_fetching=False,
            revocation_mode="hard-fail",
            retroactive_revinfo=True,
        )

    async def validate_certificate(
        self,
        cert: x509.Certificate | bytes,
        *,
        at: datetime | None = None,
        usage: Usage = Usage.SIGNING,
        extra_certs: Iterable[x509.Certificate] = (),
    ) -> CertificateVerdict:
        """Validate ``cert`` (object or DER) at ``at`` (default now) for ``usage``."""
        moment = at or datetime.now(UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if isinstance(cert, bytes):
            raw = cert
            try:
                cert = x509.load_der_x509_certificate(raw)
            except ValueError:
                return CertificateVerdict(
                    Status.INVALID,
                    (
                        problem(
                            "malformed_certificate",
                            "The certificate cannot be read (not DER X.509).",
                            "无法解析证书（不是 DER 编码的 X.509 证书）。",
                        ),
                    ),
                    "",
                    "",
                    hashlib.sha256(raw).hexdigest(),
                    None,
                    (),
                    moment,
                )
        problems: list[tuple[Status, Problem]] = []
        path_subjects: tuple[str, ...] = ()
        provider: CaProvider | None = None
        context = self.validation_context(moment, extra_certs=extra_certs)
        validator = CertificateValidator(to_asn1_cert(cert), validation_context=context)
        try:
            path = await validator.async_validate_path()
        except Exception as exc:  # pyhanko raises many error types; each is mapped below
            problems.append(self._map_error(exc, cert, moment))
        else:
            chain = [
                x509.load_der_x509_certificate(c.dump()) for c in path.iter_certs(include_root=True)
            ]
            path_subjects = tuple(c.subject.rfc4514_string() for c in chain)
            provider = self._provider_of_root(chain[0]) if chain else None
        if not _has_key_usage(cert, usage):
            problems.append(
                (
                    Status.INVALID,
                    problem(
                        "wrong_key_usage",
                        f"The certificate's key usage does not allow {usage.value}.",
                        f"证书的密钥用途不允许用于{_USAGE_ZH[usage]}。",
                    ),
                )
            )
        if provider is None and all(p.code != "untrusted" for _, p in problems):
            # No valid path (revoked, expired, ...), but the issuer is known: say whose it is.
            provider = self.provider_for(cert)
        return CertificateVerdict(
            status=worst([s for s, _ in problems]),
            problems=tuple(p for _, p in problems),
            subject=cert.subject.rfc4514_string(),
            serial=format(cert.serial_number, "x"),
            fingerprint=_fingerprint(cert),
            provider=provider.name if provider else None,
            path=path_subjects,
            validated_at=moment,
        )

    def _provider_of_root(self, root: x509.Certificate) -> CaProvider | None:
        der = root.public_bytes(serialization.Encoding.DER)
        for provider in self._providers.values():
            if der in provider.roots:
                return provider
        return None

    def _map_error(
        self, exc: Exception, cert: x509.Certificate, at: datetime
    ) -> tuple[Status, Problem]:
        when = f"{at:%Y-%m-%d %H:%M} UTC"
        if isinstance(exc, cv_errors.RevokedError):
            return Status.INVALID, problem(
                "revoked",
                f"The certificate (or one above it) was revoked: {exc}",
                "证书（或其上级证书）已被吊销。",
            )
        if isinstance(exc, cv_errors.ExpiredError):
            return Status.INVALID, problem(
                "expired",
                f"The certificate had expired at {when} "
                f"(valid until {cert.not_valid_after_utc:%Y-%m-%d}).",
                f"证书在 {when} 已过期（有效期至 {cert.not_valid_after_utc:%Y-%m-%d}）。",
            )
        if isinstance(exc, cv_errors.NotYetValidError):
            return Status.INVALID, problem(
                "not_yet_valid",
                f"The certificate was not yet valid at {when} "
                f"(valid from {cert.not_valid_before_utc:%Y-%m-%d}).",
                f"证书在 {when} 尚未生效（生效日期 {cert.not_valid_before_utc:%Y-%m-%d}）。",
            )
        if isinstance(exc, cv_errors.StaleRevinfoError) or (
            isinstance(exc, cv_errors.InsufficientRevinfoError) and self._crl_stale_for(cert, at)
        ):
            return Status.INDETERMINATE, problem(
                "revocation_stale",
                "The cached revocation list is out of date; the CA could not be reached "
                "to refresh it.",
                "缓存的证书吊销列表已过期，且暂时无法从 CA 获取新的列表。",
            )
        if isinstance(exc, cv_errors.InsufficientRevinfoError):
            return Status.INDETERMINATE, problem(
                "revocation_unavailable",
                "No revocation data is available for the certificate; its status is unknown.",
                "没有该证书的吊销信息，无法确认其状态。",
            )
        if isinstance(exc, cv_errors.PathBuildingError):
            return Status.INVALID, problem(
                "untrusted",
                "The certificate does not chain to a trusted CA provider.",
                "证书不是由平台信任的 CA 签发的。",
            )
        if isinstance(exc, cv_errors.DisallowedAlgorithmError):
            return Status.INVALID, problem(
                "weak_algorithm",
                f"The certificate chain uses a disallowed algorithm: {exc}",
                "证书链使用了不被允许的算法。",
            )
        return Status.INVALID, problem(
            "chain_invalid",
            f"The certificate chain is not valid: {exc}",
            "证书链无效。",
        )

    def _crl_stale_for(self, cert: x509.Certificate, at: datetime) -> bool:
        return any(
            c.issuer == cert.issuer.rfc4514_string() and c.is_stale(at) for c in self._crls.values()
        )

    # --- persistence -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "providers": [p.to_dict() for p in self._providers.values()],
            "crls": [
                {
                    "url": c.url,
                    "provider": c.provider,
                    "fetched_at": c.fetched_at.isoformat(),
                    "der": base64.b64encode(c.der).decode(),
                }
                for c in self._crls.values()
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrustStore:
        try:
            store = cls(CaProvider.from_dict(p) for p in data["providers"])
            for item in data.get("crls", []):
                store.add_crl(
                    item["provider"],
                    item["url"],
                    base64.b64decode(item["der"]),
                    datetime.fromisoformat(item["fetched_at"]),
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise TrustConfigError(
                f"trust store data lacks or mangles {exc}", f"信任库数据缺少或损坏：{exc}"
            ) from exc
        return store

    @classmethod
    def from_json(cls, text: str) -> TrustStore:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise TrustConfigError("not JSON", "不是 JSON") from exc
        return cls.from_dict(data)


_USAGE_ZH = {
    Usage.SIGNING: "签名",
    Usage.LOGIN: "登录签名",
    Usage.ENCIPHERMENT: "加密（数字信封）",
    Usage.TIMESTAMPING: "时间戳",
    Usage.ANY: "任何用途",
}


def demo_trust_store(pki_dir: Path, *, now: datetime | None = None) -> TrustStore:
    """The trust store for a demo PKI written by :mod:`signing.demo_pki`, its CRLs loaded.

    CRL URLs point at the local files (``file://``), so ``refresh_revocation()`` works offline.
    """
    try:
        index = json.loads((pki_dir / "index.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise TrustConfigError(
            f"{pki_dir}: no readable index.json", f"{pki_dir}：缺少可读的 index.json"
        ) from exc
    store = TrustStore()
    fetched_at = now or datetime.now(UTC)
    for entry in index["providers"]:
        files = entry["files"]
        crl_path = (pki_dir / files["crl_der"]).resolve()
        identity = entry["identity"]
        provider = CaProvider(
            name=entry["name"],
            roots=((pki_dir / files["root_der"]).read_bytes(),),
            intermediates=((pki_dir / files["intermediate_der"]).read_bytes(),),
            crl_urls=(crl_path.as_uri(),),
            identity=IdentityFields(
                credit_code_oid=identity["credit_code_oid"],
                credit_code_prefix=identity["credit_code_prefix"],
                person_id_oid=identity["person_id_oid"],
            ),
        )
        store.add_provider(provider)
        store.add_crl(provider.name, crl_path.as_uri(), crl_path.read_bytes(), fetched_at)
    return store


LoginProblem = tuple[str | None, str]


def login_trust_check(
    store: TrustStore, usage: Usage = Usage.LOGIN
) -> Callable[[x509.Certificate, datetime], Awaitable[LoginProblem]]:
    """The ``TrustCheck`` hook of :class:`signing.login.X509CertificateVerifier`, backed by
    ``store``: ``(None, "")`` when valid, else ``revoked``, ``indeterminate`` or ``untrusted``
    (expiry, key usage and chain errors all mean the certificate cannot be trusted to sign in)."""

    async def check(cert: x509.Certificate, now: datetime) -> LoginProblem:
        verdict = await store.validate_certificate(cert, at=now, usage=usage)
        if verdict.status is Status.VALID:
            return None, ""
        detail = "; ".join(f"{p.code}: {p.message_en}" for p in verdict.problems)[:300]
        if any(p.code == "revoked" for p in verdict.problems):
            return "revoked", detail
        if verdict.status is Status.INDETERMINATE:
            return "indeterminate", detail
        return "untrusted", detail

    return check
