"""The opening-data schema: which fields a bid must state, read out at the opening (唱标).

The tender documents name the fields (price, duration, quality...); the bid's signed manifest
carries the values. :func:`validate_opening_data` is the one checker, used when a tender is drafted
(to check the schema itself) and by the bid package checker (to check a bid's values).

Money is never a float: values are given in yuan as a decimal string (``"1234567.89"``) or an
integer, and normalised to integer fen.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from trading.errors import ValidationError


class FieldType(StrEnum):
    MONEY = "money"
    """Yuan with at most two decimals; normalised to integer fen."""
    INTEGER = "integer"
    DECIMAL = "decimal"
    """Normalised to a canonical decimal string (no float rounding)."""
    TEXT = "text"
    ENUM = "enum"


@dataclass(frozen=True)
class OpeningField:
    name: str
    """Machine name in the bid manifest, e.g. ``price``, ``duration_days``."""
    label_zh: str
    label_en: str
    type: FieldType
    unit: str = ""
    """Display unit (元, 天, 月...). Money values are always stated in yuan."""
    min: Decimal | None = None
    """Inclusive bound, in the field's unit (yuan for money)."""
    max: Decimal | None = None
    required: bool = True
    choices: tuple[str, ...] = ()
    """Allowed values of an ``enum`` field."""
    max_length: int = 500
    """Longest ``text`` value, in characters."""


@dataclass(frozen=True)
class OpeningDataProblem:
    field: str
    code: str
    """``missing``, ``not_a_number``, ``not_an_integer``, ``too_many_decimals``, ``below_min``,
    ``above_max``, ``negative``, ``not_a_choice``, ``too_long``, ``unknown_field``, ``float_money``,
    ``not_text``."""
    message_en: str
    message_zh: str


