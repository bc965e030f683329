"""Missions' periods and goals: which period a moment falls in and when it ends, in the
mission's time zone, and the goals a marketer may set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.campaigns.definitions import check_new, parse
from services.campaigns.missions import period_end, period_key
from services.runtime.errors import InvalidArgument

TEHRAN = "Asia/Tehran"


def mission(**changes: object) -> dict:
    return {
        "name": "Three visits",
        "kind": "mission",
        "goal": {"metric": "purchases", "target": 3},
        "period": "month",
        "reward_points": 500,
        "targeting": {"everyone": True},
        **changes,
    }


def test_a_moment_late_on_the_last_evening_of_a_month_in_utc_is_next_month_in_tehran() -> None:
    moment = datetime(2026, 11, 30, 21, 0, tzinfo=UTC)  # 00:30 on 1 December in Tehran
    assert period_key("month", moment, "UTC") == "2026-11"
    assert period_key("month", moment, TEHRAN) == "2026-12"
    ends = period_end("month", moment, TEHRAN)
    assert ends is not None and (ends.year, ends.month, ends.day) == (2027, 1, 1)
    assert ends.utcoffset() is not None and ends.utcoffset().total_seconds() == 3.5 * 3600


def test_weeks_run_monday_to_sunday_and_december_ends_on_the_first_of_january() -> None:
    sunday = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    monday = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert period_key("week", sunday, "UTC") != period_key("week", monday, "UTC")
    assert period_end("week", sunday, "UTC") == datetime(2026, 12, 7, tzinfo=UTC)
    assert period_end("month", monday, "UTC") == datetime(2027, 1, 1, tzinfo=UTC)
    assert (period_key("once", monday, "UTC"), period_end("once", monday, "UTC")) == ("once", None)


def test_a_spend_goal_is_an_amount_and_a_category_goal_names_its_category() -> None:
    spend = parse(mission(goal={"metric": "spend", "target": "5000000"}), "IRR", "UTC")
    assert spend.mission is not None and spend.mission.target > 0
    category = parse(
        mission(goal={"metric": "category_purchases", "target": 2, "category": "Dairy"}),
        "IRR",
        "UTC",
    )
    assert category.mission is not None and category.mission.category == "dairy"


@pytest.mark.parametrize(
    ("changes", "culprit"),
    [
        ({"goal": {"metric": "steps", "target": 3}}, "goal.metric"),
        ({"goal": {"metric": "purchases", "target": 0}}, "goal.target"),
        ({"goal": {"metric": "category_purchases", "target": 2}}, "goal.category"),
        ({"goal": {"metric": "purchases", "target": 2, "category": "dairy"}}, "goal.category"),
        ({"period": "year"}, "period"),
        ({"reward_points": 0}, "reward_points"),
        ({"goal": None}, "goal"),
    ],
)
def test_a_mission_that_cannot_be_counted_or_paid_is_refused(changes: dict, culprit: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        parse(mission(**changes), "IRR", "UTC")
    assert refused.value.detail.startswith(f"{culprit}:")


def test_a_mission_may_give_a_catalog_reward_instead_of_or_besides_points() -> None:
    reward = "0b9e4c1e-8f7a-4d2b-9c3e-5a6f7b8c9d0e"
    only = parse(mission(reward_points=None, reward_id=reward), "IRR", "UTC").mission
    assert only is not None and (only.reward_points, only.reward_id) == (0, reward)
    both = parse(mission(reward_id=reward.upper()), "IRR", "UTC").mission
    assert both is not None and (both.reward_points, both.reward_id) == (500, reward)


@pytest.mark.parametrize(
    ("changes", "culprit"),
    [
        ({"reward_points": None}, "reward_points"),
        ({"reward_id": "a free coffee"}, "reward_id"),
        ({"congratulate": {"channel": "fax", "template": "Well done"}}, "congratulate.channel"),
        ({"congratulate": {"channel": "sms", "template": ""}}, "congratulate.template"),
        ({"congratulate": {"channel": "sms", "template": "Hi {phone}"}}, "congratulate.template"),
    ],
)
def test_a_mission_that_gives_nothing_or_cannot_say_so_is_refused(
    changes: dict, culprit: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        check_new(parse(mission(**changes), "IRR", "UTC"))
    assert refused.value.detail.startswith(f"{culprit}:")


def test_a_mission_carries_its_congratulation() -> None:
    found = parse(
        mission(congratulate={"channel": "sms", "template": "Well done {first_name}!"}),
        "IRR",
        "UTC",
    )
    check_new(found)
    assert found.mission is not None and found.mission.congratulate is not None
    assert found.mission.congratulate.channel == "sms"
