"""The verifiable audit log over HTTP (全程留痕).

Tree heads, the log's public key and consistency proofs are public, so anyone can hold the platform
to what it published. Inclusion proofs and single events are for the event's actor and for
supervisors; search and paged export are for supervisors, who read a sealed event's content only
once its seal (the tender's deadline) has passed. Every read of the log by a supervisor is itself
logged.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar import Request, Router, get, post
from litestar.connection import ASGIConnection
from litestar.params import Parameter

from signing import log_key
from storage.audit_store import AuditQuery, TreeHead
from trading.audit.events import format_instant, view_of
from trading.audit.merkle import leaf_hash
from trading.errors import NotFoundError, ValidationError
from trading.identity.model import Principal
from trading.identity.policy import Resource
from webapp.auth import record_read
from webapp.jobs import due_work_source
from webapp.services import Services


class NoTreeHeadError(NotFoundError):
    code = "audit_no_tree_head"

    def __init__(self) -> None:
        super().__init__("No tree head has been published yet.", "审计日志尚未发布签名树头。")


class InvalidSeqError(ValidationError):
    code = "audit_seq_invalid"

    def __init__(self, raw: str) -> None:
        super().__init__(
            f"{raw!r} is not an event number (a non-negative integer).",
            f"“{raw}”不是有效的事件序号（应为非负整数）。",
        )


@dataclass(frozen=True)
class TreeHeadResponse:
    size: int
    root: str
    """Hex SHA-256 Merkle tree hash (RFC 6962 §2.1)."""
    issued_at: str
    signed: str
    """Base64 of the exact bytes signed (see ``trading.audit.events.tree_head_payload``)."""
    signature: str
    """Base64 signature over ``signed`` by the log key (``GET /api/audit/public-key``)."""
    timestamp_token: str | None
    """Base64 RFC 3161 token over SHA-256 of ``signed`` (``GET /api/tsa/certificate``)."""

    @classmethod
    def of(cls, head: TreeHead) -> TreeHeadResponse:
        return cls(
            size=head.size,
            root=head.root.hex(),
            issued_at=format_instant(head.issued_at),
            signed=base64.b64encode(head.signed).decode(),
            signature=base64.b64encode(head.signature).decode(),
            timestamp_token=(
                base64.b64encode(head.timestamp_token).decode() if head.timestamp_token else None
            ),
        )


@dataclass(frozen=True)
class ProofResponse:
    kind: str
    """``inclusion`` or ``consistency``."""
    first: int
    """The event's ``seq`` (inclusion) or the older tree size (consistency)."""
    size: int
    """The tree size the proof is against."""
    root: str
    path: list[str]
    """The proof's hashes, hex, in RFC 6962 / RFC 9162 order."""
    leaf_hash: str | None = None
    """Inclusion: SHA-256(0x00 || leaf) of the event's stored bytes."""
    leaf: str | None = None
    """Inclusion: the event's leaf bytes (base64): its canonical JSON, or a sealed commitment."""


@dataclass(frozen=True)
class EventPage:
    events: list[dict[str, Any]]
    next_after: int | None
    """Pass as ``after`` for the next page; null when there is nothing more."""


@dataclass(frozen=True)
class ExportPage:
    size: int
    """Tree size the page was cut from."""
    lines: list[dict[str, Any]]
    """``events.jsonl`` lines, exactly as ``tenderhall audit export`` writes them."""
    next_after: int | None


# --- the key and the scheduled publication ---------------------------------------------------


def log_signer(services: Services) -> log_key.Signer:
    return log_key.signer(log_key.load_or_create(services.settings.effective_audit_key_file))


async def publish_tree_head(services: Services) -> TreeHead:
    """Pad the period's sealed events with covers and sign a head (see ``SqlAuditLog.publish``)."""
    settings = services.settings
    signer = log_signer(services)
    async with services.uow() as uow:
        head = await uow.audit.publish(
            signer,
            services.clock.now(),
            bucket=settings.audit_cover_bucket,
            hold=timedelta(days=settings.audit_cover_hold_days),
            timestamp=services.timestamp,
        )
        await uow.commit()
    return head


@due_work_source
async def publish_when_due(services: Services) -> int:
    """Scheduler tick source: publish a head when the last one is older than the period."""
    now = services.clock.now()
    async with services.uow() as uow:
        latest = await uow.audit.latest_tree_head()
        size = await uow.audit.size()
    period = timedelta(minutes=services.settings.audit_publish_minutes)
    if size == 0 or (latest is not None and now - latest.issued_at < period):
        return 0
    await publish_tree_head(services)
    return 1


# --- resources the policy needs ---------------------------------------------------------------


def _seq(raw: object) -> int:
    text = str(raw)
    if not text.isdigit():
        raise InvalidSeqError(text)
    return int(text)


async def event_owner(
    connection: ASGIConnection[Any, Any, Any, Any], services: Services
) -> Resource:
    """The policy's resource for routes about one event: who caused it."""
    seq = _seq(connection.path_params["seq"])
    async with services.uow() as uow:
        event = await uow.audit.get_event(seq)
    return Resource(owner_person_id=event.actor_id, org_id=event.organisation_id)


# --- routes -----------------------------------------------------------------------------------


