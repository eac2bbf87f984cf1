"""The audit log in the database: the sequencer, Merkle nodes, signed tree heads and export.

An event is appended on the unit of work's connection, in the same transaction as the change it
records, so it exists exactly when the change does.

The sequencer is the single row ``audit_log_state`` (tree size and the compact range of
perfect-subtree roots). Appending locks it for the rest of the transaction (PostgreSQL
``SELECT ... FOR UPDATE``; on SQLite a no-op UPDATE first, which takes the database's single
write lock), so two transactions can never take the same ``seq`` and a rolled-back transaction
leaves no hole: ``seq`` is gapless. The lock is held until the caller commits, which serialises
audited transactions at their end; use cases therefore append their audit event last.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.audit_tables import audit_events, audit_log_state, audit_nodes, audit_tree_heads
from trading.audit.events import (
    COVER_ACTION,
    AuditEvent,
    cover_event,
    cover_events_needed,
    format_instant,
    tree_head_payload,
)
from trading.audit.merkle import (
    HASH_SIZE,
    CompactRange,
    Node,
    consistency_proof,
    consistency_proof_nodes,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    root_at,
    root_nodes,
)
from trading.errors import NotFoundError, ValidationError
from trading.ports import AuditRecord

Signer = Callable[[bytes], bytes]
"""Signs a tree head payload with the platform's log key (``signing.log_key``)."""
Timestamper = Callable[[bytes], Awaitable[bytes]]
"""Returns an RFC 3161 token (DER) over a SHA-256 digest."""

EXPORT_FORMAT = "tenderhall-audit-export/1"
_BATCH = 2000


class AuditEventNotFoundError(NotFoundError):
    code = "audit_event_not_found"

    def __init__(self, seq: int) -> None:
        super().__init__(f"No audit event {seq}.", f"审计事件 {seq} 不存在。", seq=seq)


class TreeSizeError(ValidationError):
    code = "audit_tree_size"

    def __init__(self, message_en: str, message_zh: str) -> None:
        super().__init__(message_en, message_zh)


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes
    issued_at: datetime
    signed: bytes
    """The canonical payload (:func:`trading.audit.events.tree_head_payload`) that was signed."""
    signature: bytes
    timestamp_token: bytes | None = None
    """RFC 3161 token (DER) over SHA-256 of ``signed``, from the platform's TSA."""


@dataclass(frozen=True)
class AuditQuery:
    """What a supervisor searches the log for (全程留痕查询); every field narrows the search."""

    tender_id: str | None = None
    organisation_id: str | None = None
    actor_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, event: AuditEvent) -> bool:
        return (
            event.action != COVER_ACTION
            and (self.tender_id is None or event.tender_id == self.tender_id)
            and (self.organisation_id is None or event.organisation_id == self.organisation_id)
            and (self.actor_id is None or event.actor_id == self.actor_id)
            and (self.action is None or event.action == self.action)
            and (self.since is None or event.at >= self.since)
            and (self.until is None or event.at < self.until)
        )


@dataclass(frozen=True)
class ExportSummary:
    directory: Path
    size: int
    root: bytes
    tree_heads: int
    revealed: int
    """Sealed events whose content was revealed in the export (their ``sealed_until`` passed)."""


_EVENT_COLUMNS = [c.name for c in audit_events.columns]
_PG_APPEND = (
    # The names joined in are this module's own table definition, never input.
    sa.text(
        f"WITH event AS (INSERT INTO audit_events ({', '.join(_EVENT_COLUMNS)}) "  # noqa: S608
        f"VALUES ({', '.join(':' + c for c in _EVENT_COLUMNS)})), "
        "nodes AS (INSERT INTO audit_nodes (level, idx, hash) "
        "SELECT * FROM unnest(:node_levels, :node_idxs, :node_hashes)) "
        "UPDATE audit_log_state SET size = :size, frontier = :frontier WHERE id = 1"
    )
    .bindparams(*(sa.bindparam(c.name, type_=c.type) for c in audit_events.columns))
    .bindparams(
        sa.bindparam("node_levels", type_=sa.ARRAY(sa.SmallInteger())),
        sa.bindparam("node_idxs", type_=sa.ARRAY(sa.BigInteger())),
        sa.bindparam("node_hashes", type_=sa.ARRAY(sa.LargeBinary())),
        sa.bindparam("size", type_=sa.BigInteger()),
        sa.bindparam("frontier", type_=sa.LargeBinary()),
    )
)
"""Appending on PostgreSQL: the event, its completed subtrees and the new sequencer state."""
_PG_LOCK = sa.text("SELECT size, frontier FROM audit_log_state WHERE id = 1 FOR UPDATE").columns(
    audit_log_state.c.size, audit_log_state.c.frontier
)


