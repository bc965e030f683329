"""The points service: purchases, refunds, redemptions, balances and history, adjustments."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import grpc

from gateway.clients.calls import BATCH_RPC_TIMEOUT, Service, call
from gateway.problems import Problem
from loyalty.common.v1 import common_pb2
from loyalty.points.v1 import points_pb2 as pb
from loyalty.points.v1.points_pb2_grpc import PointsServiceStub
from services.runtime.convert import to_timestamp
from services.runtime.errors import InvalidArgument
from services.runtime.money import from_minor, to_minor
from services.runtime.published_balances import PublishedBalances
from services.runtime.staff_actions import POINTS_KINDS
from services.runtime.text import ascii_digits


def _money(amount: str, currency: str, field: str = "amount") -> common_pb2.Money:
    """A decimal amount in minor units; 422 with the amount's own code when it is not one."""
    try:
        return common_pb2.Money(amount_minor=to_minor(amount, currency, field), currency=currency)
    except InvalidArgument as error:
        raise Problem(422, error.code, error.detail) from None


def _member_id(member_id: str) -> str:
    """A member id a change may name: one that is not even an id names no member."""
    try:
        uuid.UUID(member_id)
    except ValueError:
        raise Problem(422, "unknown-member", "no member with this member_id") from None
    return member_id


def tier_json(tier: pb.TierStanding) -> dict:
    currency = tier.qualifying_spend.currency
    return {
        "name": tier.name,
        # Older cached answers lack the titles: the name stands in.
        "title": tier.title or tier.name,
        "title_fa": tier.title_fa or tier.title or tier.name,
        "multiplier": tier.multiplier,
        "qualifying_spend": from_minor(tier.qualifying_spend.amount_minor, currency),
        "review_at": tier.review_at.ToJsonString() if tier.HasField("review_at") else None,
        "next": (
            {
                "name": tier.next_name,
                "title": tier.next_title or tier.next_name,
                "title_fa": tier.next_title_fa or tier.next_title or tier.next_name,
                "spend_needed": from_minor(tier.next_needs.amount_minor, currency),
            }
            if tier.next_name
            else None
        ),
        "currency": currency,
    }


def redemption_json(result: pb.RedemptionResponse) -> dict:
    status = pb.RedemptionStatus.Name(result.status)
    return {
        "redemption_id": result.redemption_id,
        "member_id": result.member_id,
        "points": result.points,
        "status": status.removeprefix("REDEMPTION_STATUS_").lower(),
        "expires_at": result.expires_at.ToJsonString(),
        "balance": {"available": result.balance.available, "pending": result.balance.pending},
    }


def adjustment_json(result: pb.AdjustmentResponse) -> dict:
    return {
        "id": result.operation_id,
        "member_id": result.member_id,
        "points": result.points,
        "available": result.available,
    }


