"""The integration events endpoints may receive: which of the suite's events each one is, and
which of its fields are the member's personal data.

An event's data is its payload message's fields (services/runtime/event_types.py) under their
proto names; personal fields are sent only to endpoints allowed them. A new event is one more
row in `CATALOGUE` once its service publishes it. Coupon events never carry the code itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.runtime import event_types
from services.runtime.event_types import (
    COUPON_CANCELLED,
    COUPON_EXPIRED,
    COUPON_ISSUED,
    COUPON_RELEASED,
    COUPON_USED,
    MEMBER_ENROLLED,
    MEMBER_ERASED,
    MEMBER_MERGED,
    POINTS_CHANGED_PREFIX,
    PURCHASE_RECORDED,
    PURCHASE_REFUNDED,
    REWARD_REDEEMED,
    TIER_CHANGED,
)
from services.runtime.outbox import Event

POINTS_CHANGED = "points.changed"


@dataclass(frozen=True)
class Kind:
    """How one of the suite's events is delivered: its integration type and personal fields."""

    type: str
    personal: frozenset[str] = frozenset()


CATALOGUE: dict[str, Kind] = {
    MEMBER_ENROLLED: Kind(
        "member.enrolled",
        frozenset({"first_name", "city", "birth_date", "gender", "interests"}),
    ),
    MEMBER_MERGED: Kind("member.merged"),
    MEMBER_ERASED: Kind("member.erased"),
    PURCHASE_RECORDED: Kind("purchase.recorded"),
    PURCHASE_REFUNDED: Kind("purchase.refunded"),
    TIER_CHANGED: Kind("tier.changed"),
    REWARD_REDEEMED: Kind("reward.redeemed"),
    **{
        coupon: Kind(coupon)
        for coupon in (
            COUPON_ISSUED,
            COUPON_USED,
            COUPON_RELEASED,
            COUPON_CANCELLED,
            COUPON_EXPIRED,
        )
    },
}
# Every points movement (earn, redeem, expire, ...) is one type, its kind a field.
POINTS_KIND = Kind(POINTS_CHANGED)

INTEGRATION_TYPES = tuple(sorted({kind.type for kind in CATALOGUE.values()} | {POINTS_CHANGED}))
ALL = "*"


@dataclass(frozen=True)
class Mapped:
    type: str
    data: dict[str, Any]
    personal: dict[str, Any]


def kind_of(event_type: str) -> Kind | None:
    if event_type.startswith(POINTS_CHANGED_PREFIX):
        return POINTS_KIND
    return CATALOGUE.get(event_type)


def mapped(event: Event) -> Mapped | None:
    """The event as endpoints receive it; None for an event no endpoint receives."""
    kind = kind_of(event.type)
    if kind is None:
        return None
    message = event_types.parse(event.type, event.payload)
    fields = event_types.payload_of(message) if message is not None else dict(event.payload)
    if kind is POINTS_KIND:
        fields["kind"] = event.type.removeprefix(POINTS_CHANGED_PREFIX)
    data = {k: v for k, v in fields.items() if k not in kind.personal}
    personal = {k: v for k, v in fields.items() if k in kind.personal}
    return Mapped(kind.type, data, personal)


def wanted(event_types_wanted: list[str], event_type: str) -> bool:
    return ALL in event_types_wanted or event_type in event_types_wanted
