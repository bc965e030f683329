"""The points service's rewards catalog and coupons: calls and their proto <-> JSON mapping."""

from __future__ import annotations

from typing import Any

import grpc

from gateway.clients.calls import Service, call
from gateway.problems import Problem
from loyalty.common.v1 import common_pb2
from loyalty.points.v1 import points_pb2 as pb
from loyalty.points.v1.points_pb2_grpc import PointsServiceStub
from services.runtime.convert import from_timestamp
from services.runtime.errors import InvalidArgument
from services.runtime.money import from_minor, to_minor

# The fields of a reward a marketer writes, as the JSON names them.
REWARD_TEXTS = ("name", "description", "name_fa", "description_fa")
REWARD_NUMBERS = ("points_cost", "per_member_limit", "valid_days")


def _time(stamp: Any) -> str | None:
    moment = from_timestamp(stamp)
    return moment.isoformat() if moment else None


def _money(amount: str, currency: str, field: str) -> common_pb2.Money:
    try:
        return common_pb2.Money(amount_minor=to_minor(amount, currency, field), currency=currency)
    except InvalidArgument as error:
        raise Problem(422, error.code, error.detail) from None


def _decimal(money: common_pb2.Money) -> str | None:
    return from_minor(money.amount_minor, money.currency) if money.amount_minor else None


def coupon_spec(data: dict, currency: str) -> pb.CouponSpec:
    """`{type, value, max_discount?, min_purchase?}` as a CouponSpec in `currency`."""
    spec = pb.CouponSpec(type=data["type"])
    if data["type"] == "percent":
        spec.percent = str(data["value"])
    else:
        spec.amount.CopyFrom(_money(str(data["value"]), currency, "coupon.value"))
    for field in ("max_discount", "min_purchase"):
        if data.get(field) not in (None, ""):
            getattr(spec, field).CopyFrom(_money(str(data[field]), currency, f"coupon.{field}"))
    return spec


def spec_json(spec: pb.CouponSpec) -> dict | None:
    if not spec.type:
        return None
    is_percent = spec.type == "percent"
    return {
        "type": spec.type,
        "value": spec.percent if is_percent else from_minor(spec.amount.amount_minor, _cur(spec)),
        "max_discount": _decimal(spec.max_discount),
        "min_purchase": _decimal(spec.min_purchase),
        "currency": _cur(spec) or None,
    }


def _cur(spec: pb.CouponSpec) -> str:
    return spec.amount.currency or spec.max_discount.currency or spec.min_purchase.currency


def _visibility(data: dict) -> pb.Visibility:
    return pb.Visibility(
        tiers=data.get("tiers", []),
        segment_ids=data.get("segment_ids", []),
        stages=data.get("stages", []),
    )


def reward_json(reward: pb.Reward) -> dict:
    answer = {
        "id": reward.id,
        "kind": reward.kind,
        "name": reward.name,
        "description": reward.description,
        "name_fa": reward.name_fa,
        "description_fa": reward.description_fa,
        "points_cost": reward.points_cost,
        "stock": reward.stock if reward.HasField("stock") else None,
        "per_member_limit": reward.per_member_limit or None,
        "valid_days": reward.valid_days or None,
        "starts_at": _time(reward.starts_at),
        "ends_at": _time(reward.ends_at),
        "visibility": {
            "tiers": list(reward.visibility.tiers),
            "segment_ids": list(reward.visibility.segment_ids),
            "stages": list(reward.visibility.stages),
        },
        "coupon": spec_json(reward.coupon),
        "status": reward.status,
        "refund_on_cancel": reward.refund_on_cancel,
        "created_at": _time(reward.created_at),
    }
    if reward.HasField("figures"):
        figures = reward.figures
        answer["figures"] = {
            "issued": figures.issued,
            "used": figures.used,
            "expired": figures.expired,
            "cancelled": figures.cancelled,
            "points_spent": figures.points_spent,
            "stock_left": answer["stock"],
            "codes_left": figures.codes_left,
        }
    else:
        answer["remaining"] = None if reward.member_remaining < 0 else reward.member_remaining
    return answer


def coupon_json(coupon: pb.Coupon) -> dict:
    return {
        "id": coupon.id,
        "code": coupon.code,
        "reward_id": coupon.reward_id or None,
        "member_id": coupon.member_id,
        "kind": coupon.kind,
        "status": coupon.status,
        "name": coupon.name,
        "name_fa": coupon.name_fa,
        "partner_code": coupon.partner_code or None,
        "discount": spec_json(coupon.discount),
        "points_spent": coupon.points_spent,
        "issued_at": _time(coupon.issued_at),
        "expires_at": _time(coupon.expires_at),
        "used_at": _time(coupon.used_at),
        "store_id": coupon.store_id or None,
        "transaction_id": coupon.transaction_id or None,
        "campaign_id": coupon.campaign_id or None,
    }


