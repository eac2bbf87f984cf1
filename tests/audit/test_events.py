"""Audit events: canonical leaf bytes, salted commitments for sealed events, and visibility."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.audit.events import (
    COVER_ACTION,
    AuditEvent,
    MalformedEventError,
    Visibility,
    canonical_json,
    check_reveal,
    cover_event,
    cover_events_needed,
    parse_sealed_leaf,
    period_start,
    view_of,
    visible_to,
)
from trading.audit.merkle import MemoryTree, leaf_hash, verify_inclusion
from trading.identity.model import Principal, Role
from trading.ports import AuditRecord

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
DEADLINE = NOW + timedelta(days=20)


def _record(*, sealed: bool = False, **changes: object) -> AuditRecord:
    fields: dict[str, object] = {
        "action": "bid.submitted",
        "object_type": "bid",
        "object_id": "bid-1",
        "actor_id": "person-7",
        "organisation_id": "org-3",
        "role": "bidder_rep",
        "ip": "203.0.113.9",
        "after": {"tender_id": "T-2026-001", "lot": 1, "envelope_sha256": "ab" * 32},
        "sealed_until": DEADLINE if sealed else None,
    }
    fields.update(changes)
    return AuditRecord(**fields)  # type: ignore[arg-type]


def _principal(person: str, role: Role) -> Principal:
    return Principal(person, "org-x", role, "session")


def test_open_leaf_is_canonical_json_with_sorted_keys_utf8_and_no_whitespace() -> None:
    event = AuditEvent.from_record(
        _record(action="org.registered", after={"名称": "某某建设有限公司", "b": 1, "a": [1.5]}),
        seq=4,
        at=NOW,
    )
    leaf = event.leaf_bytes()
    assert leaf == event.canonical_bytes()
    assert b" " not in leaf and b"\n" not in leaf
    assert "某某建设有限公司".encode() in leaf  # UTF-8, not \\u escapes
    obj = json.loads(leaf)
    assert list(obj) == sorted(obj)
    assert obj["at"] == "2026-11-22T08:00:00.000000Z"
    assert list(obj["after"]) == ["a", "b", "名称"]
    # Re-encoding the same content in another key order yields the same bytes.
    shuffled = dict(reversed(list(event.content().items())))
    assert canonical_json(shuffled) == leaf
    assert AuditEvent.from_canonical(leaf) == event


def test_non_canonical_or_malformed_bytes_are_refused() -> None:
    event = AuditEvent.from_record(_record(), seq=0, at=NOW)
    spaced = json.dumps(event.content(), sort_keys=True).encode()
    with pytest.raises(MalformedEventError):
        AuditEvent.from_canonical(spaced)
    with pytest.raises(MalformedEventError):
        AuditEvent.from_canonical(b"[1,2]")
    with pytest.raises(MalformedEventError):
        canonical_json({"x": float("nan")})
    with pytest.raises(MalformedEventError):
        AuditEvent.from_record(_record(), seq=0, at=NOW.replace(tzinfo=None)).canonical_bytes()
    with pytest.raises(MalformedEventError):
        AuditEvent.from_record(_record(sealed=True), seq=0, at=NOW, salt=b"short")


def test_a_sealed_leaf_commits_to_the_event_and_names_no_tender() -> None:
    event = AuditEvent.from_record(_record(sealed=True), seq=12, at=NOW)
    assert event.salt is not None and len(event.salt) == 32
    leaf = event.leaf_bytes()
    expected = hashlib.sha256(event.salt + event.canonical_bytes()).digest()
    assert parse_sealed_leaf(leaf) == (12, expected)
    for secret in (b"T-2026-001", b"person-7", b"org-3", b"bid", b"2026-12-12", b"203.0.113"):
        assert secret not in leaf
    # Two sealed events with identical content still differ (fresh salts): no guessing by hashing.
    twin = AuditEvent.from_record(_record(sealed=True), seq=12, at=NOW)
    assert twin.leaf_bytes() != leaf


def test_a_revealed_event_is_checked_against_its_leaf_by_anyone() -> None:
    event = AuditEvent.from_record(_record(sealed=True), seq=3, at=NOW)
    assert event.salt is not None
    leaf, content, salt = event.leaf_bytes(), event.canonical_bytes(), event.salt
    tree = MemoryTree()
    for i in range(3):
        tree.append(leaf_hash(AuditEvent.from_record(_record(), seq=i, at=NOW).leaf_bytes()))
    tree.append(leaf_hash(leaf))
    assert verify_inclusion(leaf_hash(leaf), 3, 4, tree.inclusion_proof(3), tree.root())
    assert check_reveal(leaf, content, salt)
    # A different price, a different salt, another position: all fail.
    altered = content.replace(b'"lot":1', b'"lot":2')
    assert altered != content and not check_reveal(leaf, altered, salt)
    assert not check_reveal(leaf, content, bytes(32))
    moved = AuditEvent.from_canonical(content, salt)
    moved_content = canonical_json({**moved.content(), "seq": 4})
    assert not check_reveal(leaf, moved_content, salt)
    assert not check_reveal(content, content, salt)  # an open leaf is not a sealed one


def test_visibility_before_and_after_the_deadline() -> None:
    sealed = AuditEvent.from_record(_record(sealed=True), seq=1, at=NOW)
    opened = AuditEvent.from_record(_record(action="auth.logged_in"), seq=2, at=NOW)
    actor = _principal("person-7", Role.BIDDER_REP)
    rival = _principal("person-8", Role.BIDDER_REP)
    agency = _principal("person-9", Role.AGENCY_OFFICER)
    supervisor = _principal("person-10", Role.SUPERVISOR)
    admin = _principal("person-11", Role.ADMIN)
    before, after = DEADLINE - timedelta(seconds=1), DEADLINE

    assert visible_to(sealed, actor, before) is Visibility.FULL
    assert visible_to(sealed, supervisor, before) is Visibility.COMMITMENT
    assert visible_to(sealed, supervisor, after) is Visibility.FULL
    for other in (rival, agency, admin):
        for when in (before, after, after + timedelta(days=365)):
            assert visible_to(sealed, other, when) is Visibility.COMMITMENT
    assert visible_to(sealed, None, after) is Visibility.NONE

    assert visible_to(opened, actor, before) is Visibility.FULL
    assert visible_to(opened, supervisor, before) is Visibility.FULL
    assert visible_to(opened, rival, before) is Visibility.NONE

    # The rendered view carries no more than the decision allows.
    shown = view_of(sealed, rival, after)
    assert shown is not None and set(shown) == {"seq", "sealed", "commitment"}
    assert "T-2026-001" not in json.dumps(shown)
    full = view_of(sealed, supervisor, after)
    assert full is not None and full["after"]["tender_id"] == "T-2026-001"
    assert check_reveal(
        sealed.leaf_bytes(),
        canonical_json(
            {k: v for k, v in full.items() if k not in {"sealed", "salt", "commitment"}}
        ),
        bytes.fromhex(full["salt"]),
    )
    assert view_of(opened, rival, before) is None


def test_cover_events_look_like_sealed_events_until_revealed() -> None:
    real = AuditEvent.from_record(_record(sealed=True), seq=5, at=NOW)
    cover = cover_event(6, NOW, hold=timedelta(days=60))
    real_leaf, cover_leaf = (
        parse_sealed_leaf(real.leaf_bytes()),
        parse_sealed_leaf(cover.leaf_bytes()),
    )
    assert real_leaf is not None and cover_leaf is not None
    assert len(real.leaf_bytes()) == len(cover.leaf_bytes())  # same shape, same length
    assert cover.action == COVER_ACTION and cover.sealed_until == NOW + timedelta(days=60)
    assert cover.salt is not None
    assert check_reveal(cover.leaf_bytes(), cover.canonical_bytes(), cover.salt)


@pytest.mark.parametrize(
    ("sealed", "bucket", "covers"),
    [(0, 16, 16), (1, 16, 15), (15, 16, 1), (16, 16, 0), (17, 16, 15), (40, 8, 0), (3, 1, 0)],
)
def test_padding_makes_each_period_a_positive_multiple_of_the_bucket(
    sealed: int, bucket: int, covers: int
) -> None:
    assert cover_events_needed(sealed, bucket) == covers


@given(a=st.integers(0, 200), b=st.integers(0, 200), bucket=st.sampled_from([8, 16, 32]))
@settings(max_examples=200)
def test_padded_growth_does_not_tell_counts_within_a_bucket_apart(
    a: int, b: int, bucket: int
) -> None:
    # Two periods whose real sealed counts fall in the same bucket grow the tree identically.
    grow_a = a + cover_events_needed(a, bucket)
    grow_b = b + cover_events_needed(b, bucket)
    assert grow_a % bucket == 0 and grow_a >= max(a, 1)
    assert (grow_a == grow_b) == (max(1, -(-a // bucket)) == max(1, -(-b // bucket)))


def test_period_start_is_on_a_fixed_grid() -> None:
    hour = timedelta(hours=1)
    assert period_start(NOW + timedelta(minutes=59), hour) == NOW
    assert period_start(NOW, hour) == NOW
    assert period_start(NOW - timedelta(microseconds=1), hour) == NOW - hour
