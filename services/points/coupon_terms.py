"""What a club coupon takes off a purchase: an amount (never more than the purchase) or a
percent (with an optional cap), above an optional least purchase. Exact integer maths in the
currency's minor unit; a percent's fraction of a minor unit is rounded down."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from decimal import Decimal

from services.runtime.errors import FailedPrecondition, InvalidArgument
from services.runtime.money import MAX_MINOR
from services.runtime.text import ascii_digits

AMOUNT = "amount"
PERCENT = "percent"
_PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,2})?")


@dataclass(frozen=True)
class Terms:
    type: str
    currency: str
    # For AMOUNT: the discount.
    amount_minor: int = 0
    # For PERCENT: a decimal string, more than 0 and at most 100.
    percent: str = ""
    # 0: none.
    max_discount_minor: int = 0
    min_purchase_minor: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Terms | None:
        return cls(**json.loads(text)) if text else None

    def discount(self, amount_minor: int, currency: str) -> int:
        """The discount on a purchase of `amount_minor` in `currency`; refused below the least
        purchase or in another currency."""
        if currency != self.currency and (self.type == AMOUNT or self._has_limits()):
            raise FailedPrecondition(
                f"the coupon is in {self.currency}, the purchase in {currency}",
                code="coupon-currency",
            )
        if amount_minor < self.min_purchase_minor:
            raise FailedPrecondition(
                "the purchase is below the coupon's minimum", code="coupon-min-purchase"
            )
        if self.type == AMOUNT:
            return min(self.amount_minor, amount_minor)
        off = int(Decimal(amount_minor) * Decimal(self.percent) / 100)
        if self.max_discount_minor:
            off = min(off, self.max_discount_minor)
        return min(off, amount_minor)

    def _has_limits(self) -> bool:
        return bool(self.max_discount_minor or self.min_purchase_minor)


def checked(terms: Terms) -> Terms:
    """The terms if they make sense, refused with `invalid-coupon` otherwise."""
    if terms.type == AMOUNT:
        if not 0 < terms.amount_minor <= MAX_MINOR or terms.max_discount_minor:
            raise InvalidArgument(
                "an amount coupon takes off more than zero and has no max_discount",
                code="invalid-coupon",
            )
        return terms
    if terms.type != PERCENT:
        raise InvalidArgument('coupon.type must be "amount" or "percent"', code="invalid-coupon")
    percent = ascii_digits(terms.percent.strip())
    if not _PERCENT.fullmatch(percent) or not 0 < Decimal(percent) <= 100:
        raise InvalidArgument(
            "a percent coupon takes off more than 0 and at most 100 percent, with at most two"
            " decimals",
            code="invalid-coupon",
        )
    if terms.max_discount_minor < 0 or terms.min_purchase_minor < 0:
        raise InvalidArgument("limits cannot be negative", code="invalid-coupon")
    return Terms(
        type=PERCENT,
        currency=terms.currency,
        percent=format(Decimal(percent).normalize(), "f"),
        max_discount_minor=terms.max_discount_minor,
        min_purchase_minor=terms.min_purchase_minor,
    )
