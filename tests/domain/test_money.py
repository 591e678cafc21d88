"""Money maths: integer minor units, half-up rounding, ISO 4217 exponents."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expertloop.domain.money import (
    MoneyError,
    check_currency,
    divide_half_up,
    format_minor,
    hourly_amount,
    with_premium,
)


def test_division_rounds_half_up_and_away_from_zero_for_negatives() -> None:
    assert [divide_half_up(n, 2) for n in (1, 2, 3, -1, -3)] == [1, 1, 2, -1, -2]
    assert divide_half_up(14, 10) == 1
    assert divide_half_up(15, 10) == 2
    with pytest.raises(MoneyError):
        divide_half_up(1, 0)


@given(st.integers(-(10**15), 10**15), st.integers(1, 10**9))
def test_division_is_within_half_a_unit_of_the_exact_quotient(n: int, d: int) -> None:
    q = divide_half_up(n, d)
    assert abs(2 * (q * d - n)) <= d


def test_hourly_pay_is_time_on_task_at_the_rate_capped_per_item() -> None:
    assert hourly_amount(1800, 60_000) == 30
    assert hourly_amount(1800, 3_600_000, cap_ms=600_000) == 300
    assert hourly_amount(1800, -5) == 0
    assert with_premium(25, 5000) == 38


def test_currencies_are_iso_codes_and_amounts_print_in_their_minor_units() -> None:
    assert check_currency(" usd ") == "USD"
    with pytest.raises(MoneyError):
        check_currency("DOLLARS")
    assert format_minor(1234, "USD") == "12.34"
    assert format_minor(-5, "EUR") == "-0.05"
    assert format_minor(7, "JPY") == "7"
    assert format_minor(1001, "KWD") == "1.001"
