"""Consumers read each event's payload as its message, whatever the payload's age."""

from __future__ import annotations

import pytest

from loyalty.identity.v1 import identity_pb2
from loyalty.points.v1 import points_pb2
from services.runtime import event_types


def test_points_payloads_read_as_their_messages() -> None:
    purchase = event_types.parse(
        "purchase.recorded",
        {
            "store_id": "S-1",
            "transaction_id": "T-1",
            "amount_minor": 1_250_000,
            "currency": "IRR",
            "items": [{"sku": "milk", "category": "dairy", "quantity": "2", "unit_price_minor": 5}],
            "occurred_at": "2026-03-01T10:00:00+00:00",
            "points_earned": 12,
        },
    )
    assert isinstance(purchase, points_pb2.PurchaseRecorded)
    assert (purchase.amount_minor, purchase.items[0].category) == (1_250_000, "dairy")

    change = event_types.parse("points.expire", {"changes": {"available": -40}, "reason": "x"})
    assert isinstance(change, points_pb2.PointsChanged)
    assert change.changes["available"] == -40

    tier = event_types.parse("tier.changed", {"from": "member", "to": "gold"})
    assert isinstance(tier, points_pb2.TierChanged) and tier.to == "gold"


def test_identity_payloads_keep_what_their_message_knows() -> None:
    enrolled = event_types.parse(
        "member.enrolled",
        {"first_name": None, "consents": {"sms": True, "whatsapp": True}, "erased": True},
    )
    assert enrolled == identity_pb2.MemberEnrolled(consents=identity_pb2.EnrolledConsents(sms=True))
    assert event_types.parse("member.logged_in", {"any": 1}) is None


def test_a_value_its_field_cannot_take_is_refused_naming_the_event() -> None:
    with pytest.raises(ValueError, match=r"purchase\.refunded"):
        event_types.parse("purchase.refunded", {"amount_minor": "a lot"})
