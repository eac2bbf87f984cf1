"""The tender aggregate: a project (项目) with its lots (标段/包), times, rules and documents.

Money is integer fen throughout (1 yuan = 100 fen); there is no float anywhere near an amount.
Instants are timezone-aware UTC; periods in days are counted on China's calendar dates.

The stored status moves draft -> published -> cancelled (or stays published). What follows from
the clock (documents available, submission open, submission closed) is the :meth:`Tender.phase`,
computed from ``now`` on every request and never stored; ``next_check`` is when it next changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from trading.errors import ValidationError
from trading.rules.calendar import (
    CHINA_TZ,
    add_working_days,
    days_between,
    end_of_local_day,
    local_date,
    next_working_day,
)
from trading.rules.packs import Regime, RulePack
from trading.tenders.errors import (
    RuleViolationError,
    SubmissionClosedError,
    TenderStateError,
)
from trading.tenders.opening_data import OpeningField, check_schema

Category = Regime
"""工程建设 or 政府采购: the category of a tender is the regime whose rules apply."""


class Procedure(StrEnum):
    OPEN = "open"  # 公开招标
    INVITED = "invited"  # 邀请招标


class EvaluationMethod(StrEnum):
    COMPREHENSIVE = "comprehensive"  # 综合评估法 / 综合评分法
    LOWEST_PRICE = "lowest_price"  # 经评审的最低投标价法 / 最低评标价法


class TenderStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class Phase(StrEnum):
    """The state that follows from the stored status and the clock."""

    DRAFT = "draft"
    ANNOUNCED = "announced"  # published; documents not available yet
    SUBMISSION_OPEN = "submission_open"  # documents available, before the deadline
    SUBMISSION_CLOSED = "submission_closed"  # deadline passed (opening due at opening_at)
    CANCELLED = "cancelled"


class SecurityForm(StrEnum):
    GUARANTEE = "guarantee"  # 电子保函
    DEPOSIT = "deposit"  # 保证金


class DecryptionMode(StrEnum):
    BIDDER_ONLY = "bidder_only"
    """Only the bidder can open its bid; a failed decryption counts as a revoked bid."""
    CUSTODIAN_FALLBACK = "bidder_with_custodian_fallback"
    """If the bidder cannot, k of n custodians may release the lot's opening key."""


class DocumentKind(StrEnum):
    NOTICE = "notice"  # 招标公告 / 采购公告
    DOCUMENTS = "documents"  # 招标文件 / 采购文件
    AMENDMENT = "amendment"  # 澄清或修改文件


@dataclass(frozen=True)
class BidSecurity:
    """投标保证金: the amount (0 = none required) and the forms a bidder may give it in."""

    amount_fen: int = 0
    forms: tuple[SecurityForm, ...] = (SecurityForm.GUARANTEE, SecurityForm.DEPOSIT)


@dataclass(frozen=True)
class DecryptionPolicy:
    mode: DecryptionMode = DecryptionMode.BIDDER_ONLY
    threshold: int = 0
    """k: custodian shares needed to rebuild the opening key (custodian fallback only)."""
    custodians: int = 0
    """n: custodians holding a share."""


@dataclass(frozen=True)
class Lot:
    id: str
    number: int
    """1-based: 第1标段 / 第1包."""
    name: str
    budget_fen: int
    """The estimate (估算价, 工程建设) or the budget (预算金额, 政府采购), in fen."""
    opening_schema: tuple[OpeningField, ...]
    security: BidSecurity = field(default_factory=BidSecurity)


@dataclass(frozen=True)
class TenderDraft:
    """What an agency fills in; a draft can be edited freely until it is published."""

    title: str
    code: str
    """The agency's project number (项目编号)."""
    category: Category
    procedure: Procedure
    region: str
    evaluation_method: EvaluationMethod
    documents_from: datetime
    deadline: datetime
    opening_at: datetime
    lots: tuple[Lot, ...]
    decryption: DecryptionPolicy = field(default_factory=DecryptionPolicy)
    description: str = ""


