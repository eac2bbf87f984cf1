"""Statutory numbers as versioned, dated rule packs (design §6).

A pack holds the numbers of one regime as they stood from one date. A tender is checked against the
pack in force on the day it is published and keeps that pack's id and version for the rest of its
life, so a later change of the law (a new pack) does not change the rules of a running tender.

Each rule has a stable name (``documents_period``, ``security_cap``...) that refusals carry, and a
citation of the article it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from trading.errors import NotFoundError


class Regime(StrEnum):
    """The category of a tender, which decides the law that applies."""

    CONSTRUCTION = "construction"  # 工程建设：招标投标法及其实施条例
    PROCUREMENT = "procurement"  # 政府采购：政府采购法、87号令

    @property
    def label_zh(self) -> str:
        return {"construction": "工程建设", "procurement": "政府采购"}[self.value]


@dataclass(frozen=True)
class Citation:
    """Where a rule comes from, in both languages."""

    zh: str
    en: str


@dataclass(frozen=True)
class RulePack:
    id: str
    version: str
    """The date the pack's sources took effect, ISO format; packs of one id sort by it."""
    regime: Regime
    effective_from: date
    title_zh: str
    title_en: str
    documents_period_days: int
    """Minimum calendar days from the day documents are first available to the deadline."""
    clarification_min_days: int
    """A clarification or amendment issued fewer calendar days than this before the deadline
    moves the deadline to at least this many days after the clarification."""
    objection_min_days: int | None
    """Objections to the documents (异议) must come at least this many days before the deadline."""
    question_working_days: int | None
    """Questions (质疑) on the documents within this many working days (政府采购)."""
    notice_working_days: int | None
    """The notice period (公告期限) in working days, from which the question period counts."""
    security_cap: tuple[int, int]
    """Bid security at most numerator/denominator of the estimate or budget (2/100)."""
    min_bids: int
    committee_min: int
    committee_min_large: int
    """Committee minimum for budgets at or above ``large_budget_fen``."""
    large_budget_fen: int | None
    expert_share: tuple[int, int]
    """Experts at least numerator/denominator of the committee (2/3)."""
    publicity_min_days: int
    deposit_refund_days: int
    deposit_refund_working_days: bool
    opening_at_deadline: bool
    """The opening happens at the deadline instant (招标投标法 第三十四条)."""
    price_score: str | None
    """``low_price_first``: price score = (benchmark / price) x weight (87号令 第五十五条)."""
    citations: dict[str, Citation] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """``id@version``, what a tender stores."""
        return f"{self.id}@{self.version}"

    def cite(self, rule: str) -> Citation:
        return self.citations.get(rule, Citation(rule, rule))

    def security_allowed(self, amount_fen: int, budget_fen: int) -> bool:
        """Integer arithmetic: amount / budget <= cap, with no rounding."""
        numerator, denominator = self.security_cap
        return amount_fen * denominator <= budget_fen * numerator

    def max_security_fen(self, budget_fen: int) -> int:
        numerator, denominator = self.security_cap
        return budget_fen * numerator // denominator

    def committee_minimum(self, budget_fen: int) -> int:
        if self.large_budget_fen is not None and budget_fen >= self.large_budget_fen:
            return self.committee_min_large
        return self.committee_min

    def committee_problems(self, size: int, experts: int, budget_fen: int) -> list[str]:
        """Names of the committee rules a committee of ``size`` with ``experts`` experts breaks."""
        problems = []
        if size < self.committee_minimum(budget_fen):
            problems.append("committee_size")
        if size % 2 == 0:
            problems.append("committee_odd")
        numerator, denominator = self.expert_share
        if experts * denominator < size * numerator:
            problems.append("committee_experts")
        return problems


