"""Rule packs and the working-day calendar (holidays and adjusted working days as data)."""

from __future__ import annotations

from datetime import date

import pytest

from trading.rules import add_working_days, is_working_day, pack_by_key, pack_for
from trading.rules.calendar import covers, next_working_day
from trading.rules.packs import Regime, RulePackNotFoundError


def test_the_pack_in_force_on_a_date_is_chosen_by_regime() -> None:
    construction = pack_for(Regime.CONSTRUCTION, date(2026, 3, 2))
    procurement = pack_for(Regime.PROCUREMENT, date(2026, 3, 2))
    assert construction.key == "cn-construction@2019-03-02"
    assert procurement.key == "cn-procurement@2017-10-01"
    assert construction.documents_period_days == procurement.documents_period_days == 20
    assert construction.clarification_min_days == 15
    assert construction.objection_min_days == 10
    assert procurement.question_working_days == 7
    assert construction.min_bids == procurement.min_bids == 3
    assert construction.publicity_min_days == 3
    assert construction.deposit_refund_days == 5
    assert pack_by_key(construction.key) is construction


def test_no_pack_before_the_law_took_effect() -> None:
    with pytest.raises(RulePackNotFoundError):
        pack_for(Regime.CONSTRUCTION, date(2019, 3, 1))
    with pytest.raises(RulePackNotFoundError):
        pack_by_key("cn-construction@1999-01-01")


def test_security_cap_is_two_percent_in_exact_integer_arithmetic() -> None:
    pack = pack_for(Regime.CONSTRUCTION, date(2026, 1, 5))
    budget = 123_456_789  # fen
    cap = pack.max_security_fen(budget)
    assert cap == 2_469_135  # floor(budget * 2 / 100)
    assert pack.security_allowed(cap, budget)
    assert not pack.security_allowed(cap + 1, budget)


def test_committee_rules_and_the_large_budget_committee_in_procurement() -> None:
    construction = pack_for(Regime.CONSTRUCTION, date(2026, 1, 5))
    procurement = pack_for(Regime.PROCUREMENT, date(2026, 1, 5))
    assert construction.committee_problems(5, 4, 10**12) == []
    assert construction.committee_problems(6, 4, 100) == ["committee_odd"]
    assert construction.committee_problems(5, 3, 100) == ["committee_experts"]
    assert construction.committee_problems(3, 3, 100) == ["committee_size"]
    ten_million_yuan = 10_000_000_00
    assert procurement.committee_problems(5, 4, ten_million_yuan - 1) == []
    assert procurement.committee_problems(5, 4, ten_million_yuan) == ["committee_size"]
    assert procurement.committee_problems(7, 5, ten_million_yuan) == []


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 10, 1), False),  # 国庆
        (date(2025, 10, 8), False),  # 国庆、中秋 (a Wednesday)
        (date(2025, 9, 28), True),  # Sunday, 调休上班
        (date(2025, 10, 11), True),  # Saturday, 调休上班
        (date(2026, 1, 2), False),  # 元旦 (a Friday)
        (date(2026, 1, 4), True),  # Sunday, 调休上班
        (date(2026, 2, 14), True),  # Saturday before 春节, 调休上班
        (date(2026, 2, 16), False),  # 春节 (a Monday)
        (date(2026, 2, 23), False),  # 春节 (a Monday)
        (date(2026, 3, 2), True),  # an ordinary Monday
        (date(2026, 3, 7), False),  # an ordinary Saturday
        (date(2026, 6, 19), False),  # 端午 (a Friday)
    ],
)
def test_holidays_and_adjusted_working_days(day: date, working: bool) -> None:
    assert is_working_day(day) is working


def test_adding_working_days_across_holidays() -> None:
    # Friday before the 2026 Spring Festival: Saturday 14 Feb is a working day, then nine days off.
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)
    # National Day 2025: 1-8 October off.
    assert add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    # An ordinary week: 7 working days from a Monday is the Wednesday after next.
    assert add_working_days(date(2026, 3, 2), 7) == date(2026, 3, 11)
    assert add_working_days(date(2026, 3, 2), 0) == date(2026, 3, 2)
    assert next_working_day(date(2026, 10, 3)) == date(2026, 10, 8)


def test_a_year_without_data_falls_back_to_weekdays_and_says_so() -> None:
    assert covers(2026) and covers(2025)
    assert not covers(2031)
    assert is_working_day(date(2031, 1, 1))  # a Wednesday; no holiday data for 2031 yet
    assert not is_working_day(date(2031, 1, 4))  # a Saturday