@dataclass
class Tender:
    id: str
    org_id: str
    """The agency organisation that owns the tender."""
    created_by: str
    created_at: datetime
    draft: TenderDraft
    status: TenderStatus = TenderStatus.DRAFT
    rule_pack: str | None = None
    """``id@version`` of the rule pack in force at publication; kept for the tender's life."""
    published_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str = ""
    amendment_no: int = 0
    """How many clarifications/amendments have been issued. A bid made under an older number
    must be re-confirmed by its bidder (the bids module compares the two)."""
    last_amended_at: datetime | None = None
    next_check: datetime | None = None
    version: int = 1

    # --- conveniences ------------------------------------------------------------------

    @property
    def deadline(self) -> datetime:
        return self.draft.deadline

    @property
    def opening_at(self) -> datetime:
        return self.draft.opening_at

    @property
    def documents_from(self) -> datetime:
        return self.draft.documents_from

    @property
    def category(self) -> Category:
        return self.draft.category

    def lot(self, lot_id: str) -> Lot | None:
        return next((lot for lot in self.draft.lots if lot.id == lot_id), None)

    # --- time ---------------------------------------------------------------------------

    def phase(self, now: datetime) -> Phase:
        if self.status == TenderStatus.DRAFT:
            return Phase.DRAFT
        if self.status == TenderStatus.CANCELLED:
            return Phase.CANCELLED
        if now < self.documents_from:
            return Phase.ANNOUNCED
        if now < self.deadline:
            return Phase.SUBMISSION_OPEN
        return Phase.SUBMISSION_CLOSED

    def compute_next_check(self, now: datetime) -> datetime | None:
        """The next instant at which the phase (or a due side effect) changes, or None."""
        if self.status != TenderStatus.PUBLISHED:
            return None
        for instant in (self.documents_from, self.deadline, self.opening_at):
            if now < instant:
                return instant
        return None

    def submission_open(self, now: datetime) -> bool:
        return self.phase(now) == Phase.SUBMISSION_OPEN

    # --- changes ------------------------------------------------------------------------

    def edit(self, draft: TenderDraft) -> None:
        if self.status != TenderStatus.DRAFT:
            raise TenderStateError("edit", "修改", str(self.status))
        check_draft(draft)
        # A lot keeps its id across edits (matched by number), so references to it stay valid.
        ids = {lot.number: lot.id for lot in self.draft.lots}
        lots = tuple(replace(lot, id=ids.get(lot.number, lot.id)) for lot in draft.lots)
        self.draft = replace(draft, lots=lots)

    def publish(self, pack: RulePack, now: datetime) -> None:
        """Check the rule pack and publish; the caller makes a retry of a published tender a
        no-op before calling this."""
        if self.status != TenderStatus.DRAFT:
            raise TenderStateError("publish", "发布", str(self.status))
        check_draft(self.draft)
        if pack.regime != self.category:
            raise ValueError("rule pack of another regime")
        # Documents cannot have been available before publication: the period starts now at
        # the earliest.
        documents_from = max(self.documents_from, now)
        check_publication_rules(pack, replace(self.draft, documents_from=documents_from))
        self.draft = replace(self.draft, documents_from=documents_from)
        self.status = TenderStatus.PUBLISHED
        self.rule_pack = pack.key
        self.published_at = now
        self.next_check = self.compute_next_check(now)

    def cancel(self, reason: str, now: datetime) -> None:
        if self.status == TenderStatus.CANCELLED:
            raise TenderStateError("cancel", "终止", str(self.status))
        if not reason.strip():
            raise ValidationError(
                "Give the reason for cancelling.", "请填写终止原因。", field="reason"
            )
        self.status = TenderStatus.CANCELLED
        self.cancelled_at = now
        self.cancel_reason = reason.strip()
        self.next_check = None

    def amend(
        self, pack: RulePack, now: datetime, requested_deadline: datetime | None = None
    ) -> tuple[datetime, datetime]:
        """Record a clarification/amendment issued at ``now``; returns (old, new) deadline.

        Issued fewer than ``pack.clarification_min_days`` days before the deadline, it moves the
        deadline to at least that many days after ``now`` (same time of day, on a working day).
        The agency may also postpone further; it may never bring the deadline forward.
        """
        if self.status != TenderStatus.PUBLISHED:
            raise TenderStateError("issue a clarification", "发布澄清或修改", str(self.status))
        if now >= self.deadline:
            raise SubmissionClosedError(self.deadline)
        old = self.deadline
        minimum = old
        if days_between(now, old) < pack.clarification_min_days:
            local_old = old.astimezone(CHINA_TZ)
            day = next_working_day(local_date(now) + timedelta(days=pack.clarification_min_days))
            minimum = datetime.combine(day, local_old.timetz()).astimezone(old.tzinfo)
        new = minimum
        if requested_deadline is not None:
            if requested_deadline < minimum:
                raise RuleViolationError(
                    pack,
                    "clarification_period",
                    f"the deadline must be at least {_fmt(minimum)} China time",
                    f"投标截止时间不得早于北京时间 {_fmt(minimum)}",
                )
            new = requested_deadline
        shift = new - old
        self.draft = replace(self.draft, deadline=new, opening_at=self.draft.opening_at + shift)
        self.amendment_no += 1
        self.last_amended_at = now
        self.next_check = self.compute_next_check(now)
        return old, new

    def question_window_end(self, pack: RulePack) -> datetime:
        """The last moment (exclusive) a bidder may ask about or object to the documents."""
        end = self.deadline
        if pack.objection_min_days is not None:
            # 异议 at least N days before the deadline: until the end of day (deadline - N).
            last_day = local_date(self.deadline) - timedelta(days=pack.objection_min_days)
            end = min(end, end_of_local_day(last_day))
        if pack.question_working_days is not None:
            # 质疑 within N working days, counted from the end of the notice period.
            start = local_date(self.documents_from)
            days = pack.question_working_days + (pack.notice_working_days or 0)
            end = min(end, end_of_local_day(add_working_days(start, days)))
        return end


