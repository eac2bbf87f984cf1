"""Audit events, their canonical leaf bytes, sealing, and who may see what.

Every state change, file, sign-in and access to protected data appends one :class:`AuditEvent`
in the same transaction as the change. Its place in the log is ``seq``, which is also its leaf
index in the RFC 6962 tree (0-based, gapless). The leaf bytes are fixed here, once, so that the
platform, an export and an independent verifier hash exactly the same bytes.

Open events
    The leaf is the event's canonical JSON: keys sorted, UTF-8, no insignificant whitespace,
    instants as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

Sealed events (events about sealed things: a download of the tender documents, a submission, a
replacement, a withdrawal, a guarantee; DESIGN §4)
    The leaf is ``{"commitment": hex(SHA-256(salt || canonical event)), "seq": n}``. The salt is 32
    random bytes kept with the withheld content, so nobody can confirm a guess ("did bidder X
    submit to tender T at 10:02?") by hashing candidate events. After ``sealed_until`` the content
    and salt are revealed and anyone can check them against the leaf (:func:`check_reveal`).

How the log avoids becoming the leak it guards against
    Before the deadline nobody may learn who downloaded the documents or who bid, not even how many
    (DESIGN §1, §4). The tree and the event stream are built so that they do not tell:

    1. A sealed leaf shows only its commitment and its position. The tender id, the actor, the
       action, the time and even ``sealed_until`` (which is the tender's deadline, and so names
       the tender) are inside the commitment. Sealed leaves of different tenders, and of
       different kinds of sealed action, look alike.
    2. Cover events: the sequencer's scheduled tick appends *cover* events, which are sealed
       events (:func:`cover_event`) indistinguishable from real ones until they are revealed. At
       the end of every period the tick pads the number of sealed leaves appended in the period
       up to a multiple of a bucket size (:func:`cover_events_needed`), so the growth of sealed
       leaves moves in whole buckets shared by every tender on the platform and one tender's
       submissions cannot be counted from it, and a quiet period still grows by one bucket.
    3. Tree heads are signed and published on the same fixed schedule, right after the padding,
       never on demand. Between two heads the public sees no size at all, and event listings stop
       at the latest scheduled head, so watching the stream live does not reveal the moment of a
       submission either.

    After the deadline the events are revealed; cover events then read ``audit.cover``.

Who may see an event: :func:`visible_to`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from trading.errors import ValidationError
from trading.identity.model import Principal, Role
from trading.ports import AuditRecord

SALT_SIZE = 32
COVER_ACTION = "audit.cover"
_INSTANT = "%Y-%m-%dT%H:%M:%S.%fZ"


class MalformedEventError(ValidationError):
    """Bytes or fields that are not a well-formed audit event."""

    code = "audit_event_malformed"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Malformed audit event: {reason}", f"审计事件格式错误：{reason}", reason=reason
        )


def format_instant(at: datetime) -> str:
    """The one textual form of an instant in leaves: UTC, microseconds, ``Z``."""
    if at.tzinfo is None:
        raise MalformedEventError("naive datetime; audit instants are timezone-aware UTC")
    return at.astimezone(UTC).strftime(_INSTANT)


def parse_instant(text: str) -> datetime:
    try:
        return datetime.strptime(text, _INSTANT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise MalformedEventError(f"instant {text!r} is not YYYY-MM-DDTHH:MM:SS.ffffffZ") from exc


def canonical_json(value: Any) -> bytes:
    """Sorted keys, UTF-8 (not ``\\u`` escapes), no whitespace; NaN and infinities refused."""
    try:
        text = json.dumps(
            value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise MalformedEventError(f"not representable as canonical JSON: {exc}") from exc
    return text.encode("utf-8")


@dataclass(frozen=True)
class AuditEvent:
    """One entry of the audit log (全程留痕)."""

    seq: int
    """Gapless position in the log, 0-based; also the RFC 6962 leaf index."""
    at: datetime
    actor_id: str | None
    organisation_id: str | None
    role: str | None
    ip: str
    action: str
    """Past-tense dotted name: ``bid.submitted``, ``auth.logged_in``, ``audit.cover``."""
    object_type: str
    object_id: str
    tender_id: str | None
    """The tender the event belongs to, if any: supervisors search the log by it."""
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    sealed_until: datetime | None
    """Set for events about sealed things: the content stays hidden until then."""
    salt: bytes | None
    """32 random bytes for a sealed event (never part of the canonical content); else None."""

    def __post_init__(self) -> None:
        if self.seq < 0:
            raise MalformedEventError("seq is negative")
        if (self.sealed_until is None) != (self.salt is None):
            raise MalformedEventError("a sealed event needs a salt, an open one must have none")
        if self.salt is not None and len(self.salt) != SALT_SIZE:
            raise MalformedEventError(f"the salt must be {SALT_SIZE} bytes")

    @classmethod
    def from_record(
        cls, record: AuditRecord, *, seq: int, at: datetime, salt: bytes | None = None
    ) -> AuditEvent:
        """The event for a record appended at ``seq``; a sealed record gets a fresh salt."""
        if record.sealed_until is not None and salt is None:
            salt = new_salt()
        return cls(
            seq=seq,
            at=at,
            actor_id=record.actor_id,
            organisation_id=record.organisation_id,
            role=record.role,
            ip=record.ip,
            action=record.action,
            object_type=record.object_type,
            object_id=record.object_id,
            tender_id=record.tender_id,
            before=record.before,
            after=record.after,
            sealed_until=record.sealed_until,
            salt=salt if record.sealed_until is not None else None,
        )

    @property
    def sealed(self) -> bool:
        return self.sealed_until is not None

    def content(self) -> dict[str, Any]:
        """The event as a JSON object (everything but the salt)."""
        return {
            "seq": self.seq,
            "at": format_instant(self.at),
            "actor_id": self.actor_id,
            "organisation_id": self.organisation_id,
            "role": self.role,
            "ip": self.ip,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "tender_id": self.tender_id,
            "before": self.before,
            "after": self.after,
            "sealed_until": (
                format_instant(self.sealed_until) if self.sealed_until is not None else None
            ),
        }

    def canonical_bytes(self) -> bytes:
        """The canonical JSON of :meth:`content`: what a sealed leaf commits to, revealed later."""
        return canonical_json(self.content())

    def commitment(self) -> bytes:
        """``SHA-256(salt || canonical event)``; only for sealed events."""
        if self.salt is None:
            raise MalformedEventError("an open event has no commitment")
        return hashlib.sha256(self.salt + self.canonical_bytes()).digest()

    def leaf_bytes(self) -> bytes:
        """The bytes the Merkle leaf hashes: the content, or for a sealed event its commitment."""
        if self.salt is None:
            return self.canonical_bytes()
        return sealed_leaf_bytes(self.seq, self.commitment())

    @classmethod
    def from_canonical(cls, data: bytes, salt: bytes | None = None) -> AuditEvent:
        """Parse canonical bytes (an open leaf, or a revealed sealed content with its salt).

        Refuses bytes that parse but are not canonical, so two byte strings never stand for the
        same event.
        """
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedEventError(f"not JSON: {exc}") from exc
        if not isinstance(obj, dict) or set(obj) != _CONTENT_KEYS:
            raise MalformedEventError("not an audit event object")
        sealed_until = obj["sealed_until"]
        try:
            event = cls(
                seq=_int(obj["seq"]),
                at=parse_instant(_str(obj["at"])),
                actor_id=_opt_str(obj["actor_id"]),
                organisation_id=_opt_str(obj["organisation_id"]),
                role=_opt_str(obj["role"]),
                ip=_str(obj["ip"]),
                action=_str(obj["action"]),
                object_type=_str(obj["object_type"]),
                object_id=_str(obj["object_id"]),
                tender_id=_opt_str(obj["tender_id"]),
                before=_opt_dict(obj["before"]),
                after=_opt_dict(obj["after"]),
                sealed_until=parse_instant(_str(sealed_until)) if sealed_until else None,
                salt=salt,
            )
        except (TypeError, KeyError) as exc:
            raise MalformedEventError(str(exc)) from exc
        if event.canonical_bytes() != data:
            raise MalformedEventError("the bytes are not in canonical form")
        return event


_CONTENT_KEYS = frozenset(
    {
        "seq",
        "at",
        "actor_id",
        "organisation_id",
        "role",
        "ip",
        "action",
        "object_type",
        "object_id",
        "tender_id",
        "before",
        "after",
        "sealed_until",
    }
)


def _int(v: object) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"expected an integer, got {v!r}")
    return v


def _str(v: object) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected a string, got {v!r}")
    return v


def _opt_str(v: object) -> str | None:
    return None if v is None else _str(v)


def _opt_dict(v: object) -> dict[str, Any] | None:
    if v is not None and not isinstance(v, dict):
        raise TypeError(f"expected an object, got {v!r}")
    return v


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_SIZE)


def sealed_leaf_bytes(seq: int, commitment: bytes) -> bytes:
    """The leaf of a sealed event: its position and commitment, nothing that names a tender."""
    return canonical_json({"commitment": commitment.hex(), "seq": seq})


def parse_sealed_leaf(data: bytes) -> tuple[int, bytes] | None:
    """``(seq, commitment)`` if ``data`` is a sealed leaf, else None (an open leaf)."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict) or set(obj) != {"commitment", "seq"}:
        return None
    seq, commitment = obj["seq"], obj["commitment"]
    if not isinstance(seq, int) or not isinstance(commitment, str):
        return None
    try:
        raw = bytes.fromhex(commitment)
    except ValueError:
        return None
    return (seq, raw) if len(raw) == 32 and sealed_leaf_bytes(seq, raw) == data else None