class PointsClient(Service):
    def __init__(
        self, channel: grpc.Channel, currency: str, published: PublishedBalances | None = None
    ) -> None:
        super().__init__(channel)
        self._stub = PointsServiceStub(channel)
        self._currency = currency
        # The balances points keeps in Redis: a current one answers without a call.
        self._published = published

    def close(self) -> None:
        super().close()
        if self._published is not None:
            self._published.close()

    def record_purchase(self, store_id: str, purchase: dict) -> dict:
        """One purchase as PURCHASE_REQUEST declares it. Points decides whose it is: an unknown
        or erased member is refused, a merged duplicate's purchase earns for its survivor."""
        currency = purchase["currency"]
        amount = _money(purchase["amount"], currency)
        items = [
            common_pb2.PurchaseItem(
                sku=item["sku"],
                category=item.get("category", ""),
                quantity=ascii_digits(str(item["quantity"])),
                unit_price=_money(item["unit_price"], currency, "unit_price"),
            )
            for item in purchase.get("items", [])
        ]
        request = pb.RecordPurchaseRequest(
            store_id=store_id,
            transaction_id=purchase["transaction_id"],
            member_id=_member_id(purchase["member_id"]),
            amount=amount,
            items=items,
        )
        if "occurred_at" in purchase:
            try:
                request.occurred_at.FromJsonString(purchase["occurred_at"])
            except ValueError:
                raise Problem(
                    400, "invalid-request", "occurred_at must be an RFC 3339 time"
                ) from None
        result = call(self._stub.RecordPurchase, request)
        return {
            "transaction_id": result.transaction_id,
            "member_id": result.member_id,
            "points_earned": result.points_earned,
            "breakdown": [
                {"source": line.source, "points": line.points, "reason": line.reason}
                for line in result.breakdown
            ],
            "balance": {"available": result.balance.available, "pending": result.balance.pending},
        }

    def refund(self, store_id: str, transaction_id: str, refund_id: str, amount: str) -> dict:
        result = call(
            self._stub.RefundPurchase,
            pb.RefundPurchaseRequest(
                store_id=store_id,
                transaction_id=transaction_id,
                refund_id=refund_id,
                amount=_money(amount, self._currency),
            ),
        )
        return {
            "refund_id": result.refund_id,
            "transaction_id": result.transaction_id,
            "member_id": result.member_id,
            "points_reversed": result.points_reversed,
            "debt_added": result.debt_added,
            "balance": {
                "available": result.balance.available,
                "pending": result.balance.pending,
                "debt": result.balance.debt,
            },
        }

    def purchase(self, store_id: str, transaction_id: str) -> dict:
        found = call(
            self._stub.GetPurchase,
            pb.GetPurchaseRequest(store_id=store_id, transaction_id=transaction_id),
        )
        return {
            "transaction_id": found.transaction_id,
            "member_id": found.member_id,
            "amount": from_minor(found.amount.amount_minor, self._currency),
            "refunded": from_minor(found.refunded.amount_minor, self._currency),
            "refundable": from_minor(
                found.amount.amount_minor - found.refunded.amount_minor, self._currency
            ),
            "points_earned": found.points_earned,
            "occurred_at": found.occurred_at.ToJsonString(),
        }

    def balance(self, member_id: str) -> dict:
        """The balance, what expires when, and the tier standing of the member `member_id`
        names (a merged duplicate's survivor, whose id the answer carries)."""
        return self.standing(member_id)[0]

    def standing(self, member_id: str) -> tuple[dict, bool]:
        """`balance`, and whether points knows the member (then identity knows the id too)."""
        published = self._published.answer(member_id) if self._published is not None else None
        if published is not None:
            balance = pb.GetBalanceResponse.FromString(published)
        else:
            balance = call(self._stub.GetBalance, pb.GetBalanceRequest(member_id=member_id))
        found = {
            "member_id": balance.member_id,
            "available": balance.balance.available,
            "pending": balance.balance.pending,
            "held": balance.balance.held,
            "debt": balance.balance.debt,
            "available_value": from_minor(balance.available_value.amount_minor, self._currency),
            "expiring": [
                {"points": e.points, "expires_at": e.expires_at.ToJsonString()}
                for e in balance.expiring
            ],
            "tier": tier_json(balance.tier),
        }
        return found, balance.member_known

    def ledger(self, member_id: str, limit: int, cursor: str) -> dict:
        """A page of the member's ledger (a merged duplicate's survivor's), newest first."""
        page = call(
            self._stub.ListLedger,
            pb.ListLedgerRequest(member_id=member_id, limit=limit, cursor=cursor),
        )
        return {
            "items": [
                {
                    "id": entry.id,
                    "kind": entry.kind,
                    "points": entry.points,
                    "bucket": entry.bucket,
                    "reason": entry.reason,
                    "source_type": entry.source_type,
                    "source_id": entry.source_id,
                    "created_at": entry.created_at.ToJsonString(),
                }
                for entry in page.entries
            ],
            "next_cursor": page.next_cursor or None,
        }

    def activity(self, member_id: str, limit: int, cursor: str) -> dict:
        """A page of the member's history as they understand it (points' ListActivity)."""
        page = call(
            self._stub.ListActivity,
            pb.ListActivityRequest(member_id=member_id, limit=limit, cursor=cursor),
        )
        return {
            "items": [
                {
                    "kind": line.kind,
                    "points": line.points,
                    "store_id": line.store_id or None,
                    "amount": (
                        from_minor(line.amount.amount_minor, self._currency)
                        if line.HasField("amount")
                        else None
                    ),
                    "happened_at": line.happened_at.ToJsonString(),
                    "reference": line.reference or None,
                }
                for line in page.lines
            ],
            "next_cursor": page.next_cursor or None,
        }

    def hold(self, store_id: str, redemption: dict) -> dict:
        """A hold on the member's points per REDEMPTION_REQUEST, spent at once with `capture`."""
        result = call(
            self._stub.HoldPoints,
            pb.HoldPointsRequest(
                store_id=store_id,
                redemption_id=redemption["redemption_id"],
                member_id=_member_id(redemption["member_id"]),
                points=redemption["points"],
                capture=redemption.get("capture", False),
            ),
        )
        return redemption_json(result)

    def capture(self, store_id: str, redemption_id: str) -> dict:
        request = pb.ResolveHoldRequest(store_id=store_id, redemption_id=redemption_id)
        return redemption_json(call(self._stub.CaptureHold, request))

    def void(self, store_id: str, redemption_id: str) -> dict:
        request = pb.ResolveHoldRequest(store_id=store_id, redemption_id=redemption_id)
        return redemption_json(call(self._stub.VoidHold, request))

    def adjust(
        self, operation_id: str, member_id: str, points: int, reason: str, actor: str
    ) -> dict:
        result = call(
            self._stub.AdjustPoints,
            pb.AdjustPointsRequest(
                operation_id=operation_id,
                member_id=member_id,
                points=points,
                reason=reason,
                actor=actor,
            ),
        )
        return adjustment_json(result)

    def program(self) -> dict:
        """The program's rules: earning, pending days, expiry, tiers, a point's value."""
        found = call(self._stub.GetProgram, pb.GetProgramRequest())

        def money(value: common_pb2.Money) -> str:
            return from_minor(value.amount_minor, value.currency)

        return {
            "earning": found.earning,
            "minimum_purchase": money(found.minimum_purchase),
            "pending_days": found.pending_seconds // 86400,
            "expiry": found.expiry,
            "point_value": money(found.point_value),
            "currency": found.point_value.currency,
            "tiers": [
                {"name": t.name, "min_spend": money(t.min_spend), "multiplier": t.multiplier}
                for t in found.tiers
            ],
            "tier_window_days": found.tier_window_days,
            "hold_minutes": found.hold_seconds // 60,
        }

    def adjustments(self, member_id: str, limit: int = 50) -> list[dict]:
        """The member's adjustments, transfers and merges, newest first, as audit entries."""
        found = call(
            self._stub.ListAdjustments,
            pb.ListAdjustmentsRequest(member_id=member_id, limit=limit),
        )
        return [
            {
                "at": record.created_at.ToJsonString(),
                "actor": record.actor,
                "action": POINTS_KINDS.get(record.kind, record.kind),
                "member_id": record.member_id,
                "subject": record.other_member_id,
                "detail": f"{record.points:+d} {record.reason}" if record.points else record.reason,
            }
            for record in found.adjustments
        ]

    def import_opening_balances(self, rows: list[dict], dry_run: bool) -> list[dict]:
        """Opening balances and tiers of imported members: each row has `line`, `member_id`,
        `points`, `expires_at` (a datetime or None) and `tier`. One result per row: `line`,
        `outcome`, `error_code`, `error`."""
        request = pb.ImportOpeningBalancesRequest(
            rows=[
                pb.OpeningBalanceRow(
                    line=row["line"],
                    member_id=row["member_id"],
                    points=row["points"],
                    expires_at=to_timestamp(row["expires_at"]) if row["expires_at"] else None,
                    tier=row["tier"],
                )
                for row in rows
            ],
            dry_run=dry_run,
        )
        response = call(self._stub.ImportOpeningBalances, request, timeout=BATCH_RPC_TIMEOUT)
        return [
            {"line": r.line, "outcome": r.outcome, "error_code": r.error_code, "error": r.error}
            for r in response.results
        ]

    def transfer(
        self, operation_id: str, from_id: str, to_id: str, points: int, reason: str, actor: str
    ) -> dict:
        result = call(
            self._stub.TransferPoints,
            pb.TransferPointsRequest(
                operation_id=operation_id,
                from_member_id=from_id,
                to_member_id=to_id,
                points=points,
                reason=reason,
                actor=actor,
            ),
        )
        return {
            "id": result.operation_id,
            "member_id": result.member_id,
            "to_member_id": result.other_member_id,
            "points": result.points,
            "available": result.available,
            "to_available": result.other_available,
        }

    def run_jobs(self) -> dict:
        report = call(self._stub.RunJobs, pb.RunJobsRequest(), timeout=300)
        return {
            "points_activated": report.points_activated,
            "points_expired": report.points_expired,
            "holds_expired": report.holds_expired,
            "tiers_reviewed": report.tiers_reviewed,
            "bonuses_applied": report.bonuses_applied,
        }

    def book_entries(self, first_day: str, last_day: str) -> Iterator[dict]:
        """Every entry of the postings made over the period, in the order written, read a page
        at a time as the caller goes."""
        after = 0
        while True:
            page = call(
                self._stub.ExportLedger,
                pb.ExportLedgerRequest(first_day=first_day, last_day=last_day, after=after),
                timeout=BATCH_RPC_TIMEOUT,
            )
            for e in page.entries:
                yield {
                    "entry_id": e.entry_id,
                    "posting_id": e.posting_id,
                    "posted_at": e.posted_at.ToJsonString(),
                    "kind": e.kind,
                    "reason": e.reason,
                    "source_type": e.source_type,
                    "source_id": e.source_id,
                    "account": e.account,
                    "member_id": e.member_id,
                    "bucket": e.bucket,
                    "points": e.points,
                }
            if not page.next_after:
                return
            after = page.next_after

    def report(self, first_day: str, last_day: str) -> dict:
        report = call(
            self._stub.GetPointsReport,
            pb.GetPointsReportRequest(first_day=first_day, last_day=last_day),
            timeout=30,
        )
        return {
            "liability": {
                "available": report.available,
                "pending": report.pending,
                "held": report.held,
                "debt": report.debt,
                "value": from_minor(report.liability.amount_minor, report.liability.currency),
                "currency": report.liability.currency,
            },
            "coupons_outstanding": report.coupons_outstanding,
            "days": [
                {
                    "day": d.day,
                    "earned": d.earned,
                    "reversed": d.reversed,
                    "redeemed": d.redeemed,
                    "expired": d.expired,
                    "adjusted": d.adjusted,
                    "rewards": d.rewards,
                    "opened": d.opened,
                    "outstanding": d.outstanding,
                    "outstanding_value": from_minor(
                        d.outstanding_value.amount_minor, d.outstanding_value.currency
                    ),
                }
                for d in report.days
            ],
        }

    def set_referral_program(self, program: dict, actor: str) -> dict:
        request = pb.SetReferralProgramRequest(
            program=pb.ReferralProgram(
                referrer_points=program["referrer_points"],
                referee_points=program["referee_points"],
                min_purchase=_money(program["min_purchase"], self._currency, "min_purchase"),
                monthly_cap=program["monthly_cap"],
                active=program.get("active", True),
            ),
            actor=actor,
        )
        return referral_program_json(call(self._stub.SetReferralProgram, request).program)

    def referral_program(self) -> dict:
        request = pb.GetReferralProgramRequest()
        return referral_program_json(call(self._stub.GetReferralProgram, request).program)

    def referrals_rewarded(self, member_id: str) -> int:
        """Friends of the member whose purchase rewarded the referral."""
        request = pb.GetReferralStandingRequest(member_id=member_id)
        return call(self._stub.GetReferralStanding, request).rewarded


def referral_program_json(program: pb.ReferralProgram) -> dict:
    currency = program.min_purchase.currency
    return {
        "referrer_points": program.referrer_points,
        "referee_points": program.referee_points,
        "min_purchase": from_minor(program.min_purchase.amount_minor, currency),
        "currency": currency,
        "monthly_cap": program.monthly_cap,
        "active": program.active,
        "updated_at": (
            program.updated_at.ToJsonString() if program.HasField("updated_at") else None
        ),
    }
