"""Money as integer minor units: parsing and formatting the decimal strings of the HTTP API."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from services.runtime.errors import InvalidArgument
from services.runtime.text import ascii_digits

# ISO 4217 minor-unit exponents that differ from the usual 2.
_EXPONENTS = {
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"], 0),
    **dict.fromkeys(["RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}
# At most 18 digits either side of the point: every value is then held exactly, never rounded.
_DECIMAL = re.compile(r"([0-9]{1,18})(?:\.([0-9]{1,18}))?")
MAX_MINOR = 10**15
# Units people count in besides the ISO one, with how many of the currency make one: a rial
# program may show its amounts in toman.
DISPLAY_ALIASES: dict[str, dict[str, int]] = {"IRR": {"IRT": 10}}


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def to_minor(amount: str | int, currency: str, field: str = "amount") -> int:
    """`"12.50"` EUR → 1250, also typed in Persian digits. Exact: refuses floats, signs,
    exponents, more decimals than the currency has and more than 18 digits either side of the
    point, rather than round anything."""
    if isinstance(amount, bool) or not isinstance(amount, str | int):
        raise InvalidArgument(
            f'{field} must be a decimal string such as "125000"', "invalid-amount"
        )
    text = ascii_digits(str(amount).strip())
    match = _DECIMAL.fullmatch(text)
    if not match:
        raise InvalidArgument(
            f"{field} must be a non-negative decimal number of at most 18 digits before and"
            " after the point",
            "invalid-amount",
        )
    places = exponent(currency)
    whole, fraction = match[1], (match[2] or "").rstrip("0")
    if len(fraction) > places:
        raise InvalidArgument(
            f"{field} has more decimals than {currency} allows ({places})", "invalid-amount"
        )
    minor = int(whole) * 10**places + int(fraction.ljust(places, "0") or 0)
    if minor > MAX_MINOR:
        raise InvalidArgument(f"{field} is too large", "invalid-amount")
    return minor


def from_minor(minor: int, currency: str) -> str:
    """1250 EUR → `"12.50"`."""
    places = exponent(currency)
    if places == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**places)
    return f"{sign}{whole}.{fraction:0{places}d}"


def _ratio(currency: str, shown: str) -> int:
    return 1 if shown == currency else DISPLAY_ALIASES[currency][shown]


def display_amount(amount: str, currency: str, shown: str) -> str:
    """A decimal amount of `currency` as people write it in `shown`, without zeros after the
    point: `125000.00` IRR → `125000`, or `12500` in IRT; `12.50` EUR stays `12.50` and
    `125005` IRR is `12500.5` IRT. Text that is not an amount comes back as it was."""
    try:
        value = Decimal(amount) / _ratio(currency, shown)
    except (InvalidOperation, KeyError):
        return amount
    if not value.is_finite():
        return amount
    if value == value.to_integral_value():
        return f"{value:.0f}"
    if shown == currency:
        return f"{value:.{exponent(currency)}f}"
    return _plain(value)


def typed_amount(text: str, currency: str, shown: str) -> str:
    """An amount typed in `shown` as a decimal string of `currency` (`12500` IRT → `125000`);
    anything else is returned as typed, for `to_minor` to judge."""
    if (
        shown == currency
        or not _DECIMAL.fullmatch(text)
        or shown not in DISPLAY_ALIASES.get(currency, {})
    ):
        return text
    return _plain(Decimal(text) * _ratio(currency, shown))


def _plain(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
