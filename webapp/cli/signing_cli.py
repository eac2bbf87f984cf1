"""pki, cms, ts: the demo PKI, detached CMS signatures and RFC 3161 timestamps.

Verification commands exit 0 when valid, 1 when invalid, 2 when indeterminate; any error (bad
file, wrong password, unusable trust) prints a Chinese and English message and exits 2.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from trading.errors import DomainError, ValidationError
from webapp.cli import fail

T = TypeVar("T")
EXIT = {"valid": 0, "invalid": 1, "indeterminate": 2}

_existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)


class TrustSourceError(ValidationError):
    code = "trust_source_invalid"

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} is neither a demo PKI directory, a trust-store JSON file "
            "nor PEM CA certificates.",
            f"{path} 既不是演示 PKI 目录，也不是信任库 JSON 文件或 PEM 证书。",
            field="trust",
        )


@contextmanager
def _errors() -> Iterator[None]:
    """Turn expected failures into a readable message and exit status 2, never a traceback."""
    try:
        yield
    except DomainError as exc:
        fail(exc.message_zh, exc.message_en)
    except OSError as exc:
        fail(f"文件或网络错误：{exc}", f"{exc.filename or ''}: {exc.strerror or exc}")


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(factory())


def _load_trust(source: Path | None, crls: tuple[Path, ...]) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from signing.keys import load_certificates
    from signing.trust import CaProvider, TrustStore, demo_trust_store

    if source is None:
        raise TrustSourceError("--trust (missing)")
    now = datetime.now(UTC)
    if source.is_dir():
        store = demo_trust_store(source, now=now)
    else:
        data = source.read_bytes()
        if data.lstrip().startswith(b"{"):
            store = TrustStore.from_json(data.decode("utf-8"))
        else:
            certs = load_certificates(data, source=str(source))
            roots = [c for c in certs if c.issuer == c.subject]
            others = [c for c in certs if c.issuer != c.subject]
            if not roots:
                raise TrustSourceError(str(source))

            def der(cert: x509.Certificate) -> bytes:
                return cert.public_bytes(serialization.Encoding.DER)

            store = TrustStore(
                [
                    CaProvider(
                        name=source.stem,
                        roots=tuple(der(c) for c in roots),
                        intermediates=tuple(der(c) for c in others),
                    )
                ]
            )
    if not store.providers:
        raise TrustSourceError(str(source))
    for crl in crls:
        provider = store.providers[0].name if len(store.providers) == 1 else None
        for candidate in [provider] if provider else [p.name for p in store.providers]:
            try:
                store.add_crl(candidate, crl.resolve().as_uri(), crl.read_bytes(), now)
                break
            except DomainError:
                continue
        else:
            fail(f"{crl}：没有受信任的 CA 签发此吊销列表", f"{crl}: no trusted CA issued this CRL")
    return store


def _print_verdict(body: dict[str, Any], as_json: bool, headline: str) -> None:
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    status = body["status"]
    label = {
        "valid": "有效 / VALID",
        "invalid": "无效 / INVALID",
        "indeterminate": "无法确定 / INDETERMINATE",
    }
    click.echo(f"{label[status]}  {headline}")
    for problem in body["problems"]:
        click.echo(f"  [{problem['code']}] {problem['message_zh']} / {problem['message_en']}")


# --- pki ---------------------------------------------------------------------------------------


@click.group()
def pki() -> None:
    """证书与 CA / Certificates and CA providers."""


@pki.command("demo")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--password", default="demo", show_default=True, help="PKCS#12 password")
def pki_demo(out: Path, password: str) -> None:
    """生成演示 PKI（RSA 与 ECDSA 两个 CA）/ Create the demo PKI (an RSA and an ECDSA provider)."""
    from signing import demo_pki

    with _errors():
        index = demo_pki.build(out, now=datetime.now(UTC), password=password)
    click.echo(
        f"已生成 {len(index['entities'])} 张终端证书、{len(index['providers'])} 个 CA / wrote "
        f"{len(index['entities'])} end-entity certificates of {len(index['providers'])} "
        f"providers to {out} (index.json lists every file)"
    )


# --- cms ---------------------------------------------------------------------------------------


@click.group()
def cms() -> None:
    """CMS 分离式签名 / Detached CMS signatures (openssl cms compatible)."""


@cms.command("sign")
@click.argument("file", type=_existing_file)
@click.option("--key", "key_path", required=True, type=_existing_file, help=".p12 or PEM key")
@click.option("--cert", "cert_path", type=_existing_file, help="PEM certificate(s) for a PEM key")
@click.option("--password", envvar="TENDERHALL_KEY_PASSWORD", help="key or PKCS#12 password")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def cms_sign(
    file: Path, key_path: Path, cert_path: Path | None, password: str | None, out: Path
) -> None:
    """对文件做分离式签名 / Sign FILE, writing a DER detached signature to --out."""
    from signing.cms import sign_detached
    from signing.keys import load_key_bundle

    with _errors():
        bundle = load_key_bundle(key_path, password, cert_path=cert_path)

        async def run() -> bytes:
            with file.open("rb") as stream:
                return await sign_detached(stream, bundle.key, bundle.cert, bundle.chain)

        signature = _run(run)
        out.write_bytes(signature)
    click.echo(f"已签名 / signed: {out} ({bundle.cert.subject.rfc4514_string()})")


@cms.command("verify")
@click.argument("file", type=_existing_file)
@click.argument("signature", type=_existing_file)
@click.option(
    "--trust",
    type=click.Path(exists=True, path_type=Path),
    help="demo PKI directory, trust-store JSON, or PEM file of CA certificates",
)
@click.option("--crl", "crls", multiple=True, type=_existing_file, help="extra CRL (DER or PEM)")
@click.option("--json", "as_json", is_flag=True, help="print the verdict as JSON")
def cms_verify(
    file: Path, signature: Path, trust: Path | None, crls: tuple[Path, ...], as_json: bool
) -> None:
    """验证分离式签名 / Verify a detached signature. Exit 0 valid, 1 invalid, 2 indeterminate."""
    from signing.cms import verify_detached

    with _errors():
        store = _load_trust(trust, crls)
        sig = signature.read_bytes()

        async def run() -> Any:
            with file.open("rb") as stream:
                return await verify_detached(stream, sig, store)

        verdict = _run(run)
    body = verdict.to_dict()
    subject = verdict.signer.subject if verdict.signer else "?"
    _print_verdict(body, as_json, f"signer: {subject}")
    sys.exit(EXIT[body["status"]])


# --- ts ----------------------------------------------------------------------------------------


@click.group()
def ts() -> None:
    """RFC 3161 时间戳 / RFC 3161 timestamps (openssl ts compatible)."""


def _sha256_file(path: Path) -> bytes:
    md = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            md.update(chunk)
    return md.digest()


@ts.command("stamp")
@click.argument("file", type=_existing_file)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tsa-key", type=_existing_file, help="the platform TSA's .p12 (or PEM key)")
@click.option("--tsa-cert", type=_existing_file, help="PEM certificate(s) for a PEM TSA key")
@click.option("--password", envvar="TENDERHALL_KEY_PASSWORD", help="TSA key password")
@click.option("--url", help="an external RFC 3161 TSA instead of a local key")
def ts_stamp(
    file: Path,
    out: Path,
    tsa_key: Path | None,
    tsa_cert: Path | None,
    password: str | None,
    url: str | None,
) -> None:
    """为文件的 SHA-256 申请时间戳 / Timestamp FILE's SHA-256; writes a TimeStampResp (.tsr)."""
    from signing.tsa import (
        TimestampAuthority,
        build_request,
        request_external,
        token_from_response,
    )

    if (tsa_key is None) == (url is None):
        fail("请指定 --tsa-key 或 --url 之一", "give exactly one of --tsa-key or --url")
    with _errors():
        digest = _sha256_file(file)
        request = build_request(digest, "sha256")
        if tsa_key is not None:
            authority = TimestampAuthority.from_file(tsa_key, password, cert_path=tsa_cert)
            response = authority.respond(request)
        else:
            assert url is not None
            response = _run(lambda: request_external(url, request))
        token_from_response(response)  # raises a readable error for a refusal
        out.write_bytes(response)
    click.echo(f"已取得时间戳 / timestamp written: {out}")


@ts.command("verify")
@click.argument("file", type=_existing_file)
@click.argument("tsr", type=_existing_file)
@click.option(
    "--trust",
    type=click.Path(exists=True, path_type=Path),
    help="demo PKI directory, trust-store JSON, or PEM file of CA certificates",
)
@click.option("--crl", "crls", multiple=True, type=_existing_file, help="extra CRL (DER or PEM)")
@click.option("--json", "as_json", is_flag=True, help="print the verdict as JSON")
def ts_verify(
    file: Path, tsr: Path, trust: Path | None, crls: tuple[Path, ...], as_json: bool
) -> None:
    """验证时间戳 / Verify a timestamp (response or token) over FILE. Exit 0/1/2 as cms verify."""
    from signing.tsa import verify_token

    with _errors():
        store = _load_trust(trust, crls)
        digest = _sha256_file(file)
        verdict = _run(lambda: verify_token(tsr.read_bytes(), digest, store))
    body = verdict.to_dict()
    when = verdict.gen_time.isoformat() if verdict.gen_time else "?"
    _print_verdict(body, as_json, f"time: {when}")
    sys.exit(EXIT[body["status"]])