@dataclass(frozen=True)
class OpeningDataVerdict:
    """The result of checking a bid's opening data against the schema."""

    values: dict[str, int | str | None]
    """Normalised values: money in fen (int), integers as int, decimals and text as str."""
    problems: tuple[OpeningDataProblem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems


class OpeningDataError(ValidationError):
    code = "opening_data_invalid"

    def __init__(self, problems: Sequence[OpeningDataProblem]) -> None:
        super().__init__(
            "Opening data invalid: " + "; ".join(f"{p.field}: {p.message_en}" for p in problems),
            "开标数据无效：" + "；".join(f"{p.field}：{p.message_zh}" for p in problems),
            field=problems[0].field if problems else "",
            problems=[p.code for p in problems],
        )
        self.problems = tuple(problems)


class OpeningSchemaError(ValidationError):
    code = "opening_schema_invalid"

    def __init__(self, message_en: str, message_zh: str, field_name: str) -> None:
        super().__init__(message_en, message_zh, field=f"opening_schema.{field_name}")


_NAME = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


def check_schema(fields: Sequence[OpeningField]) -> None:
    """Refuse a schema that cannot be filled in: bad or duplicate names, empty enums, min > max."""
    if not fields:
        raise OpeningSchemaError(
            "The opening data needs at least one field (usually the price).",
            "开标数据至少需要一个字段（通常为投标报价）。",
            "",
        )
    seen: set[str] = set()
    for f in fields:
        if not _NAME.match(f.name):
            raise OpeningSchemaError(
                f"Field name {f.name!r} must be lower-case letters, digits and _.",
                f"字段名 {f.name!r} 须由小写字母、数字和下划线组成。",
                f.name,
            )
        if f.name in seen:
            raise OpeningSchemaError(
                f"Field {f.name!r} appears twice.", f"字段 {f.name!r} 重复。", f.name
            )
        seen.add(f.name)
        if not f.label_zh.strip() or not f.label_en.strip():
            raise OpeningSchemaError(
                f"Field {f.name!r} needs a Chinese and an English label.",
                f"字段 {f.name!r} 须有中文和英文名称。",
                f.name,
            )
        if f.type == FieldType.ENUM and not f.choices:
            raise OpeningSchemaError(
                f"Enum field {f.name!r} needs choices.",
                f"枚举字段 {f.name!r} 须列出可选值。",
                f.name,
            )
        if f.min is not None and f.max is not None and f.min > f.max:
            raise OpeningSchemaError(
                f"Field {f.name!r}: min is above max.",
                f"字段 {f.name!r} 的最小值大于最大值。",
                f.name,
            )


def _problem(name: str, code: str, en: str, zh: str) -> OpeningDataProblem:
    return OpeningDataProblem(name, code, en, zh)


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if not re.fullmatch(r"[+-]?\d+(\.\d+)?", text):
            return None
        try:
            return Decimal(text)
        except InvalidOperation:
            return None
    return None


def _check_bounds(f: OpeningField, number: Decimal) -> OpeningDataProblem | None:
    if f.min is not None and number < f.min:
        return _problem(f.name, "below_min", f"must be at least {f.min}", f"不得小于 {f.min}")
    if f.max is not None and number > f.max:
        return _problem(f.name, "above_max", f"must be at most {f.max}", f"不得大于 {f.max}")
    return None


def _one(f: OpeningField, value: object) -> tuple[int | str | None, OpeningDataProblem | None]:
    name = f.name
    if f.type == FieldType.TEXT:
        if not isinstance(value, str):
            return None, _problem(name, "not_text", "must be text", "须为文本")
        if len(value) > f.max_length:
            return None, _problem(
                name, "too_long", f"longer than {f.max_length}", f"超过 {f.max_length} 个字符"
            )
        return value, None
    if f.type == FieldType.ENUM:
        if not isinstance(value, str) or value not in f.choices:
            allowed = ", ".join(f.choices)
            return None, _problem(
                name, "not_a_choice", f"must be one of: {allowed}", f"须为以下之一：{allowed}"
            )
        return value, None
    if f.type == FieldType.MONEY and isinstance(value, float):
        # A float cannot hold most amounts in fen exactly; refuse rather than round silently.
        return None, _problem(
            name,
            "float_money",
            "give money as a decimal string in yuan, not a floating-point number",
            "金额须以字符串形式的元为单位给出，不得使用浮点数",
        )
    number = _decimal(value)
    if number is None:
        return None, _problem(name, "not_a_number", "must be a number", "须为数字")
    if f.type == FieldType.INTEGER:
        if number != number.to_integral_value():
            return None, _problem(name, "not_an_integer", "must be a whole number", "须为整数")
        bound = _check_bounds(f, number)
        return (None, bound) if bound else (int(number), None)
    if f.type == FieldType.MONEY:
        if number < 0:
            return None, _problem(name, "negative", "must not be negative", "不得为负数")
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -2:
            return None, _problem(
                name, "too_many_decimals", "at most two decimals (fen)", "最多两位小数（分）"
            )
        bound = _check_bounds(f, number)
        return (None, bound) if bound else (int(number * 100), None)
    bound = _check_bounds(f, number)
    return (None, bound) if bound else (format(number.normalize(), "f"), None)


def validate_opening_data(
    fields: Sequence[OpeningField], data: Mapping[str, object]
) -> OpeningDataVerdict:
    """Check ``data`` (from a bid manifest) against the schema; collect every problem."""
    values: dict[str, int | str | None] = {}
    problems: list[OpeningDataProblem] = []
    known = {f.name for f in fields}
    for name in sorted(set(data) - known):
        problems.append(_problem(name, "unknown_field", "is not asked for", "不是要求的字段"))
    for f in fields:
        raw = data.get(f.name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if f.required:
                problems.append(_problem(f.name, "missing", "is required", "为必填项"))
            values[f.name] = None
            continue
        value, problem = _one(f, raw)
        if problem:
            problems.append(problem)
        values[f.name] = value
    return OpeningDataVerdict(values=values, problems=tuple(problems))


def require_valid_opening_data(
    fields: Sequence[OpeningField], data: Mapping[str, object]
) -> dict[str, int | str | None]:
    """Like :func:`validate_opening_data`, raising :class:`OpeningDataError` on any problem."""
    verdict = validate_opening_data(fields, data)
    if not verdict.ok:
        raise OpeningDataError(verdict.problems)
    return verdict.values


def field_to_dict(f: OpeningField) -> dict[str, object]:
    """JSON form, as stored and as shown to bidders."""
    return {
        "name": f.name,
        "label_zh": f.label_zh,
        "label_en": f.label_en,
        "type": str(f.type),
        "unit": f.unit,
        "min": None if f.min is None else str(f.min),
        "max": None if f.max is None else str(f.max),
        "required": f.required,
        "choices": list(f.choices),
        "max_length": f.max_length,
    }


def field_from_dict(d: Mapping[str, object]) -> OpeningField:
    def dec(v: object) -> Decimal | None:
        return None if v is None else Decimal(str(v))

    choices = d.get("choices") or ()
    assert isinstance(choices, (list, tuple))
    max_length = d.get("max_length", 500)
    assert isinstance(max_length, int)
    return OpeningField(
        name=str(d["name"]),
        label_zh=str(d["label_zh"]),
        label_en=str(d["label_en"]),
        type=FieldType(str(d["type"])),
        unit=str(d.get("unit") or ""),
        min=dec(d.get("min")),
        max=dec(d.get("max")),
        required=bool(d.get("required", True)),
        choices=tuple(str(c) for c in choices),
        max_length=max_length,
    )
