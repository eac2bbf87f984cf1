"""audit: export the audit log, verify an export offline, publish a signed tree head."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

import click

from trading.audit.verify import AuditVerdict, verify_export
from trading.errors import DomainError
from webapp.cli import CliContext, fail, pass_cli


@click.group()
def audit() -> None:
    """审计日志 / The verifiable audit log (全程留痕)."""


@audit.command("export")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="导出目录 / directory to write events.jsonl, tree_heads.jsonl and manifest.json to",
)
@pass_cli
def export_command(cli: CliContext, out: Path) -> None:
    """导出审计日志供离线核验 / Export the log for offline verification."""
    from storage.db import create_engine
    from storage.uow import SqlUnitOfWork
    from trading.ports import SystemClock

    settings = cli.settings

    async def run() -> tuple[int, bytes, int, int]:
        engine = create_engine(settings.effective_database_url)
        try:
            clock = SystemClock()
            async with SqlUnitOfWork(engine, clock=clock) as uow:
                summary = await uow.audit.export(out, clock.now())
            return summary.size, summary.root, summary.tree_heads, summary.revealed
        finally:
            await engine.dispose()

    size, root, heads, revealed = asyncio.run(run())
    click.echo(
        f"已导出 {size} 个事件、{heads} 个签名树头（{revealed} 个已解封事件）/ exported {size} "
        f"events, {heads} signed tree heads ({revealed} revealed sealed events)\nroot {root.hex()}"
    )


def _report(verdict: AuditVerdict) -> str:
    lines = [
        f"事件/events: {verdict.size}  根/root: {verdict.root.hex()}",
        f"已核验树头/tree heads checked: {verdict.heads_checked}"
        + ("" if verdict.signatures_checked else "  (未核验签名/signatures NOT checked)"),
        f"已核验解封事件/revealed events checked: {verdict.revealed_checked}",
    ]
    if verdict.intact:
        lines.append("完好：未发现篡改 / intact: nothing was altered")
    else:
        lines.append(f"发现问题 / PROBLEMS (first bad event: {verdict.first_bad_seq})")
        lines += [f"  [{p.code}] {p.message_zh} / {p.message_en}" for p in verdict.problems]
    return "\n".join(lines)


@audit.command("verify")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="日志公钥 PEM / the log's public key, to check tree-head signatures",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def verify_command(directory: Path, public_key: Path | None, as_json: bool) -> None:
    """离线核验导出的审计日志 / Verify an exported audit log offline. Exit 1 if altered."""
    from signing import log_key

    check = log_key.verifier(public_key.read_bytes()) if public_key else None
    try:
        verdict = verify_export(directory, check)
    except DomainError as exc:
        fail(exc.message_zh, exc.message_en)
    if as_json:
        body = {
            "intact": verdict.intact,
            "size": verdict.size,
            "root": verdict.root.hex(),
            "heads_checked": verdict.heads_checked,
            "signatures_checked": verdict.signatures_checked,
            "revealed_checked": verdict.revealed_checked,
            "first_bad_seq": verdict.first_bad_seq,
            "problems": [p.__dict__ for p in verdict.problems],
        }
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        click.echo(_report(verdict))
    sys.exit(0 if verdict.intact else 1)


@audit.command("publish")
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="日志签名私钥 PEM（默认为平台日志密钥）/ the log's signing key (default: the platform's)",
)
@pass_cli
def publish_command(cli: CliContext, key: Path | None) -> None:
    """填充掩护事件并签发树头 / Pad with cover events and sign a tree head (the scheduled tick)."""
    from signing import log_key
    from storage.db import create_engine
    from storage.uow import SqlUnitOfWork
    from trading.ports import SystemClock

    settings = cli.settings
    private = (
        log_key.load_private_key(key.read_bytes())
        if key
        else log_key.load_or_create(settings.effective_audit_key_file)
    )

    async def run() -> tuple[int, bytes]:
        engine = create_engine(settings.effective_database_url)
        try:
            clock = SystemClock()
            async with SqlUnitOfWork(engine, clock=clock) as uow:
                head = await uow.audit.publish(
                    log_key.signer(private),
                    clock.now(),
                    bucket=settings.audit_cover_bucket,
                    hold=timedelta(days=settings.audit_cover_hold_days),
                )
                await uow.commit()
            return head.size, head.root
        finally:
            await engine.dispose()

    size, root = asyncio.run(run())
    click.echo(f"树头/tree head: size {size} root {root.hex()}")


@audit.command("public-key")
@pass_cli
def public_key_command(cli: CliContext) -> None:
    """打印日志公钥 PEM / Print the log's public key (PEM) for `audit verify --public-key`."""
    from signing import log_key

    private = log_key.load_or_create(cli.settings.effective_audit_key_file)
    click.echo(log_key.public_pem(private).decode(), nl=False)
