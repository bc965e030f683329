"""Money as integer minor units: parsing and formatting the decimal strings of the HTTP API."""

from __future__ import annotations

import re

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