def _split(frontier: bytes) -> list[bytes]:
    return [frontier[i : i + HASH_SIZE] for i in range(0, len(frontier), HASH_SIZE)]


class SqlAuditLog:
    """:class:`trading.ports.AuditLog` and the log's queries, on one connection."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    # --- appending ------------------------------------------------------------------------

    async def append(self, record: AuditRecord, *, at: datetime) -> int:
        """Append in the current transaction; returns the event's ``seq``."""
        event = await self.append_event(lambda seq: AuditEvent.from_record(record, seq=seq, at=at))
        return event.seq

    async def append_event(self, build: Callable[[int], AuditEvent]) -> AuditEvent:
        """Allocate the next ``seq`` under the sequencer lock, build the event and store it."""
        frontier = await self._lock_state()
        event = build(frontier.size)
        if event.seq != frontier.size:
            raise ValueError("the event must carry the seq it was built for")
        leaf = event.leaf_bytes()
        digest = leaf_hash(leaf)
        completed = frontier.append(digest)
        row = _event_row(event, leaf, digest)
        state = {"size": frontier.size, "frontier": b"".join(frontier.roots)}
        if self._conn.dialect.name == "postgresql":
            # One round trip for the three writes: each costs more in the driver than in the
            # server, and the sequencer lock is held until commit either way.
            nodes = [n for n in completed if n.level]
            await self._conn.execute(
                _PG_APPEND,
                row
                | state
                | {
                    "node_levels": [n.level for n in nodes],
                    "node_idxs": [n.index for n in nodes],
                    "node_hashes": [n.hash for n in nodes],
                },
            )
            return event
        await self._conn.execute(audit_events.insert().values(row))
        await self._store_nodes(completed)
        await self._conn.execute(
            audit_log_state.update().where(audit_log_state.c.id == 1).values(state)
        )
        return event

    async def _lock_state(self) -> CompactRange:
        state = audit_log_state
        query: sa.Executable = _PG_LOCK
        if self._conn.dialect.name != "postgresql":
            await self._conn.execute(
                state.update().where(state.c.id == 1).values(size=state.c.size)
            )
            query = sa.select(state.c.size, state.c.frontier).where(state.c.id == 1)
        row = (await self._conn.execute(query)).one()
        return CompactRange(row.size, _split(row.frontier))

    async def _store_nodes(self, completed: Sequence[Node]) -> None:
        # Level 0 is the leaf hash in audit_events; only interior perfect subtrees get a row.
        rows = [{"level": n.level, "idx": n.index, "hash": n.hash} for n in completed if n.level]
        if rows:
            await self._conn.execute(audit_nodes.insert(), rows)

    # --- the tree -------------------------------------------------------------------------

    async def size(self) -> int:
        size = await self._conn.scalar(sa.select(audit_log_state.c.size))
        return int(size or 0)

    async def _state(self) -> CompactRange:
        row = (
            await self._conn.execute(sa.select(audit_log_state.c.size, audit_log_state.c.frontier))
        ).one()
        return CompactRange(row.size, _split(row.frontier))

    async def _nodes(self, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Fetch perfect-subtree hashes in at most two queries."""
        wanted = list(wanted)
        found: dict[tuple[int, int], bytes] = {}
        leaves = [i for level, i in wanted if level == 0]
        if leaves:
            rows = await self._conn.execute(
                sa.select(audit_events.c.seq, audit_events.c.leaf_hash).where(
                    audit_events.c.seq.in_(leaves)
                )
            )
            found.update({(0, r.seq): r.leaf_hash for r in rows})
        by_level: dict[int, list[int]] = {}
        for level, i in wanted:
            if level:
                by_level.setdefault(level, []).append(i)
        if by_level:
            condition = sa.or_(
                *(
                    sa.and_(audit_nodes.c.level == level, audit_nodes.c.idx.in_(ids))
                    for level, ids in by_level.items()
                )
            )
            rows = await self._conn.execute(
                sa.select(audit_nodes.c.level, audit_nodes.c.idx, audit_nodes.c.hash).where(
                    condition
                )
            )
            found.update({(r.level, r.idx): r.hash for r in rows})
        return found

    async def _checked_size(self, size: int | None) -> int:
        current = await self.size()
        if size is None:
            return current
        if not 0 <= size <= current:
            raise TreeSizeError(
                f"The log has {current} events; size {size} does not exist.",
                f"审计日志只有 {current} 个事件，不存在大小 {size}。",
            )
        return size

    async def root(self, size: int | None = None) -> bytes:
        """The root at ``size`` (default: now)."""
        if size is None:
            return (await self._state()).root()
        size = await self._checked_size(size)
        nodes = await self._nodes(root_nodes(size))
        return root_at(size, lambda level, i: nodes[(level, i)])

    async def inclusion_proof(self, seq: int, size: int | None = None) -> list[bytes]:
        size = await self._checked_size(size)
        if not 0 <= seq < size:
            raise AuditEventNotFoundError(seq)
        nodes = await self._nodes(inclusion_proof_nodes(seq, size))
        return inclusion_proof(seq, size, lambda level, i: nodes[(level, i)])

    async def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        second = await self._checked_size(second)
        if not 0 <= first <= second:
            raise TreeSizeError(
                f"Size {first} cannot precede size {second}.", f"大小 {first} 不能早于 {second}。"
            )
        nodes = await self._nodes(consistency_proof_nodes(first, second))
        return consistency_proof(first, second, lambda level, i: nodes[(level, i)])

    # --- events ---------------------------------------------------------------------------

    async def get_event(self, seq: int) -> AuditEvent:
        """The full event (content and salt included): pass it through ``view_of`` to show it."""
        row = (
            await self._conn.execute(sa.select(audit_events).where(audit_events.c.seq == seq))
        ).one_or_none()
        if row is None:
            raise AuditEventNotFoundError(seq)
        if row.salt is None:
            return AuditEvent.from_canonical(row.leaf)
        return AuditEvent.from_canonical(row.content, row.salt)

    async def leaf_of(self, seq: int) -> tuple[bytes, bytes]:
        """``(leaf bytes, leaf hash)`` as stored."""
        row = (
            await self._conn.execute(
                sa.select(audit_events.c.leaf, audit_events.c.leaf_hash).where(
                    audit_events.c.seq == seq
                )
            )
        ).one_or_none()
        if row is None:
            raise AuditEventNotFoundError(seq)
        return row.leaf, row.leaf_hash

    async def search(
        self, query: AuditQuery, *, now: datetime, after: int = -1, limit: int = 100
    ) -> tuple[list[AuditEvent], int | None]:
        """Events matching ``query`` with ``seq > after``, oldest first, and the next cursor.

        Open events are found through their search columns; sealed events only once
        ``sealed_until`` has passed, by their revealed content (their columns are empty so that
        no index names a sealed thing). Cover events are never returned. The cursor is the last
        ``seq`` examined, or None when the log is exhausted.
        """
        c = audit_events.c
        open_filters: list[sa.ColumnElement[bool]] = [c.sealed_until.is_(None)]
        for column, value in (
            (c.tender_id, query.tender_id),
            (c.organisation_id, query.organisation_id),
            (c.action, query.action),
        ):
            if value is not None:
                open_filters.append(column == value)
        common: list[sa.ColumnElement[bool]] = []
        if query.actor_id is not None:
            common.append(c.actor_id == query.actor_id)
        if query.since is not None:
            common.append(c.at >= query.since)
        if query.until is not None:
            common.append(c.at < query.until)
        found: list[AuditEvent] = []
        cursor = after
        while len(found) < limit:
            rows = (
                await self._conn.execute(
                    sa.select(c.seq, c.leaf, c.content, c.salt)
                    .where(
                        c.seq > cursor,
                        *common,
                        sa.or_(sa.and_(*open_filters), c.sealed_until <= now),
                    )
                    .order_by(c.seq)
                    .limit(limit)
                )
            ).all()
            if not rows:
                return found, None
            for row in rows:
                cursor = row.seq
                event = (
                    AuditEvent.from_canonical(row.leaf)
                    if row.salt is None
                    else AuditEvent.from_canonical(row.content, row.salt)
                )
                if query.matches(event):
                    found.append(event)
                    if len(found) == limit:
                        break
        return found, cursor

    # --- tree heads and the scheduled tick ------------------------------------------------

    async def sign_tree_head(
        self, signer: Signer, now: datetime, *, timestamp: Timestamper | None = None
    ) -> TreeHead:
        """Sign the current root; if the log has not grown since the last head, return that.

        With ``timestamp``, the head also carries an RFC 3161 token over SHA-256 of the payload.
        """
        frontier = await self._state()
        latest = await self.latest_tree_head()
        if latest is not None and latest.size == frontier.size:
            return latest
        root = frontier.root()
        payload = tree_head_payload(frontier.size, root, now)
        token = await timestamp(hashlib.sha256(payload).digest()) if timestamp else None
        head = TreeHead(frontier.size, root, now, payload, signer(payload), token)
        await self._conn.execute(
            audit_tree_heads.insert().values(
                size=head.size,
                root=head.root,
                issued_at=head.issued_at,
                signed=head.signed,
                signature=head.signature,
                timestamp_token=head.timestamp_token,
            )
        )
        return head

    async def tree_heads(self) -> list[TreeHead]:
        rows = await self._conn.execute(
            sa.select(audit_tree_heads).order_by(audit_tree_heads.c.size)
        )
        return [
            TreeHead(r.size, r.root, r.issued_at, r.signed, r.signature, r.timestamp_token)
            for r in rows
        ]

    async def latest_tree_head(self) -> TreeHead | None:
        row = (
            await self._conn.execute(
                sa.select(audit_tree_heads).order_by(audit_tree_heads.c.size.desc()).limit(1)
            )
        ).one_or_none()
        if row is None:
            return None
        return TreeHead(
            row.size, row.root, row.issued_at, row.signed, row.signature, row.timestamp_token
        )

    async def publish(
        self,
        signer: Signer,
        now: datetime,
        *,
        bucket: int,
        hold: timedelta,
        timestamp: Timestamper | None = None,
    ) -> TreeHead:
        """The scheduled tick: pad this period's sealed leaves with covers, then sign a head.

        See ``trading.audit.events`` for why: the sealed leaves of a period then grow in whole
        buckets, and heads appear only on the schedule, so no tender's bids can be counted.
        """
        latest = await self.latest_tree_head()
        since = latest.size if latest else 0
        sealed = await self._conn.scalar(
            sa.select(sa.func.count())
            .select_from(audit_events)
            .where(audit_events.c.seq >= since, audit_events.c.sealed_until.is_not(None))
        )
        for _ in range(cover_events_needed(int(sealed or 0), bucket)):
            await self.append_event(lambda seq: cover_event(seq, now, hold=hold))
        return await self.sign_tree_head(signer, now, timestamp=timestamp)

    # --- export ---------------------------------------------------------------------------

    async def export_page(
        self, now: datetime, *, after: int = -1, limit: int = _BATCH, size: int | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the export: events with ``after < seq < size`` as ``events.jsonl`` lines.

        Each line has the exact leaf bytes (base64) and the stored leaf hash; a sealed event
        whose ``sealed_until`` has passed also carries its content and salt. Returns the lines
        and the last ``seq`` on the page (``after`` if the page is empty).
        """
        size = await self.size() if size is None else size
        rows = (
            await self._conn.execute(
                sa.select(
                    audit_events.c.seq,
                    audit_events.c.leaf,
                    audit_events.c.leaf_hash,
                    audit_events.c.sealed_until,
                    audit_events.c.content,
                    audit_events.c.salt,
                )
                .where(audit_events.c.seq > after, audit_events.c.seq < size)
                .order_by(audit_events.c.seq)
                .limit(limit)
            )
        ).all()
        lines: list[dict[str, Any]] = []
        for r in rows:
            line: dict[str, Any] = {
                "seq": r.seq,
                "leaf": base64.b64encode(r.leaf).decode(),
                "leaf_hash": r.leaf_hash.hex(),
            }
            if r.sealed_until is not None and r.sealed_until <= now:
                line["content"] = base64.b64encode(r.content).decode()
                line["salt"] = r.salt.hex()
            lines.append(line)
        return lines, (rows[-1].seq if rows else after)

    async def export(self, directory: Path, now: datetime) -> ExportSummary:
        """Write the log for offline checking (``tenderhall audit verify``).

        ``events.jsonl``: one line per event with the exact leaf bytes (base64) and the stored
        leaf hash; a sealed event whose ``sealed_until`` has passed also carries its revealed
        content and salt. ``tree_heads.jsonl``: the signed heads. ``manifest.json``: size and root.
        Export is for supervisors, who read sealed content only after the deadline: content that
        is still sealed stays out of the file.
        """
        await anyio.Path(directory).mkdir(parents=True, exist_ok=True)
        state = await self._state()
        revealed = 0
        async with await anyio.open_file(directory / "events.jsonl", "w", encoding="utf-8") as out:
            after = -1
            while True:
                lines, after_page = await self.export_page(
                    now, after=after, limit=_BATCH, size=state.size
                )
                if not lines:
                    break
                revealed += sum(1 for line in lines if "content" in line)
                await out.write("".join(json.dumps(line, sort_keys=True) + "\n" for line in lines))
                after = after_page
        heads = [h for h in await self.tree_heads() if h.size <= state.size]
        head_lines = []
        for h in heads:
            entry = {
                "size": h.size,
                "root": h.root.hex(),
                "issued_at": format_instant(h.issued_at),
                "signed": base64.b64encode(h.signed).decode(),
                "signature": base64.b64encode(h.signature).decode(),
            }
            if h.timestamp_token is not None:
                entry["timestamp_token"] = base64.b64encode(h.timestamp_token).decode()
            head_lines.append(json.dumps(entry, sort_keys=True) + "\n")
        await anyio.Path(directory / "tree_heads.jsonl").write_text("".join(head_lines))
        root = state.root()
        manifest = {
            "format": EXPORT_FORMAT,
            "exported_at": format_instant(now),
            "size": state.size,
            "root": root.hex(),
        }
        await anyio.Path(directory / "manifest.json").write_text(
            json.dumps(manifest, indent=2) + "\n"
        )
        return ExportSummary(directory, state.size, root, len(heads), revealed)


def _event_row(event: AuditEvent, leaf: bytes, digest: bytes) -> dict[str, Any]:
    sealed = event.salt is not None
    return {
        "seq": event.seq,
        "at": event.at,
        "leaf_hash": digest,
        "leaf": leaf,
        "sealed_until": event.sealed_until,
        "content": event.canonical_bytes() if sealed else None,
        "salt": event.salt,
        "actor_id": event.actor_id,
        # No search column may name a sealed thing (see trading.audit.events).
        "action": None if sealed else event.action,
        "object_type": None if sealed else event.object_type,
        "object_id": None if sealed else event.object_id,
        "organisation_id": None if sealed else event.organisation_id,
        "tender_id": None if sealed else event.tender_id,
    }
