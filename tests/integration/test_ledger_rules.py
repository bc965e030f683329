"""The ledger's rules over time: pending, expiry, holds, refunds and debt."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.points.ledger import TAKE_BATCH
from services.points.models import OutboxEvent
from services.points.policy import Expiry
from services.points.purchases import EarningLine, PurchaseInput
from services.points.tiers import Tier, TierLadder
from services.runtime.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from tests.ledger_support import STORE, PointsWorld


def new_member() -> str:
    return str(uuid.uuid4())


def with_policy(world: PointsWorld, **changes: object) -> PointsWorld:
    world.policy = dataclasses.replace(world.policy, **changes)
    for part in (
        world.purchases,
        world.balances,
        world.redemptions,
        world.refunds,
        world.adjustments,
        world.jobs,
    ):
        part._policy = world.policy  # type: ignore[attr-defined]
    return world


def test_points_stay_pending_for_the_return_window_then_become_available(
    world: PointsWorld,
) -> None:
    with_policy(world, pending=timedelta(days=14))
    m = new_member()
    world.buy(m, 100)
    assert world.points(m) == (0, 100, 0, 0)
    world.clock.advance(days=13)
    world.jobs.run()
    assert world.points(m) == (0, 100, 0, 0)
    world.clock.advance(days=1)
    world.jobs.run()
    assert world.points(m) == (100, 0, 0, 0)


def test_pending_points_cannot_be_redeemed(world: PointsWorld) -> None:
    with_policy(world, pending=timedelta(days=7))
    m = new_member()
    world.buy(m, 100)
    with pytest.raises(FailedPrecondition) as refused:
        world.redemptions.hold(STORE, "R-pending", m, 10, capture=False)
    assert refused.value.code == "insufficient-points"


def test_due_pending_points_are_spendable_even_before_the_job_runs(world: PointsWorld) -> None:
    with_policy(world, pending=timedelta(days=7))
    m = new_member()
    world.buy(m, 100)
    world.clock.advance(days=8)
    result = world.redemptions.hold(STORE, "R-due", m, 60, capture=True)
    assert result.status == "captured"
    assert world.points(m) == (40, 0, 0, 0)


def test_points_expire_and_the_soonest_expiring_are_spent_first(world: PointsWorld) -> None:
    with_policy(world, expiry=Expiry("days", 30))
    m = new_member()
    world.buy(m, 100)  # expires day 30
    world.clock.advance(days=10)
    world.buy(m, 50)  # expires day 40
    assert [p for _, p in world.balances.points(m).expiring] == [100, 50]

    world.redemptions.hold(STORE, "R-fifo", m, 80, capture=True)  # from the first lot
    assert [p for _, p in world.balances.points(m).expiring] == [20, 50]

    world.clock.advance(days=20)  # day 30: the first lot's 20 expire
    world.jobs.run()
    assert world.points(m) == (50, 0, 0, 0)
    world.clock.advance(days=10)  # day 40: the second lot's 50
    world.jobs.run()
    assert world.points(m) == (0, 0, 0, 0)


def test_a_spend_larger_than_one_batch_of_lots_takes_the_soonest_expiring_first(
    world: PointsWorld,
) -> None:
    with_policy(world, pending=timedelta(0), expiry=Expiry("days", 365))
    m = new_member()
    lots = 2 * TAKE_BATCH + 30
    for _ in range(lots):
        world.buy(m, 2)  # each lot expires an hour after the one before
        world.clock.advance(hours=1)

    spent = 2 * (2 * TAKE_BATCH + 10) + 1  # 210 lots and 1 point of the 211th
    world.redemptions.hold(STORE, "R-many-lots", m, spent, capture=True)

    assert world.points(m) == (2 * lots - spent, 0, 0, 0)
    expiring = [points for _, points in world.balances.points(m).expiring]
    assert expiring == [1, 2, 2, 2, 2]  # the 211th lot's last point, then untouched lots
    world.check_books()


def test_held_points_do_not_expire_under_a_hold_and_a_void_after_expiry_expires_them(
    world: PointsWorld,
) -> None:
    with_policy(world, expiry=Expiry("days", 30), hold_for=timedelta(days=365))
    m = new_member()
    world.buy(m, 100)
    world.redemptions.hold(STORE, "R-long", m, 70, capture=False)
    world.clock.advance(days=31)
    world.jobs.run()
    assert world.points(m) == (0, 0, 70, 0)  # the 30 not held expired
    assert world.redemptions.void(STORE, "R-long").status == "voided"
    assert world.points(m) == (0, 0, 0, 0)  # the 70 went back to an expired lot: expired


def test_hold_capture_and_void(world: PointsWorld) -> None:
    m = new_member()
    world.buy(m, 100)
    held = world.redemptions.hold(STORE, "R-1", m, 30, capture=False)
    assert (held.status, held.available) == ("held", 70)
    assert world.points(m) == (70, 0, 30, 0)
    assert world.redemptions.capture(STORE, "R-1").status == "captured"
    assert world.redemptions.capture(STORE, "R-1").status == "captured"  # again: same answer
    assert world.points(m) == (70, 0, 0, 0)
    with pytest.raises(Conflict) as late_void:
        world.redemptions.void(STORE, "R-1")
    assert late_void.value.code == "redemption-captured"

    world.redemptions.hold(STORE, "R-2", m, 50, capture=False)
    assert world.redemptions.void(STORE, "R-2").status == "voided"
    assert world.redemptions.void(STORE, "R-2").status == "voided"
    with pytest.raises(Conflict) as late_capture:
        world.redemptions.capture(STORE, "R-2")
    assert late_capture.value.code == "redemption-voided"
    assert world.points(m) == (70, 0, 0, 0)


def test_a_hold_expires_by_itself_and_cannot_be_captured_after(world: PointsWorld) -> None:
    with_policy(world, hold_for=timedelta(minutes=15))
    m = new_member()
    world.buy(m, 100)
    world.redemptions.hold(STORE, "R-slow", m, 40, capture=False)
    world.clock.advance(minutes=16)
    with pytest.raises(Conflict) as late:
        world.redemptions.capture(STORE, "R-slow")
    assert late.value.code == "redemption-expired"
    assert world.points(m) == (100, 0, 0, 0)

    world.redemptions.hold(STORE, "R-forgotten", m, 25, capture=False)
    world.clock.advance(minutes=16)
    assert world.jobs.run().holds_expired >= 1
    assert world.points(m) == (100, 0, 0, 0)
    assert world.redemptions.void(STORE, "R-forgotten").status == "expired"


def test_a_retried_hold_answers_the_same_and_holds_once(world: PointsWorld) -> None:
    m = new_member()
    world.buy(m, 100)
    first = world.redemptions.hold(STORE, "R-retry", m, 30, capture=False)
    again = world.redemptions.hold(STORE, "R-retry", m, 30, capture=False)
    assert again == first
    assert world.points(m) == (70, 0, 30, 0)
    with pytest.raises(FailedPrecondition) as clash:
        world.redemptions.hold(STORE, "R-retry", m, 31, capture=False)
    assert clash.value.code == "idempotency-mismatch"


def test_refunds_take_back_points_in_proportion_cumulatively(world: PointsWorld) -> None:
    m = new_member()
    purchase = world.buy(m, 101)  # 1,010,000 IRR
    third = 101 * world.policy.per_minor // 3
    first = world.refunds.refund(STORE, purchase, "RF-1", third)
    second = world.refunds.refund(STORE, purchase, "RF-2", third)
    rest = 101 * world.policy.per_minor - 2 * third
    last = world.refunds.refund(STORE, purchase, "RF-3", rest)
    assert [first.points_reversed, second.points_reversed, last.points_reversed] == [33, 34, 34]
    assert world.points(m) == (0, 0, 0, 0)
    with pytest.raises(FailedPrecondition) as too_much:
        world.refunds.refund(STORE, purchase, "RF-4", 1)
    assert too_much.value.code == "refund-exceeds-purchase"


def test_a_refund_takes_pending_points_of_its_own_purchase_first(world: PointsWorld) -> None:
    with_policy(world, pending=timedelta(days=14))
    m = new_member()
    world.buy(m, 100)
    world.clock.advance(days=15)
    world.jobs.run()
    refunded = world.buy(m, 40)  # pending
    result = world.refunds.refund(STORE, refunded, "RF-pending", 40 * world.policy.per_minor)
    assert (result.points_reversed, result.debt_added) == (40, 0)
    assert world.points(m) == (100, 0, 0, 0)


def test_points_already_spent_become_debt_that_the_next_purchase_pays(world: PointsWorld) -> None:
    m = new_member()
    purchase = world.buy(m, 100)
    world.redemptions.hold(STORE, "R-spent", m, 90, capture=True)
    result = world.refunds.refund(STORE, purchase, "RF-debt", 100 * world.policy.per_minor)
    assert (result.points_reversed, result.debt_added, result.debt) == (100, 90, 90)
    assert world.points(m) == (0, 0, 0, 90)
    world.buy(m, 50)
    assert world.points(m) == (0, 0, 0, 40)
    world.buy(m, 60)
    assert world.points(m) == (20, 0, 0, 0)


def test_a_retried_refund_answers_the_same_and_refunds_once(world: PointsWorld) -> None:
    m = new_member()
    purchase = world.buy(m, 100)
    first = world.refunds.refund(STORE, purchase, "RF-once", 50 * world.policy.per_minor)
    again = world.refunds.refund(STORE, purchase, "RF-once", 50 * world.policy.per_minor)
    assert again == first
    assert world.points(m) == (50, 0, 0, 0)
    with pytest.raises(FailedPrecondition):
        world.refunds.refund(STORE, purchase, "RF-once", 10 * world.policy.per_minor)


def test_a_refund_of_an_unknown_or_other_stores_purchase_is_not_found(world: PointsWorld) -> None:
    m = new_member()
    purchase = world.buy(m, 10)
    other_store = str(uuid.uuid4())
    for store, transaction in ((STORE, "T-nope"), (other_store, purchase)):
        with pytest.raises(NotFound):
            world.refunds.refund(store, transaction, f"RF-{uuid.uuid4().hex[:6]}", 100)
    assert world.points(m) == (10, 0, 0, 0)


def test_a_transfer_moves_points_with_their_expiry_dates(world: PointsWorld) -> None:
    with_policy(world, expiry=Expiry("days", 30))
    giver, receiver = new_member(), new_member()
    world.buy(giver, 100)
    world.clock.advance(days=10)
    world.buy(giver, 100)
    result = world.adjustments.transfer("TR-1", giver, receiver, 150, "family", "support:sara")
    assert (result.available, result.other_available) == (50, 150)
    # The 100 expiring first went first, and keep their date at the receiver.
    expiring = [p for _, p in world.balances.points(receiver).expiring]
    assert expiring == [100, 50]
    world.clock.advance(days=21)  # day 31: the first lot's points expire, at the receiver too
    world.jobs.run()
    assert world.points(receiver) == (50, 0, 0, 0)
    assert world.points(giver) == (50, 0, 0, 0)


def test_a_transfer_needs_available_points_and_applies_once(world: PointsWorld) -> None:
    giver, receiver = new_member(), new_member()
    world.buy(giver, 40)
    with pytest.raises(FailedPrecondition) as refused:
        world.adjustments.transfer("TR-big", giver, receiver, 41, "too much", "support")
    assert refused.value.code == "insufficient-points"
    first = world.adjustments.transfer("TR-2", giver, receiver, 10, "gift", "support")
    assert world.adjustments.transfer("TR-2", giver, receiver, 10, "gift", "support") == first
    assert world.points(giver)[0] == 30 and world.points(receiver)[0] == 10


def test_campaigns_pays_missions_and_sells_draw_chances_only_as_such(world: PointsWorld) -> None:
    """Campaigns' one way into a member's points: a mission's reward, a draw's chances, and
    the return of exactly what a purchase of chances spent, once; none of them in the staff
    audit trail, each in the member's history under its own kind."""
    m, other = new_member(), new_member()
    world.buy(m, 30)
    world.buy(other, 30)
    campaign = world.adjustments.for_campaign
    campaign("mission", "mission-reward-1", m, 25, "Three visits")
    assert campaign("mission", "mission-reward-1", m, 25, "Three visits").available == 55
    campaign("draw", "draw-1", m, 40, "Yalda draw")
    assert world.points(m)[0] == 15
    with pytest.raises(FailedPrecondition) as short:
        campaign("draw", "draw-2", m, 16, "Yalda draw")
    assert short.value.code == "insufficient-points"

    for spend, member, points in (("draw-2", m, 16), ("draw-1", other, 40), ("draw-1", m, 41)):
        with pytest.raises(FailedPrecondition) as refused:
            campaign("draw-back", spend, member, points, "Yalda draw")
        assert refused.value.code == "nothing-to-return", (spend, points)
    campaign("draw-back", "draw-1", m, 40, "Yalda draw")
    campaign("draw-back", "draw-1", m, 40, "Yalda draw")  # a retry returns nothing more
    assert world.points(m)[0] == 55 and world.points(other)[0] == 30
    with pytest.raises(InvalidArgument):
        campaign("adjust", "A-1", m, 1_000, "probe")

    assert world.adjustments.of_member(m, 50) == []
    kinds = [line.kind for line in world.activity.page(m, 50, "")[0]]
    assert kinds[:4] == ["draw-back", "draw", "mission", "purchase"]