@get("/tree-head", opt={"action": "audit.tree_head"}, summary="The latest signed tree head")
async def latest_tree_head(services: Services) -> TreeHeadResponse:
    async with services.uow() as uow:
        head = await uow.audit.latest_tree_head()
    if head is None:
        raise NoTreeHeadError()
    return TreeHeadResponse.of(head)


@get(
    "/public-key",
    opt={"action": "audit.tree_head"},
    summary="The log's public key (PEM), to check tree-head signatures offline",
    media_type="application/x-pem-file",
)
async def public_key(services: Services) -> bytes:
    return log_key.public_pem(log_key.load_or_create(services.settings.effective_audit_key_file))


@post(
    "/tree-heads",
    opt={"action": "audit.sign_tree_head"},
    status_code=201,
    summary="Publish a signed tree head now",
)
async def sign_tree_head(services: Services) -> TreeHeadResponse:
    return TreeHeadResponse.of(await publish_tree_head(services))


@get(
    "/consistency",
    opt={"action": "audit.consistency"},
    summary="Consistency proof between two tree sizes (RFC 6962 §2.1.2)",
)
async def consistency(
    services: Services,
    first: int = Parameter(default=0, ge=0),
    second: int | None = Parameter(default=None, ge=0),
) -> ProofResponse:
    async with services.uow() as uow:
        size = second if second is not None else await uow.audit.size()
        path = await uow.audit.consistency_proof(first, size)
        root = await uow.audit.root(size)
    return ProofResponse("consistency", first, size, root.hex(), [h.hex() for h in path])


@get(
    "/events/{seq:str}/inclusion",
    opt={"action": "audit.inclusion", "resource": event_owner},
    summary="Inclusion proof of one event (RFC 6962 §2.1.1)",
)
async def inclusion(
    services: Services, seq: str, size: int | None = Parameter(default=None, ge=0)
) -> ProofResponse:
    index = _seq(seq)
    async with services.uow() as uow:
        tree_size = size if size is not None else await uow.audit.size()
        path = await uow.audit.inclusion_proof(index, tree_size)
        root = await uow.audit.root(tree_size)
        leaf, _stored_hash = await uow.audit.leaf_of(index)
    # The hash of the leaf bytes as they are now, not the stored hash: an event edited in the
    # database then fails its own inclusion proof.
    return ProofResponse(
        "inclusion",
        index,
        tree_size,
        root.hex(),
        [h.hex() for h in path],
        leaf_hash(leaf).hex(),
        base64.b64encode(leaf).decode(),
    )


@get(
    "/events/{seq:str}",
    opt={"action": "audit.event", "resource": event_owner},
    summary="One event, as far as the caller may see it",
)
async def event(
    request: Request[Any, Any, Any], services: Services, seq: str, principal: Principal
) -> dict[str, Any]:
    index = _seq(seq)
    async with services.uow() as uow:
        found = await uow.audit.get_event(index)
    view = view_of(found, principal, services.clock.now())
    if view is None:  # the policy let the caller in, but the seal still hides the content
        view = {"seq": index, "sealed": True}
    if principal.person_id != found.actor_id:
        await record_read(request, services, principal, "audit.event_read", "audit_log", seq)
    return view


@get("/events", opt={"action": "audit.search"}, summary="Search the log (supervisors)")
async def search(
    request: Request[Any, Any, Any],
    services: Services,
    principal: Principal,
    tender_id: str | None = None,
    organisation_id: str | None = None,
    actor_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: int = Parameter(default=-1, ge=-1),
    limit: int = Parameter(default=100, ge=1, le=1000),
) -> EventPage:
    query = AuditQuery(tender_id, organisation_id, actor_id, action, since, until)
    now = services.clock.now()
    async with services.uow() as uow:
        found, next_after = await uow.audit.search(query, now=now, after=after, limit=limit)
    views = [v for v in (view_of(e, principal, now) for e in found) if v is not None]
    await record_read(
        request,
        services,
        principal,
        "audit.searched",
        "audit_log",
        "search",
        {
            "tender_id": tender_id,
            "organisation_id": organisation_id,
            "actor_id": actor_id,
            "action": action,
        },
    )
    return EventPage(views, next_after)


@get("/export", opt={"action": "audit.export"}, summary="Export the log, page by page")
async def export(
    request: Request[Any, Any, Any],
    services: Services,
    principal: Principal,
    after: int = Parameter(default=-1, ge=-1),
    limit: int = Parameter(default=1000, ge=1, le=5000),
    size: int | None = Parameter(default=None, ge=0),
) -> ExportPage:
    async with services.uow() as uow:
        tree_size = size if size is not None else await uow.audit.size()
        lines, last = await uow.audit.export_page(
            services.clock.now(), after=after, limit=limit, size=tree_size
        )
    if after == -1:
        await record_read(
            request, services, principal, "audit.exported", "audit_log", str(tree_size)
        )
    more = bool(lines) and last + 1 < tree_size
    return ExportPage(tree_size, lines, last if more else None)


audit_router = Router(
    path="/api/audit",
    route_handlers=[
        latest_tree_head,
        public_key,
        sign_tree_head,
        consistency,
        inclusion,
        event,
        search,
        export,
    ],
    tags=["audit"],
)
ROUTERS = [audit_router]
