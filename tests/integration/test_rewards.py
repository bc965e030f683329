"""Rewards and coupons in the points service, on SQLite and PostgreSQL: redeeming, the limits
that refuse a redemption without spending anything, coupons at the till, cancellation,
partner codes, gifts, visibility, expiry and the report. The books balance after each test."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.points.catalog import RewardSpec, RewardView, Visibility
from services.points.coupon_terms import Terms
from services.points.models import OutboxEvent
from services.points.reports import Reports
from services.points.rewards import InlineCoupon
from services.runtime.errors import Conflict, FailedPrecondition, NotFound
from tests.ledger_support import STORE, PointsWorld

OTHER_STORE = str(uuid.UUID(int=2))
POOL = 100
TEN_PERCENT = Terms(type="percent", currency="IRR", percent="10", max_discount_minor=50_000_00)


def member() -> str:
    return str(uuid.uuid4())


def coupon_reward(world: PointsWorld, **spec: object) -> str:
    values: dict = {"kind": "coupon", "name": "10% off", "points_cost": 100, "terms": TEN_PERCENT}
    values.update(spec)
    return world.catalog.create(RewardSpec(**values), "marketer").id


def listed(world: PointsWorld, reward_id: str) -> RewardView:
    """The reward as staff see it (the PostgreSQL database holds other tests' rewards)."""
    return next(view for view in world.catalog.staff_list() if view.id == reward_id)


def event_types(world: PointsWorld) -> list[str]:
    with world.database.read() as session:
        return list(session.scalars(select(OutboxEvent.type)))


def test_a_redemption_spends_the_points_and_issues_the_coupon_once_per_request(
    world: PointsWorld,
) -> None:
    m = member()
    world.buy(m, 250)
    reward = coupon_reward(world, valid_days=30)
    first = world.rewards.redeem(m, reward, "r-1")
    again = world.rewards.redeem(m, reward, "r-1")
    assert again == first
    assert first.points_spent == 100 and first.available == 150
    assert first.coupon.status == "issued"
    assert first.coupon.expires_at == world.clock.now + timedelta(days=30)
    assert world.points(m)[0] == 150
    assert [c.code for c in world.coupons.list(m)] == [first.coupon.code]
    assert {"reward.redeemed", "coupon.issued", "points.redeem"} <= set(event_types(world))
    with pytest.raises(FailedPrecondition) as refused:
        world.rewards.redeem(m, coupon_reward(world), "r-1")
    assert refused.value.code == "idempotency-mismatch"


def test_a_refused_redemption_spends_nothing_and_takes_no_stock(world: PointsWorld) -> None:
    poor, limited = member(), member()
    world.buy(poor, 50)
    world.buy(limited, 1000)
    reward = coupon_reward(world, stock=5, per_member_limit=1)
    with pytest.raises(FailedPrecondition) as refused:
        world.rewards.redeem(poor, reward, "r-1")
    assert refused.value.code == "insufficient-points"
    world.rewards.redeem(limited, reward, "r-1")
    with pytest.raises(Conflict) as limit:
        world.rewards.redeem(limited, reward, "r-2")
    assert limit.value.code == "reward-limit-reached"
    assert world.points(poor)[0] == 50 and world.points(limited)[0] == 900
    view = listed(world, reward)
    assert view.spec.stock == 4
    assert view.figures is not None and view.figures.issued == 1
    assert view.figures.points_spent == 100


def test_the_last_of_the_stock_goes_to_one_member(world: PointsWorld) -> None:
    first, second = member(), member()
    for m in (first, second):
        world.buy(m, 500)
    reward = coupon_reward(world, stock=1)
    world.rewards.redeem(first, reward, "r-1")
    with pytest.raises(Conflict) as refused:
        world.rewards.redeem(second, reward, "r-1")
    assert refused.value.code == "out-of-stock"
    assert world.points(second)[0] == 500


def test_a_paused_or_ended_reward_cannot_be_redeemed(world: PointsWorld) -> None:
    m = member()
    world.buy(m, 500)
    reward = coupon_reward(world)
    world.catalog.update(reward, {"status": "paused"})
    assert reward not in {view.id for view in world.catalog.member_list(m)}
    with pytest.raises(FailedPrecondition) as refused:
        world.rewards.redeem(m, reward, "r-1")
    assert refused.value.code == "reward-unavailable"
    world.catalog.update(reward, {"status": "active", "ends_at": world.clock.now})
    with pytest.raises(FailedPrecondition):
        world.rewards.redeem(m, reward, "r-2")
    assert world.points(m)[0] == 500


def test_a_coupon_is_used_once_and_the_same_sale_again_answers_the_same(
    world: PointsWorld,
) -> None:
    m = member()
    world.buy(m, 500)
    code = world.rewards.redeem(m, coupon_reward(world), "r-1").coupon.code
    typed = "-".join([code[:5], code[5:]]).lower()
    check = world.coupons.check(typed, 200_000_00, "IRR")
    assert check.usable and check.discount_minor == 20_000_00
    use = world.coupons.use(typed, STORE, "sale-1", 200_000_00, "IRR")
    assert use.discount_minor == 20_000_00 and use.coupon.status == "used"
    assert world.coupons.use(code, STORE, "sale-1", 200_000_00, "IRR") == use
    with pytest.raises(Conflict) as used:
        world.coupons.use(code, OTHER_STORE, "sale-9", 200_000_00, "IRR")
    assert used.value.code == "coupon-used"
    with pytest.raises(FailedPrecondition) as mismatch:
        world.coupons.use(code, STORE, "sale-1", 300_000_00, "IRR")
    assert mismatch.value.code == "idempotency-mismatch"
    assert world.coupons.check(code, None, "IRR").reason == "coupon-used"


def test_the_store_that_used_a_coupon_can_release_it(world: PointsWorld) -> None:
    m = member()
    world.buy(m, 500)
    code = world.rewards.redeem(m, coupon_reward(world), "r-1").coupon.code
    world.coupons.use(code, STORE, "sale-1", 100_000_00, "IRR")
    with pytest.raises(Conflict) as refused:
        world.coupons.release(code, OTHER_STORE, "sale-1")
    assert refused.value.code == "coupon-not-released"
    assert world.coupons.release(code, STORE, "sale-1").status == "issued"
    assert world.coupons.use(code, OTHER_STORE, "sale-2", 100_000_00, "IRR").discount_minor
    assert "coupon.released" in event_types(world)


def test_minimum_purchase_and_amount_discounts(world: PointsWorld) -> None:
    m = member()
    world.buy(m, 500)
    terms = Terms(type="amount", currency="IRR", amount_minor=50_000_00, min_purchase_minor=1)
    code = world.rewards.redeem(m, coupon_reward(world, terms=terms), "r-1").coupon.code
    assert world.coupons.check(code, 30_000_00, "IRR").discount_minor == 30_000_00
    minimum = Terms(type="percent", currency="IRR", percent="20", min_purchase_minor=100_000_00)
    other = world.rewards.redeem(m, coupon_reward(world, terms=minimum), "r-2").coupon.code
    with pytest.raises(FailedPrecondition) as refused:
        world.coupons.use(other, STORE, "sale-1", 99_999_00, "IRR")
    assert refused.value.code == "coupon-min-purchase"
    assert world.coupons.check(other, None, "IRR").usable


def test_coupons_expire_at_read_and_by_the_job(world: PointsWorld) -> None:
    m = member()
    world.buy(m, 500)
    reward = coupon_reward(world, valid_days=1)
    code = world.rewards.redeem(m, reward, "r-1").coupon.code
    world.clock.advance(days=1)
    assert world.coupons.list(m, "expired")[0].code == code
    with pytest.raises(Conflict) as expired:
        world.coupons.use(code, STORE, "sale-1", 100_000_00, "IRR")
    assert expired.value.code == "coupon-expired"
    assert world.jobs.run().coupons_expired >= 1
    assert "coupon.expired" in event_types(world)
    assert world.coupons.list(m, "expired")[0].code == code
    figures = listed(world, reward).figures
    assert figures is not None and figures.expired == 1


def test_cancelling_returns_the_points_when_the_reward_says_so(world: PointsWorld) -> None:
    m = member()
    world.buy(m, 500)
    returning = coupon_reward(world, refund_on_cancel=True, stock=3)
    keeping = coupon_reward(world)
    back = world.rewards.redeem(m, returning, "r-1").coupon.code
    kept = world.rewards.redeem(m, keeping, "r-2").coupon.code
    assert world.points(m)[0] == 300
    coupon, returned = world.coupons.cancel(back, "support", "member asked")
    assert (coupon.status, returned) == ("cancelled", 100)
    assert world.coupons.cancel(back, "support", "member asked")[1] == 100
    assert world.coupons.cancel(kept, "support", "fraud")[1] == 0
    assert world.points(m)[0] == 400
    assert listed(world, returning).spec.stock == 3
    day = world.clock.now.date()
    (report,) = Reports(world.database, world.policy, world.clock).daily(day, day)
    assert report.rewards >= 100


def test_partner_codes_are_handed_out_once_and_duplicates_reported(world: PointsWorld) -> None:
    reward = world.catalog.create(
        RewardSpec(kind="partner_code", name="Cinema ticket", points_cost=10), "marketer"
    ).id
    # However a code is typed it is one code; it is handed out as the partner wrote it first.
    added, duplicates = world.catalog.add_codes(reward, ["Cin-001", " CIN 002 ", "CIN001"])
    assert (added, duplicates) == (2, ["CIN001"])
    added, duplicates = world.catalog.add_codes(reward, ["cin002", "CIN-003"])
    assert (added, duplicates) == (1, ["cin002"])
    got = set()
    for n in range(3):
        m = member()
        world.buy(m, 10)
        got.add(world.rewards.redeem(m, reward, f"r-{n}").coupon.partner_code)
    assert got == {"Cin-001", "CIN 002", "CIN-003"}
    late = member()
    world.buy(late, 10)
    with pytest.raises(Conflict) as empty:
        world.rewards.redeem(late, reward, "r-9")
    assert empty.value.code == "out-of-stock"
    assert world.points(late)[0] == 10


def test_a_gift_is_collected_once_by_a_store(world: PointsWorld) -> None:
    m = member()
    world.buy(m, 50)
    reward = world.catalog.create(
        RewardSpec(kind="gift", name="Mug", points_cost=50), "marketer"
    ).id
    code = world.rewards.redeem(m, reward, "r-1").coupon.code
    with pytest.raises(FailedPrecondition) as not_discount:
        world.coupons.use(code, STORE, "sale-1", 100, "IRR")
    assert not_discount.value.code == "coupon-not-redeemable"
    assert world.coupons.collect(code, STORE).status == "used"
    assert world.coupons.collect(code, STORE).store_id == STORE
    with pytest.raises(Conflict):
        world.coupons.collect(code, OTHER_STORE)


def test_members_see_only_the_rewards_shown_to_them(world: PointsWorld) -> None:
    plain, in_segment, lapsed = member(), member(), member()
    for m in (plain, in_segment, lapsed):
        world.buy(m, 100)
    coupon_reward(world, name="everyone")
    segment = coupon_reward(world, name="segment", visibility=Visibility(segment_ids=("s1",)))
    stage = coupon_reward(world, name="lapsed", visibility=Visibility(stages=("lapsed",)))
    coupon_reward(world, name="gold", visibility=Visibility(tiers=("member",)))
    world.audiences.segments["s1"] = {uuid.UUID(in_segment)}
    world.audiences.stages[uuid.UUID(lapsed)] = "lapsed"
    shown = {m: {v.spec.name for v in world.catalog.member_list(m)} for m in (plain, in_segment)}
    assert {"everyone", "gold"} <= shown[plain]
    assert "segment" not in shown[plain] and "lapsed" not in shown[plain]
    assert {"everyone", "gold", "segment"} <= shown[in_segment]
    assert "lapsed" in {v.spec.name for v in world.catalog.member_list(lapsed)}
    with pytest.raises(NotFound):
        world.rewards.redeem(plain, segment, "r-1")
    assert world.rewards.redeem(lapsed, stage, "r-1").points_spent == 100


def test_a_campaign_coupon_costs_no_points(world: PointsWorld) -> None:
    m = member()
    world.buy(m, 5)
    terms = Terms(type="percent", currency="IRR", percent="20")
    inline = InlineCoupon(terms, "Win-back 20%", valid_days=14)
    first = world.rewards.issue(m, "camp-1:m", inline=inline, campaign_id="7")
    again = world.rewards.issue(m, "camp-1:m", inline=inline, campaign_id="7")
    assert first == again and first.points_spent == 0
    assert first.coupon.campaign_id == "7"
    assert world.points(m)[0] == 5
    with world.database.read() as session:
        (payload,) = session.scalars(
            select(OutboxEvent.payload).where(
                OutboxEvent.member_id == uuid.UUID(m), OutboxEvent.type == "coupon.issued"
            )
        )
    assert json.loads(payload)["campaign_id"] == "7"


def test_a_granted_reward_is_one_coupon_per_operation_while_the_reward_is_active_and_in_stock(
    world: PointsWorld,
) -> None:
    m, late = member(), member()
    world.buy(m, 5)
    world.buy(late, 5)
    reward = coupon_reward(world, stock=1, per_member_limit=1)
    first = world.rewards.grant(m, reward, "mission:1", "7")
    again = world.rewards.grant(m, reward, "mission:1", "7")
    assert first == again and first.points_spent == 0
    assert (first.coupon.reward_id, first.coupon.campaign_id) == (reward, "7")
    assert world.points(m)[0] == 5
    assert listed(world, reward).spec.stock == 0
    # A coupon given free does not use up what the member may still redeem.
    world.catalog.update(reward, {"stock": 1})
    world.buy(m, 100)
    assert world.rewards.redeem(m, reward, "r-1").points_spent == 100
    with pytest.raises(Conflict) as empty:
        world.rewards.grant(late, reward, "mission:2", "7")
    assert empty.value.code == "out-of-stock"
    world.catalog.update(reward, {"stock": 5, "status": "paused"})
    with pytest.raises(FailedPrecondition) as paused:
        world.rewards.grant(late, reward, "mission:2", "7")
    assert paused.value.code == "reward-unavailable"
    with pytest.raises(NotFound):
        world.rewards.grant(late, str(uuid.uuid4()), "mission:3", "7")
    assert world.coupons.list(late) == [] and world.points(late)[0] == 5


def test_a_pool_of_codes_goes_to_as_many_members_at_once(ledger_pg_url: str) -> None:
    """A short form of the thousand codes to a thousand members that `make bench` runs
    (bench/rewards_scale.py)."""
    world = PointsWorld(ledger_pg_url)
    try:
        reward = world.catalog.create(
            RewardSpec(kind="partner_code", name="Cinema", points_cost=1), "marketer"
        ).id
        pool = [f"P{n:05d}" for n in range(POOL)]
        assert world.catalog.add_codes(reward, pool) == (POOL, [])
        members = [member() for _ in range(POOL)]
        with ThreadPoolExecutor(16) as threads:
            list(threads.map(lambda m: world.buy(m, 1), members))
            got = list(threads.map(lambda m: world.rewards.redeem(m, reward, "r"), members))
        assert sorted(r.coupon.partner_code for r in got) == pool
        late = member()
        world.buy(late, 1)
        with pytest.raises(Conflict):
            world.rewards.redeem(late, reward, "r")
        world.check_books()
    finally:
        world.close()