def test_staff_credits_are_available_at_once_and_debits_cannot_overdraw(world: PointsWorld) -> None:
    with_policy(world, pending=timedelta(days=14))
    m = new_member()
    world.adjustments.adjust("ADJ-1", m, 200, "goodwill", "support:ali")
    assert world.points(m) == (200, 0, 0, 0)
    world.adjustments.adjust("ADJ-2", m, -50, "mistaken credit", "support:ali")
    assert world.points(m) == (150, 0, 0, 0)
    with pytest.raises(FailedPrecondition):
        world.adjustments.adjust("ADJ-3", m, -151, "too much", "support:ali")
    with pytest.raises(FailedPrecondition) as clash:
        world.adjustments.adjust("ADJ-1", m, 201, "goodwill", "support:ali")
    assert clash.value.code == "idempotency-mismatch"


def test_a_merge_moves_the_duplicates_whole_ledger_to_the_survivor(world: PointsWorld) -> None:
    with_policy(world, pending=timedelta(days=7))
    duplicate, survivor = new_member(), new_member()
    old_purchase = world.buy(duplicate, 100)
    world.clock.advance(days=8)
    world.buy(duplicate, 30)  # still pending
    world.buy(survivor, 20)
    world.redemptions.hold(STORE, "R-dup", duplicate, 60, capture=True)
    refund = world.refunds.refund(STORE, old_purchase, "RF-dup", 100 * world.policy.per_minor)
    assert refund.debt_added == 60
    assert world.points(duplicate) == (0, 30, 0, 60)

    world.adjustments.merge("MERGE-1", duplicate, survivor, "identity")
    assert world.points(survivor) == (0, 50, 0, 60)
    assert world.points(duplicate) == world.points(survivor)  # its id reads the survivor's
    world.clock.advance(days=8)
    world.jobs.run()
    assert world.points(survivor) == (50, 0, 0, 60)


