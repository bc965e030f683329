"""The events the services publish to one another through `ListEvents`: each type's name and its
payload message (identity.proto, points.proto), and how a consumer reads a payload as that
message.

A payload travels as the JSON object of its message's fields under their proto names, integers
as numbers; older events hold the same keys. Reading keeps what the message knows and leaves the
rest (an erased member's profile events hold `{"erased": true}` only), and a null is a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from loyalty.identity.v1 import identity_pb2
from loyalty.points.v1 import points_pb2

MEMBER_ENROLLED = "member.enrolled"
MEMBER_PROFILE_CHANGED = "member.profile_changed"
MEMBER_CONSENT_CHANGED = "member.consent_changed"
MEMBER_MERGED = "member.merged"
MEMBER_ERASED = "member.erased"
PURCHASE_RECORDED = "purchase.recorded"
PURCHASE_REFUNDED = "purchase.refunded"
TIER_CHANGED = "tier.changed"
REWARD_REDEEMED = "reward.redeemed"
COUPON_ISSUED = "coupon.issued"
COUPON_USED = "coupon.used"
COUPON_RELEASED = "coupon.released"
COUPON_CANCELLED = "coupon.cancelled"
COUPON_EXPIRED = "coupon.expired"
# Followed by the posting's kind: points.earn, points.redeem, points.expire, …
POINTS_CHANGED_PREFIX = "points."

M = TypeVar("M", bound=Message)

PAYLOADS: dict[str, type[Message]] = {
    MEMBER_ENROLLED: identity_pb2.MemberEnrolled,
    MEMBER_PROFILE_CHANGED: identity_pb2.MemberProfileChanged,
    MEMBER_CONSENT_CHANGED: identity_pb2.MemberConsentChanged,
    MEMBER_MERGED: identity_pb2.MemberMerged,
    MEMBER_ERASED: identity_pb2.MemberErased,
    PURCHASE_RECORDED: points_pb2.PurchaseRecorded,
    PURCHASE_REFUNDED: points_pb2.PurchaseRefunded,
    TIER_CHANGED: points_pb2.TierChanged,
    REWARD_REDEEMED: points_pb2.RewardRedeemed,
    COUPON_ISSUED: points_pb2.CouponChanged,
    COUPON_USED: points_pb2.CouponChanged,
    COUPON_RELEASED: points_pb2.CouponChanged,
    COUPON_CANCELLED: points_pb2.CouponChanged,
    COUPON_EXPIRED: points_pb2.CouponChanged,
}


def payload_of(message: Message) -> dict[str, Any]:
    """The message's fields as the JSON object an event carries: every field present, by its
    proto name, integers kept as numbers."""
    data: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            data[field.name] = dict(value)
        elif field.is_repeated:
            is_message = field.type == FieldDescriptor.TYPE_MESSAGE
            data[field.name] = [payload_of(item) if is_message else item for item in value]
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            data[field.name] = payload_of(value)
        else:
            data[field.name] = value
    return data


def payload_type(event_type: str) -> type[Message] | None:
    """The payload message of an event type; None for a type no consumer reads."""
    if event_type.startswith(POINTS_CHANGED_PREFIX):
        return points_pb2.PointsChanged
    return PAYLOADS.get(event_type)


def parse(event_type: str, payload: Mapping[str, Any]) -> Message | None:
    """The event's payload as its message; None for a type no consumer reads. Raises
    ValueError when a field holds a value its type cannot take."""
    message = payload_type(event_type)
    return None if message is None else payload_as(message, payload, event_type)


def payload_as(message: type[M], payload: Mapping[str, Any], event_type: str = "event") -> M:
    """The payload read as `message`."""
    try:
        return message(**_known(message.DESCRIPTOR, payload))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{event_type} payload: {error}") from None


@cache
def _nested(descriptor: Descriptor) -> dict[str, Descriptor | None]:
    """Each field's message type, for a field holding messages (a map's values are scalars)."""
    return {
        field.name: (
            field.message_type
            if field.message_type is not None and not field.message_type.GetOptions().map_entry
            else None
        )
        for field in descriptor.fields
    }


def _known(descriptor: Descriptor, data: Mapping[str, Any]) -> dict[str, Any]:
    """The message's constructor arguments: its fields' values, nested messages as their own.
    Built by hand rather than by json_format.ParseDict, which costs ten times as much."""
    fields = _nested(descriptor)
    arguments: dict[str, Any] = {}
    for name, value in data.items():
        if value is None or name not in fields:
            continue
        nested = fields[name]
        if nested is not None:
            value = (
                [_known(nested, item) for item in value]
                if isinstance(value, list)
                else _known(nested, value)
            )
        arguments[name] = value
    return arguments
