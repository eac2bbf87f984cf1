"""The authorization policy: one place that answers "may this principal do this, here, now?".

Every HTTP route names its action (litestar route ``opt={"action": ...}``); the web layer's guard
asks :func:`authorize` before the handler runs, with the route's path parameters as the resource.
Rules that depend on the tender's state or the clock receive them in :class:`Resource`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from trading.identity.model import Principal, Role


class Audience(StrEnum):
    PUBLIC = "public"  # anyone, signed in or not
    SIGNED_IN = "signed_in"  # any signed-in principal


@dataclass(frozen=True)
class Resource:
    """What the action touches, as far as the rule needs to know."""

    org_id: str | None = None
    person_id: str | None = None
    owner_person_id: str | None = None
    """For events and records that belong to the person who caused them."""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    """Machine-readable: ``ok``, ``not_signed_in``, ``role``, ``not_own_organisation``, ..."""


Rule = Callable[[Principal, Resource, datetime], Decision]

ALLOW = Decision(True, "ok")


def _roles(*roles: Role) -> Rule:
    def rule(principal: Principal, resource: Resource, now: datetime) -> Decision:
        return ALLOW if principal.role in roles else Decision(False, "role")

    return rule


def _own_org_or(*roles: Role) -> Rule:
    def rule(principal: Principal, resource: Resource, now: datetime) -> Decision:
        if principal.role in roles:
            return ALLOW
        if resource.org_id is not None and resource.org_id == principal.org_id:
            return ALLOW
        return Decision(False, "not_own_organisation")

    return rule


def _self_or(*roles: Role) -> Rule:
    def rule(principal: Principal, resource: Resource, now: datetime) -> Decision:
        if principal.role in roles:
            return ALLOW
        if resource.person_id is not None and resource.person_id == principal.person_id:
            return ALLOW
        return Decision(False, "not_self")

    return rule


def _owner_or(*roles: Role) -> Rule:
    def rule(principal: Principal, resource: Resource, now: datetime) -> Decision:
        if principal.role in roles:
            return ALLOW
        if resource.owner_person_id is not None and resource.owner_person_id == principal.person_id:
            return ALLOW
        return Decision(False, "not_owner")

    return rule


def _tender_owner(*roles: Role) -> Rule:
    """The agency that owns the tender (``Resource.org_id``), or one of ``roles``.

    A tender that does not exist passes for agency officers, so that the handler answers 404.
    """

    def rule(principal: Principal, resource: Resource, now: datetime) -> Decision:
        if principal.role in roles:
            return ALLOW
        if principal.role != Role.AGENCY_OFFICER:
            return Decision(False, "role")
        if resource.attributes.get("missing") or resource.org_id == principal.org_id:
            return ALLOW
        return Decision(False, "not_own_organisation")

    return rule


def _tender_reader(*draft_roles: Role) -> Rule:
    """A published (or cancelled) tender is for every signed-in person; a draft only for its
    agency and ``draft_roles``."""

    def rule(principal: Principal, resource: Resource, now: datetime) -> Decision:
        if resource.attributes.get("status", "draft") != "draft":
            return ALLOW
        if principal.role in draft_roles or resource.attributes.get("missing"):
            return ALLOW
        if principal.role == Role.AGENCY_OFFICER and resource.org_id == principal.org_id:
            return ALLOW
        return Decision(False, "not_own_organisation")

    return rule


def _tender_document_reader(*roles: Role) -> Rule:
    """Registered bidders and ``roles`` read a published tender's documents; its agency always."""

    owner = _tender_owner()

    def rule(principal: Principal, resource: Resource, now: datetime) -> Decision:
        if principal.role in roles and resource.attributes.get("status", "draft") != "draft":
            return ALLOW
        if principal.role in roles and resource.attributes.get("missing"):
            return ALLOW
        return owner(principal, resource, now)

    return rule


