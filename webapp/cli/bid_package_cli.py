"""bid pack / check / submit / withdraw / verify-receipt: the bidder's side of a submission.

Added to the ``bid`` group by :mod:`webapp.cli.bid_cli`. Exit status of the checks: 0 valid,
1 invalid, 2 indeterminate or a usage error; people never see a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from signing.verdicts import Problem, Status
from trading.errors import DomainError
from webapp.cli import fail, reported

_ExistingFile = click.Path(exists=True, dir_okay=False, path_type=Path)
_ExistingPath = click.Path(exists=True, path_type=Path)
_EXIT = {Status.VALID: 0, Status.INVALID: 1, Status.INDETERMINATE: 2}
_STATUS_ZH = {Status.VALID: "有效", Status.INVALID: "无效", Status.INDETERMINATE: "无法确定"}


_F = TypeVar("_F", bound=Callable[..., Any])


def _quiet_pyhanko() -> None:
    # pyHanko logs failed checks with tracebacks; the verdicts say what failed.
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class InputFileError(DomainError):
    code = "input_invalid"

    def __init__(self, path: Path, reason_en: str, reason_zh: str) -> None:
        super().__init__(f"{path}: {reason_en}", f"{path}：{reason_zh}", path=str(path))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(path, "not a JSON file", "不是 JSON 文件") from exc


# --- trust ------------------------------------------------------------------------------------


def load_trust(paths: tuple[Path, ...]) -> Any:
    """A TrustStore from ``--trust`` values: a demo PKI directory (its ``index.json``, CRLs
    loaded), a trust-store JSON file (``TrustStore.to_json``), or PEM/DER CA certificates
    (trusted as roots, no revocation data). Without values: the platform's configured trust."""
    from cryptography.hazmat.primitives import serialization

    from signing.keys import load_certificates
    from signing.trust import CachedCrl, CaProvider, TrustStore, demo_trust_store

    if not paths:
        return _platform_trust_store()
    providers: list[CaProvider] = []
    crls: list[CachedCrl] = []
    roots: list[bytes] = []
    for path in paths:
        if path.is_dir():
            store = demo_trust_store(path)
        elif path.suffix.lower() == ".json":
            store = TrustStore.from_json(path.read_text(encoding="utf-8"))
        else:
            certs = load_certificates(path.read_bytes(), source=str(path))
            roots += [c.public_bytes(serialization.Encoding.DER) for c in certs]
            continue
        providers += store.providers
        crls += store.crls
    if roots:
        providers.append(CaProvider(name="command-line", roots=tuple(roots)))
    return TrustStore(providers, crls)


def _platform_trust_store() -> Any:
    """The CA providers configured on the platform (its database) plus its TSA; where no
    platform is set up (a bidder's machine), nothing is trusted and a note says so."""
    from sqlalchemy.exc import SQLAlchemyError

    from signing.trust import TrustStore
    from webapp.services import build_services
    from webapp.settings import Settings

    settings = Settings.from_env(os.environ)
    if settings.database_url is None and not (settings.data_dir / "tenderhall.db").exists():
        click.echo(
            "提示：此处没有平台数据库，未信任任何 CA（可用 --trust 指定）/ note: no platform "
            "database here, so no CA is trusted (give --trust)",
            err=True,
        )
        return TrustStore()

    async def load() -> Any:
        services = build_services(settings)
        try:
            return await services.trust_store()
        finally:
            await services.close()

    try:
        return asyncio.run(load())
    except (DomainError, SQLAlchemyError) as exc:
        click.echo(f"提示/note: platform trust unavailable ({exc}); no CA is trusted", err=True)
        return TrustStore()


def _format_problems(problems: tuple[Problem, ...]) -> list[str]:
    return [f"  [{p.code}] {p.message_zh}\n         {p.message_en}" for p in problems]


# --- pack -------------------------------------------------------------------------------------