CONSTRUCTION_2019 = RulePack(
    id="cn-construction",
    version="2019-03-02",
    regime=Regime.CONSTRUCTION,
    effective_from=date(2019, 3, 2),
    title_zh="工程建设项目招标投标（招标投标法、招标投标法实施条例 2019 年修订）",
    title_en="Construction tendering (Tendering Law and its Implementing Regulation, 2019)",
    documents_period_days=20,
    clarification_min_days=15,
    objection_min_days=10,
    question_working_days=None,
    notice_working_days=None,
    security_cap=(2, 100),
    min_bids=3,
    committee_min=5,
    committee_min_large=5,
    large_budget_fen=None,
    expert_share=(2, 3),
    publicity_min_days=3,
    deposit_refund_days=5,
    deposit_refund_working_days=False,
    opening_at_deadline=True,
    price_score=None,
    citations={
        "documents_period": Citation(
            "招标投标法第二十四条：自招标文件开始发出之日起至投标截止之日止，最短不得少于二十日",
            "Tendering Law art. 24: at least 20 days from the issue of the documents to the "
            "deadline",
        ),
        "clarification_period": Citation(
            "招标投标法第二十三条：澄清或者修改应当在投标截止时间至少十五日前发出",
            "Tendering Law art. 23: clarifications at least 15 days before the deadline",
        ),
        "objection_period": Citation(
            "实施条例第二十二条：对招标文件有异议的，应当在投标截止时间十日前提出",
            "Implementing Regulation art. 22: objections at least 10 days before the deadline",
        ),
        "security_cap": Citation(
            "实施条例第二十六条：投标保证金不得超过招标项目估算价的百分之二",
            "Implementing Regulation art. 26: bid security at most 2% of the estimate",
        ),
        "opening_at_deadline": Citation(
            "招标投标法第三十四条：开标应当在投标截止时间的同一时间公开进行",
            "Tendering Law art. 34: the opening takes place at the deadline",
        ),
        "min_bids": Citation(
            "招标投标法第二十八条、实施条例第四十四条：投标人少于三个的，不得开标",
            "Tendering Law art. 28: fewer than three bids, no opening",
        ),
        "committee_size": Citation(
            "招标投标法第三十七条：评标委员会成员人数为五人以上单数",
            "Tendering Law art. 37: a committee of five or more, odd",
        ),
    },
)

PROCUREMENT_2017 = RulePack(
    id="cn-procurement",
    version="2017-10-01",
    regime=Regime.PROCUREMENT,
    effective_from=date(2017, 10, 1),
    title_zh="政府采购货物和服务招标投标（财政部令第87号）",
    title_en="Government procurement of goods and services by tender (MOF Order No. 87)",
    documents_period_days=20,
    clarification_min_days=15,
    objection_min_days=None,
    question_working_days=7,
    notice_working_days=5,
    security_cap=(2, 100),
    min_bids=3,
    committee_min=5,
    committee_min_large=7,
    large_budget_fen=10_000_000_00,  # 1000万元
    expert_share=(2, 3),
    publicity_min_days=1,  # 87号令第六十九条: the award notice runs 1 working day
    deposit_refund_days=5,
    deposit_refund_working_days=True,
    opening_at_deadline=True,
    price_score="low_price_first",
    citations={
        "documents_period": Citation(
            "政府采购法第三十五条：自招标文件开始发出之日起至投标截止之日止，不得少于二十日",
            "Government Procurement Law art. 35: at least 20 days from the issue of the "
            "documents to the deadline",
        ),
        "clarification_period": Citation(
            "87号令第二十七条：澄清或者修改应当在投标截止时间至少15日前发出，不足15日的顺延",
            "MOF Order 87 art. 27: clarifications at least 15 days before the deadline, "
            "otherwise the deadline moves",
        ),
        "question_period": Citation(
            "政府采购法第五十二条：供应商应在知道或者应知其权益受到损害之日起7个工作日内提出质疑",
            "Government Procurement Law art. 52: questions within 7 working days",
        ),
        "security_cap": Citation(
            "87号令第三十三条：投标保证金不得超过采购项目预算金额的2%",
            "MOF Order 87 art. 33: bid security at most 2% of the budget",
        ),
        "opening_at_deadline": Citation(
            "87号令第三十九条：开标应当在招标文件确定的提交投标文件截止时间的同一时间进行",
            "MOF Order 87 art. 39: the opening takes place at the deadline",
        ),
        "min_bids": Citation(
            "87号令第四十三条：投标截止后投标人不足3家的，不得开标",
            "MOF Order 87 art. 43: fewer than three bids, no opening",
        ),
        "committee_size": Citation(
            "87号令第四十七条：评标委员会成员为5人以上单数，预算1000万元以上的为7人以上单数",
            "MOF Order 87 art. 47: a committee of five or more, odd; seven for budgets of "
            "10 million yuan or more",
        ),
    },
)

PACKS: tuple[RulePack, ...] = (CONSTRUCTION_2019, PROCUREMENT_2017)
"""Every pack the platform knows, old ones included (running tenders keep theirs)."""


class RulePackNotFoundError(NotFoundError):
    code = "rule_pack_not_found"

    def __init__(self, what: str) -> None:
        super().__init__(f"No rule pack for {what}.", f"没有适用于{what}的规则包。", rule_pack=what)


def pack_for(regime: Regime, on_date: date) -> RulePack:
    """The pack of ``regime`` in force on ``on_date``: the newest one effective by then."""
    candidates = [p for p in PACKS if p.regime == regime and p.effective_from <= on_date]
    if not candidates:
        raise RulePackNotFoundError(f"{regime.label_zh} {on_date.isoformat()}")
    return max(candidates, key=lambda p: p.effective_from)


def pack_by_key(key: str) -> RulePack:
    """The pack a tender stored (``id@version``)."""
    for pack in PACKS:
        if pack.key == key:
            return pack
    raise RulePackNotFoundError(key)
