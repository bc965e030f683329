"""The calls campaigns makes to points: issue one member's coupon for a coupon campaign,
credit a completed mission's points and give its catalog reward (which a mission saved must
name), spend and return the points of a prize draw's chances."""

from __future__ import annotations

import grpc

from loyalty.common.v1 import common_pb2
from loyalty.points.v1 import points_pb2, points_pb2_grpc
from services.campaigns.coupon_grants import Issued
from services.campaigns.definitions import CouponTerms
from services.runtime.channels import open_channel
from services.runtime.errors import FailedPrecondition, Unavailable
from services.runtime.interceptors import domain_error_of, worth_retrying
from services.runtime.service_auth import ServiceCredentials

Purpose = points_pb2.CampaignPointsRequest


def coupon_spec(terms: CouponTerms, currency: str) -> points_pb2.CouponSpec:
    def money(minor: int) -> common_pb2.Money:
        return common_pb2.Money(amount_minor=minor, currency=currency)

    spec = points_pb2.CouponSpec(
        type=terms.type,
        max_discount=money(terms.max_discount_minor),
        min_purchase=money(terms.min_purchase_minor),
    )
    if terms.type == "percent":
        spec.percent = str(terms.value)
    else:
        spec.amount.CopyFrom(money(int(terms.value)))
    return spec


class PointsCoupons:
    def __init__(self, addr: str, currency: str, credentials: ServiceCredentials) -> None:
        self._channel = open_channel(addr, credentials, 10.0)
        self._stub = points_pb2_grpc.PointsServiceStub(self._channel)
        self._currency = currency

    def issue(
        self, issue_id: str, member_id: str, campaign_id: str, name: str, terms: CouponTerms
    ) -> Issued:
        request = points_pb2.IssueCouponRequest(
            request_id=issue_id,
            member_id=member_id,
            coupon=coupon_spec(terms, self._currency),
            valid_days=terms.valid_days,
            name=name,
            campaign_id=campaign_id,
        )
        try:
            response = self._stub.IssueCoupon(request)
        except grpc.RpcError as error:
            return Issued(_refused(error))
        return Issued("issued", response.coupon.id)

    def close(self) -> None:
        self._channel.close()


def _refused(error: grpc.RpcError) -> str:
    """A refusal for good (an unknown or erased member) as a status to record; Unavailable
    when points may answer another time."""
    if worth_retrying(error):
        raise Unavailable(f"points: {error.code().name}") from None
    return "failed-" + error.code().name.lower().replace("_", "-")


class PointsChanges:
    """Points credited (and a catalog reward given) for a completed mission, and spent on (or
    returned from) a prize draw's chances: each a change of its own kind in points' ledger,
    applied once per operation id. And whether the catalog holds the reward a mission names."""

    def __init__(self, addr: str, credentials: ServiceCredentials) -> None:
        self._channel = open_channel(addr, credentials, 10.0)
        self._stub = points_pb2_grpc.PointsServiceStub(self._channel)

    def pay(self, operation_id: str, member_id: str, points: int, name: str) -> str:
        """Credits a mission's points: "paid", or the refusal as a status to record."""
        try:
            self._change(Purpose.MISSION_REWARD, operation_id, member_id, points, name)
        except grpc.RpcError as error:
            return _refused(error)
        return "paid"

    def grant(self, operation_id: str, member_id: str, reward_id: str, campaign_id: str) -> str:
        """Gives a mission's catalog reward: "granted", or the refusal as a status to record."""
        request = points_pb2.GrantRewardRequest(
            operation_id=operation_id,
            member_id=member_id,
            reward_id=reward_id,
            campaign_id=campaign_id,
        )
        try:
            self._stub.GrantReward(request)
        except grpc.RpcError as error:
            _refused(error)  # Unavailable when points may answer another time
            # Points' own code (out-of-stock, reward-unavailable, ...) says what the marketer
            # can do about it.
            return f"failed-{domain_error_of(error).code}"[:40]
        return "granted"

    def has_reward(self, reward_id: str) -> bool:
        """Whether points' catalog holds the reward (active or paused); Unavailable when points
        cannot say."""
        try:
            catalog = self._stub.ListRewards(points_pb2.ListRewardsRequest())
        except grpc.RpcError as error:
            raise Unavailable(f"points: {error.code().name}") from None
        return any(reward.id == reward_id for reward in catalog.rewards)

    def spend(self, operation_id: str, member_id: str, points: int, name: str) -> None:
        """Spends points on a draw's chances; a refusal is raised as FailedPrecondition."""
        self._raising(Purpose.DRAW_CHANCES, operation_id, member_id, points, name)

    def give_back(self, spend_id: str, member_id: str, points: int, name: str) -> None:
        """Returns what the spend `spend_id` took; a refusal is raised as FailedPrecondition."""
        self._raising(Purpose.DRAW_RETURN, spend_id, member_id, points, name)

    def _raising(
        self, purpose: int, operation_id: str, member_id: str, points: int, name: str
    ) -> None:
        try:
            self._change(purpose, operation_id, member_id, points, name)
        except grpc.RpcError as error:
            if worth_retrying(error):
                raise Unavailable(f"points: {error.code().name}") from None
            detail = error.details() or "points refused the change"
            code = (
                "insufficient-points"
                if error.code() == grpc.StatusCode.FAILED_PRECONDITION
                else "points-refused"
            )
            raise FailedPrecondition(detail, code=code) from None

    def _change(
        self, purpose: int, operation_id: str, member_id: str, points: int, name: str
    ) -> None:
        request = points_pb2.CampaignPointsRequest(
            operation_id=operation_id,
            member_id=member_id,
            purpose=purpose,  # type: ignore[arg-type]
            points=points,
            name=name,
        )
        self._stub.ChangeCampaignPoints(request)

    def close(self) -> None:
        self._channel.close()
