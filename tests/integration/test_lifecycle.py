"""Each member's lifecycle stage follows from what identity and points report, and from feedback;
every change of stage is recorded, so a marketer sees who just became dissatisfied."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.campaigns.models import Member
from services.campaigns.reconcile import reconcile
from services.runtime.errors import FailedPrecondition, InvalidArgument
from tests.campaigns_support import CampaignsWorld


def test_a_member_moves_through_every_stage(campaigns_world: CampaignsWorld) -> None:
    world = campaigns_world
    m = world.enrol()
    assert world.stage(m) == "potential"

    world.buy(m, 10)
    assert world.stage(m) == "customer"

    world.feedback.submit("F-1", m, 5, "lovely staff")
    assert world.stage(m) == "satisfied"

    world.clock.advance(days=10)
    world.buy(m, 10)
    world.clock.advance(days=10)
    world.buy(m, 10)
    assert world.stage(m) == "loyal"  # three purchases within the loyalty window

    assert world.feedback.submit("F-2", m, 1, "rude cashier") == "dissatisfied"
    assert world.stage(m) == "dissatisfied"

    world.clock.advance(days=200)
    world.view.refresh()
    assert world.stage(m) == "lapsed"  # the complaint is old, and so is the last purchase

    assert world.stage_changes(m) == [
        ("potential", "customer"),
        ("customer", "satisfied"),
        ("satisfied", "loyal"),
        ("loyal", "dissatisfied"),
        ("dissatisfied", "lapsed"),
    ]


def test_a_refund_makes_a_member_dissatisfied_until_a_better_rating(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    m = world.enrol()
    purchase = world.buy(m, 40)
    assert world.stage(m) == "customer"

    world.refund(purchase, 20)
    assert world.stage(m) == "dissatisfied"
    assert world.member(m).refund_count == 1

    world.clock.advance(hours=1)
    world.feedback.submit("F-ok", m, 4, "sorted out")
    assert world.stage(m) == "satisfied"


def test_a_low_rating_counts_once_and_a_reused_id_with_other_content_is_refused(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    m = world.enrol()
    world.buy(m, 10)
    assert world.feedback.submit("F-low", m, 2, "slow") == "dissatisfied"
    assert world.feedback.submit("F-low", m, 2, "slow") == "dissatisfied"
    assert world.stage_changes(m) == [("potential", "customer"), ("customer", "dissatisfied")]
    with pytest.raises(FailedPrecondition) as refused:
        world.feedback.submit("F-low", m, 5, "changed my mind")
    assert refused.value.code == "idempotency-mismatch"
    assert world.member(m).last_rating == 2


def test_identity_events_of_every_age_build_the_member_view(
    campaigns_world: CampaignsWorld,
) -> None:
    """Payloads as identity has stored them: nulls for what a member never gave, keys a newer
    identity adds, and a profile event erased down to `{"erased": true}`."""
    world = campaigns_world
    m = world.enrol(
        first_name=None,
        city=" Tabriz ",
        birth_date="1990-05-17",
        interests=None,
        consents={"sms": True, "email": False},
        referred_by="a key this reader does not know",
    )
    row = world.member(m)
    assert (row.first_name, row.city, row.birth_month, row.consent_sms, row.consent_email) == (
        None,
        "tabriz",
        5,
        True,
        False,
    )

    world.identity("member.consent_changed", m, {"channel": "email", "granted": True})
    profile = {
        "first_name": "Sara",
        "city": "",
        "birth_date": "",
        "gender": "f",
        "interests": ["tea"],
    }
    world.identity("member.profile_changed", m, profile)
    row = world.member(m)
    assert (row.first_name, row.city, row.birth_date, row.gender, row.interests) == (
        "Sara",
        None,
        None,
        "f",
        '["tea"]',
    )
    assert row.consent_email

    duplicate = world.enrol()
    world.buy(duplicate, 10)
    world.identity("member.merged", duplicate, {"survivor_id": m})
    assert world.member(m).purchase_count == 1
    assert world.member(duplicate).merged_into == uuid.UUID(m)

    world.identity("member.profile_changed", m, {"erased": True})
    world.identity("member.erased", m, {})
    row = world.member(m)
    assert row.erased and (row.first_name, row.city, row.consent_sms) == (None, None, False)


def test_the_member_view_rebuilds_to_the_same_rows(campaigns_world: CampaignsWorld) -> None:
    world = campaigns_world
    members = [str(uuid.uuid4()) for _ in range(3)]
    for i, m in enumerate(members):
        for _ in range(i + 1):
            world.buy(m, 10 * (i + 1), categories=("dairy", "bakery")[: i + 1])
    world.refund(world.buy(members[0], 50), 50)
    world.feedback.submit("F-r", members[1], 1, "")

    def snapshot() -> list[tuple]:
        rows = []
        for m in members:
            r = world.member(m)
            rows.append(
                (
                    r.purchase_count,
                    r.total_spend_minor,
                    r.refund_count,
                    r.points,
                    r.stage,
                    r.last_rating,
                    r.last_purchase_at,
                )
            )
        return rows

    before = snapshot()
    world.view.rebuild()
    assert world.view.catch_up() > 0
    assert snapshot() == before
    assert world.view.catch_up() == 0  # nothing applied twice


def test_the_reconcile_check_finds_drift(campaigns_world: CampaignsWorld) -> None:
    world = campaigns_world
    m = world.enrol()
    world.buy(m, 30)
    world.feedback.submit("F-rc", m, 2, "")
    feeds = world.view.feeds
    assert reconcile(world.database, feeds, world.rules) == []

    with world.database.write() as session:
        row = session.get(Member, uuid.UUID(m))
        assert row is not None
        row.purchase_count += 1  # a doubled event
    findings = reconcile(world.database, feeds, world.rules)
    assert len(findings) == 1 and findings[0].startswith(m)


def test_the_stage_overview_lists_the_dissatisfied_first_and_entries_per_day(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    first, second, happy = world.enrol(), world.enrol(), world.enrol()
    for m in (first, second, happy):
        world.buy(m, 10)
    world.feedback.submit("F-a", first, 1, "")
    world.clock.advance(hours=2)
    world.feedback.submit("F-b", second, 2, "")
    world.feedback.submit("F-c", happy, 5, "")

    overview = world.reports.stages()
    assert [d.member_id for d in overview.dissatisfied] == [second, first]  # newest first
    assert overview.counts["dissatisfied"] == 2 and overview.counts["satisfied"] == 1
    today = {(d.stage, d.entered) for d in overview.days}
    assert ("customer", 3) in today and ("dissatisfied", 2) in today
    became = world.members_of(
        {
            "and": [
                {"attr": "stage", "op": "eq", "value": "dissatisfied"},
                {"attr": "days_in_stage", "op": "lt", "value": 1},
            ]
        }
    )
    assert became == {first, second}


def test_the_club_figures_count_members_buyers_and_stage_moves_per_week(
    campaigns_world: CampaignsWorld,
) -> None:
    world = campaigns_world
    start = world.clock()
    old = world.enrol()
    world.buy(old, 10)
    world.clock.advance(days=7)  # week two
    regular, once = world.enrol(), world.enrol()
    world.enrol()  # never buys
    for _ in range(3):
        world.buy(regular, 10)
    world.buy(once, 10)
    world.feedback.submit("F-w", once, 1, "")
    world.clock.advance(days=200)  # nobody bought since: the buyers are lapsed by now
    world.view.refresh()

    figures = world.reports.club(start, 3)
    assert figures.members == 4
    assert (figures.buyers, figures.repeat_buyers, figures.visits) == (3, 1, 5)
    assert (figures.active_30_days, figures.active_90_days) == (0, 0)
    assert [w.new_members for w in figures.weeks] == [1, 3, 0]
    assert [w.entered["customer"] for w in figures.weeks] == [1, 2, 0]
    assert [w.entered["loyal"] for w in figures.weeks] == [0, 1, 0]
    assert [w.entered["dissatisfied"] for w in figures.weeks] == [0, 1, 0]
    lapsed = world.reports.club(world.clock() - timedelta(days=6), 1).weeks[0].entered["lapsed"]
    assert lapsed == 3  # the one who never bought was never a customer, so never lapsed
    with pytest.raises(InvalidArgument):
        world.reports.club(start, 54)
