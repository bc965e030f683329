"""What campaigns award a purchase: by kind, targeting, schedule, priority and control group,
the same answer for the same transaction, and limits that hold under concurrency."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.campaigns import repository
from services.campaigns.draw_selection import Prize
from services.campaigns.draws import ChanceRules
from services.campaigns.evaluation import Item, PurchaseFacts
from services.campaigns.missions import period_key
from services.campaigns.models import Award, MissionReward
from services.points.purchases import EarningLine, PurchaseInput
from services.runtime.db import Database
from services.runtime.errors import FailedPrecondition
from tests.campaigns_support import CampaignsWorld
from tests.ledger_support import STORE, PointsWorld
from tests.support import PostgresDatabases, postgres_reachable, unavailable


def points(bonuses: list) -> int:
    return sum(b.points for b in bonuses)


def test_the_same_transaction_always_gets_the_same_award(campaigns_world: CampaignsWorld) -> None:
    world = campaigns_world
    campaign = world.launch(kind="multiplier", multiplier="2")
    m = str(uuid.uuid4())
    first = world.evaluate(m, 120, transaction_id="T-same")
    assert [(b.campaign_id, b.points) for b in first] == [(campaign, 120)]
    world.campaigns.transition(campaign, "pause")
    assert world.evaluate(m, 120, transaction_id="T-same") == first
    assert world.evaluate(m, 120) == []  # a new purchase while paused earns nothing
    assert world.campaigns.get(campaign).awarded_points == 120


def test_kinds_and_stacking(campaigns_world: CampaignsWorld) -> None:
    world = campaigns_world
    world.launch(kind="fixed_bonus", points=7, priority=1)
    world.launch(kind="category_bonus", multiplier="3", categories=["Dairy"], priority=2)
    world.launch(kind="spend_threshold", points=50, min_spend="5000000", priority=3)
    m = str(uuid.uuid4())
    # 100 base points; a quarter of the bill is dairy, so x3 on it adds 2 x 25 = 50.
    items = [Item("milk", "dairy", 250), Item("tv", "electronics", 750)]
    bonuses = world.evaluate(m, 100, items=items, amount_minor=1000)
    assert sorted(b.points for b in bonuses) == [7, 50]
    # Above the threshold (5,000,000 IRR) the spend bonus joins in.
    assert points(world.evaluate(m, 100, amount_minor=5_000_000 * 100)) == 57

    exclusive = world.launch(kind="fixed_bonus", points=1000, priority=10, stackable=False)
    bonuses = world.evaluate(m, 100, items=items, amount_minor=1000)
    assert [(b.campaign_id, b.points) for b in bonuses] == [(exclusive, 1000)]


def test_targeting_by_stage_reaches_exactly_the_dissatisfied(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    unhappy, refunded, happy, new = (world.enrol() for _ in range(4))
    for m in (unhappy, refunded, happy):
        world.buy(m, 30)
    world.feedback.submit("F-1", unhappy, 1, "")
    world.refund(world.buy(refunded, 10), 10)
    world.feedback.submit("F-2", happy, 5, "")
    campaign = world.launch(kind="fixed_bonus", points=25, targeting={"stages": ["dissatisfied"]})

    awarded = {m for m in (unhappy, refunded, happy, new) if world.evaluate(m)}
    assert awarded == {unhappy, refunded}
    report = world.reports.campaign(campaign)
    assert report.audience == 2
    assert report.reached == 2


def test_schedule_days_hours_and_start(campaigns_world: CampaignsWorld) -> None:
    world = campaigns_world
    now = world.clock()
    weekday = now.isoweekday()
    other_day = (weekday + 1) % 7 + 1  # neither today nor tomorrow
    world.launch(kind="fixed_bonus", points=1, schedule={"days_of_week": [other_day]})
    world.launch(
        kind="fixed_bonus",
        points=2,
        schedule={"starts_at": (now + timedelta(days=1)).isoformat()},
    )
    hour = now.hour
    world.launch(
        kind="fixed_bonus",
        points=4,
        schedule={"hours": {"from": f"{hour:02d}:00", "to": f"{(hour + 1) % 24:02d}:00"}},
    )
    m = str(uuid.uuid4())
    assert points(world.evaluate(m)) == 4
    world.clock.advance(days=1, hours=1)
    assert points(world.evaluate(m)) == 2


def test_a_control_group_is_held_out_the_same_way_every_time(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    world.launch(kind="fixed_bonus", points=5, control_percent=50)
    members = [str(uuid.uuid4()) for _ in range(40)]
    first = {m: points(world.evaluate(m)) for m in members}
    again = {m: points(world.evaluate(m)) for m in members}
    assert first == again
    assert 5 <= sum(1 for p in first.values() if p == 0) <= 35


def test_budget_and_per_member_limit(campaigns_world: CampaignsWorld) -> None:
    world = campaigns_world
    campaign = world.launch(kind="fixed_bonus", points=100, budget_points=250, per_member_limit=1)
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    assert points(world.evaluate(a)) == 100
    assert points(world.evaluate(a)) == 0  # one award per member
    assert points(world.evaluate(b)) == 100
    assert points(world.evaluate(c)) == 0  # 50 left of the budget: not enough
    assert world.campaigns.get(campaign).awarded_points == 200


def test_awards_of_a_campaign_without_a_budget_show_before_and_after_they_are_counted(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    campaign = world.launch(kind="multiplier", multiplier="2")
    big, small = str(uuid.uuid4()), str(uuid.uuid4())
    assert points(world.evaluate(big, 1000, transaction_id="T-counted")) == 1000
    assert world.campaigns.get(campaign).awarded_points == 1000
    assert world.campaigns.count_awards() == 1
    assert world.campaigns.count_awards() == 0
    assert points(world.evaluate(small, 30)) == 30
    assert world.campaigns.get(campaign).awarded_points == 1030
    assert world.reports.campaign(campaign).points_awarded == 1030
    # Points recorded another purchase under the first one's id: its counted award is withdrawn.
    assert points(world.evaluate(small, 10, transaction_id="T-counted", recorded=True)) == 10
    listed = {str(view.id): view.awarded_points for view in world.campaigns.list()}
    assert listed[campaign] == 40
    assert world.campaigns.count_awards() == 2
    assert world.campaigns.get(campaign).awarded_points == 40


@pytest.mark.postgres
def test_limits_hold_under_fifty_concurrent_evaluations(tmp_path, request) -> None:

    if not postgres_reachable():
        unavailable("PostgreSQL at 127.0.0.1:5432")
    databases = PostgresDatabases()
    request.addfinalizer(databases.drop)
    url = "postgresql+psycopg://" + databases.urls["points"].split("://", 1)[1]
    points_world = PointsWorld(url)
    world = CampaignsWorld(
        url.replace(databases.names["points"], databases.names["campaigns"]), points_world
    )
    # A pool as large as the callers, so they really meet in the database.
    world.evaluator._db = Database(world.database.url, pool_size=30)
    try:
        budgeted = world.launch(kind="fixed_bonus", points=10, budget_points=205, priority=2)
        limited = world.launch(kind="fixed_bonus", points=1, per_member_limit=3, priority=1)
        members = [str(uuid.uuid4()) for _ in range(5)]
        results: dict[int, list] = {}
        errors: list[Exception] = []
        start = threading.Barrier(50)

        def buy(i: int) -> None:
            try:
                start.wait()
                # Every tenth call repeats one transaction: it must count once.
                txid = "T-dup" if i % 10 == 0 else f"T-{i}"
                results[i] = world.evaluate(members[i % 5], 100, transaction_id=txid)
            except Exception as error:
                errors.append(error)

        threads = [threading.Thread(target=buy, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        # 46 distinct purchases: the budget allows 20 awards of 10, and not one more.
        assert world.campaigns.get(budgeted).awarded_points == 200
        # Three awards for each of the five members.
        assert world.campaigns.get(limited).awarded_points == 15
        repeats = [results[i] for i in range(0, 50, 10)]
        assert all(r == repeats[0] for r in repeats)
        with world.database.read() as session:
            totals = dict(
                session.execute(
                    select(Award.campaign_id, func.sum(Award.points)).group_by(Award.campaign_id)
                ).all()
            )
        assert {str(k): v for k, v in totals.items()} == {budgeted: 200, limited: 15}
    finally:
        world.close()
        points_world.close()


def test_offers_are_shown_to_their_audience_only(campaigns_world: CampaignsWorld) -> None:
    world = campaigns_world
    fan, other = world.enrol(), world.enrol()
    world.feedback.submit("F-o", fan, 1, "")
    world.buy(fan, 10)
    world.launch(
        kind="offer",
        offer={"title": "Sorry: a free coffee", "code": "SORRY"},
        targeting={"stages": ["dissatisfied"]},
    )
    world.launch(
        kind="offer",
        offer={"title": "Not yet"},
        schedule={"starts_at": "2099-01-01T00:00:00+00:00"},
    )
    assert [(o.title, o.code) for o in world.evaluator.offers(fan)] == [
        ("Sorry: a free coffee", "SORRY")
    ]
    assert world.evaluator.offers(other) == []


def test_another_purchase_under_an_answered_transaction_is_refused_and_books_nothing(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    campaign = world.launch(kind="multiplier", multiplier="2", per_member_limit=1)
    big, small = str(uuid.uuid4()), str(uuid.uuid4())
    assert points(world.evaluate(big, 100_000, transaction_id="T-one")) == 100_000
    with pytest.raises(FailedPrecondition) as refused:
        world.evaluate(small, 10, transaction_id="T-one")
    assert refused.value.code == "idempotency-mismatch"
    world.campaigns.transition(campaign, "pause")
    with pytest.raises(FailedPrecondition):
        world.evaluate(small, 10, transaction_id="T-one")
    assert points(world.evaluate(big, 100_000, transaction_id="T-one")) == 100_000
    world.campaigns.transition(campaign, "launch")
    assert world.campaigns.get(campaign).awarded_points == 100_000
    # The refused member's one award is still to come.
    assert points(world.evaluate(small, 10)) == 10


class CampaignsAtTheTill:
    """What points asks the campaigns classes, as the service does; down when told."""

    def __init__(self, world: CampaignsWorld) -> None:
        self.world = world
        self.up = True

    def evaluate(
        self, purchase: PurchaseInput, base_points: int, fingerprint: str, recorded: bool = False
    ) -> list[EarningLine] | None:
        if not self.up:
            return None
        facts = PurchaseFacts(
            store_id=purchase.store_id,
            transaction_id=purchase.transaction_id,
            member_id=purchase.member_id,
            amount_minor=purchase.amount_minor,
            base_points=base_points,
            items=(),
            occurred_at=purchase.occurred_at,
            fingerprint=fingerprint,
            recorded=recorded,
        )
        bonuses = self.world.evaluator.evaluate(facts)
        return [EarningLine(f"campaign:{b.campaign_id}", b.points, b.reason) for b in bonuses]


def test_a_purchase_recorded_while_campaigns_was_late_takes_the_award_of_the_copy_that_lost(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    purchases, jobs = world.points.purchases, world.points.jobs
    till = CampaignsAtTheTill(world)
    purchases._bonuses = jobs._bonuses = till  # type: ignore[attr-defined]
    # Without the withdrawal, neither the limit nor the budget would leave room for `big` again.
    campaign = world.launch(
        kind="multiplier", multiplier="2", per_member_limit=1, budget_points=100_500
    )
    big, small = str(uuid.uuid4()), str(uuid.uuid4())
    per_point = world.points.policy.per_minor
    lost = PurchaseInput(STORE, "T-two", big, 100_000 * per_point, "IRR")
    won = PurchaseInput(STORE, "T-two", small, 10 * per_point, "IRR")
    # One copy is answered by campaigns; the other, which campaigns was too slow to answer,
    # is the one points records, owing its bonus; the first then loses in points.
    assert till.evaluate(lost, 100_000, lost.fingerprint()) is not None
    till.up = False
    assert purchases.record_purchase(won).points_earned == 10
    till.up = True
    with pytest.raises(FailedPrecondition):
        purchases.record_purchase(lost)
    assert world.campaigns.get(campaign).awarded_points == 100_000

    assert jobs.run().bonuses_applied == 1
    assert world.points.points(small)[0] == 20
    assert world.points.points(big)[0] == 0
    assert world.campaigns.get(campaign).awarded_points == 10
    with world.database.read() as session:
        booked = session.execute(select(Award.member_id, Award.points)).all()
    assert [(str(m), p) for m, p in booked] == [(small, 10)]
    # The recorded purchase keeps its answer; the copy that lost is still refused.
    assert points(till.evaluate(won, 10, won.fingerprint()) or []) == 10
    with pytest.raises(FailedPrecondition):
        till.evaluate(lost, 100_000, lost.fingerprint())
    assert points(world.evaluate(big, 500)) == 500


def test_a_refund_withdraws_a_mission_completion_points_has_not_paid_yet(
    campaigns_world: CampaignsWorld,
) -> None:
    """No payer runs here, so a completion stays pending until the test marks it paid."""
    world = campaigns_world
    world.with_missions_and_draws()
    member = world.enrol()
    mission = world.launch_mission(purchases=2)

    def completions() -> list[tuple[str, str]]:
        with world.database.read() as session:
            rows = session.scalars(
                select(MissionReward).where(MissionReward.campaign_id == mission)
            )
            return [(row.period, row.status) for row in rows]

    first = world.buy(member, 10)
    second = world.buy(member, 10)
    (period, status), *_ = completions()
    assert status == "pending"
    world.refund(second, 10)
    assert completions() == []

    third = world.buy(member, 10)
    assert completions() == [(period, "pending")]
    with world.database.write() as session:
        repository.record_mission_reward(
            session, f"mission:{mission}:{member}:{period}", "paid", None, world.now()
        )
    world.refund(third, 10)
    world.refund(first, 4)  # in part: still a purchase
    assert completions() == [(period, "paid")]
    with world.database.read() as session:
        assert repository.mission_progress(session, mission, uuid.UUID(member), period) == 1


def test_a_merged_members_chances_and_mission_progress_become_the_survivors(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    _, draws = world.with_missions_and_draws()
    survivor, duplicate = world.enrol(), world.enrol()
    mission = world.launch_mission(purchases=5)
    draw = draws.create(
        "Yalda", world.now() + timedelta(days=1), [Prize("Tablet", 1)], ChanceRules(1)
    )
    world.buy(survivor, 10)
    world.buy(duplicate, 10)
    world.buy(duplicate, 10)

    world.identity("member.merged", duplicate, {"survivor_id": survivor})

    _, entries = draws.entries(draw.id)
    assert [(e["member_id"], e["chances"]) for e in entries] == [(survivor, 3)]
    period = period_key("month", world.now(), "UTC")
    with world.database.read() as session:
        progress = repository.mission_progress(session, mission, uuid.UUID(survivor), period)
        left = repository.mission_progress(session, mission, uuid.UUID(duplicate), period)
    assert (progress, left) == (3, 0)


def test_a_duplicates_purchases_read_after_its_merge_count_for_the_survivor(
    campaigns_world: CampaignsWorld,
) -> None:
    """Identity's and points' feeds are read apart: the view may learn of a merge before it
    reads the duplicate's last purchase, and of that purchase's refund after both."""
    world = campaigns_world
    _, draws = world.with_missions_and_draws()
    survivor, duplicate = world.enrol(), world.enrol()
    mission = world.launch_mission(5)
    draw = draws.create(
        "Yalda", world.now() + timedelta(days=1), [Prize("Tablet", 1)], ChanceRules(1)
    )
    late = world.buy(duplicate, 10, read=False)
    world.identity("member.merged", duplicate, {"survivor_id": survivor})
    world.catch_up()

    def standing() -> tuple[list[tuple[str, int]], int, int, int]:
        _, entries = draws.entries(draw.id)
        period = period_key("month", world.now(), "UTC")
        with world.database.read() as session:
            progress = [
                repository.mission_progress(session, mission, uuid.UUID(member), period)
                for member in (survivor, duplicate)
            ]
        return (
            [(e["member_id"], e["chances"]) for e in entries],
            *progress,
            world.member(survivor).purchase_count,
        )

    assert standing() == ([(survivor, 1)], 1, 0, 1)
    assert world.member(duplicate).purchase_count == 0

    world.refund(late, 10)
    assert standing() == ([], 0, 0, 1)
    assert world.member(survivor).refund_count == 1
