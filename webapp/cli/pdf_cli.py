"""pdf: verify the signatures in a PDF; apply the platform seal; co-sign a sealed PDF."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from signing.verdicts import Status
from trading.errors import DomainError

if TYPE_CHECKING:  # pyHanko and asn1crypto are imported by the commands that use them
    from asn1crypto import x509 as asn1_x509

    from signing.pdf_verify import PdfVerdict, SignatureReport

_EXIT = {Status.VALID: 0, Status.INVALID: 1, Status.INDETERMINATE: 2}
_STATUS_ZH = {Status.VALID: "有效", Status.INVALID: "无效", Status.INDETERMINATE: "无法确定"}


class CredentialError(DomainError):
    """A key, certificate or CRL file given on the command line cannot be used."""

    code = "credential_unreadable"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"Cannot use {path}: {reason}",
            f"无法使用文件 {path}：{reason}",
            path=str(path),
        )


def _quiet_pyhanko() -> None:
    # pyHanko logs each failed check as a warning with a traceback; the verdict already says
    # what failed, in both languages, so people see no stack traces.
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _fail(exc: DomainError) -> None:
    click.echo(f"错误 / error: {exc.message_zh}\n{exc.message_en}", err=True)
    sys.exit(3)


def load_certificates(path: Path) -> list[asn1_x509.Certificate]:
    """Every certificate in a PEM bundle or a single DER file."""
    from asn1crypto import pem
    from asn1crypto import x509 as asn1_x509

    try:
        data = path.read_bytes()
        if pem.detect(data):
            return [
                asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)
            ]
        cert = asn1_x509.Certificate.load(data)
        cert.native  # noqa: B018  # parse now, so a bad file fails here and not mid-validation
        return [cert]
    except (OSError, ValueError, TypeError) as exc:
        raise CredentialError(path, str(exc) or "not a certificate") from exc


def load_crl(path: Path) -> bytes:
    from asn1crypto import pem

    try:
        data = path.read_bytes()
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        return data
    except (OSError, ValueError) as exc:
        raise CredentialError(path, str(exc)) from exc


def _report_signature(index: int, sig: SignatureReport) -> list[str]:
    who = sig.signer_subject or "?"
    if sig.credit_code:
        who += f"（统一社会信用代码/credit code {sig.credit_code}）"
    lines = [
        f"签名 {index} / signature {index}: {sig.field_name}  "
        f"[{_STATUS_ZH[sig.status]} / {sig.status.value}]",
        f"  签署人/signer: {who}",
    ]
    if sig.signing_time:
        lines.append(f"  声称签名时间/claimed signing time: {sig.signing_time.isoformat()}")
    if sig.timestamp_time:
        trust = "可信/trusted" if sig.timestamp_trusted else "不可信/untrusted"
        lines.append(f"  时间戳/timestamp: {sig.timestamp_time.isoformat()} ({trust})")
    if sig.coverage:
        lines.append(
            f"  覆盖范围/coverage: {sig.coverage}; 签名后修改/changes after signing: "
            f"{sig.modification_level or 'unknown'}"
        )
    lines += [f"  [{p.code}] {p.message_zh} / {p.message_en}" for p in sig.problems]
    return lines


def format_verdict(verdict: PdfVerdict) -> str:
    lines = [f"结论 / verdict: {_STATUS_ZH[verdict.status]} / {verdict.status.value}"]
    lines += [f"[{p.code}] {p.message_zh} / {p.message_en}" for p in verdict.problems]
    for index, sig in enumerate(verdict.signatures, start=1):
        lines += _report_signature(index, sig)
    return "\n".join(lines)


@click.group()
def pdf() -> None:
    """PDF 签名与电子见证章 / PDF signatures and the platform seal."""


@pdf.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 / print the verdict as JSON")
@click.option(
    "--trust",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="受信任的 CA 证书 (PEM/DER) / trusted CA certificate(s); repeatable. Default: the CA "
    "providers configured on the platform (`tenderhall ca`)",
)
@click.option(
    "--crl",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="吊销列表 / a CRL (DER or PEM); repeatable",
)
def verify_command(file: Path, as_json: bool, trust: Sequence[Path], crl: Sequence[Path]) -> None:
    """核验 PDF 中的全部签名 / Verify every signature in a PDF.

    Exit 0 valid, 1 invalid, 2 indeterminate, 3 on a usage error.
    """
    from pyhanko_certvalidator import ValidationContext

    from signing.pdf_verify import validate_pdf_sync

    _quiet_pyhanko()
    if not file.is_file():
        _fail(CredentialError(file, "no such file / 文件不存在"))
    try:
        roots = [cert for path in trust for cert in load_certificates(path)]
        crls = [load_crl(path) for path in crl]
    except DomainError as exc:
        _fail(exc)
    if roots:
        context = ValidationContext(
            trust_roots=roots, crls=crls, allow_fetching=False, revocation_mode="soft-fail"
        )
    else:  # no --trust: the CA providers the platform trusts, with their cached CRLs
        context = _platform_trust()
    verdict = validate_pdf_sync(file, validation_context=context)
    click.echo(verdict.to_json() if as_json else format_verdict(verdict))
    sys.exit(_EXIT[verdict.status])


def _load_signer(path: Path, password: str | None) -> Any:
    from pyhanko.sign import signers

    try:
        return signers.SimpleSigner.load_pkcs12_data(
            path.read_bytes(), other_certs=[], passphrase=password.encode() if password else None
        )
    except (OSError, ValueError) as exc:
        raise CredentialError(path, "not a PKCS#12 file, or wrong password") from exc


def _platform_settings() -> Any:
    from webapp.settings import Settings, SettingsError

    try:
        return Settings.from_env(os.environ)
    except SettingsError as exc:
        _fail(exc)


def _platform_timestamper() -> Any:
    """The platform's TSA: ``TENDERHALL_TSA_URL``, or its own key in the data directory."""
    from pyhanko.sign.timestamps import HTTPTimeStamper

    from signing.tsa import ensure_platform_tsa

    settings = _platform_settings()
    if settings.tsa_url:
        return HTTPTimeStamper(settings.tsa_url)
    tsa = ensure_platform_tsa(settings.data_dir / "keys" / "tsa", now=datetime.now(UTC))
    return tsa.timestamper


