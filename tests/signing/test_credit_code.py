"""GB 32100-2015 check characters, checked against codes of real, publicly registered companies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading.credit_code import (
    ALPHABET,
    WEIGHTS,
    CreditCodeFormatError,
    credit_code_check_char,
    is_valid_credit_code,
    make_credit_code,
)

# Printed on business licences and in the national enterprise credit publicity system.
REAL_CODES = [
    "91350100M000100Y43",  # the example the brief gives
    "91440300708461136T",  # Huawei Technologies Co., Ltd.
    "914403001922038216",  # Ping An Insurance (Group) Company of China, Ltd.
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code: str) -> None:
    assert is_valid_credit_code(code)
    assert credit_code_check_char(code[:17]) == code[17]
    assert make_credit_code(code[:17]) == code


def test_weights_are_the_standard_table() -> None:
    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    assert len(ALPHABET) == 31 and not set("IOSVZ") & set(ALPHABET)


@pytest.mark.parametrize("code", REAL_CODES)
def test_any_single_changed_character_is_detected(code: str) -> None:
    for position in range(18):
        for char in ALPHABET:
            if char != code[position]:
                changed = code[:position] + char + code[position + 1 :]
                assert not is_valid_credit_code(changed), changed


@pytest.mark.parametrize(
    "code",
    [
        "",
        "91350100M000100Y4",
        "91350100M000100Y433",
        "91350100m000100y43",
        "9135010OM000100Y43",
        " 91350100M000100Y43",
        "91350100M000100Y4\u0033\u0000",
    ],
)
def test_malformed_codes_are_invalid(code: str) -> None:
    assert not is_valid_credit_code(code)


@pytest.mark.parametrize("first17", ["", "9135010", "91350100M000100YI", "91350100M000100Y4x"])
def test_check_char_refuses_malformed_input(first17: str) -> None:
    with pytest.raises(CreditCodeFormatError) as info:
        credit_code_check_char(first17)
    assert info.value.code == "credit_code_format" and info.value.message_zh


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17))
def test_made_codes_are_valid_and_a_swap_of_unequal_neighbours_is_caught(first17: str) -> None:
    code = make_credit_code(first17)
    assert is_valid_credit_code(code)
    for i in range(17):
        if code[i] != code[i + 1]:
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            assert not is_valid_credit_code(swapped)
