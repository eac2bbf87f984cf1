"""bid: seal and unseal bids (数字信封), release a content key; custody: the lot's opening key.

Every command works offline on files. Bad input (a wrong key, a damaged or forged envelope, a
foreign share) is reported in Chinese and English with exit status 2, never as a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import click

from webapp.cli import reported

_ExistingFile = click.Path(exists=True, dir_okay=False, path_type=Path)


class _NewFilePath(click.Path):
    """An output file that must not exist yet: nothing is ever overwritten."""

    def convert(
        self,
        value: str | os.PathLike[str],
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> str | bytes | os.PathLike[str]:
        path = super().convert(value, param, ctx)
        if Path(os.fsdecode(path)).exists():
            self.fail(f"{os.fsdecode(path)} already exists / 文件已存在，不会覆盖", param, ctx)
        return path


_NewFile = _NewFilePath(dir_okay=False, path_type=Path)
_PROGRESS_FROM = 32 << 20  # show progress for files of 32 MiB and more


@contextlib.contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for big files; nothing for small ones."""
    if total < _PROGRESS_FROM:
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        last = 0

        def update(done: int) -> None:
            nonlocal last
            bar.update(done - last)
            last = done

        yield update


_password_option = click.option(
    "--password",
    default=None,
    envvar="TENDERHALL_KEY_PASSWORD",  # keeps the password out of the process list
    help="密钥文件口令 / password of the key file (PKCS#12 or encrypted PEM); "
    "or TENDERHALL_KEY_PASSWORD",
)


@click.group()
def bid() -> None:
    """投标文件数字信封 / Sealed bids: seal, unseal, release the content key."""


@bid.command("seal")
@click.argument("package", type=_ExistingFile)
@click.argument("out", type=_NewFile)
@click.option(
    "--recipient",
    "recipients",
    multiple=True,
    required=True,
    type=_ExistingFile,
    help="接收者证书（投标人证书与标段开标证书）/ recipient certificate, PEM or DER; repeat",
)
def seal_command(package: Path, out: Path, recipients: tuple[Path, ...]) -> None:
    """加密投标文件 / Seal PACKAGE into the envelope OUT (CMS AuthEnvelopedData, AES-256-GCM)."""
    from signing.envelope import seal
    from signing.envelope_keys import load_certificate

    with reported():
        certs = [load_certificate(path.read_bytes()) for path in recipients]
        with _progress(package.stat().st_size, "加密 / sealing") as progress:
            summary = seal(package, out, certs, progress=progress)
    click.echo(
        f"已加密 {summary.plaintext_size} 字节，{summary.recipients} 个接收者 / sealed "
        f"{summary.plaintext_size} bytes for {summary.recipients} recipient(s): {out}",
        err=True,
    )


@bid.command("unseal")
@click.argument("envelope", type=_ExistingFile)
@click.argument("out", type=_NewFile)
@click.option("--key", type=_ExistingFile, help="私钥文件 PKCS#12 或 PEM / key file")
@_password_option
@click.option(
    "--content-key",
    type=_ExistingFile,
    help="已释放的内容密钥文件（十六进制）/ a released content key (hex), instead of --key",
)
def unseal_command(
    envelope: Path, out: Path, key: Path | None, password: str | None, content_key: Path | None
) -> None:
    """解密投标文件 / Open ENVELOPE into OUT; OUT appears only if the envelope is intact."""
    from signing.envelope import decrypt_with_content_key, unseal
    from signing.envelope_keys import load_key_pair

    if (key is None) == (content_key is None):
        raise click.UsageError("give exactly one of --key and --content-key")
    with reported(), _progress(envelope.stat().st_size, "解密 / unsealing") as progress:
        if key is None:
            cek = _read_content_key(content_key)  # type: ignore[arg-type]  # checked above
            summary = decrypt_with_content_key(envelope, cek, out, progress=progress)
        else:
            pair = load_key_pair(key.read_bytes(), _pw(password))
            summary = unseal(envelope, out, pair.key, pair.certificate, progress=progress)
    click.echo(
        f"已解密并通过完整性校验，{summary.plaintext_size} 字节 / unsealed and verified, "
        f"{summary.plaintext_size} bytes: {out}",
        err=True,
    )


def _pw(password: str | None) -> bytes | None:
    return password.encode() if password else None


