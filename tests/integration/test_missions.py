"""Missions through the real suite: a marketer launches "3 purchases this month", the member's
third purchase completes it and points pays it once, however the till retries a purchase and
however often campaigns rebuild their member view; the member sees the progress."""

from __future__ import annotations

from deploy.local import Suite
from tests.support import (
    Api,
    Pos,
    eventually,
    log_in,
    member_view_caught_up,
    new_phone,
    run_check,
    staff_login,
)

REWARD = 700


def mission_payments(member: Api) -> list[dict]:
    entries = member.get("/v1/me/ledger").json()["items"]
    return [e for e in entries if e["kind"] == "mission"]


def my_mission(member: Api, campaign_id: str) -> dict:
    items = member.get("/v1/me/missions").json()["items"]
    (found,) = [item for item in items if item["id"] == campaign_id]
    return found


def my_progress(member: Api, campaign_id: str) -> int | None:
    """The mission's progress, None while the member view has not read the member yet."""
    items = member.get("/v1/me/missions").json()["items"]
    found = [item["progress"] for item in items if item["id"] == campaign_id]
    return found[0] if found else None


def test_three_purchases_this_month_complete_the_mission_and_pay_once(
    sqlite_suite: Suite,
) -> None:
    suite = sqlite_suite
    pos = Pos(suite)
    marketer = staff_login(suite, "marketer")
    phone = new_phone()
    member_id = pos.enrol(phone=phone)["id"]
    created = marketer.post(
        "/v1/marketing/campaigns",
        {
            "name": "Three visits in a month",
            "kind": "mission",
            "goal": {"metric": "purchases", "target": 3},
            "period": "month",
            "reward_points": REWARD,
            "targeting": {"everyone": True},
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    assert marketer.post(f"/v1/marketing/campaigns/{campaign_id}/launch").status_code == 200
    member = marketer.with_token(log_in(suite, phone))

    first = pos.purchase(member_id, "T-mission-1-" + member_id[:8])
    assert first.status_code in (200, 201), first.text
    retried = pos.purchase(member_id, "T-mission-1-" + member_id[:8])  # the till retries
    assert retried.status_code in (200, 201), retried.text
    assert pos.purchase(member_id).status_code in (200, 201)
    # The member view reads the events in the background (on PostgreSQL an event shows in the
    # feed once every transaction before it has ended).
    assert eventually(lambda: my_progress(member, campaign_id) == 2, 60)
    assert eventually(lambda: member_view_caught_up(marketer), 60)
    progress = my_mission(member, campaign_id)
    assert (progress["progress"], progress["target"], progress["completed"]) == (2, 3, False)
    assert progress["period_ends_at"] is not None
    assert mission_payments(member) == []

    assert pos.purchase(member_id).status_code in (200, 201)
    assert eventually(lambda: my_mission(member, campaign_id)["completed"], 60)
    assert eventually(lambda: len(mission_payments(member)) == 1, 60)
    (paid,) = mission_payments(member)
    assert paid["points"] == REWARD
    balance = pos.balance(member_id)

    # The member view is rebuilt from the first event: the purchases count again towards
    # nothing new, and nothing is paid twice.
    rebuilt = suite.run_module("services.campaigns", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert eventually(lambda: member_view_caught_up(marketer), 60)
    assert eventually(lambda: my_progress(member, campaign_id) == 3, 60)
    assert my_mission(member, campaign_id)["completed"]
    assert len(mission_payments(member)) == 1
    assert pos.balance(member_id) == balance

    report = marketer.get(f"/v1/marketing/campaigns/{campaign_id}/report").json()
    assert report["missions_started"] >= 1
    assert report["missions_completed"] >= 1
    assert report["mission_points_paid"] >= REWARD
    assert run_check(suite.env).returncode == 0
    # The suite is shared: a mission left running would pay other tests' members.
    assert marketer.post(f"/v1/marketing/campaigns/{campaign_id}/end").status_code == 200


def test_a_mission_without_its_goal_is_refused(sqlite_suite: Suite) -> None:
    marketer = staff_login(sqlite_suite, "marketer")
    answer = marketer.post(
        "/v1/marketing/campaigns",
        {
            "name": "No goal",
            "kind": "mission",
            "period": "week",
            "reward_points": 10,
            "targeting": {"everyone": True},
        },
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid-campaign"
    assert "goal" in answer.json()["detail"]
