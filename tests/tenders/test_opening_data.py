"""The opening-data schema and its validator (reused by the bid package checker)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from trading.tenders.opening_data import (
    FieldType,
    OpeningDataError,
    OpeningField,
    OpeningSchemaError,
    check_schema,
    field_from_dict,
    field_to_dict,
    require_valid_opening_data,
    validate_opening_data,
)

SCHEMA = (
    OpeningField(
        "price", "投标报价", "Bid price", FieldType.MONEY, unit="元", max=Decimal(2000000)
    ),
    OpeningField("duration_days", "工期", "Duration", FieldType.INTEGER, unit="天", min=Decimal(1)),
    OpeningField("rate", "下浮率", "Discount rate", FieldType.DECIMAL, unit="%", required=False),
    OpeningField(
        "quality", "质量标准", "Quality", FieldType.ENUM, choices=("合格", "优良"), required=False
    ),
    OpeningField("note", "备注", "Note", FieldType.TEXT, required=False, max_length=10),
)


def codes(data: dict[str, object]) -> dict[str, str]:
    return {p.field: p.code for p in validate_opening_data(SCHEMA, data).problems}


def test_valid_data_is_normalised_money_to_integer_fen() -> None:
    verdict = validate_opening_data(
        SCHEMA,
        {"price": "1,234,567.89", "duration_days": "180", "rate": "3.50", "quality": "合格"},
    )
    assert verdict.ok
    assert verdict.values == {
        "price": 123456789,
        "duration_days": 180,
        "rate": "3.5",
        "quality": "合格",
        "note": None,
    }
    assert (
        validate_opening_data(SCHEMA, {"price": 100, "duration_days": 1}).values["price"] == 10000
    )


def test_negative_price_is_refused() -> None:
    assert codes({"price": "-1.00", "duration_days": 10}) == {"price": "negative"}


def test_non_numeric_values_are_refused() -> None:
    assert codes({"price": "一百万", "duration_days": "ten"}) == {
        "price": "not_a_number",
        "duration_days": "not_a_number",
    }
    assert codes({"price": True, "duration_days": 10}) == {"price": "not_a_number"}
    assert codes({"price": "1e5", "duration_days": 10}) == {"price": "not_a_number"}


def test_missing_required_field_is_refused_and_every_problem_is_reported() -> None:
    assert codes({"note": "x" * 11, "extra": 1}) == {
        "price": "missing",
        "duration_days": "missing",
        "note": "too_long",
        "extra": "unknown_field",
    }
    assert codes({"price": "  ", "duration_days": 5}) == {"price": "missing"}


def test_money_refuses_floats_and_fractions_of_a_fen() -> None:
    assert codes({"price": 1234.5, "duration_days": 5}) == {"price": "float_money"}
    assert codes({"price": "1.005", "duration_days": 5}) == {"price": "too_many_decimals"}
    assert codes({"price": "1.50", "duration_days": 5}) == {}


def test_bounds_integers_and_enums() -> None:
    assert codes({"price": "2000000.01", "duration_days": 0}) == {
        "price": "above_max",
        "duration_days": "below_min",
    }
    assert codes({"price": "1", "duration_days": "1.5"}) == {"duration_days": "not_an_integer"}
    assert codes({"price": "1", "duration_days": 2, "quality": "差"}) == {"quality": "not_a_choice"}


def test_require_valid_raises_a_validation_error_with_a_code_and_both_languages() -> None:
    with pytest.raises(OpeningDataError) as caught:
        require_valid_opening_data(SCHEMA, {"price": "-5", "duration_days": 3})
    error = caught.value
    assert error.code == "opening_data_invalid"
    assert "price" in error.message_en and "不得为负数" in error.message_zh
    assert error.details["problems"] == ["negative"]


def test_schema_checks() -> None:
    check_schema(SCHEMA)
    with pytest.raises(OpeningSchemaError):
        check_schema(())
    with pytest.raises(OpeningSchemaError):
        check_schema((SCHEMA[0], SCHEMA[0]))
    with pytest.raises(OpeningSchemaError):
        check_schema((OpeningField("q", "质量", "Quality", FieldType.ENUM),))
    with pytest.raises(OpeningSchemaError):
        check_schema((OpeningField("Price!", "报价", "Price", FieldType.MONEY),))
    with pytest.raises(OpeningSchemaError):
        check_schema(
            (OpeningField("p", "报价", "Price", FieldType.MONEY, min=Decimal(5), max=Decimal(1)),)
        )


def test_fields_round_trip_through_json_form() -> None:
    assert tuple(field_from_dict(field_to_dict(f)) for f in SCHEMA) == SCHEMA