def _schema_from_file(path: Path) -> list[Any]:
    from trading.tenders.opening_data import field_from_dict

    body = _read_json(path)
    if isinstance(body, dict) and "opening_schema" in body:  # a lot object
        body = body["opening_schema"]
    if not isinstance(body, list):
        raise InputFileError(
            path, "not an opening-data schema (a list of fields)", "不是开标数据字段列表"
        )
    try:
        return [field_from_dict(item) for item in body]
    except (KeyError, ValueError, TypeError, AssertionError) as exc:
        raise InputFileError(path, f"a field is malformed: {exc}", f"字段定义有误：{exc}") from exc


class LotNotFoundError(DomainError):
    code = "lot_not_found"

    def __init__(self, tender_id: str, lot: int) -> None:
        super().__init__(
            f"Tender {tender_id} has no lot {lot}.", f"项目 {tender_id} 没有第 {lot} 标段。"
        )


def _saved_token(server: str) -> str | None:
    """The token ``tenderhall login`` keeps for ``server``."""
    from webapp.cli.session_cli import saved_token

    return saved_token(server)


def _schema_from_server(server: str, token: str | None, tender_id: str, lot: int) -> list[Any]:
    from trading.tenders.opening_data import field_from_dict
    from webapp.cli.bid_client import ApiClient

    token = token or _saved_token(server)
    with ApiClient(server, token=token) as client:
        path = f"/api/tenders/{tender_id}" if token else f"/api/portal/tenders/{tender_id}"
        tender = client.call("GET", path, retry=True)
    for item in tender.get("lots", []):
        if item.get("number") == lot:
            return [field_from_dict(f) for f in item["opening_schema"]]
    raise LotNotFoundError(tender_id, lot)


def _timestamper(tsa_url: str | None, platform_tsa: bool) -> Any:
    if tsa_url:
        from signing.tsa import http_timestamper

        return http_timestamper(tsa_url)
    if platform_tsa:
        from webapp.cli.pdf_cli import _platform_timestamper

        return _platform_timestamper()
    return None


@contextlib.contextmanager
def _signer(
    key: Path | None, password: str | None, lib: str | None, token: str | None,
    key_label: str | None, pin: str | None,
) -> Iterator[Any]:  # fmt: skip
    from signing.bidpack import pkcs11_signer, pkcs12_signer

    if key is not None:
        yield pkcs12_signer(key.read_bytes(), password, source=str(key))
        return
    if not (lib and token and key_label):
        raise click.UsageError("give --key P12, or --pkcs11-lib, --pkcs11-token and --pkcs11-key")
    with pkcs11_signer(lib, token, key_label, pin) as signer:
        yield signer