def check_reveal(leaf: bytes, content: bytes, salt: bytes) -> bool:
    """Does revealed ``content`` with ``salt`` match sealed ``leaf``? (Anyone can check this.)"""
    parsed = parse_sealed_leaf(leaf)
    if parsed is None or len(salt) != SALT_SIZE:
        return False
    seq, commitment = parsed
    try:
        event = AuditEvent.from_canonical(content, salt)
    except MalformedEventError:
        return False
    return event.seq == seq and hmac.compare_digest(event.commitment(), commitment)


# --- who may see what --------------------------------------------------------------------------


class Visibility(StrEnum):
    FULL = "full"
    """The whole event."""
    COMMITMENT = "commitment"
    """Only its position and leaf (for a sealed event: the commitment, which reveals nothing)."""
    NONE = "none"


SUPERVISING_ROLES = frozenset({Role.SUPERVISOR})


def visible_to(event: AuditEvent, viewer: Principal | None, now: datetime) -> Visibility:
    """What ``viewer`` may see of ``event`` at ``now``.

    - the actor always sees their own events, sealed or not;
    - supervisors read the complete trail: open events at once, sealed ones from
      ``sealed_until`` (the deadline) on;
    - everyone else never sees content. A sealed event's commitment may be shown to anyone signed
      in (it is just a leaf of the public tree); open events are not listed for them at all.
    """
    if viewer is not None and event.actor_id is not None and viewer.person_id == event.actor_id:
        return Visibility.FULL
    supervising = viewer is not None and viewer.role in SUPERVISING_ROLES
    if event.sealed_until is None:
        return Visibility.FULL if supervising else Visibility.NONE
    if supervising and now >= event.sealed_until:
        return Visibility.FULL
    return Visibility.COMMITMENT if viewer is not None else Visibility.NONE


