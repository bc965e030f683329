"""Reading web forms: every value as typed, with Persian or Arabic-Indic digits made ASCII."""

from __future__ import annotations

import re

from flask import current_app, request

from services.runtime.money import typed_amount
from services.runtime.text import ascii_digits

# Thousands separators people type in amounts: comma, Arabic thousands separator, space.
_SEPARATORS = str.maketrans("", "", ",٬، _")


def field(name: str) -> str:
    return ascii_digits(request.form.get(name, "")).strip()


def amount_field(name: str) -> str:
    """`۱٬۲۵۰٬۰۰۰` → `1250000`; the Persian decimal point `٫` becomes `.`."""
    return field(name).translate(_SEPARATORS).replace("٫", ".")


def money_field(name: str) -> str:
    """An amount typed in the display currency, as a decimal string of the program's."""
    config = current_app.config["LOYALTY"]
    return typed_amount(amount_field(name), config.currency, config.display_currency)


_CARD = re.compile(r"\d{16}")
_PHONE = re.compile(r"\+?\d{7,15}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def typed_identifier(typed: str, emails: bool = False) -> tuple[str, str] | None:
    """What a till or the support desk was given (digits already ASCII): `("card", …)`,
    `("phone", …)`, with `emails` an `("email", …)`, else `("token", …)`: the text of a member's
    QR code as a scanner types it. None for nothing typed."""
    compact = re.sub(r"[\s\-()]", "", typed)
    if _CARD.fullmatch(compact):
        return "card", compact
    if _PHONE.fullmatch(compact):
        return "phone", compact
    if emails and _EMAIL.fullmatch(typed.strip()):
        return "email", typed.strip()
    if compact:
        return "token", typed.strip()
    return None