POLICY: dict[str, Audience | Rule] = {
    # platform
    "platform.health": Audience.PUBLIC,
    # the link itself is the credential (HMAC signed, expiring); checked by the handler
    "object.download": Audience.PUBLIC,
    # sign-in
    "auth.login": Audience.PUBLIC,
    "auth.challenge": Audience.PUBLIC,
    "auth.me": Audience.SIGNED_IN,
    "auth.logout": Audience.SIGNED_IN,
    # organisations and people (主体库)
    "org.register": Audience.PUBLIC,
    "org.list": _roles(Role.ADMIN, Role.SUPERVISOR),
    "org.read": _own_org_or(Role.ADMIN, Role.SUPERVISOR),
    "org.approve": _roles(Role.ADMIN),
    "org.qualification.add": _own_org_or(Role.ADMIN),
    "person.create": _roles(Role.ADMIN),
    "person.certificate.bind": _self_or(Role.ADMIN),
    "person.certificate.list": _self_or(Role.ADMIN, Role.SUPERVISOR),
    # audit log (全程留痕): tree heads are public so anyone can hold the platform to them
    "audit.tree_head": Audience.PUBLIC,
    "audit.consistency": Audience.PUBLIC,
    "audit.inclusion": _owner_or(Role.SUPERVISOR, Role.ADMIN),
    "audit.event": _owner_or(Role.SUPERVISOR),
    "audit.search": _roles(Role.SUPERVISOR),
    "audit.export": _roles(Role.SUPERVISOR),
    "audit.sign_tree_head": _roles(Role.ADMIN, Role.SUPERVISOR),
    # tenders: agencies draft and publish their own; bidders read, download and ask
    "tender.create": _roles(Role.AGENCY_OFFICER),
    "tender.list": Audience.SIGNED_IN,
    "tender.read": _tender_reader(Role.SUPERVISOR, Role.ADMIN),
    "tender.edit": _tender_owner(),
    "tender.publish": _tender_owner(),
    "tender.cancel": _tender_owner(),
    "tender.document.upload": _tender_owner(),
    "tender.document.download": _tender_document_reader(Role.BIDDER_REP, Role.SUPERVISOR),
    # who downloaded: sealed until the deadline for everyone (the handler refuses before it)
    "tender.downloads.list": _tender_owner(Role.SUPERVISOR),
    "tender.clarify": _tender_owner(),
    "tender.question.ask": _roles(Role.BIDDER_REP),
    "tender.question.list": _tender_owner(Role.SUPERVISOR),
    "tender.question.answer": _tender_owner(),
    # bids: lot opening keys (custodians are checked by the handler against bound certificates)
    "bid.opening_key.set": _tender_owner(),
    "bid.opening_key.read": Audience.SIGNED_IN,
    "bid.opening_key.share": Audience.SIGNED_IN,
    "bid.opening_key.release": Audience.SIGNED_IN,
    # bids: uploads, withdrawal, receipts (the handler confines each to the bidder's own org)
    "bid.upload": _roles(Role.BIDDER_REP),
    "bid.withdraw": _roles(Role.BIDDER_REP),
    "bid.receipt.read": _roles(Role.BIDDER_REP),
    # CA providers (CA 互认) and the platform's timestamp authority
    "ca.list": _roles(Role.ADMIN, Role.SUPERVISOR),
    "ca.manage": _roles(Role.ADMIN),
    "tsa.stamp": Audience.SIGNED_IN,
    "tsa.certificate": Audience.PUBLIC,
    # the public portal (no sign-in): published notices, documents, clarifications, results
    "portal.read": Audience.PUBLIC,
    # pages for people: the same rules, checked again by the use cases each page calls
    "page.public": Audience.PUBLIC,
    "page.signed_in": Audience.SIGNED_IN,
    "page.agency": _roles(Role.AGENCY_OFFICER),
    "page.tender.manage": _tender_owner(),
    "page.bidder": _roles(Role.BIDDER_REP),
    "page.tender.download": _tender_document_reader(Role.BIDDER_REP, Role.SUPERVISOR),
    "page.admin": _roles(Role.ADMIN),
}


class UnknownActionError(LookupError):
    """A route names an action the policy does not know: a programming error, refused closed."""


def authorize(
    principal: Principal | None, action: str, resource: Resource, now: datetime
) -> Decision:
    """Decide; an unknown action is refused (fail closed)."""
    rule = POLICY.get(action)
    if rule is None:
        raise UnknownActionError(action)
    if rule is Audience.PUBLIC:
        return ALLOW
    if principal is None:
        return Decision(False, "not_signed_in")
    if rule is Audience.SIGNED_IN:
        return ALLOW
    assert callable(rule)
    return rule(principal, resource, now)