def _fmt(instant: datetime) -> str:
    return instant.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _invalid(field_name: str, en: str, zh: str) -> ValidationError:
    return ValidationError(en, zh, field=field_name)


def check_draft(draft: TenderDraft) -> None:
    """Structural checks that hold whatever the rule pack: a draft that makes sense."""
    if not draft.title.strip():
        raise _invalid("title", "The title is required.", "请填写项目名称。")
    for name, instant in (
        ("documents_from", draft.documents_from),
        ("deadline", draft.deadline),
        ("opening_at", draft.opening_at),
    ):
        if instant.tzinfo is None:
            raise _invalid(name, f"{name} needs a time zone.", f"{name} 须带时区。")
    if not draft.documents_from < draft.deadline:
        raise _invalid(
            "deadline",
            "The deadline must be after the documents become available.",
            "投标截止时间须晚于招标文件发出时间。",
        )
    if draft.opening_at < draft.deadline:
        raise _invalid(
            "opening_at",
            "The opening cannot be before the deadline.",
            "开标时间不得早于投标截止时间。",
        )
    if not draft.lots:
        raise _invalid("lots", "A tender needs at least one lot.", "至少需要一个标段（包）。")
    numbers = [lot.number for lot in draft.lots]
    if len(set(numbers)) != len(numbers) or min(numbers) < 1:
        raise _invalid(
            "lots",
            "Lot numbers must be distinct and start at 1.",
            "标段（包）编号须从 1 起且不重复。",
        )
    for lot in draft.lots:
        if not lot.name.strip():
            raise _invalid(f"lots.{lot.number}.name", "Each lot needs a name.", "请填写标段名称。")
        if lot.budget_fen <= 0:
            raise _invalid(
                f"lots.{lot.number}.budget_fen",
                "The estimate or budget must be a positive amount.",
                "估算价或预算金额须为正数。",
            )
        if lot.security.amount_fen < 0:
            raise _invalid(
                f"lots.{lot.number}.security",
                "The bid security cannot be negative.",
                "投标保证金不得为负数。",
            )
        if lot.security.amount_fen > 0 and not lot.security.forms:
            raise _invalid(
                f"lots.{lot.number}.security",
                "Name at least one form the bid security may take.",
                "请至少指定一种投标保证金形式。",
            )
        check_schema(lot.opening_schema)
    policy = draft.decryption
    if policy.mode == DecryptionMode.CUSTODIAN_FALLBACK:
        if not (2 <= policy.custodians <= 15 and 1 <= policy.threshold <= policy.custodians):
            raise _invalid(
                "decryption",
                "Custodian fallback needs 2-15 custodians and a threshold from 1 to their number.",
                "托管人解密需要 2-15 名托管人，且门限值在 1 与托管人数之间。",
            )
    elif policy.threshold or policy.custodians:
        raise _invalid(
            "decryption",
            "A threshold and custodians only apply to the custodian fallback.",
            "仅托管人解密方式需要设置门限值与托管人。",
        )


