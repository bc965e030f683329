"""Text clean-up shared by every door: people type Persian and Arabic-Indic digits."""

from __future__ import annotations

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def ascii_digits(text: str) -> str:
    """Persian (U+06F0..) and Arabic-Indic (U+0660..) digits as ASCII digits."""
    return text.translate(_DIGITS)