def test_a_merge_waits_for_open_holds(world: PointsWorld) -> None:
    duplicate, survivor = new_member(), new_member()
    world.buy(duplicate, 100)
    world.redemptions.hold(STORE, "R-open", duplicate, 10, capture=False)
    with pytest.raises(FailedPrecondition) as refused:
        world.adjustments.merge("MERGE-2", duplicate, survivor, "identity")
    assert refused.value.code == "open-holds"
    world.redemptions.void(STORE, "R-open")
    world.adjustments.merge("MERGE-2", duplicate, survivor, "identity")
    assert world.points(survivor) == (100, 0, 0, 0)


def test_refunds_after_a_merge_take_back_from_the_survivor(world: PointsWorld) -> None:
    duplicate, survivor = new_member(), new_member()
    purchase = world.buy(duplicate, 100)
    world.adjustments.merge("MERGE-3", duplicate, survivor, "identity")
    world.refunds.refund(STORE, purchase, "RF-after", 50 * world.policy.per_minor)
    assert world.points(survivor) == (50, 0, 0, 0)


LADDER = TierLadder(
    (
        Tier("member", 0, Decimal(1)),
        Tier("silver", 1000 * 10000 * 100, Decimal("1.25")),  # 10,000,000 IRR
        Tier("gold", 5000 * 10000 * 100, Decimal("1.5")),
    ),
    window=timedelta(days=365),
)


