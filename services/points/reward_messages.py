"""The rewards catalog and coupons as points.proto messages, and back: the servicer's mapping
for them, kept apart from the ledger's."""

from __future__ import annotations

from typing import Any

from loyalty.common.v1 import common_pb2
from loyalty.points.v1 import points_pb2 as pb
from services.points.catalog import RewardSpec, RewardView, Visibility
from services.points.coupon_terms import AMOUNT, Terms
from services.points.coupons import CouponView
from services.runtime.convert import from_timestamp, to_timestamp

# The UpdateRewardRequest fields that are set only when given (proto3 `optional`).
OPTIONAL_FIELDS = (
    "name",
    "description",
    "name_fa",
    "description_fa",
    "points_cost",
    "per_member_limit",
    "valid_days",
    "status",
    "refund_on_cancel",
)


def terms_of(spec: pb.CouponSpec) -> Terms | None:
    if not spec.type:
        return None
    currency = spec.amount.currency or spec.max_discount.currency or spec.min_purchase.currency
    return Terms(
        type=spec.type,
        currency=currency,
        amount_minor=spec.amount.amount_minor,
        percent=spec.percent,
        max_discount_minor=spec.max_discount.amount_minor,
        min_purchase_minor=spec.min_purchase.amount_minor,
    )


def spec_message(terms: Terms | None) -> pb.CouponSpec | None:
    if terms is None:
        return None

    def money(minor: int) -> common_pb2.Money | None:
        return common_pb2.Money(amount_minor=minor, currency=terms.currency) if minor else None

    return pb.CouponSpec(
        type=terms.type,
        amount=money(terms.amount_minor) if terms.type == AMOUNT else None,
        percent=terms.percent,
        max_discount=money(terms.max_discount_minor),
        min_purchase=money(terms.min_purchase_minor),
    )


def visibility_of(message: pb.Visibility) -> Visibility:
    return Visibility(tuple(message.tiers), tuple(message.segment_ids), tuple(message.stages))


def reward_spec(reward: pb.Reward) -> RewardSpec:
    return RewardSpec(
        kind=reward.kind,
        name=reward.name,
        points_cost=reward.points_cost,
        description=reward.description,
        name_fa=reward.name_fa,
        description_fa=reward.description_fa,
        stock=reward.stock if reward.HasField("stock") else None,
        per_member_limit=reward.per_member_limit,
        valid_days=reward.valid_days,
        starts_at=from_timestamp(reward.starts_at),
        ends_at=from_timestamp(reward.ends_at),
        visibility=visibility_of(reward.visibility),
        terms=terms_of(reward.coupon),
        status=reward.status or "active",
        refund_on_cancel=reward.refund_on_cancel,
    )


def reward_changes(request: pb.UpdateRewardRequest) -> dict[str, Any]:
    """The fields an update sets, by RewardSpec's names."""
    changes: dict[str, Any] = {
        name: getattr(request, name) for name in OPTIONAL_FIELDS if request.HasField(name)
    }
    if request.unlimited_stock:
        changes["stock"] = None
    elif request.HasField("stock"):
        changes["stock"] = request.stock
    for name in ("starts_at", "ends_at"):
        if request.HasField(name):
            changes[name] = from_timestamp(getattr(request, name))
    if request.HasField("visibility"):
        changes["visibility"] = visibility_of(request.visibility)
    if request.HasField("coupon"):
        changes["terms"] = terms_of(request.coupon)
    return changes


def reward_message(view: RewardView) -> pb.Reward:
    spec = view.spec
    message = pb.Reward(
        id=view.id,
        kind=spec.kind,
        name=spec.name,
        description=spec.description,
        name_fa=spec.name_fa,
        description_fa=spec.description_fa,
        points_cost=spec.points_cost,
        stock=spec.stock,
        per_member_limit=spec.per_member_limit,
        valid_days=spec.valid_days,
        starts_at=to_timestamp(spec.starts_at) if spec.starts_at else None,
        ends_at=to_timestamp(spec.ends_at) if spec.ends_at else None,
        visibility=pb.Visibility(
            tiers=spec.visibility.tiers,
            segment_ids=spec.visibility.segment_ids,
            stages=spec.visibility.stages,
        ),
        coupon=spec_message(spec.terms),
        status=spec.status,
        refund_on_cancel=spec.refund_on_cancel,
        created_at=to_timestamp(view.created_at),
        member_remaining=-1 if view.remaining is None else view.remaining,
    )
    if view.figures is not None:
        f = view.figures
        message.figures.CopyFrom(
            pb.RewardFigures(
                issued=f.issued,
                used=f.used,
                expired=f.expired,
                cancelled=f.cancelled,
                points_spent=f.points_spent,
                codes_left=f.codes_left,
            )
        )
    return message


def coupon_message(view: CouponView) -> pb.Coupon:
    return pb.Coupon(
        id=view.id,
        code=view.code,
        reward_id=view.reward_id,
        member_id=view.member_id,
        kind=view.kind,
        status=view.status,
        name=view.name,
        name_fa=view.name_fa,
        partner_code=view.partner_code,
        discount=spec_message(view.terms),
        points_spent=view.points_spent,
        issued_at=to_timestamp(view.issued_at),
        expires_at=to_timestamp(view.expires_at) if view.expires_at else None,
        used_at=to_timestamp(view.used_at) if view.used_at else None,
        store_id=view.store_id,
        transaction_id=view.transaction_id,
        campaign_id=view.campaign_id,
    )
