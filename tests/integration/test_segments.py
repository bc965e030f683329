"""Segment rules select exactly the members they describe, in the database; a bad rule is
refused with the path of the node at fault."""

from __future__ import annotations

import pytest

from services.runtime.errors import InvalidArgument
from tests.campaigns_support import CampaignsWorld


def members_of(world: CampaignsWorld, rule: dict) -> set[str]:
    preview = world.segments.preview(rule=rule)
    assert preview.size == len(preview.sample)  # small worlds: the sample is everyone
    return {s.member_id for s in preview.sample}


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

    assert members_of(world, {"attr": "city", "op": "eq", "value": "TEHRAN"}) == {tehran, idle}
    assert members_of(world, {"attr": "stage", "op": "eq", "value": "potential"}) == {idle}
    assert members_of(world, {"attr": "stage", "op": "in", "value": ["dissatisfied"]}) == {shiraz}
    assert members_of(
        world, {"attr": "categories", "op": "all_of", "value": ["Dairy", "bakery"]}
    ) == {tehran}
    assert members_of(world, {"attr": "categories", "op": "none_of", "value": ["bakery"]}) == {
        shiraz,
        idle,
    }
    # 200 points at 1 per 10,000 IRR is 2,000,000 IRR
    assert members_of(world, {"attr": "total_spend", "op": "gte", "value": "2000000"}) == {tehran}
    assert members_of(world, {"attr": "days_since_last_purchase", "op": "gt", "value": 30}) == {
        tehran
    }
    assert members_of(world, {"attr": "birthday_month", "op": "eq", "value": 11}) == {shiraz}
    assert members_of(world, {"attr": "consent_sms", "op": "eq", "value": True}) == {tehran}
    assert members_of(
        world,
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
    preview = world.segments.preview(segment_id=segment.id)
    assert preview.size == 2
    assert {s.member_id for s in preview.sample} == {a, c}
    with pytest.raises(InvalidArgument):
        world.segments.create("bad", member_ids=[b, "not-an-id"])