def test_an_upgrade_applies_at_once_and_its_multiplier_from_the_next_purchase(
    world: PointsWorld,
) -> None:
    with_policy(world, ladder=LADDER)
    m = new_member()
    world.buy(m, 999)
    view = world.balances.points(m).tier
    assert (view.name, view.next_name) == ("member", "silver")
    assert view.next_needs_minor == 1 * 10000 * 100
    world.buy(m, 1)  # reaches 10,000,000 IRR
    assert world.balances.points(m).tier.name == "silver"
    result = world.purchases.record_purchase(
        PurchaseInput(STORE, "T-silver", m, 100 * world.policy.per_minor, "IRR")
    )
    assert [(line.source, line.points) for line in result.breakdown] == [
        ("base", 100),
        ("tier:silver", 25),
    ]
    assert result.points_earned == 125


def test_a_purchase_counts_for_the_tier_with_the_same_day_and_only_inside_the_window(
    world: PointsWorld,
) -> None:
    with_policy(world, ladder=LADDER)
    m = new_member()
    long_ago = world.clock.now - timedelta(days=400)
    world.purchases.record_purchase(
        PurchaseInput(STORE, "T-old", m, 1000 * world.policy.per_minor, "IRR", occurred_at=long_ago)
    )
    view = world.balances.points(m).tier
    assert (view.name, view.qualifying_spend_minor) == ("member", 0)
    world.buy(m, 600)
    world.buy(m, 400)  # the same day: together they make silver
    view = world.balances.points(m).tier
    assert (view.name, view.qualifying_spend_minor) == ("silver", 1000 * world.policy.per_minor)
    assert tier_changes(world, m) == [("member", "silver")]


