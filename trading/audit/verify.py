"""Offline verification of an audit log export (``tenderhall audit verify DIR``).

Anyone holding an export and the platform's public log key can check, without the platform:

- every event is present, in order, with no gap (``seq`` 0, 1, 2, ...);
- every leaf hash is ``SHA-256(0x00 || leaf bytes)`` and every leaf is well-formed, naming its own
  position;
- every revealed sealed event matches the commitment its leaf made before the deadline;
- every signed tree head's root is the RFC 6962 root of the first ``size`` leaves, and its
  signature holds;
- the manifest's size and root are those of the whole file.

The verdict names the first event that does not match. An edit that left the stored leaf hash
alone is pinned to the event; an edit that also rewrote the hash is caught by the first signed
head it breaks, and the verdict names the range of events between that head and the last one that
still holds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trading.audit.events import (
    AuditEvent,
    MalformedEventError,
    check_reveal,
    parse_sealed_leaf,
    parse_tree_head_payload,
)
from trading.audit.merkle import MemoryTree, leaf_hash
from trading.errors import ValidationError

SignatureCheck = Callable[[bytes, bytes], bool]
"""``check(payload, signature)`` with the platform's public log key."""


class MalformedExportError(ValidationError):
    """The directory is not an audit export at all (missing or unreadable files)."""

    code = "audit_export_malformed"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Not a readable audit export: {reason}",
            f"不是可读取的审计导出：{reason}",
            reason=reason,
        )


@dataclass(frozen=True)
class AuditProblem:
    code: str
    """``seq_gap``, ``leaf_hash_mismatch``, ``leaf_malformed``, ``reveal_mismatch``,
    ``head_root_mismatch``, ``head_signature_invalid``, ``head_malformed``,
    ``head_beyond_log``, ``manifest_mismatch``, ``line_malformed``."""
    message_en: str
    message_zh: str
    seq: int | None = None
    """The first event concerned, when the problem is about events."""
    seq_end: int | None = None
    """The last event of the range that holds the change, when it cannot be pinned to one."""


@dataclass(frozen=True)
class AuditVerdict:
    intact: bool
    """True when no problem was found."""
    size: int
    """Events in the export."""
    root: bytes
    """RFC 6962 root recomputed from the exported leaves."""
    heads_checked: int
    signatures_checked: bool
    """False when no public key was given: roots were checked, signatures were not."""
    revealed_checked: int
    """Sealed events whose revealed content was checked against their commitment."""
    first_bad_seq: int | None
    problems: tuple[AuditProblem, ...] = field(default=())


def _b64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError("expected base64 text")
    return base64.b64decode(text, validate=True)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MalformedExportError(f"{path.name}: {exc}") from exc


class _Check:
    def __init__(self) -> None:
        self.problems: list[AuditProblem] = []

    def add(
        self, code: str, en: str, zh: str, seq: int | None = None, end: int | None = None
    ) -> None:
        self.problems.append(AuditProblem(code, en, zh, seq, end))


def _check_leaf(check: _Check, seq: int, leaf: bytes, entry: dict[str, Any]) -> bool:
    """Check one event's leaf and reveal; returns whether a revealed content was checked."""
    sealed = parse_sealed_leaf(leaf)
    if sealed is None:
        try:
            event = AuditEvent.from_canonical(leaf)
        except MalformedEventError as exc:
            check.add(
                "leaf_malformed",
                f"Event {seq}: {exc.message_en}",
                f"事件 {seq}：{exc.message_zh}",
                seq,
            )
            return False
        if event.seq != seq or event.sealed:
            check.add(
                "leaf_malformed",
                f"Event {seq}: the leaf names position {event.seq}.",
                f"事件 {seq}：叶子内容标明的位置为 {event.seq}。",
                seq,
            )
        return False
    if sealed[0] != seq:
        check.add(
            "leaf_malformed",
            f"Event {seq}: the sealed leaf names position {sealed[0]}.",
            f"事件 {seq}：密封叶子标明的位置为 {sealed[0]}。",
            seq,
        )
    if "content" not in entry:
        return False
    try:
        content, salt = _b64(entry["content"]), bytes.fromhex(entry["salt"])
    except (ValueError, TypeError, KeyError, binascii.Error):
        content, salt = b"", b""
    if not check_reveal(leaf, content, salt):
        check.add(
            "reveal_mismatch",
            f"Event {seq}: the revealed content does not match what was sealed.",
            f"事件 {seq}：公开的内容与密封时的承诺不符。",
            seq,
        )
    return True


