"""Exact money: integer minor units with an ISO 4217 currency, never floats.

An amount is an ``int`` of the currency's minor unit (cents for USD, yen for JPY, fils for
KWD). Every calculation that divides (an hourly rate over seconds, a premium in basis
points) rounds **half up** (away from zero for positives: 0.5 cent becomes 1 cent), once, at
the end of the calculation, on integers; so the same inputs give the same amount on every
machine and the reconciliation can recompute it exactly.
"""

from __future__ import annotations

__all__ = [
    "CURRENCIES",
    "MoneyError",
    "check_currency",
    "divide_half_up",
    "format_minor",
    "hourly_amount",
    "with_premium",
]

# ISO 4217 codes and their minor-unit exponents (the common ones; others can be added).
CURRENCIES: dict[str, int] = {
    "AUD": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "CZK": 2, "DKK": 2, "EUR": 2,
    "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "JPY": 0, "KES": 2,
    "KRW": 0, "KWD": 3, "MXN": 2, "NGN": 2, "NOK": 2, "NZD": 2, "PHP": 2, "PLN": 2,
    "SEK": 2, "SGD": 2, "THB": 2, "TRY": 2, "TWD": 2, "UAH": 2, "USD": 2, "VND": 0,
    "ZAR": 2, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3, "CLP": 0, "ISK": 0, "UGX": 0,
}

MS_PER_HOUR = 3_600_000
BASIS_POINTS = 10_000


class MoneyError(ValueError):
    """An amount or currency that is not valid money."""


def check_currency(code: str) -> str:
    """The ISO 4217 code, upper-cased; :class:`MoneyError` if it is not one we know."""
    upper = code.strip().upper()
    if upper not in CURRENCIES:
        raise MoneyError(f"unknown currency {code!r}; use an ISO 4217 code such as USD or EUR")
    return upper


def divide_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up (half away from zero), in integers."""
    if denominator <= 0:
        raise MoneyError("the denominator must be positive")
    sign = -1 if numerator < 0 else 1
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return sign * quotient


def hourly_amount(rate_per_hour: int, duration_ms: int, *, cap_ms: int | None = None) -> int:
    """Pay for ``duration_ms`` on task at ``rate_per_hour`` minor units an hour, the time
    capped at ``cap_ms``; rounded half up to a minor unit.

    >>> hourly_amount(1800, 60_000)  # 18.00 an hour for one minute
    30
    """
    ms = max(0, duration_ms)
    if cap_ms is not None:
        ms = min(ms, cap_ms)
    return divide_half_up(rate_per_hour * ms, MS_PER_HOUR)


def with_premium(amount: int, basis_points: int) -> int:
    """``amount`` raised by ``basis_points`` (100 bp = 1 %), rounded half up.

    >>> with_premium(25, 5000)  # +50 %
    38
    """
    return divide_half_up(amount * (BASIS_POINTS + basis_points), BASIS_POINTS)


def format_minor(amount: int, currency: str) -> str:
    """``1234, "USD"`` as ``"12.34"``; ``-5, "USD"`` as ``"-0.05"``; ``7, "JPY"`` as ``"7"``."""
    exponent = CURRENCIES[currency]
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    if exponent == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{exponent}d}"
