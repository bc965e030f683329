"""Segment rules select exactly the members they describe, in the database; a bad rule is
refused with the path of the node at fault, and so is one beyond what the database can hold or
run; a preview never shows one member."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest
from sqlalchemy import event, select, update

from services.campaigns.definitions import MAX_SEGMENTS
from services.campaigns.models import Member, Segment
from services.campaigns.rules import MAX_CONDITIONS, MAX_LIST, MAX_VALUES
from services.campaigns.segments import PREVIEW_MINIMUM
from services.runtime.errors import InvalidArgument
from tests.campaigns_support import CampaignsWorld


def test_rules_select_by_profile_purchases_and_feedback(campaigns_world: CampaignsWorld) -> None:
    world = campaigns_world
    tehran = world.enrol(city="Tehran", birth_date="1990-03-14", consents={"sms": True})
    shiraz = world.enrol(city="Shiraz", birth_date="1985-11-02")
    idle = world.enrol(city="tehran")
    world.buy(tehran, 200, categories=("dairy", "bakery"))
    world.buy(shiraz, 50, categories=("dairy",))
    world.clock.advance(days=40)
    world.buy(shiraz, 10)
    world.feedback.submit("F-s", shiraz, 1, "")

    assert world.members_of({"attr": "city", "op": "eq", "value": "TEHRAN"}) == {tehran, idle}
    assert world.members_of({"attr": "stage", "op": "eq", "value": "potential"}) == {idle}
    assert world.members_of({"attr": "stage", "op": "in", "value": ["dissatisfied"]}) == {shiraz}
    assert world.members_of(
        {"attr": "categories", "op": "all_of", "value": ["Dairy", "bakery"]}
    ) == {tehran}
    assert world.members_of({"attr": "categories", "op": "none_of", "value": ["bakery"]}) == {
        shiraz,
        idle,
    }
    # 200 points at 1 per 10,000 IRR is 2,000,000 IRR
    assert world.members_of({"attr": "total_spend", "op": "gte", "value": "2000000"}) == {tehran}
    assert world.members_of({"attr": "days_since_last_purchase", "op": "gt", "value": 30}) == {
        tehran
    }
    assert world.members_of({"attr": "birthday_month", "op": "eq", "value": 11}) == {shiraz}
    assert world.members_of({"attr": "consent_sms", "op": "eq", "value": True}) == {tehran}
    assert world.members_of(
        {
            "or": [
                {"attr": "purchase_count", "op": "between", "value": [2, 5]},
                {"not": {"attr": "city", "op": "in", "value": ["tehran", "shiraz"]}},
            ]
        },
    ) == {shiraz}


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ([], "rule: must be an object"),
        ({"and": []}, "rule.and: must be a non-empty list"),
        ({"and": [{"attr": "city", "op": "eq", "value": "x"}, {"attr": "age"}]}, "rule.and[1]"),
        (
            {"or": [{"not": {"attr": "stage", "op": "eq", "value": "happy"}}]},
            "rule.or[0].not.value",
        ),
        ({"attr": "city", "op": "gt", "value": "a"}, "rule.op"),
        ({"attr": "total_spend", "op": "gte", "value": "-5"}, "rule.value"),
        ({"attr": "purchase_count", "op": "between", "value": [1, "x"]}, "rule.value[1]"),
        ({"attr": "categories", "op": "any_of", "value": "dairy"}, "rule.value"),
        ({"attr": "consent_sms", "op": "eq", "value": "yes"}, "rule.value"),
        ({"attr": "city", "op": "eq", "value": "x", "extra": 1}, "rule: unknown key `extra`"),
    ],
)
def test_a_bad_rule_is_refused_with_its_path(
    campaigns_world: CampaignsWorld, rule: object, path: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        campaigns_world.segments.preview(rule=rule)
    assert refused.value.code == "invalid-rule"
    assert refused.value.detail.startswith(path), refused.value.detail


def test_a_static_segment_holds_the_uploaded_members(campaigns_world: CampaignsWorld) -> None:
    world = campaigns_world
    a, b, c = world.enrol(), world.enrol(), world.enrol()
    segment = world.segments.create("VIPs", member_ids=[a, c, a])
    with world.database.read() as session:
        condition = world.segments.condition(session, segment.id)
        listed = {str(m) for m in session.scalars(select(Member.member_id).where(condition))}
    assert listed == {a, c}
    with pytest.raises(InvalidArgument):
        world.segments.create("bad", member_ids=[b, "not-an-id"])


TOO_BIG = 12345678901234567890123  # 23 digits


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ({"attr": "purchase_count", "op": "gt", "value": TOO_BIG}, "rule.value"),
        (
            {
                "and": [
                    {"attr": "city", "op": "eq", "value": "x"},
                    {"attr": "points", "op": "lt", "value": 2**63},
                ]
            },
            "rule.and[1].value",
        ),
        ({"attr": "refund_count", "op": "in", "value": [1, 2**31]}, "rule.value[1]"),
        ({"attr": "rfm_r", "op": "between", "value": [1, 40000]}, "rule.value[1]"),
        ({"attr": "last_rating", "op": "eq", "value": -(2**15) - 1}, "rule.value"),
        ({"attr": "days_since_last_purchase", "op": "gt", "value": 10**9}, "rule.value"),
        ({"attr": "days_in_stage", "op": "between", "value": [0, 36501]}, "rule.value[1]"),
        ({"attr": "total_spend", "op": "gte", "value": str(TOO_BIG)}, "rule.value"),
        (
            {"or": [{"attr": "city", "op": "in", "value": [f"c{i}" for i in range(MAX_LIST)]}] * 3},
            "rule.or[2].value: a rule holds at most",
        ),
        (
            {"or": [{"attr": "purchase_count", "op": "eq", "value": i} for i in range(1000)]},
            f"rule.or[{MAX_CONDITIONS}].value: a rule holds at most {MAX_CONDITIONS} conditions",
        ),
    ],
)
def test_a_value_out_of_range_is_refused_before_it_reaches_the_database(
    campaigns_world: CampaignsWorld, rule: object, path: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        campaigns_world.segments.preview(rule=rule)
    assert refused.value.code == "invalid-rule"
    assert refused.value.detail.startswith(path), refused.value.detail
    with pytest.raises(InvalidArgument):
        campaigns_world.segments.create("extreme", rule=rule)


def largest_rule(salt: int) -> dict:
    """A rule at the limits: as many conditions and values as a rule may hold."""
    compares = [
        {"attr": "days_since_enrolled", "op": "ne", "value": 36500 - i}
        for i in range(MAX_CONDITIONS - 3)
    ]
    left = MAX_VALUES - 2 * len(compares) - 2 * MAX_LIST
    lists = [
        {"attr": "city", "op": "not_in", "value": [f"town{salt}-{i}-{j}" for j in range(MAX_LIST)]}
        for i in range(2)
    ]
    lists.append({"attr": "tier", "op": "not_in", "value": [f"tier{j}" for j in range(left)]})
    return {"and": [{"or": compares}, {"and": lists}]}


def hold_sqlite_to_its_default_limits(world: CampaignsWorld) -> None:
    """SQLite builds differ in how many values a statement may bind; hold this one to the
    default, 32766."""
    engine = world.database.engine
    if engine.dialect.name != "sqlite":
        return
    engine.dispose()

    @event.listens_for(engine, "connect")
    def limit(connection: sqlite3.Connection, _record: object) -> None:
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32766)


def test_the_largest_rules_run_even_ten_to_a_campaign(campaigns_world: CampaignsWorld) -> None:
    world = campaigns_world
    hold_sqlite_to_its_default_limits(world)
    members = {world.enrol(city="Yazd") for _ in range(3)}
    over = [{"attr": "city", "op": "in", "value": [f"c{i}" for i in range(MAX_LIST)]}] * 33
    with pytest.raises(InvalidArgument) as refused:  # once answered 500: too many SQL variables
        world.segments.preview(rule={"or": over})
    assert refused.value.code == "invalid-rule"

    assert world.members_of(largest_rule(0)) == members
    segments = [
        world.segments.create(f"wide {i}", rule=largest_rule(i)).id for i in range(MAX_SEGMENTS)
    ]
    campaign = world.launch(kind="fixed_bonus", points=5, targeting={"segments": segments})
    assert world.reports.campaign(campaign).audience == 3
    with pytest.raises(InvalidArgument) as refused:
        world.launch(kind="fixed_bonus", points=5, targeting={"segments": [*segments, segments[0]]})
    assert refused.value.detail.startswith("targeting.segments: at most")


def test_a_preview_shows_no_single_member(campaigns_world: CampaignsWorld) -> None:
    world = campaigns_world
    target = world.enrol(city="Kashan", first_name="Target", birth_date="1990-03-14")
    world.buy(target, 700)
    others = [world.enrol(city="Kashan", first_name="Other") for _ in range(PREVIEW_MINIMUM)]

    # Narrowed around one member, a rule tells nothing: not whether she matches, nor who.
    around = [
        {"attr": "city", "op": "eq", "value": "Kashan"},
        {"attr": "birthday_month", "op": "eq", "value": 3},
    ]
    for spend in ("7000000", "9000000"):
        rule = {"and": [*around, {"attr": "total_spend", "op": "gte", "value": spend}]}
        narrowed = world.segments.preview(rule=rule)
        assert narrowed.size is None and narrowed.fewer_than == PREVIEW_MINIMUM
        assert narrowed.sample == []
    static = world.segments.create("one", member_ids=[target])
    assert world.segments.preview(segment_id=static.id).size is None

    # An audience of the minimum or more has its size, and a sample of stage and tier alone.
    town = world.segments.preview(rule=around[0])
    assert town.size == len(others) + 1 and town.fewer_than is None
    assert {(s.stage, s.tier) for s in town.sample} == {
        ("potential", "member"),
        ("customer", "member"),
    }
    assert not any(hasattr(s, "member_id") or hasattr(s, "first_name") for s in town.sample)


def test_a_purchase_is_answered_when_a_stored_rule_cannot_be_evaluated(
    campaigns_world: CampaignsWorld,
) -> None:
    """A rule stored before values were bounded (23 digits) no longer fails every purchase:
    its campaign is skipped, the others still give their bonus."""
    world = campaigns_world
    member = world.enrol()
    segment = world.segments.create(
        "buyers", rule={"attr": "purchase_count", "op": "gte", "value": 0}
    )
    world.launch(kind="fixed_bonus", points=7, targeting={"segments": [segment.id]})
    planted = {"attr": "purchase_count", "op": "lt", "value": TOO_BIG}
    with world.database.write() as session:
        session.execute(
            update(Segment)
            .where(Segment.id == uuid.UUID(segment.id))
            .values(rule=json.dumps(planted))
        )
    everyone = world.launch(kind="fixed_bonus", points=5)

    bonuses = world.evaluate(member)
    assert [(b.campaign_id, b.points) for b in bonuses] == [(everyone, 5)]