@click.command("pack")
@click.argument("pdfs", nargs=-1, required=True, type=_ExistingFile)
@click.option(
    "--data", "data_file", required=True, type=_ExistingFile, help="开标数据 JSON / opening data"
)
@click.option(
    "--schema",
    "schema_file",
    type=_ExistingFile,
    help="标段开标数据字段 JSON / the lot's opening_schema",
)
@click.option("--server", help="平台地址，从项目读取字段 / read the schema from the platform")
@click.option(
    "--token", envvar="TENDERHALL_TOKEN", help="访问令牌 / bearer token (or TENDERHALL_TOKEN)"
)
@click.option("--tender", "tender_id", required=True, help="项目编号 / tender id")
@click.option(
    "--lot", "lot_number", required=True, type=click.IntRange(1), help="标段号 / lot number"
)
@click.option("--key", type=_ExistingFile, help="签名证书 PKCS#12 / signing key (PKCS#12)")
@click.option("--password", envvar="TENDERHALL_KEY_PASSWORD", help="PKCS#12 口令 / password")
@click.option("--pkcs11-lib", help="PKCS#11 模块 / PKCS#11 module path")
@click.option("--pkcs11-token", help="令牌标签 / token label")
@click.option("--pkcs11-key", help="密钥与证书标签 / key and certificate label")
@click.option("--pin", envvar="TENDERHALL_PIN", help="令牌 PIN / user PIN (or TENDERHALL_PIN)")
@click.option("--tsa-url", help="RFC 3161 时间戳服务 (PAdES B-T) / TSA URL; none: PAdES B-B")
@click.option("--platform-tsa", is_flag=True, help="使用平台时间戳服务 / the platform's TSA")
@click.option(
    "--trust", multiple=True, type=_ExistingPath, help="CA 配置（用于读取信用代码）/ trust"
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def pack_command(
    pdfs: tuple[Path, ...], data_file: Path, schema_file: Path | None, server: str | None,
    token: str | None, tender_id: str, lot_number: int, key: Path | None, password: str | None,
    pkcs11_lib: str | None, pkcs11_token: str | None, pkcs11_key: str | None, pin: str | None,
    tsa_url: str | None, platform_tsa: bool, trust: tuple[Path, ...], out: Path,
) -> None:  # fmt: skip
    """生成投标文件包 / Sign the PDFs and the manifest into a bid package (ZIP)."""
    from signing.bidpack import pack

    if (schema_file is None) == (server is None):
        raise click.UsageError("give exactly one of --schema and --server")
    if out.exists():
        fail(f"{out} 已存在，不会覆盖", f"{out} already exists; nothing is overwritten")
    _quiet_pyhanko()
    with reported():
        data = _read_json(data_file)
        if not isinstance(data, dict):
            raise InputFileError(
                data_file, "opening data must be a JSON object", "开标数据须为 JSON 对象"
            )
        if schema_file is not None:
            schema = _schema_from_file(schema_file)
        else:
            schema = _schema_from_server(server, token, tender_id, lot_number)  # type: ignore[arg-type]
        store = load_trust(trust) if trust else None
        with _signer(key, password, pkcs11_lib, pkcs11_token, pkcs11_key, pin) as signer:
            summary = asyncio.run(
                pack(
                    list(pdfs), out, tender_id=tender_id, lot_number=lot_number,
                    opening_data=data, schema=schema, signer=signer, now=datetime.now(UTC),
                    timestamper=_timestamper(tsa_url, platform_tsa), trust=store,
                )
            )  # fmt: skip
    click.echo(
        f"投标文件包已生成 / bid package written: {out}\n"
        f"  单位 / bidder: {summary.manifest['bidder_credit_code']}\n"
        f"  文件 / files: {len(pdfs)}  SHA-256: {summary.sha256}"
    )


@click.command("check")
@click.argument("package", type=_ExistingFile)
@click.option(
    "--schema", "schema_file", type=_ExistingFile, help="标段开标数据字段 / opening_schema"
)
@click.option(
    "--trust",
    multiple=True,
    type=_ExistingPath,
    help="CA 证书、信任库 JSON 或演示 PKI 目录 / trust",
)
@click.option("--tender", "tender_id", help="应属项目 / expected tender id")
@click.option("--lot", "lot_number", type=int, help="应属标段 / expected lot")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 / JSON output")
def check_command(
    package: Path, schema_file: Path | None, trust: tuple[Path, ...], tender_id: str | None,
    lot_number: int | None, as_json: bool,
) -> None:  # fmt: skip
    """核验投标文件包 / Check a bid package completely. Exit 0 valid, 1 invalid, 2 indeterminate."""
    from signing.bidpack_check import check

    _quiet_pyhanko()
    with reported():
        schema = _schema_from_file(schema_file) if schema_file else None
        store = load_trust(trust)
    verdict = check(package, trust=store, schema=schema, tender_id=tender_id, lot_number=lot_number)
    if as_json:
        click.echo(verdict.to_json())
    else:
        lines = [f"结论 / verdict: {_STATUS_ZH[verdict.status]} / {verdict.status.value}"]
        if verdict.manifest:
            m = verdict.manifest
            lines.append(
                f"  项目/tender {m['tender_id']}  标段/lot {m['lot_number']}  "
                f"单位/bidder {m['bidder_credit_code']}  文件/files {len(m['files'])}"
            )
            lines.append(
                f"  开标数据/opening data: {json.dumps(m['opening_data'], ensure_ascii=False)}"
            )
        lines += _format_problems(verdict.problems)
        click.echo("\n".join(lines))
    sys.exit(_EXIT[verdict.status])


# --- receipts ---------------------------------------------------------------------------------


def _receipt_trust(trust: tuple[Path, ...]) -> Any:
    return load_trust(trust) if trust else None


def _report_receipt(verdict: Any) -> str:
    lines = [f"回执 / receipt: {_STATUS_ZH[verdict.status]} / {verdict.status.value}"]
    r = verdict.receipt
    if r:
        lines += [
            f"  类型/kind {r['kind']}  项目/tender {r['tender_id']}  标段/lot {r['lot_number']}",
            f"  投标/bid {r['bid_id']}  单位/bidder {r['bidder_credit_code']}",
            f"  信封/envelope SHA-256 {r['envelope_sha256']} ({r['envelope_size']} bytes)",
            f"  接收时间/received at {r['received_at']}  审计序号/audit seq {r['audit_seq']}",
        ]
        if r.get("replaces"):
            lines.append(f"  替代/replaces {r['replaces']}")
    if verdict.timestamped_at:
        lines.append(f"  时间戳/timestamp {verdict.timestamped_at.isoformat()}")
    if verdict.envelope_checked:
        lines.append("  已核对信封文件 / envelope file checked")
    lines += _format_problems(verdict.problems)
    return "\n".join(lines)


@click.command("verify-receipt")
@click.argument("receipt", type=_ExistingFile)
@click.option("--envelope", type=_ExistingFile, help="投标信封文件 / the sealed envelope")
@click.option("--trust", multiple=True, type=_ExistingPath, help="信任的根证书 PEM / trusted roots")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 / JSON output")
def verify_receipt_command(
    receipt: Path, envelope: Path | None, trust: tuple[Path, ...], as_json: bool
) -> None:
    """离线核验回执 / Verify a receipt offline. Exit 0 valid, 1 invalid, 2 indeterminate."""
    from signing.receipt import verify_receipt

    _quiet_pyhanko()
    with reported():
        store = _receipt_trust(trust)
        verdict = asyncio.run(verify_receipt(receipt.read_bytes(), envelope=envelope, trust=store))
    click.echo(verdict.to_json() if as_json else _report_receipt(verdict))
    sys.exit(_EXIT[verdict.status])


# --- submit -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _bar(total: int) -> Iterator[Callable[[int], None]]:
    with click.progressbar(length=max(total, 1), label="上传 / uploading", file=sys.stderr) as bar:
        last = 0

        def update(done: int) -> None:
            nonlocal last
            bar.update(done - last)
            last = done

        yield update


def _token_for(
    server: str, token: str | None, username: str | None, password: str | None
) -> str | None:
    """The bearer token to use: ``--token``, else the one ``tenderhall login`` kept (unless a
    username is given); None when ``--username`` and ``--password`` are to sign in."""
    if token is None and not username:
        token = _saved_token(server)
    if token is None and not (username and password):
        raise click.UsageError(
            "give --token, or --username and --password, or sign in first (tenderhall login)"
        )
    return token


def _keep_receipt(
    issued: dict[str, Any],
    target: Path,
    *,
    envelope: Path | None,
    trust: tuple[Path, ...],
    expected: dict[str, Any],
) -> Any:
    """Verify the receipt the platform issued and save it as ``target``; the verdict.

    A receipt that does not verify, or whose fields differ from ``expected`` (another tender,
    lot, bid or kind), is kept as ``target.unverified`` as evidence, never under the good name,
    and the command fails.
    """
    from signing.receipt import verify_receipt
    from webapp.cli.bid_client import write_atomically

    data = (json.dumps(issued, ensure_ascii=False, indent=2) + "\n").encode()
    verdict = asyncio.run(verify_receipt(data, envelope=envelope, trust=_receipt_trust(trust)))
    receipt = verdict.receipt or {}
    mismatch = verdict.receipt is not None and any(
        receipt.get(key) != value for key, value in expected.items()
    )
    if verdict.status is Status.VALID and not mismatch:
        write_atomically(target, data)
        return verdict
    bad = target.with_name(target.name + ".unverified")
    write_atomically(bad, data)
    click.echo(_report_receipt(verdict), err=True)
    fail(
        f"平台回执未通过核验（或与所请求的项目、标段、投标不符），已另存为 {bad}",
        f"the platform's receipt did not verify (or is for another tender, lot or bid); "
        f"kept as {bad}",
    )


def _sign_in_options(command: _F) -> _F:
    """--token, --username and --password, as the commands that talk to the platform take them."""
    options = [
        click.option(
            "--token",
            envvar="TENDERHALL_TOKEN",
            help="访问令牌 / bearer token (or TENDERHALL_TOKEN)",
        ),
        click.option("--username", help="用户名 / username"),
        click.option(
            "--password",
            envvar="TENDERHALL_PASSWORD",
            help="登录口令 / password (or TENDERHALL_PASSWORD)",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command("submit")
@click.argument("envelope", type=_ExistingFile)
@click.option("--server", required=True, help="平台地址 / platform URL")
@click.option("--tender", "tender_id", required=True, help="项目编号 / tender id")
@click.option("--lot", "lot_number", required=True, type=click.IntRange(1), help="标段号 / lot")
@_sign_in_options
@click.option(
    "--receipt",
    "receipt_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="回执保存位置 / where to save the receipt",
)
@click.option(
    "--trust",
    multiple=True,
    type=_ExistingPath,
    help="平台与时间戳根证书 / trusted roots for the receipt",
)
@click.option(
    "--retries",
    default=5,
    show_default=True,
    type=click.IntRange(0, 20),
    help="每片失败重试次数 / retries of a failed chunk",
)
@click.option(
    "--retry-delay",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0),
    help="首次重试等待秒数，逐次加倍 / first back-off in seconds, doubling",
)
def submit_command(
    envelope: Path, server: str, tender_id: str, lot_number: int, token: str | None,
    username: str | None, password: str | None, receipt_path: Path | None, trust: tuple[Path, ...],
    retries: int, retry_delay: float,
) -> None:  # fmt: skip
    """上传投标信封并取得回执 / Upload a sealed bid (resumable), verify and save the receipt."""
    from webapp.cli.bid_client import ApiClient, receipt_path_for, state_path_for, upload_envelope

    token = _token_for(server, token, username, password)
    target = receipt_path or receipt_path_for(envelope)
    state = state_path_for(envelope)
    _quiet_pyhanko()
    with (
        reported(),
        ApiClient(server, token=token, retries=retries, backoff_s=retry_delay) as client,
    ):
        if token is None:
            client.login(username, password)  # type: ignore[arg-type]  # checked above
        with _bar(envelope.stat().st_size) as progress:
            result = upload_envelope(
                client, envelope, tender_id=tender_id, lot_number=lot_number,
                state_path=state, progress=progress,
            )  # fmt: skip
        verdict = _keep_receipt(
            result.receipt, target, envelope=envelope, trust=trust,
            expected={"tender_id": tender_id, "lot_number": lot_number, "kind": "submission"},
        )  # fmt: skip
        state.unlink(missing_ok=True)
    how = "续传 / resumed" if result.resumed else "新上传 / new upload"
    click.echo(
        f"已提交 / submitted ({how}, {result.parts_sent}/{result.parts_total} parts sent)\n"
        f"{_report_receipt(verdict)}\n回执已保存 / receipt saved: {target}"
    )


@click.command("withdraw")
@click.argument("bid_id")
@click.option("--server", required=True, help="平台地址 / platform URL")
@click.option(
    "--envelope",
    type=_ExistingFile,
    help="该投标的信封文件：核对回执并在其旁保存 / the bid's sealed envelope: the receipt is "
    "checked against it and saved beside it",
)
@_sign_in_options
@click.option(
    "--receipt",
    "receipt_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="撤回回执保存位置 / where to save the withdrawal receipt "
    "(default ENVELOPE.withdrawal.json, or BID_ID.withdrawal.json)",
)
@click.option(
    "--trust",
    multiple=True,
    type=_ExistingPath,
    help="平台与时间戳根证书 / trusted roots for the receipt",
)
def withdraw_command(
    bid_id: str, server: str, envelope: Path | None, token: str | None, username: str | None,
    password: str | None, receipt_path: Path | None, trust: tuple[Path, ...],
) -> None:  # fmt: skip
    """截止前撤回投标并取得撤回回执 / Withdraw bid BID_ID before the deadline; verify and save
    the withdrawal receipt.

    BID_ID is the bid_id of the submission receipt (`bid submit` prints it). The withdrawal
    receipt is verified like a submission receipt, with --envelope against the envelope too.
    Run again after a lost answer, it fetches the receipt already issued.
    """
    from webapp.cli.bid_client import ApiClient, withdraw_bid, withdrawal_path_for

    token = _token_for(server, token, username, password)
    if receipt_path is not None:
        target = receipt_path
    elif envelope is not None:
        target = withdrawal_path_for(envelope)
    else:
        target = Path(f"{bid_id}.withdrawal.json")
    _quiet_pyhanko()
    with reported(), ApiClient(server, token=token) as client:
        if token is None:
            client.login(username, password)  # type: ignore[arg-type]  # checked above
        issued, earlier = withdraw_bid(client, bid_id)
        verdict = _keep_receipt(
            issued, target, envelope=envelope, trust=trust,
            expected={"bid_id": bid_id, "kind": "withdrawal"},
        )  # fmt: skip
    how = (
        "此前已撤回，回执取自平台 / withdrawn earlier; receipt fetched"
        if earlier
        else ("已撤回 / withdrawn")
    )
    click.echo(f"{how}\n{_report_receipt(verdict)}\n撤回回执已保存 / receipt saved: {target}")


@click.command("opening-cert")
@click.option("--server", required=True, help="平台地址 / platform URL")
@click.option("--tender", "tender_id", required=True, help="项目编号 / tender id")
@click.option("--lot", "lot_number", required=True, type=click.IntRange(1), help="标段号 / lot")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="证书保存位置 (PEM) / where to save the certificate (PEM)",
)
@_sign_in_options
def opening_cert_command(
    server: str, tender_id: str, lot_number: int, out: Path,
    token: str | None, username: str | None, password: str | None,
) -> None:  # fmt: skip
    """下载标段开标证书 / Download a lot's opening certificate, to seal bids to it.

    Use the file with `bid seal --recipient`. The printed fingerprint (SHA-256 of the public key)
    is the one `custody create --upload` printed when the key was made: the agency can announce
    it, and you can compare.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from webapp.cli.bid_client import ApiClient, write_atomically

    token = _token_for(server, token, username, password)
    with reported(), ApiClient(server, token=token) as client:
        if token is None:
            client.login(username, password)  # type: ignore[arg-type]  # checked above
        key = client.call(
            "GET", f"/api/tenders/{tender_id}/lots/{lot_number}/opening-key", retry=True
        )
    pem = str(key["certificate"]).encode("ascii")
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        fail("平台返回的开标证书无法解析", "the platform's opening certificate cannot be read")
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fingerprint = hashlib.sha256(spki).hexdigest()
    if fingerprint != key["fingerprint"]:
        fail(
            "开标证书与平台声明的指纹不符，未保存",
            "the opening certificate does not match the fingerprint the platform states; not saved",
        )
    write_atomically(out, pem)
    click.echo(
        f"标段 / lot {lot_number}: {certificate.subject.rfc4514_string()}\n"
        f"公钥指纹 / key fingerprint (SHA-256): {fingerprint}\n"
        f"门限 / threshold: {key['threshold']} of {len(key['custodians'])}\n"
        f"已保存 / saved: {out}"
    )


COMMANDS: list[click.Command] = [
    pack_command,
    check_command,
    submit_command,
    withdraw_command,
    verify_receipt_command,
    opening_cert_command,
]