def verify_export(directory: Path, verify_signature: SignatureCheck | None = None) -> AuditVerdict:
    """Check an export written by the platform; see the module docstring for what is checked."""
    if not directory.is_dir():
        raise MalformedExportError(f"{directory} is not a directory")
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MalformedExportError(f"manifest.json: {exc}") from exc
    check = _Check()
    tree = MemoryTree()
    revealed = 0
    for number, line in enumerate(_read_lines(directory / "events.jsonl")):
        expected = tree.size
        try:
            entry = json.loads(line)
            seq, leaf, stored = (
                int(entry["seq"]),
                _b64(entry["leaf"]),
                bytes.fromhex(entry["leaf_hash"]),
            )
        except (ValueError, TypeError, KeyError, binascii.Error):
            check.add(
                "line_malformed",
                f"Line {number + 1} of events.jsonl is not an event.",
                f"events.jsonl 第 {number + 1} 行不是事件。",
                expected,
            )
            tree.append(hashlib.sha256(line.encode()).digest())  # keep positions aligned
            continue
        if seq != expected:
            check.add(
                "seq_gap",
                f"Event {expected} is missing or out of place (found {seq}).",
                f"事件 {expected} 缺失或位置错误（实际为 {seq}）。",
                expected,
            )
        digest = leaf_hash(leaf)
        if digest != stored:
            check.add(
                "leaf_hash_mismatch",
                f"Event {expected} was changed: its bytes no longer hash to its leaf hash.",
                f"事件 {expected} 被修改：其内容与叶子哈希不符。",
                expected,
            )
        revealed += _check_leaf(check, expected, leaf, entry)
        tree.append(digest)

    heads_checked = 0
    last_good = 0
    for line in _read_lines(directory / "tree_heads.jsonl"):
        try:
            head = json.loads(line)
            size, root = int(head["size"]), bytes.fromhex(head["root"])
            signed, signature = _b64(head["signed"]), _b64(head["signature"])
            payload = parse_tree_head_payload(signed)
        except (ValueError, TypeError, KeyError, binascii.Error, MalformedEventError):
            check.add("head_malformed", "A tree head is malformed.", "某个树头格式错误。")
            continue
        heads_checked += 1
        if payload[:2] != (size, root):
            check.add(
                "head_malformed",
                f"Tree head {size}: the signed bytes say something else.",
                f"树头 {size}：签名内容与其字段不符。",
            )
        if verify_signature is not None and not verify_signature(signed, signature):
            check.add(
                "head_signature_invalid",
                f"Tree head {size}: the signature does not verify with the log key.",
                f"树头 {size}：签名无法用日志公钥验证。",
            )
        if size > tree.size:
            check.add(
                "head_beyond_log",
                f"Tree head {size} covers events missing from the export (only {tree.size}).",
                f"树头 {size} 涵盖的事件在导出中缺失（仅有 {tree.size} 个）。",
                tree.size,
            )
            continue
        if tree.root(size) != payload[1]:
            check.add(
                "head_root_mismatch",
                f"Events {last_good}..{size - 1} differ from what signed tree head {size} covers.",
                f"事件 {last_good}..{size - 1} 与已签名树头 {size} 所涵盖的内容不一致。",
                last_good,
                size - 1,
            )
        else:
            last_good = size

    root = tree.root()
    if manifest.get("size") != tree.size:
        check.add(
            "manifest_mismatch",
            f"The manifest says {manifest.get('size')} events; the file holds {tree.size}.",
            f"清单记载 {manifest.get('size')} 个事件，文件中有 {tree.size} 个。",
            tree.size,
        )
    elif manifest.get("root") != root.hex():
        check.add(
            "manifest_mismatch",
            "The platform's current root is not the root of the exported events.",
            "平台当前的根哈希与导出事件计算出的根哈希不一致。",
        )
    # An event pinned exactly wins over the start of a range that merely contains the change.
    exact = [p.seq for p in check.problems if p.seq is not None and p.seq_end is None]
    ranges = [p.seq for p in check.problems if p.seq is not None and p.seq_end is not None]
    first_bad = min(exact) if exact else (min(ranges) if ranges else None)
    return AuditVerdict(
        intact=not check.problems,
        size=tree.size,
        root=root,
        heads_checked=heads_checked,
        signatures_checked=verify_signature is not None,
        revealed_checked=revealed,
        first_bad_seq=first_bad,
        problems=tuple(check.problems),
    )
