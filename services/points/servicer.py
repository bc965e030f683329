"""PointsService over gRPC: proto in, domain call, proto out; nothing else."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import grpc

from loyalty.common.v1 import common_pb2
from loyalty.points.v1 import points_pb2 as pb
from loyalty.points.v1 import points_pb2_grpc
from services.points.activity import Activity
from services.points.adjustments import (
    DRAW,
    DRAW_BACK,
    MISSION,
    AdjustmentResult,
    Adjustments,
)
from services.points.balances import Balances, PointsView
from services.points.catalog import Catalog
from services.points.coupons import Coupons
from services.points.jobs import Jobs
from services.points.members import Members
from services.points.openings import OpeningBalances, OpeningRow
from services.points.policy import PointsPolicy
from services.points.purchases import PurchaseInput, PurchaseItem, Purchases
from services.points.redemptions import RedemptionResult, Redemptions
from services.points.referrals import ReferralProgram, Referrals
from services.points.refunds import Refunds
from services.points.reports import Reports
from services.points.reward_messages import (
    coupon_message,
    reward_changes,
    reward_message,
    reward_spec,
    terms_of,
)
from services.points.rewards import InlineCoupon, Redeemed, Rewards
from services.runtime.convert import from_timestamp, to_timestamp
from services.runtime.errors import InvalidArgument
from services.runtime.outbox import Event

STATUS = {
    "held": pb.REDEMPTION_STATUS_HELD,
    "captured": pb.REDEMPTION_STATUS_CAPTURED,
    "voided": pb.REDEMPTION_STATUS_VOIDED,
    "expired": pb.REDEMPTION_STATUS_EXPIRED,
}


def redemption_message(result: RedemptionResult) -> pb.RedemptionResponse:
    return pb.RedemptionResponse(
        redemption_id=result.redemption_id,
        member_id=result.member_id,
        points=result.points,
        status=STATUS[result.status],
        expires_at=to_timestamp(result.expires_at),
        balance=pb.Balance(available=result.available, pending=result.pending),
    )


CAMPAIGN_PURPOSES = {
    pb.CampaignPointsRequest.MISSION_REWARD: MISSION,
    pb.CampaignPointsRequest.DRAW_CHANCES: DRAW,
    pb.CampaignPointsRequest.DRAW_RETURN: DRAW_BACK,
}


def adjustment_message(result: AdjustmentResult) -> pb.AdjustmentResponse:
    return pb.AdjustmentResponse(
        operation_id=result.operation_id,
        member_id=result.member_id,
        other_member_id=result.other_member_id,
        points=result.points,
        available=result.available,
        other_available=result.other_available,
    )


def balance_answer(
    owner: uuid.UUID, view: PointsView, balances: Balances, currency: str
) -> pb.GetBalanceResponse:
    """GetBalance's answer for `owner`'s view (also kept in Redis beside it, for the gateway)."""

    def money(minor: int) -> common_pb2.Money:
        return common_pb2.Money(amount_minor=minor, currency=currency)

    title, title_fa = balances.tier_titles(view.tier.name)
    next_title, next_title_fa = (
        balances.tier_titles(view.tier.next_name) if view.tier.next_name else ("", "")
    )
    return pb.GetBalanceResponse(
        member_id=str(owner),
        balance=pb.Balance(
            available=view.available, pending=view.pending, held=view.held, debt=view.debt
        ),
        expiring=[
            pb.ExpiringPoints(points=points, expires_at=to_timestamp(when))
            for when, points in view.expiring
        ],
        available_value=money(balances.worth(view.available)),
        member_known=view.known,
        tier=pb.TierStanding(
            name=view.tier.name,
            multiplier=view.tier.multiplier,
            qualifying_spend=money(view.tier.qualifying_spend_minor),
            review_at=to_timestamp(view.tier.review_at) if view.tier.review_at else None,
            next_name=view.tier.next_name,
            next_needs=money(view.tier.next_needs_minor),
            title=title,
            title_fa=title_fa,
            next_title=next_title,
            next_title_fa=next_title_fa,
        ),
    )


@dataclass(frozen=True)
class PointsParts:
    purchases: Purchases
    balances: Balances
    activity: Activity
    redemptions: Redemptions
    refunds: Refunds
    adjustments: Adjustments
    openings: OpeningBalances
    jobs: Jobs
    reports: Reports
    members: Members
    referrals: Referrals
    catalog: Catalog
    rewards: Rewards
    coupons: Coupons
    # A page of the outbox after a cursor (ListEvents).
    events: Callable[[str, int], tuple[list[Event], str]]
    currency: str
    policy: PointsPolicy


class PointsServicer(points_pb2_grpc.PointsServiceServicer):
    def __init__(self, parts: PointsParts) -> None:
        self._parts = parts

    def RecordPurchase(self, request: pb.RecordPurchaseRequest, context: grpc.ServicerContext):
        items = []
        for item in request.items:
            if item.unit_price.currency and item.unit_price.currency != request.amount.currency:
                raise InvalidArgument(
                    "item prices must be in the purchase's currency", "invalid-items"
                )
            items.append(
                PurchaseItem(item.sku, item.category, item.quantity, item.unit_price.amount_minor)
            )
        result = self._parts.purchases.record_purchase(
            PurchaseInput(
                store_id=request.store_id,
                transaction_id=request.transaction_id,
                member_id=request.member_id,
                amount_minor=request.amount.amount_minor,
                currency=request.amount.currency,
                items=tuple(items),
                occurred_at=from_timestamp(request.occurred_at),
            )
        )
        return pb.RecordPurchaseResponse(
            transaction_id=result.transaction_id,
            member_id=result.member_id,
            points_earned=result.points_earned,
            breakdown=[
                pb.EarningLine(source=line.source, points=line.points, reason=line.reason)
                for line in result.breakdown
            ],
            balance=pb.Balance(available=result.available, pending=result.pending),
        )

    def GetBalance(self, request: pb.GetBalanceRequest, context: grpc.ServicerContext):
        owner, view = self._parts.balances.standing(request.member_id)
        return balance_answer(owner, view, self._parts.balances, self._parts.currency)

    def _money(self, minor: int) -> common_pb2.Money:
        return common_pb2.Money(amount_minor=minor, currency=self._parts.currency)

    def ListLedger(self, request: pb.ListLedgerRequest, context: grpc.ServicerContext):
        lines, next_cursor = self._parts.balances.history(
            request.member_id, request.limit, request.cursor
        )
        return pb.ListLedgerResponse(
            entries=[
                pb.LedgerEntry(
                    id=str(line.id),
                    kind=line.kind,
                    points=line.points,
                    bucket=line.bucket,
                    reason=line.reason,
                    source_type=line.source_type,
                    source_id=line.source_id,
                    created_at=to_timestamp(line.created_at),
                )
                for line in lines
            ],
            next_cursor=next_cursor,
        )

    def ListActivity(self, request: pb.ListActivityRequest, context: grpc.ServicerContext):
        lines, next_cursor = self._parts.activity.page(
            request.member_id, request.limit, request.cursor
        )
        return pb.ListActivityResponse(
            lines=[
                pb.ActivityLine(
                    kind=line.kind,
                    points=line.points,
                    store_id=line.store_id,
                    amount=None if line.amount_minor is None else self._money(line.amount_minor),
                    happened_at=to_timestamp(line.happened_at),
                    reference=line.reference,
                )
                for line in lines
            ],
            next_cursor=next_cursor,
        )

    def RefundPurchase(self, request: pb.RefundPurchaseRequest, context: grpc.ServicerContext):
        result = self._parts.refunds.refund(
            request.store_id, request.transaction_id, request.refund_id, request.amount.amount_minor
        )
        return pb.RefundPurchaseResponse(
            refund_id=result.refund_id,
            transaction_id=result.transaction_id,
            member_id=result.member_id,
            points_reversed=result.points_reversed,
            debt_added=result.debt_added,
            balance=pb.Balance(
                available=result.available, pending=result.pending, debt=result.debt
            ),
        )

    def GetPurchase(self, request: pb.GetPurchaseRequest, context: grpc.ServicerContext):
        found = self._parts.refunds.purchase(request.store_id, request.transaction_id)
        return pb.GetPurchaseResponse(
            transaction_id=found.transaction_id,
            member_id=found.member_id,
            amount=self._money(found.amount_minor),
            refunded=self._money(found.refunded_minor),
            points_earned=found.points_earned,
            occurred_at=to_timestamp(found.occurred_at),
        )

    def HoldPoints(self, request: pb.HoldPointsRequest, context: grpc.ServicerContext):
        result = self._parts.redemptions.hold(
            request.store_id,
            request.redemption_id,
            request.member_id,
            request.points,
            request.capture,
        )
        return redemption_message(result)

    def CaptureHold(self, request: pb.ResolveHoldRequest, context: grpc.ServicerContext):
        return redemption_message(
            self._parts.redemptions.capture(request.store_id, request.redemption_id)
        )

    def VoidHold(self, request: pb.ResolveHoldRequest, context: grpc.ServicerContext):
        return redemption_message(
            self._parts.redemptions.void(request.store_id, request.redemption_id)
        )

    def AdjustPoints(self, request: pb.AdjustPointsRequest, context: grpc.ServicerContext):
        return adjustment_message(
            self._parts.adjustments.adjust(
                request.operation_id,
                request.member_id,
                request.points,
                request.reason,
                request.actor,
            )
        )

    def ChangeCampaignPoints(
        self, request: pb.CampaignPointsRequest, context: grpc.ServicerContext
    ):
        return adjustment_message(
            self._parts.adjustments.for_campaign(
                CAMPAIGN_PURPOSES.get(request.purpose, ""),
                request.operation_id,
                request.member_id,
                request.points,
                request.name,
            )
        )

    def GetProgram(self, request: pb.GetProgramRequest, context: grpc.ServicerContext):
        policy = self._parts.policy

        def money(minor: int) -> common_pb2.Money:
            return common_pb2.Money(amount_minor=minor, currency=policy.currency)

        expiry = policy.expiry
        return pb.GetProgramResponse(
            earning=policy.label,
            minimum_purchase=money(policy.minimum_minor),
            pending_seconds=int(policy.pending.total_seconds()),
            expiry=expiry.mode if expiry.mode == "never" else f"{expiry.mode}:{expiry.count}",
            point_value=money(policy.point_value_minor),
            tiers=[
                pb.ProgramTier(
                    name=tier.name,
                    min_spend=money(tier.min_spend_minor),
                    multiplier=str(tier.multiplier),
                )
                for tier in policy.ladder.tiers
            ],
            tier_window_days=policy.ladder.window.days,
            hold_seconds=int(policy.hold_for.total_seconds()),
        )

    def ListAdjustments(self, request: pb.ListAdjustmentsRequest, context: grpc.ServicerContext):
        found = self._parts.adjustments.of_member(request.member_id, request.limit or 50)
        return pb.ListAdjustmentsResponse(
            adjustments=[
                pb.AdjustmentRecord(
                    id=str(record.id),
                    kind=record.kind,
                    member_id=str(record.member_id),
                    other_member_id=str(record.other_member_id or ""),
                    points=record.points,
                    reason=record.reason,
                    actor=record.actor,
                    created_at=to_timestamp(record.created_at),
                )
                for record in found
            ]
        )

    def TransferPoints(self, request: pb.TransferPointsRequest, context: grpc.ServicerContext):
        return adjustment_message(
            self._parts.adjustments.transfer(
                request.operation_id,
                request.from_member_id,
                request.to_member_id,
                request.points,
                request.reason,
                request.actor,
            )
        )

    def MergeMembers(self, request: pb.MergeMembersRequest, context: grpc.ServicerContext):
        return adjustment_message(
            self._parts.adjustments.merge(
                request.operation_id,
                request.duplicate_member_id,
                request.survivor_member_id,
                request.actor,
            )
        )

    def ImportOpeningBalances(
        self, request: pb.ImportOpeningBalancesRequest, context: grpc.ServicerContext
    ):
        rows = [
            OpeningRow(
                line=row.line,
                member_id=row.member_id,
                points=row.points,
                expires_at=from_timestamp(row.expires_at),
                tier=row.tier,
            )
            for row in request.rows
        ]
        results = self._parts.openings.run(rows, request.dry_run)
        return pb.ImportOpeningBalancesResponse(
            results=[
                pb.OpeningBalanceResult(
                    line=r.line, outcome=r.outcome, error_code=r.error_code, error=r.error
                )
                for r in results
            ]
        )

    def ForgetMember(self, request: pb.ForgetMemberRequest, context: grpc.ServicerContext):
        self._parts.members.forget(request.member_id)
        return pb.ForgetMemberResponse()

    def SetReferralProgram(
        self, request: pb.SetReferralProgramRequest, context: grpc.ServicerContext
    ):
        given = request.program
        if given.min_purchase.currency not in ("", self._parts.currency):
            raise InvalidArgument(
                f"the program runs in {self._parts.currency}", code="currency-mismatch"
            )
        program = self._parts.referrals.set_program(
            ReferralProgram(
                referrer_points=given.referrer_points,
                referee_points=given.referee_points,
                min_purchase_minor=given.min_purchase.amount_minor,
                monthly_cap=given.monthly_cap,
                active=given.active,
            ),
            request.actor,
        )
        return self._referral_program(program)

    def GetReferralProgram(
        self, request: pb.GetReferralProgramRequest, context: grpc.ServicerContext
    ):
        return self._referral_program(self._parts.referrals.program())

    def _referral_program(self, program: ReferralProgram) -> pb.ReferralProgramResponse:
        return pb.ReferralProgramResponse(
            program=pb.ReferralProgram(
                referrer_points=program.referrer_points,
                referee_points=program.referee_points,
                min_purchase=self._money(program.min_purchase_minor),
                monthly_cap=program.monthly_cap,
                active=program.active,
                updated_at=to_timestamp(program.updated_at) if program.updated_at else None,
            )
        )

    def GetReferralStanding(
        self, request: pb.GetReferralStandingRequest, context: grpc.ServicerContext
    ):
        rewarded = self._parts.referrals.rewarded(request.member_id)
        return pb.GetReferralStandingResponse(rewarded=rewarded)

    def ListEvents(self, request: common_pb2.ListEventsRequest, context: grpc.ServicerContext):
        events, next_cursor = self._parts.events(request.cursor, request.limit)
        return common_pb2.ListEventsResponse(
            events=[
                common_pb2.OutboxEvent(
                    sequence=event.sequence,
                    type=event.type,
                    member_id=event.member_id,
                    payload_json=json.dumps(event.payload, separators=(",", ":")),
                    occurred_at=to_timestamp(event.occurred_at),
                )
                for event in events
            ],
            next_cursor=next_cursor,
        )

    def GetPointsReport(self, request: pb.GetPointsReportRequest, context: grpc.ServicerContext):
        first, last = _period(request.first_day, request.last_day)
        liability = self._parts.reports.liability()
        days = self._parts.reports.daily(first, last)
        return pb.GetPointsReportResponse(
            available=liability.available,
            pending=liability.pending,
            held=liability.held,
            debt=liability.debt,
            liability=self._money(liability.value_minor),
            days=[
                pb.PointsDay(
                    day=d.day.isoformat(),
                    earned=d.earned,
                    reversed=d.reversed,
                    redeemed=d.redeemed,
                    expired=d.expired,
                    adjusted=d.adjusted,
                    opened=d.opened,
                    outstanding=d.outstanding,
                    outstanding_value=self._money(d.outstanding_value_minor),
                    rewards=d.rewards,
                )
                for d in days
            ],
            coupons_outstanding=self._parts.reports.coupons_outstanding(),
        )

    def ExportLedger(self, request: pb.ExportLedgerRequest, context: grpc.ServicerContext):
        first, last = _period(request.first_day, request.last_day)
        entries, next_after = self._parts.reports.book_entries(
            first, last, request.after, request.limit
        )
        return pb.ExportLedgerResponse(
            entries=[
                pb.BookEntry(
                    entry_id=e.entry_id,
                    posting_id=e.posting_id,
                    posted_at=to_timestamp(e.posted_at),
                    kind=e.kind,
                    reason=e.reason,
                    source_type=e.source_type,
                    source_id=e.source_id,
                    account=e.account,
                    member_id=e.member_id,
                    bucket=e.bucket,
                    points=e.points,
                )
                for e in entries
            ],
            next_after=next_after,
        )

    def RunJobs(self, request: pb.RunJobsRequest, context: grpc.ServicerContext):
        report = self._parts.jobs.run()
        return pb.RunJobsResponse(
            points_activated=report.activated,
            points_expired=report.expired,
            holds_expired=report.holds_expired,
            tiers_reviewed=report.tiers_reviewed,
            bonuses_applied=report.bonuses_applied,
        )

    def CreateReward(self, request: pb.CreateRewardRequest, context: grpc.ServicerContext):
        view = self._parts.catalog.create(reward_spec(request.reward), request.actor)
        return pb.RewardResponse(reward=reward_message(view))

    def UpdateReward(self, request: pb.UpdateRewardRequest, context: grpc.ServicerContext):
        view = self._parts.catalog.update(request.reward_id, reward_changes(request))
        return pb.RewardResponse(reward=reward_message(view))

    def ListRewards(self, request: pb.ListRewardsRequest, context: grpc.ServicerContext):
        catalog = self._parts.catalog
        views = (
            catalog.member_list(request.member_id) if request.member_id else catalog.staff_list()
        )
        return pb.ListRewardsResponse(rewards=[reward_message(view) for view in views])

    def AddPartnerCodes(self, request: pb.AddPartnerCodesRequest, context: grpc.ServicerContext):
        added, duplicates = self._parts.catalog.add_codes(request.reward_id, list(request.codes))
        return pb.AddPartnerCodesResponse(added=added, duplicates=duplicates)

    def RedeemReward(self, request: pb.RedeemRewardRequest, context: grpc.ServicerContext):
        result = self._parts.rewards.redeem(
            request.member_id, request.reward_id, request.request_id
        )
        return _redeemed(result)

    def IssueCoupon(self, request: pb.IssueCouponRequest, context: grpc.ServicerContext):
        terms = terms_of(request.coupon)
        inline = (
            InlineCoupon(terms, request.name, request.name_fa, request.valid_days)
            if terms is not None
            else None
        )
        result = self._parts.rewards.issue(
            request.member_id, request.request_id, request.reward_id, inline, request.campaign_id
        )
        return pb.CouponResponse(coupon=coupon_message(result.coupon))

    def GrantReward(self, request: pb.GrantRewardRequest, context: grpc.ServicerContext):
        result = self._parts.rewards.grant(
            request.member_id, request.reward_id, request.operation_id, request.campaign_id
        )
        return pb.CouponResponse(coupon=coupon_message(result.coupon))

    def ListCoupons(self, request: pb.ListCouponsRequest, context: grpc.ServicerContext):
        views = self._parts.coupons.list(request.member_id, request.status)
        return pb.ListCouponsResponse(coupons=[coupon_message(view) for view in views])

    def CheckCoupon(self, request: pb.CheckCouponRequest, context: grpc.ServicerContext):
        given = request.HasField("amount")
        check = self._parts.coupons.check(
            request.code,
            request.amount.amount_minor if given else None,
            request.amount.currency or self._parts.currency,
        )
        return pb.CheckCouponResponse(
            coupon=coupon_message(check.coupon),
            usable=check.usable,
            reason=check.reason,
            discount=(
                common_pb2.Money(amount_minor=check.discount_minor, currency=check.currency)
                if check.discount_minor is not None
                else None
            ),
        )

    def UseCoupon(self, request: pb.UseCouponRequest, context: grpc.ServicerContext):
        use = self._parts.coupons.use(
            request.code,
            request.store_id,
            request.transaction_id,
            request.amount.amount_minor,
            request.amount.currency or self._parts.currency,
        )
        return pb.UseCouponResponse(
            coupon=coupon_message(use.coupon),
            discount=common_pb2.Money(amount_minor=use.discount_minor, currency=use.currency),
        )

    def ReleaseCoupon(self, request: pb.ReleaseCouponRequest, context: grpc.ServicerContext):
        view = self._parts.coupons.release(request.code, request.store_id, request.transaction_id)
        return pb.CouponResponse(coupon=coupon_message(view))

    def CancelCoupon(self, request: pb.CancelCouponRequest, context: grpc.ServicerContext):
        view, returned = self._parts.coupons.cancel(request.code, request.actor, request.reason)
        return pb.CancelCouponResponse(coupon=coupon_message(view), points_returned=returned)

    def CollectGift(self, request: pb.CollectGiftRequest, context: grpc.ServicerContext):
        view = self._parts.coupons.collect(request.code, request.store_id)
        return pb.CouponResponse(coupon=coupon_message(view))


def _redeemed(result: Redeemed) -> pb.RedeemRewardResponse:
    return pb.RedeemRewardResponse(
        coupon=coupon_message(result.coupon),
        points_spent=result.points_spent,
        balance=pb.Balance(available=result.available, pending=result.pending),
    )


def _period(first_day: str, last_day: str) -> tuple[date, date]:
    try:
        return date.fromisoformat(first_day), date.fromisoformat(last_day)
    except ValueError:
        raise InvalidArgument("days must be YYYY-MM-DD", code="invalid-period") from None
