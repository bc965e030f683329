"""Referrals in the ledger: both sides rewarded once by the friend's first qualifying purchase,
the referrer's monthly cap, the return window, and a friend who is the referrer."""

from __future__ import annotations

import dataclasses
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from services.points.models import Referral
from services.points.referrals import ReferralProgram
from services.runtime import event_types
from services.runtime.errors import InvalidArgument
from services.runtime.outbox import Event
from tests.ledger_support import STORE, PointsWorld

# A purchase earning 100 base points is 100 * per_minor minor units: the minimum is 50 points'
# worth of money.
REFERRER_POINTS = 500
FRIEND_POINTS = 200


def new_member() -> str:
    return str(uuid.uuid4())


def run_program(world: PointsWorld, monthly_cap: int = 10, active: bool = True) -> None:
    world.referrals.set_program(
        ReferralProgram(
            referrer_points=REFERRER_POINTS,
            referee_points=FRIEND_POINTS,
            min_purchase_minor=50 * world.policy.per_minor,
            monthly_cap=monthly_cap,
            active=active,
        ),
        "marketer@example.com",
    )


def enrol(world: PointsWorld, referrer: str | None = None) -> str:
    """A member as identity's feed brings them: `member.enrolled`, with its referrer."""
    member = new_member()
    payload = event_types.payload_of(
        event_types.PAYLOADS[event_types.MEMBER_ENROLLED](referrer_id=referrer or "")
    )
    event = Event(1, event_types.MEMBER_ENROLLED, member, payload, world.clock())
    with world.database.write() as session:
        world.members.apply(session, [event])
    return member


def test_the_first_qualifying_purchase_rewards_both_once_under_retries_and_concurrency(
    world: PointsWorld,
) -> None:
    run_program(world)
    referrer = enrol(world)
    friend = enrol(world, referrer)
    world.buy(friend, 40)  # under the minimum: nobody earns a referral reward
    assert world.points(referrer) == (0, 0, 0, 0)

    # The same purchase sent eight times at once, and other purchases of the friend meanwhile.
    def send(i: int) -> None:
        if i % 2:
            world.buy(friend, 100, "T-qualifying")
        else:
            world.buy(friend, 60)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(send, range(16)))
    world.buy(friend, 100, "T-qualifying")  # and once more, later
    assert world.points(referrer) == (REFERRER_POINTS, 0, 0, 0)
    assert world.points(friend) == (40 + 100 + 8 * 60 + FRIEND_POINTS, 0, 0, 0)
    assert world.referrals.rewarded(referrer) == 1
    lines, _ = world.balances.history(referrer, 10, "")
    assert [line.reason for line in lines] == ["referral: a friend's first purchase"]


def test_the_monthly_cap_holds_under_concurrency_and_the_friends_still_earn(
    world: PointsWorld,
) -> None:
    run_program(world, monthly_cap=2)
    referrer = enrol(world)
    friends = [enrol(world, referrer) for _ in range(5)]
    with ThreadPoolExecutor(5) as pool:
        list(pool.map(lambda friend: world.buy(friend, 100), friends))
    assert world.points(referrer) == (2 * REFERRER_POINTS, 0, 0, 0)
    for friend in friends:
        assert world.points(friend) == (100 + FRIEND_POINTS, 0, 0, 0)
    assert world.referrals.rewarded(referrer) == 5
    # A new month: the cap counts again.
    world.clock.advance(days=31)
    late = enrol(world, referrer)
    world.buy(late, 100)
    assert world.points(referrer) == (3 * REFERRER_POINTS, 0, 0, 0)


def test_rewards_are_pending_and_a_refund_within_the_window_takes_them_back(
    world: PointsWorld,
) -> None:
    world.policy = dataclasses.replace(world.policy, pending=timedelta(days=14))
    for part in (world.purchases, world.refunds, world.balances, world.jobs):
        part._policy = world.policy  # type: ignore[attr-defined]
    run_program(world)
    # The PostgreSQL ledger is shared by the session's tests: ids of this test's own.
    tag = uuid.uuid4().hex[:8]
    referrer = enrol(world)
    friend = enrol(world, referrer)
    world.buy(referrer, 30)
    world.buy(friend, 100, f"T-1-{tag}")
    assert world.points(referrer) == (0, 30 + REFERRER_POINTS, 0, 0)
    assert world.points(friend) == (0, 100 + FRIEND_POINTS, 0, 0)
    # A part refund that leaves the purchase over the minimum keeps the rewards.
    world.refunds.refund(STORE, f"T-1-{tag}", f"RF-1-{tag}", 40 * world.policy.per_minor)
    assert world.points(referrer) == (0, 30 + REFERRER_POINTS, 0, 0)
    # One that takes it under the minimum takes both back, from the pending points.
    world.refunds.refund(STORE, f"T-1-{tag}", f"RF-2-{tag}", 20 * world.policy.per_minor)
    assert world.points(referrer) == (0, 30, 0, 0)
    assert world.points(friend) == (0, 40, 0, 0)
    assert world.referrals.rewarded(referrer) == 0
    # The friend's next qualifying purchase rewards the referral again, once.
    world.buy(friend, 100, f"T-2-{tag}")
    world.clock.advance(days=15)
    world.jobs.run()
    assert world.points(referrer) == (30 + REFERRER_POINTS, 0, 0, 0)
    # After the window, a refund takes back the purchase's points only.
    world.refunds.refund(STORE, f"T-2-{tag}", f"RF-3-{tag}", 100 * world.policy.per_minor)
    assert world.points(referrer) == (30 + REFERRER_POINTS, 0, 0, 0)
    assert world.points(friend) == (40 + FRIEND_POINTS, 0, 0, 0)


def test_a_friend_merged_into_their_referrer_earns_nobody_a_reward(world: PointsWorld) -> None:
    run_program(world)
    referrer = enrol(world)
    friend = enrol(world, referrer)
    world.adjustments.merge(f"merge-{friend}", friend, referrer, "identity")
    world.buy(friend, 100)
    assert world.points(referrer) == (100, 0, 0, 0)
    # And the other way round: a referrer merged into the friend they referred.
    other_referrer = enrol(world)
    other_friend = enrol(world, other_referrer)
    world.adjustments.merge(f"merge-{other_referrer}", other_referrer, other_friend, "identity")
    world.buy(other_friend, 100)
    assert world.points(other_friend) == (100, 0, 0, 0)
    with world.database.read() as session:
        assert session.get(Referral, uuid.UUID(other_friend)).status == "refused"


def test_a_program_that_is_off_rewards_nothing_and_bad_settings_are_refused(
    world: PointsWorld,
) -> None:
    run_program(world, active=False)
    referrer = enrol(world)
    friend = enrol(world, referrer)
    world.buy(friend, 100)
    assert world.points(referrer) == (0, 0, 0, 0)
    with pytest.raises(InvalidArgument) as refused:
        world.referrals.set_program(ReferralProgram(monthly_cap=-1), "marketer@example.com")
    assert refused.value.code == "invalid-monthly-cap"
    assert world.referrals.program().active is False
