"""The unified social credit code (统一社会信用代码), GB 32100-2015.

Eighteen characters from a 31-character alphabet (digits and capitals without I, O, S, V, Z):
registration authority (1), organisation type (1), administrative division (6), organisation
code (9) and a check character. The check character makes the weighted sum of all eighteen
characters' values a multiple of 31, with the weight of position ``i`` (from 0) being
``3**i mod 31``.
"""

from __future__ import annotations

from trading.errors import ValidationError

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUES = {char: value for value, char in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
"""1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28 (GB 32100-2015 table 3)."""


class CreditCodeFormatError(ValidationError):
    """The first 17 characters of a credit code cannot carry a check character."""

    code = "credit_code_format"

    def __init__(self, value: str) -> None:
        super().__init__(
            f"{value!r} is not 17 characters of the credit-code alphabet "
            "(0-9 and A-Y without I, O, S, V, Z).",
            f"{value!r} 不是 17 位统一社会信用代码字符（0-9 及不含 I、O、S、V、Z 的大写字母）。",
            field="credit_code",
        )


def credit_code_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a code.

    Raises :class:`CreditCodeFormatError` if ``first17`` is not 17 characters of the alphabet.
    """
    if len(first17) != 17 or any(char not in _VALUES for char in first17):
        raise CreditCodeFormatError(first17)
    total = sum(_VALUES[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def make_credit_code(first17: str) -> str:
    """The full 18-character code: ``first17`` followed by its check character."""
    return first17 + credit_code_check_char(first17)


def is_valid_credit_code(code: str) -> bool:
    """True for 18 characters of the alphabet whose last one is the right check character.

    Exact: no trimming or case folding (callers normalise input before asking).
    """
    if len(code) != 18 or any(char not in _VALUES for char in code):
        return False
    return credit_code_check_char(code[:17]) == code[17]