def view_of(event: AuditEvent, viewer: Principal | None, now: datetime) -> dict[str, Any] | None:
    """The JSON an API or export may hand ``viewer``: never more than :func:`visible_to` allows."""
    visibility = visible_to(event, viewer, now)
    if visibility is Visibility.NONE:
        return None
    if visibility is Visibility.COMMITMENT:
        return {"seq": event.seq, "sealed": True, "commitment": event.commitment().hex()}
    view = event.content()
    view["sealed"] = event.sealed
    if event.salt is not None:
        # With the salt the viewer can check the content against the leaf themselves.
        view["salt"] = event.salt.hex()
        view["commitment"] = event.commitment().hex()
    return view


# --- cover traffic and the publication schedule ---------------------------------------------


def cover_event(
    seq: int, now: datetime, *, hold: timedelta, salt: bytes | None = None
) -> AuditEvent:
    """A sealed event that stands for nothing, appended by the sequencer's tick.

    Its leaf looks like any other sealed leaf; its content (revealed after ``now + hold``) says
    ``audit.cover``. ``hold`` should be at least the longest bid period, so covers stay sealed as
    long as the real events they hide among.
    """
    return AuditEvent(
        seq=seq,
        at=now,
        actor_id=None,
        organisation_id=None,
        role=None,
        ip="",
        action=COVER_ACTION,
        object_type="audit_log",
        object_id="",
        tender_id=None,
        before=None,
        after=None,
        sealed_until=now + hold,
        salt=salt or new_salt(),
    )


def cover_events_needed(sealed_in_period: int, bucket: int) -> int:
    """How many covers make the period's sealed leaves a positive multiple of ``bucket``."""
    if bucket < 1 or sealed_in_period < 0:
        raise ValueError("bucket must be positive and the count non-negative")
    target = max(1, math.ceil(sealed_in_period / bucket)) * bucket
    return target - sealed_in_period


def period_start(now: datetime, period: timedelta) -> datetime:
    """The start of the publication period holding ``now`` (periods counted from the epoch)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + period * ((now - epoch) // period)


# --- tree heads -------------------------------------------------------------------------------

TREE_HEAD_FORMAT = "tenderhall-tree-head/1"


def tree_head_payload(size: int, root: bytes, issued_at: datetime) -> bytes:
    """The bytes a signed tree head's signature covers (canonical JSON)."""
    return canonical_json(
        {
            "format": TREE_HEAD_FORMAT,
            "root": root.hex(),
            "size": size,
            "timestamp": format_instant(issued_at),
        }
    )


def parse_tree_head_payload(data: bytes) -> tuple[int, bytes, datetime]:
    """``(size, root, issued_at)`` from :func:`tree_head_payload` bytes."""
    try:
        obj = json.loads(data.decode("utf-8"))
        size, root, at = obj["size"], bytes.fromhex(obj["root"]), parse_instant(obj["timestamp"])
        if obj["format"] != TREE_HEAD_FORMAT or not isinstance(size, int):
            raise ValueError("not a tenderhall tree head")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise MalformedEventError(f"tree head: {exc}") from exc
    if tree_head_payload(size, root, at) != data:
        raise MalformedEventError("tree head bytes are not canonical")
    return size, root, at
