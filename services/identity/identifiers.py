"""How members are recognised: phone numbers, card numbers and e-mail addresses.

Pure rules, no I/O. Cashiers type numbers in every style, often in Persian or Arabic-Indic
digits; everything is reduced to one canonical form before it is hashed or compared.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import phonenumbers

from services.runtime.errors import InvalidArgument
from services.runtime.text import ascii_digits

_PHONE_SEPARATORS = re.compile(r"[\s\-().\u200c\u200f\u200e]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
CARD_LENGTH = 16


def normalize_phone(raw: str, default_region: str) -> str:
    """The number in E.164 (`+989121234567`), or InvalidArgument `invalid-phone`."""
    text = _PHONE_SEPARATORS.sub("", ascii_digits(raw or ""))
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text or not re.fullmatch(r"\+?[0-9]{4,17}", text):
        raise InvalidArgument("phone is not a phone number", code="invalid-phone")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidArgument("phone is not a phone number", code="invalid-phone") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidArgument("phone is not a valid phone number", code="invalid-phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """`+989121234567` → `+98 912 *** **67`: the country code, the first three digits of the
    national number and the last two; enough for a member to recognise, no more."""
    number = phonenumbers.parse(e164, None)
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    total = sum(char.isdigit() for char in formatted)
    keep_head = len(str(number.country_code)) + 3
    out, seen = [], 0
    for char in formatted:
        if char.isdigit():
            seen += 1
            if keep_head < seen <= total - 2:
                char = "*"
        out.append(char)
    return "".join(out)


def normalize_email(raw: str) -> str:
    email = (raw or "").strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise InvalidArgument("email is not an e-mail address", code="invalid-email")
    return email


def mask_email(email: str) -> str:
    """`sara.ahmadi@example.com` → `s***@example.com`."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def luhn_check_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def new_card_number() -> str:
    """A random card number with a Luhn check digit: unguessable, and typos are caught."""
    body = f"6{secrets.randbelow(10 ** (CARD_LENGTH - 2)):0{CARD_LENGTH - 2}d}"
    return body + luhn_check_digit(body)


def normalize_card_number(raw: str) -> str:
    """The card's 16 digits, or InvalidArgument when it is malformed or its check digit is wrong."""
    digits = re.sub(r"[\s\-]", "", ascii_digits(raw or ""))
    if not re.fullmatch(rf"[0-9]{{{CARD_LENGTH}}}", digits):
        raise InvalidArgument(
            f"card number must have {CARD_LENGTH} digits", code="invalid-card-number"
        )
    if luhn_check_digit(digits[:-1]) != digits[-1]:
        raise InvalidArgument(
            "card number check digit is wrong: check for a typo", code="invalid-card-number"
        )
    return digits


class PiiHasher:
    """Keyed hashes (HMAC-SHA256) under which personal identifiers are looked up."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def __call__(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