def test_a_tier_a_review_gave_goes_down_only_at_its_next_review_date(world: PointsWorld) -> None:
    with_policy(world, ladder=LADDER)
    m = new_member()
    world.buy(m, 1000)  # silver
    world.clock.advance(days=300)
    purchase = world.buy(m, 1000)
    world.clock.advance(days=66)
    world.jobs.run()  # the review: the last window's spend keeps silver
    world.refunds.refund(STORE, purchase, "RF-tier", 1000 * world.policy.per_minor)
    world.jobs.run()
    assert world.balances.points(m).tier.name == "silver"  # kept until the next review
    world.clock.advance(days=366)
    assert world.jobs.run().tiers_reviewed >= 1
    view = world.balances.points(m).tier
    assert (view.name, view.qualifying_spend_minor) == ("member", 0)


def tier_changes(world: PointsWorld, member: str) -> list[tuple[str, str]]:
    """The member's `tier.changed` events as written, in order."""
    with world.database.read() as session:
        payloads = session.scalars(
            select(OutboxEvent.payload)
            .where(OutboxEvent.type == "tier.changed", OutboxEvent.member_id == uuid.UUID(member))
            .order_by(OutboxEvent.sequence)
        )
        return [(p["from"], p["to"]) for p in map(json.loads, payloads)]


def test_a_refunded_gold_making_purchase_leaves_the_member_at_their_earned_tier(
    world: PointsWorld,
) -> None:
    with_policy(world, ladder=LADDER)
    m = new_member()
    world.buy(m, 500)
    review_at = world.balances.points(m).tier.review_at
    world.clock.advance(days=10)
    gold = world.buy(m, 4600)  # 5,100: gold at once
    assert world.balances.points(m).tier.name == "gold"
    world.clock.advance(days=2)
    world.refunds.refund(STORE, gold, "RF-gold", 4600 * world.policy.per_minor)
    view = world.balances.points(m).tier
    # Back where the spend left them, reviewed when that tier would have been.
    assert (view.name, view.review_at) == ("member", review_at)
    assert tier_changes(world, m) == [("member", "gold"), ("gold", "member")]
    result = world.purchases.record_purchase(
        PurchaseInput(STORE, "T-after-gold", m, 100 * world.policy.per_minor, "IRR")
    )
    assert [(line.source, line.points) for line in result.breakdown] == [("base", 100)]


def test_a_refunded_upgrade_falls_back_to_a_tier_still_earned_since_the_review(
    world: PointsWorld,
) -> None:
    with_policy(world, ladder=LADDER)
    m = new_member()
    world.buy(m, 1200)  # silver
    gold = world.buy(m, 4000)  # gold
    world.refunds.refund(STORE, gold, "RF-silver-gold", 4000 * world.policy.per_minor)
    assert world.balances.points(m).tier.name == "silver"
    gold_again = world.buy(m, 4000)
    assert world.balances.points(m).tier.name == "gold"
    world.refunds.refund(STORE, gold_again, "RF-silver-gold-2", 4000 * world.policy.per_minor)
    assert world.balances.points(m).tier.name == "silver"