def _read_content_key(path: Path) -> bytes:
    from signing.envelope_errors import KeyFileError

    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyFileError("the content key file is not hex") from exc


@bid.command("release-key")
@click.argument("envelope", type=_ExistingFile)
@click.option("--key", required=True, type=_ExistingFile, help="私钥文件 / key file (PKCS#12/PEM)")
@_password_option
@click.option("--out", type=_NewFile, help="保存内容密钥 / write the content key here (hex)")
def release_key_command(envelope: Path, key: Path, password: str | None, out: Path | None) -> None:
    """释放内容密钥 / Unwrap the content key from ENVELOPE's header (reads only the first KB)."""
    from signing.envelope import unwrap_content_key
    from signing.envelope_keys import load_key_pair

    with reported():
        pair = load_key_pair(key.read_bytes(), _pw(password))
        cek = unwrap_content_key(envelope, pair.key, pair.certificate)
        text = cek.hex() + "\n"
        if out is None:
            click.echo(text, nl=False)
        else:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as sink:
                sink.write(text)
            click.echo(f"内容密钥已保存 / content key written: {out}", err=True)


@click.group()
def custody() -> None:
    """开标密钥门限托管 / Threshold custody of a lot's opening key."""


@custody.command("create")
@click.option("--lot", required=True, help="标段编号 / lot identifier")
@click.option("--threshold", required=True, type=click.IntRange(2), help="K: shares needed")
@click.option(
    "--custodian",
    "custodians",
    multiple=True,
    required=True,
    type=_ExistingFile,
    help="托管人证书 / a custodian's certificate (PEM or DER); repeat for each",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--upload", is_flag=True, help="上传公钥与加密分片 / upload to the platform")
@click.option("--server", help="平台地址 / platform URL (with --upload)")
@click.option("--tender", "tender_id", help="项目编号 / tender id (with --upload)")
@click.option("--lot-number", type=click.IntRange(1), help="标段号 / lot number (default: --lot)")
@click.option("--token", envvar="TENDERHALL_TOKEN", help="访问令牌 / bearer token")
@click.option("--username", help="用户名 / username (instead of --token)")
@click.option("--login-password", envvar="TENDERHALL_PASSWORD", help="登录口令 / password")
def custody_create_command(
    lot: str,
    threshold: int,
    custodians: tuple[Path, ...],
    out: Path,
    upload: bool,
    server: str | None,
    tender_id: str | None,
    lot_number: int | None,
    token: str | None,
    username: str | None,
    login_password: str | None,
) -> None:
    """生成开标密钥并拆分托管 / Generate the opening key, split it K-of-N, seal the shares.

    With ``--upload --server URL --tender ID`` the opening certificate, the sealed shares and
    the manifest are sent to the platform (the lot's agency officer signs in).
    """
    from signing.custody import create_custody
    from signing.envelope_keys import load_certificate

    if upload and not (server and tender_id):
        raise click.UsageError("--upload needs --server and --tender")
    if upload and token is None and not username:
        from webapp.cli.session_cli import saved_token

        token = saved_token(server or "")
    if upload and token is None and not (username and login_password):
        raise click.UsageError(
            "--upload needs --token, --username and --login-password, or tenderhall login"
        )
    if upload and lot_number is None and not lot.isdigit():
        raise click.UsageError("--upload needs --lot-number when --lot is not a number")
    with reported():
        certs = [load_certificate(path.read_bytes()) for path in custodians]
        manifest = create_custody(lot, threshold, certs, out, now=datetime.now(UTC))
    click.echo(
        f"开标密钥已生成并拆分为 {len(manifest.custodians)} 份（需 {threshold} 份），私钥已销毁 / "
        f"opening key generated, split {threshold}-of-{len(manifest.custodians)}, private key "
        f"destroyed\nopening certificate: {out / manifest.certificate}\n"
        f"public key sha256: {manifest.public_key_sha256}"
    )
    if upload:
        from webapp.cli.custody_upload import upload_custody

        with reported():
            answer = upload_custody(
                out,
                custodians,
                server=server or "",
                tender_id=tender_id or "",
                lot_number=lot_number if lot_number is not None else int(lot),
                token=token,
                username=username,
                password=login_password,
            )
        click.echo(
            f"已上传至平台 / uploaded: lot {answer.get('lot_number')}, fingerprint "
            f"{answer.get('fingerprint')}, {answer.get('threshold')}-of-"
            f"{len(answer.get('custodians', []))}"
        )


@custody.command("release")
@click.argument("share", required=False, type=_ExistingFile)
@click.option("--key", required=True, type=_ExistingFile, help="托管人私钥 / custodian's key file")
@_password_option
@click.option("--out", type=_NewFile, help="解密后的分片 / released share (JSON)")
@click.option("--server", help="平台地址：取回本人分片并在开标时交付 / hand over to the platform")
@click.option("--tender", "tender_id", help="项目编号 / tender id (with --server)")
@click.option("--lot-number", type=click.IntRange(1), help="标段号 / lot number (with --server)")
@click.option("--token", envvar="TENDERHALL_TOKEN", help="访问令牌 / bearer token")
def custody_release_command(
    share: Path | None,
    key: Path,
    password: str | None,
    out: Path | None,
    server: str | None,
    tender_id: str | None,
    lot_number: int | None,
    token: str | None,
) -> None:
    """解密本人持有的分片并交付 / Decrypt your sealed SHARE to hand it over at the opening.

    With ``--server URL --tender ID --lot-number N`` the sealed share is fetched from the platform
    (unless SHARE is given), decrypted here and handed over; with K shares the platform rebuilds
    the lot's opening key. Without ``--server``, ``--out`` keeps the released share.
    """
    from signing.custody import release_share
    from signing.envelope_keys import load_key_pair

    if server is None and (share is None or out is None):
        raise click.UsageError("give SHARE and --out, or --server --tender --lot-number")
    if server is not None and not (tender_id and lot_number):
        raise click.UsageError("--server needs --tender and --lot-number")
    with reported():
        pair = load_key_pair(key.read_bytes(), _pw(password))
        if server is None:
            assert share is not None
            released = release_share(share.read_bytes(), pair.key, pair.certificate)
        else:
            from webapp.cli.bid_client import ApiClient
            from webapp.cli.custody_upload import hand_over_share
            from webapp.cli.session_cli import saved_token

            with ApiClient(server, token=token or saved_token(server)) as client:
                released, answer = hand_over_share(
                    client,
                    tender_id=tender_id or "",
                    lot_number=lot_number or 1,
                    key=pair.key,
                    certificate=pair.certificate,
                    sealed_share=share.read_bytes() if share else None,
                )
            click.echo(
                f"已交付 / handed over: {answer['released']} of {answer['threshold']} shares"
                + (
                    "，开标密钥已重建 / the opening key is rebuilt"
                    if answer["reconstructed"]
                    else ""
                )
            )
        if out is not None:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as sink:
                sink.write(released.to_json())
    click.echo(
        f"第 {released.index} 号分片已解密（标段 {released.lot}）/ share {released.index} of lot "
        f"{released.lot} released" + (f": {out}" if out else "")
    )


@custody.command("combine")
@click.argument("shares", nargs=-1, required=True, type=_ExistingFile)
@click.option("--lot", required=True, help="标段编号 / the lot being opened")
@click.option(
    "--manifest",
    type=_ExistingFile,
    help="托管清单 / the custody manifest.json: binds the shares to its opening key",
)
@click.option("--out", required=True, type=_NewFile, help="重建的开标私钥 PEM / rebuilt key")
def custody_combine_command(
    shares: tuple[Path, ...], lot: str, manifest: Path | None, out: Path
) -> None:
    """用 K 份分片重建开标私钥 / Rebuild the lot's opening key from K released shares."""
    from cryptography import x509

    from signing.custody import CustodyManifest, CustodyShare, combine_shares, write_private_key

    with reported():
        released = [CustodyShare.from_json(path.read_bytes()) for path in shares]
        fingerprint = None
        certificate = None
        if manifest is not None:
            parsed = CustodyManifest.from_json(manifest.read_bytes())
            fingerprint = parsed.public_key_sha256
            cert_path = manifest.parent / parsed.certificate
            if cert_path.exists():
                certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = combine_shares(released, lot=lot, public_key_fingerprint=fingerprint)
        write_private_key(key, out, certificate)
    click.echo(f"开标私钥已重建 / opening key rebuilt for lot {lot}: {out}")


def _add_client_commands() -> None:
    # pack / check / submit / verify-receipt live in their own module (the bidder's side).
    from webapp.cli import bid_package_cli

    for command in bid_package_cli.COMMANDS:
        bid.add_command(command)


_add_client_commands()