def _platform_trust() -> Any:
    """The validation context of the CA providers configured on the platform (its database),
    plus the platform's own TSA. Where no platform is set up, nothing is trusted."""
    from signing.trust import TrustStore

    settings = _platform_settings()
    if settings.database_url is None and not (settings.data_dir / "tenderhall.db").exists():
        click.echo(
            "提示：此处没有平台数据库，未信任任何 CA（可用 --trust 指定）/ note: no platform "
            "database here, so no CA is trusted (give --trust)",
            err=True,
        )
        return TrustStore().validation_context()
    # Only now: without a platform database, verifying needs no SQLAlchemy.
    from sqlalchemy.exc import SQLAlchemyError

    from webapp.services import build_services

    async def load() -> Any:
        services = build_services(settings)
        try:
            return await services.trust_store()
        finally:
            await services.close()

    try:
        return asyncio.run(load()).validation_context()
    except (DomainError, SQLAlchemyError) as exc:
        click.echo(f"提示/note: platform trust unavailable ({exc}); no CA is trusted", err=True)
        return TrustStore().validation_context()


def _load_timestamper(url: str | None, key: Path | None, password: str | None) -> Any:
    if url:
        from pyhanko.sign.timestamps import HTTPTimeStamper

        return HTTPTimeStamper(url)
    if key is None:
        return _platform_timestamper()
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    try:
        tsa_key, tsa_cert, chain = pkcs12.load_key_and_certificates(
            key.read_bytes(), password.encode() if password else None
        )
    except (OSError, ValueError) as exc:
        raise CredentialError(key, "not a PKCS#12 file, or wrong password") from exc
    if tsa_key is None or tsa_cert is None:
        raise CredentialError(key, "no key and certificate in the PKCS#12 file")
    der = serialization.Encoding.DER
    key_der = tsa_key.private_bytes(
        der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(tsa_cert.public_bytes(der)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(key_der),
        certs_to_embed=cast(Any, SimpleCertificateStore).from_certs(  # untyped in pyHanko
            [asn1_x509.Certificate.load(c.public_bytes(der)) for c in chain]
        ),
    )


_sign_options = [
    click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path)),
    click.argument("target", type=click.Path(dir_okay=False, path_type=Path)),
    click.option(
        "--key",
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="签名证书与私钥 PKCS#12 / the signing key and certificate (PKCS#12)",
    ),
    click.option("--password", help="PKCS#12 口令 / PKCS#12 password"),
    click.option("--tsa-url", help="RFC 3161 时间戳服务地址 / an RFC 3161 TSA URL"),
    click.option(
        "--tsa-key",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="本地时间戳密钥 PKCS#12 (RSA) / a local TSA key and certificate (PKCS#12, RSA). "
        "Default: the platform's TSA (TENDERHALL_TSA_URL or its own key in the data directory)",
    ),
    click.option("--tsa-password", help="时间戳 PKCS#12 口令 / the TSA PKCS#12 password"),
    click.option("--reason", default="电子见证 Platform seal", show_default=True),
    click.option("--location", default="tenderhall", show_default=True),
]


def _with_sign_options(command: Any) -> Any:
    for option in reversed(_sign_options):
        command = option(command)
    return command


def _run_signing(cosign: bool, **kw: Any) -> None:
    from signing.seal import cosign_pdf, seal_pdf

    _quiet_pyhanko()
    try:
        signer = _load_signer(kw["key"], kw["password"])
        timestamper = _load_timestamper(kw["tsa_url"], kw["tsa_key"], kw["tsa_password"])
        action = cosign_pdf if cosign else seal_pdf
        asyncio.run(
            action(
                kw["source"],
                kw["target"],
                signer=signer,
                timestamper=timestamper,
                reason=kw["reason"],
                location=kw["location"],
            )
        )
    except DomainError as exc:
        kw["target"].unlink(missing_ok=True)
        _fail(exc)
    except Exception as exc:  # the TSA being unreachable, an unsupported key type, ...
        kw["target"].unlink(missing_ok=True)
        reason = f"{type(exc).__name__}: {exc}"
        _fail(DomainError(f"Signing failed: {reason}", f"签章失败：{reason}"))
    click.echo(f"已签章 / signed: {kw['target']}")


@pdf.command("seal")
@_with_sign_options
def seal_command(**kw: Any) -> None:
    """加盖平台电子见证章 (PAdES B-T) / Apply the platform seal (PAdES B-T, visible)."""
    _run_signing(False, **kw)


@pdf.command("cosign")
@_with_sign_options
def cosign_command(**kw: Any) -> None:
    """在已签 PDF 上会签 / Add a further signature to a signed PDF (incremental update)."""
    _run_signing(True, **kw)
