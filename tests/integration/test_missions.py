"""Missions through the real suite: a marketer launches "3 purchases this month", the member's
third purchase completes it and points pays it once, however the till retries a purchase and
however often campaigns rebuild their member view; the member sees the progress. A mission
may give a reward of the catalog instead, and congratulate the member, once per completion
however often the completion is tried again."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from deploy.local import Suite
from tests.support import (
    Api,
    Pos,
    e164,
    eventually,
    log_in,
    member_view_caught_up,
    new_phone,
    run_check,
    sent_messages,
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


def test_a_refund_takes_back_what_its_purchase_counted_towards_a_mission(
    sqlite_suite: Suite,
) -> None:
    suite, pos = sqlite_suite, Pos(sqlite_suite)
    marketer = staff_login(suite, "marketer")
    phone = new_phone()
    member_id = pos.enrol(phone=phone)["id"]
    campaigns = {}
    for goal in ({"metric": "purchases", "target": 3}, {"metric": "spend", "target": "5000000"}):
        created = marketer.post(
            "/v1/marketing/campaigns",
            {
                "name": f"Refund-proof {goal['metric']}",
                "kind": "mission",
                "goal": goal,
                "period": "month",
                "reward_points": REWARD,
                "targeting": {"everyone": True},
            },
        )
        assert created.status_code == 201, created.text
        campaigns[goal["metric"]] = created.json()["id"]
        launched = marketer.post(f"/v1/marketing/campaigns/{created.json()['id']}/launch")
        assert launched.status_code == 200
    member = marketer.with_token(log_in(suite, phone))
    sales = [f"T-{uuid.uuid4().hex[:12]}" for _ in range(2)]
    for sale in sales:
        assert pos.purchase(member_id, sale, amount="2000000").status_code == 201
    assert eventually(lambda: my_progress(member, campaigns["purchases"]) == 2, 60)
    assert my_progress(member, campaigns["spend"]) == 4_000_000 * 100  # minor units

    pos.refund(sales[0], "2000000")  # in full: it no longer counts
    pos.refund(sales[1], "500000")  # in part: it is still a purchase, of less
    assert eventually(lambda: my_progress(member, campaigns["purchases"]) == 1, 60)
    assert eventually(lambda: my_progress(member, campaigns["spend"]) == 1_500_000 * 100, 60)
    assert not my_mission(member, campaigns["purchases"])["completed"]
    assert mission_payments(member) == []
    for campaign_id in campaigns.values():
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


def test_a_mission_naming_a_reward_the_catalog_does_not_hold_is_refused(
    sqlite_suite: Suite,
) -> None:
    """Else every completion would give nothing: the marketer hears of it as the mission is
    saved, not from its members."""
    marketer = staff_login(sqlite_suite, "marketer")
    mission = {
        "name": "A gift for five visits",
        "kind": "mission",
        "goal": {"metric": "purchases", "target": 5},
        "period": "month",
        "reward_id": str(uuid.uuid4()),
        "targeting": {"everyone": True},
    }
    refused = marketer.post("/v1/marketing/campaigns", mission)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "invalid-campaign"
    assert "reward_id" in refused.json()["detail"]

    without = {key: value for key, value in mission.items() if key != "reward_id"}
    draft = marketer.post("/v1/marketing/campaigns", {**without, "reward_points": 5})
    assert draft.status_code == 201, draft.text
    changed = marketer.put(f"/v1/marketing/campaigns/{draft.json()['id']}", mission)
    assert changed.status_code == 422 and "reward_id" in changed.json()["detail"]


def completions(suite: Suite, campaign_id: str) -> list[tuple[str, str, str | None]]:
    """The mission's completions in campaigns' own records: member, status, reward status."""
    database = Path(suite.env["LOYALTY_DATA_DIR"]) / "campaigns.db"
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT member_id, status, reward_status FROM mission_rewards WHERE campaign_id = ?",
            (uuid.UUID(campaign_id).hex,),
        ).fetchall()
    return [(str(uuid.UUID(member)), status, reward) for member, status, reward in rows]


def my_coupons(member: Api, reward_id: str) -> list[dict]:
    coupons = member.get("/v1/me/coupons").json()["items"]
    return [coupon for coupon in coupons if coupon["reward_id"] == reward_id]


def congratulations(suite: Suite, phone: str, marker: str) -> list[dict]:
    return [m for m in sent_messages(suite) if m["to"] == e164(phone) and marker in m["body"]]


def test_a_mission_gives_its_catalog_reward_free_once_and_congratulates_once(
    sqlite_suite: Suite,
) -> None:
    suite = sqlite_suite
    pos = Pos(suite)
    marketer = staff_login(suite, "marketer")
    created = marketer.post(
        "/v1/marketing/rewards",
        {
            "name": "Free coffee",
            "name_fa": "قهوه رایگان",
            "points_cost": 400,
            "stock": 1,
            "coupon": {"type": "percent", "value": "100", "max_discount": "500000"},
        },
    )
    assert created.status_code == 201, created.text
    reward_id = created.json()["id"]
    phones = [new_phone(), new_phone()]
    members = [
        pos.enrol(phone=phone, first_name="Sara", consents={"sms": True})["id"] for phone in phones
    ]
    segment = marketer.post(
        "/v1/marketing/segments", {"name": "mission pilot", "member_ids": members}
    )
    assert segment.status_code == 201, segment.text
    marker = f"done-{uuid.uuid4().hex[:6]}"
    mission = marketer.post(
        "/v1/marketing/campaigns",
        {
            "name": "First visit",
            "kind": "mission",
            "goal": {"metric": "purchases", "target": 1},
            "period": "once",
            "reward_id": reward_id,
            "congratulate": {"channel": "sms", "template": f"Well done {{first_name}}: {marker}"},
            "message": {"channel": "sms", "template": "A coffee for your next visit"},
            "targeting": {"segments": [segment.json()["id"]]},
        },
    )
    assert mission.status_code == 201, mission.text
    campaign_id = mission.json()["id"]
    # The announcement goes to the members the member view knows as consenting at launch.
    assert eventually(lambda: member_view_caught_up(marketer), 60)
    assert marketer.post(f"/v1/marketing/campaigns/{campaign_id}/launch").status_code == 200
    first, second = (marketer.with_token(log_in(suite, phone)) for phone in phones)
    # The mission is listed once the member view knows the member is in its audience.
    assert eventually(lambda: my_progress(first, campaign_id) == 0, 60)
    shown = my_mission(first, campaign_id)
    assert shown["reward_points"] == 0
    assert shown["reward"] == {
        "id": reward_id,
        "name": "Free coffee",
        "name_fa": "قهوه رایگان",
        "kind": "coupon",
    }

    assert pos.purchase(members[0]).status_code == 201
    assert eventually(
        lambda: completions(suite, campaign_id) == [(members[0], "paid", "granted")], 60
    )
    (coupon,) = my_coupons(first, reward_id)
    assert (coupon["points_spent"], coupon["status"], coupon["campaign_id"]) == (
        0,
        "issued",
        campaign_id,
    )
    assert eventually(lambda: len(congratulations(suite, phones[0], marker)) == 1, 60)
    assert congratulations(suite, phones[0], marker)[0]["body"].startswith("Well done Sara")
    balance = pos.balance(members[0])
    ledger = first.get("/v1/me/ledger").json()["items"]
    assert "redeem" not in {entry["kind"] for entry in ledger}  # no points spent

    # Campaigns loses its record of having paid (a crash between asking and recording):
    # the completion is paid again, and points and identity keep what they did once.
    database = Path(suite.env["LOYALTY_DATA_DIR"]) / "campaigns.db"
    with sqlite3.connect(database) as db:
        reset = db.execute(
            "UPDATE mission_rewards SET status = 'pending', reward_status = NULL"
            " WHERE campaign_id = ?",
            (uuid.UUID(campaign_id).hex,),
        ).rowcount
    assert reset == 1
    assert eventually(
        lambda: completions(suite, campaign_id) == [(members[0], "paid", "granted")], 60
    )
    assert [c["id"] for c in my_coupons(first, reward_id)] == [coupon["id"]]
    assert len(congratulations(suite, phones[0], marker)) == 1
    assert pos.balance(members[0]) == balance
    (reward,) = [
        r for r in marketer.get("/v1/marketing/rewards").json()["items"] if r["id"] == reward_id
    ]
    assert reward["stock"] == 0

    # The second member completes it with the stock gone: the refusal is recorded, for good,
    # and nobody is congratulated on a reward they did not get.
    assert eventually(lambda: my_progress(second, campaign_id) == 0, 60)
    assert pos.purchase(members[1]).status_code == 201
    assert eventually(lambda: len(completions(suite, campaign_id)) == 2, 60)
    assert eventually(
        lambda: (members[1], "paid", "failed-out-of-stock") in completions(suite, campaign_id),
        60,
    )
    assert my_coupons(second, reward_id) == []
    assert congratulations(suite, phones[1], marker) == []

    # The mission's own announcement is a campaign message like any other: queued at launch
    # for its audience's consenting members (sent outside the quiet hours).
    with sqlite3.connect(database) as db:
        queued = db.execute(
            "SELECT count(*) FROM messages WHERE campaign_id = ?", (uuid.UUID(campaign_id).hex,)
        ).fetchone()[0]
    assert queued == 2
    assert run_check(suite.env).returncode == 0
    assert marketer.post(f"/v1/marketing/campaigns/{campaign_id}/end").status_code == 200
