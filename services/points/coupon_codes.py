"""Coupon codes: made from `secrets`, easy to read aloud and type, and read back however a
person types them. The one place that knows what a code looks like."""

from __future__ import annotations

import re
import secrets

from services.runtime.text import ascii_digits

# No 0/O, no 1/I: nothing a person can misread. 32 symbols: 5 random bits each.
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
LENGTH = 10  # 50 random bits
_SEPARATORS = re.compile(r"[\s\-_.\u200c\u200f\u200e]+")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(typed: str) -> str:
    """A code as typed at a till or in a URL (any case, spaces, dashes, Persian or Arabic
    digits) as it is stored. Partner codes are read the same way."""
    return _SEPARATORS.sub("", ascii_digits(typed)).upper()
