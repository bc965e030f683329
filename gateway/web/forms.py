"""Reading web forms: every value as typed, with Persian or Arabic-Indic digits made ASCII."""

from __future__ import annotations

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