def check_publication_rules(pack: RulePack, draft: TenderDraft) -> None:
    """The rule pack's checks at publication; the first broken rule is refused by name."""
    days = days_between(draft.documents_from, draft.deadline)
    if days < pack.documents_period_days:
        raise RuleViolationError(
            pack,
            "documents_period",
            f"only {days} days from the documents to the deadline; at least "
            f"{pack.documents_period_days} are required",
            f"招标文件发出至投标截止仅 {days} 日，至少需要 {pack.documents_period_days} 日",
        )
    if pack.opening_at_deadline and draft.opening_at != draft.deadline:
        raise RuleViolationError(
            pack,
            "opening_at_deadline",
            "the opening must be at the deadline",
            "开标时间须与投标截止时间相同",
        )
    for lot in draft.lots:
        if not pack.security_allowed(lot.security.amount_fen, lot.budget_fen):
            cap = pack.max_security_fen(lot.budget_fen)
            raise RuleViolationError(
                pack,
                "security_cap",
                f"lot {lot.number}: security {yuan(lot.security.amount_fen)} yuan exceeds "
                f"{yuan(cap)} yuan",
                f"第{lot.number}标段（包）投标保证金 {yuan(lot.security.amount_fen)} 元超过上限 "
                f"{yuan(cap)} 元",
            )


def yuan(fen: int) -> str:
    """Fen as a yuan string with two decimals, for messages (``123456`` -> ``1234.56``)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


@dataclass(frozen=True)
class TenderDocument:
    id: str
    tender_id: str
    kind: DocumentKind
    filename: str
    object_key: str
    sha256: str
    size: int
    content_type: str
    uploaded_at: datetime
    uploaded_by: str
    signature_status: str
    """The validator's verdict status at upload (``valid``)."""
    signature_problems: tuple[str, ...] = ()
    clarification_id: str | None = None
    """Amendment files belong to the clarification that published them; until then unpublished."""

    def is_published_with(self, tender: Tender) -> bool:
        if tender.status == TenderStatus.DRAFT:
            return False
        return self.kind != DocumentKind.AMENDMENT or self.clarification_id is not None


@dataclass(frozen=True)
class Clarification:
    """A clarification or amendment (澄清/修改), published to everyone."""

    id: str
    tender_id: str
    number: int
    title: str
    body: str
    issued_at: datetime
    issued_by: str
    previous_deadline: datetime
    deadline: datetime
    """The deadline after this clarification (moved if it came too late)."""
    document_ids: tuple[str, ...] = ()
    question_id: str | None = None
    """The question this clarification answers, if any (the asker is never named)."""

    @property
    def moved_deadline(self) -> bool:
        return self.deadline != self.previous_deadline


@dataclass
class Question:
    """A bidder's question (提问/异议/质疑). Who asked is not stored here: the agency never learns
    it; the sealed audit event names the asker for supervisors after the deadline."""

    id: str
    tender_id: str
    text: str
    asked_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None
    clarification_id: str | None = None