class RewardsClient(Service):
    def __init__(self, channel: grpc.Channel, currency: str) -> None:
        super().__init__(channel)
        self._stub = PointsServiceStub(channel)
        self._currency = currency

    def _reward_message(self, body: dict) -> pb.Reward:
        reward = pb.Reward(kind=body.get("kind", "coupon"))
        for field in REWARD_TEXTS:
            setattr(reward, field, body.get(field) or "")
        # JSON Schema's integers include 5.0.
        for field in REWARD_NUMBERS:
            setattr(reward, field, int(body.get(field) or 0))
        if body.get("stock") is not None:
            reward.stock = int(body["stock"])
        reward.status = body.get("status", "active")
        reward.refund_on_cancel = bool(body.get("refund_on_cancel", False))
        self._set_window(reward, body)
        if "visibility" in body:
            reward.visibility.CopyFrom(_visibility(body["visibility"]))
        if body.get("coupon"):
            reward.coupon.CopyFrom(coupon_spec(body["coupon"], self._currency))
        return reward

    @staticmethod
    def _set_window(message: Any, body: dict) -> None:
        for field in ("starts_at", "ends_at"):
            if body.get(field):
                try:
                    getattr(message, field).FromJsonString(body[field])
                except ValueError:
                    raise Problem(
                        400, "invalid-request", f"{field} must be an RFC 3339 time"
                    ) from None

    def create_reward(self, body: dict, actor: str) -> dict:
        request = pb.CreateRewardRequest(reward=self._reward_message(body), actor=actor)
        return reward_json(call(self._stub.CreateReward, request).reward)

    def update_reward(self, reward_id: str, body: dict, actor: str) -> dict:
        request = pb.UpdateRewardRequest(reward_id=reward_id, actor=actor)
        for field in (*REWARD_TEXTS, "status", "refund_on_cancel"):
            if field in body:
                setattr(request, field, body[field])
        for field in REWARD_NUMBERS:
            if field in body:
                setattr(request, field, int(body[field] or 0))
        if "stock" in body:
            if body["stock"] is None:
                request.unlimited_stock = True
            else:
                request.stock = int(body["stock"])
        self._set_window(request, body)
        if "visibility" in body:
            request.visibility.CopyFrom(_visibility(body["visibility"]))
        if body.get("coupon"):
            request.coupon.CopyFrom(coupon_spec(body["coupon"], self._currency))
        return reward_json(call(self._stub.UpdateReward, request).reward)

    def rewards(self, member_id: str = "") -> list[dict]:
        """The rewards a member may see (`member_id`), or every reward with its figures."""
        found = call(self._stub.ListRewards, pb.ListRewardsRequest(member_id=member_id))
        return [reward_json(reward) for reward in found.rewards]

    def add_codes(self, reward_id: str, codes: list[str]) -> dict:
        added = call(
            self._stub.AddPartnerCodes,
            pb.AddPartnerCodesRequest(reward_id=reward_id, codes=codes),
            timeout=60,
        )
        return {"added": added.added, "duplicates": list(added.duplicates)}

    def redeem(self, member_id: str, reward_id: str, request_id: str) -> dict:
        result = call(
            self._stub.RedeemReward,
            pb.RedeemRewardRequest(member_id=member_id, reward_id=reward_id, request_id=request_id),
        )
        return {
            "coupon": coupon_json(result.coupon),
            "points_spent": result.points_spent,
            "balance": {"available": result.balance.available, "pending": result.balance.pending},
        }

    def issue(self, member_id: str, request_id: str, reward_id: str, campaign_id: str) -> dict:
        result = call(
            self._stub.IssueCoupon,
            pb.IssueCouponRequest(
                member_id=member_id,
                request_id=request_id,
                reward_id=reward_id,
                campaign_id=campaign_id,
            ),
        )
        return coupon_json(result.coupon)

    def coupons(self, member_id: str, status: str = "") -> list[dict]:
        found = call(
            self._stub.ListCoupons, pb.ListCouponsRequest(member_id=member_id, status=status)
        )
        return [coupon_json(coupon) for coupon in found.coupons]

    def check(self, code: str, amount: str | None, currency: str | None) -> dict:
        """What the code gives; with an amount, whether it can be used for it and how much."""
        request = pb.CheckCouponRequest(code=code)
        if amount is not None:
            request.amount.CopyFrom(_money(amount, currency or self._currency, "amount"))
        result = call(self._stub.CheckCoupon, request)
        return {
            **coupon_json(result.coupon),
            "usable": result.usable,
            "reason": result.reason or None,
            "discount_amount": (
                from_minor(result.discount.amount_minor, result.discount.currency)
                if result.HasField("discount")
                else None
            ),
        }

    def use(self, store_id: str, code: str, use: dict) -> dict:
        """A coupon used within the purchase `use` names (`transaction_id`, `amount`,
        `currency`): the discount for that amount, as a decimal string."""
        currency = use.get("currency") or self._currency
        result = call(
            self._stub.UseCoupon,
            pb.UseCouponRequest(
                code=code,
                store_id=store_id,
                transaction_id=use["transaction_id"],
                amount=_money(use["amount"], currency, "amount"),
            ),
        )
        coupon = coupon_json(result.coupon)
        return {
            **coupon,
            "terms": coupon["discount"],
            "discount": from_minor(result.discount.amount_minor, result.discount.currency),
            "currency": result.discount.currency,
        }

    def release(self, store_id: str, code: str, transaction_id: str) -> dict:
        request = pb.ReleaseCouponRequest(
            code=code, store_id=store_id, transaction_id=transaction_id
        )
        return coupon_json(call(self._stub.ReleaseCoupon, request).coupon)

    def cancel(self, code: str, actor: str, reason: str) -> dict:
        result = call(
            self._stub.CancelCoupon, pb.CancelCouponRequest(code=code, actor=actor, reason=reason)
        )
        return {"coupon": coupon_json(result.coupon), "points_returned": result.points_returned}

    def collect(self, store_id: str, code: str) -> dict:
        request = pb.CollectGiftRequest(code=code, store_id=store_id)
        return coupon_json(call(self._stub.CollectGift, request).coupon)