def test_a_partial_refund_that_keeps_the_spend_above_the_threshold_keeps_the_tier(
    world: PointsWorld,
) -> None:
    with_policy(world, ladder=LADDER)
    m = new_member()
    purchase = world.buy(m, 5200)
    world.refunds.refund(STORE, purchase, "RF-part", 200 * world.policy.per_minor)
    assert world.balances.points(m).tier.name == "gold"
    world.refunds.refund(STORE, purchase, "RF-more", 1 * world.policy.per_minor)
    assert world.balances.points(m).tier.name == "silver"


def test_refunding_a_purchase_that_did_not_earn_the_upgrade_keeps_it(world: PointsWorld) -> None:
    with_policy(world, ladder=LADDER)
    m = new_member()
    world.buy(m, 3000)  # silver
    world.clock.advance(days=300)
    world.buy(m, 2000)  # 5,000 over the window: gold
    world.clock.advance(days=100)  # the first purchase has left the rolling window
    later = world.buy(m, 100)
    world.refunds.refund(STORE, later, "RF-later", 100 * world.policy.per_minor)
    assert world.balances.points(m).tier.name == "gold"  # until its review date


def test_at_review_a_member_keeps_the_tier_the_last_window_earned(world: PointsWorld) -> None:
    with_policy(world, ladder=LADDER)
    m = new_member()
    world.buy(m, 5000)  # gold
    world.clock.advance(days=200)
    world.buy(m, 1200)  # inside the next window: silver's worth
    world.clock.advance(days=166)
    world.jobs.run()
    assert world.balances.points(m).tier.name == "silver"


class FlakyCampaigns:
    """Campaigns that are down until told otherwise, then award 7 points per purchase."""

    def __init__(self) -> None:
        self.up = False
        self.asked: list[tuple[str, int]] = []

    def evaluate(
        self, purchase: PurchaseInput, base_points: int, fingerprint: str, recorded: bool = False
    ) -> list[EarningLine] | None:
        if not self.up:
            return None
        self.asked.append((purchase.transaction_id, base_points))
        return [EarningLine("campaign:c1", 7, "double weekend")]


def test_a_bonus_owed_while_campaigns_was_down_is_applied_once_when_it_is_back(
    world: PointsWorld,
) -> None:
    campaigns = FlakyCampaigns()
    world.purchases._bonuses = campaigns  # type: ignore[attr-defined]
    world.jobs._bonuses = campaigns  # type: ignore[attr-defined]
    m = new_member()
    result = world.purchases.record_purchase(
        PurchaseInput(STORE, "T-owed", m, 100 * world.policy.per_minor, "IRR")
    )
    assert result.points_earned == 100  # the till was not kept waiting
    assert world.jobs.run().bonuses_applied == 0  # still down
    assert world.points(m)[0] == 100

    campaigns.up = True
    assert world.jobs.run().bonuses_applied == 1
    assert world.jobs.run().bonuses_applied == 0
    assert world.points(m)[0] == 107
    assert campaigns.asked == [("T-owed", 100)]
    history, _ = world.balances.history(m, 10, "")
    assert [(line.source_type, line.points) for line in history][:1] == [("campaign", 7)]
    # A refund takes back its share of the late bonus too.
    world.refunds.refund(STORE, "T-owed", "RF-owed", 100 * world.policy.per_minor)
    assert world.points(m)[0] == 0


def test_a_late_bonus_on_a_purchase_refunded_meanwhile_pays_only_the_part_kept(
    world: PointsWorld,
) -> None:
    campaigns = FlakyCampaigns()
    world.purchases._bonuses = campaigns  # type: ignore[attr-defined]
    world.jobs._bonuses = campaigns  # type: ignore[attr-defined]
    kept, returned = new_member(), new_member()
    amount = 100 * world.policy.per_minor
    for member, tx in ((kept, "T-half"), (returned, "T-all")):
        world.purchases.record_purchase(PurchaseInput(STORE, tx, member, amount, "IRR"))
    world.refunds.refund(STORE, "T-half", "RF-half", amount // 2)
    world.refunds.refund(STORE, "T-all", "RF-all", amount)

    campaigns.up = True
    assert world.jobs.run().bonuses_applied == 2
    assert world.points(returned)[0] == 0  # nothing bought is left: no bonus
    assert world.points(kept)[0] == 50 + 4  # half the purchase kept: 7 points less the 3 withheld
    world.refunds.refund(STORE, "T-half", "RF-rest", amount // 2)
    assert world.points(kept)[0] == 0
