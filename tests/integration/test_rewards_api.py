"""Rewards and coupons through the gateway, as marketers, members, tills and support call them,
on SQLite and PostgreSQL; and the races of the done-when list on PostgreSQL."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from deploy.local import Suite
from tests.support import Api, Pos, log_in, new_phone, run_check, staff_login

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def member_with_points(pos: Pos, points: int) -> tuple[dict, Api]:
    """An enrolled member with `points` available, and their own session."""
    phone = new_phone()
    member = pos.enrol(phone=phone)
    if points:
        bought = pos.purchase(member["id"], amount=str(points * 10000))
        assert bought.status_code == 201, bought.text
    return member, pos.api.with_token(log_in(pos_suite(pos), phone))


def pos_suite(pos: Pos) -> Suite:
    return pos.suite  # type: ignore[attr-defined]


@pytest.fixture
def shop(suite: Suite) -> Pos:
    pos = Pos(suite)
    pos.suite = suite  # type: ignore[attr-defined]
    return pos


def new_reward(marketer: Api, **fields: object) -> dict:
    body = {
        "name": "10% off",
        "name_fa": "۱۰٪ تخفیف",
        "points_cost": 100,
        "valid_days": 30,
        "coupon": {"type": "percent", "value": "10", "max_discount": "500000"},
        **fields,
    }
    body = {name: value for name, value in body.items() if value is not None}
    created = marketer.post("/v1/marketing/rewards", body)
    assert created.status_code == 201, created.text
    return created.json()


def test_a_member_redeems_a_reward_and_a_till_uses_the_coupon_once(suite: Suite, shop: Pos) -> None:
    marketer = staff_login(suite, "marketer")
    bad = marketer.post("/v1/marketing/rewards", {"name": "x", "points_cost": 0})
    assert bad.status_code in (400, 422)
    no_coupon = marketer.post("/v1/marketing/rewards", {"name": "x", "points_cost": 5})
    assert (no_coupon.status_code, no_coupon.json()["code"]) == (422, "invalid-coupon")
    reward = new_reward(marketer, stock=5, per_member_limit=1)
    member, me = member_with_points(shop, 250)

    assert reward["id"] in {r["id"] for r in me.get("/v1/me/rewards").json()["items"]}
    redeemed = me.post(f"/v1/me/rewards/{reward['id']}/redemptions", {"request_id": "r-1"})
    assert redeemed.status_code == 201, redeemed.text
    again = me.post(f"/v1/me/rewards/{reward['id']}/redemptions", {"request_id": "r-1"})
    assert (again.status_code, again.json()) == (201, redeemed.json())
    answer = redeemed.json()
    assert (answer["points_spent"], answer["balance"]["available"]) == (100, 150)
    coupon = answer["coupon"]
    assert coupon["status"] == "issued" and len(coupon["code"]) == 10
    limit = me.post(f"/v1/me/rewards/{reward['id']}/redemptions", {"request_id": "r-2"})
    assert (limit.status_code, limit.json()["code"]) == (409, "reward-limit-reached")
    listed = me.get("/v1/me/coupons").json()["items"]
    assert [c["code"] for c in listed] == [coupon["code"]]

    code = coupon["code"]
    typed = f"{code[:3]} {code[3:6]}-{code[6:]}".lower().translate(PERSIAN)
    checked = shop.api.get(f"/v1/coupons/{typed}", params={"amount": "2000000"})
    assert checked.status_code == 200, checked.text
    assert (checked.json()["usable"], checked.json()["discount_amount"]) == (True, "200000.00")
    assert checked.json()["code"] == code
    missing = shop.api.get("/v1/coupons/ABCDEFGHJK")
    assert (missing.status_code, missing.json()["code"]) == (404, "coupon-not-found")

    sale = {"transaction_id": "T-coupon-1", "amount": "2000000", "currency": "IRR"}
    used = shop.api.post(f"/v1/coupons/{typed}/redemptions", sale)
    assert used.status_code == 201, used.text
    assert (used.json()["status"], used.json()["discount"]) == ("used", "200000.00")
    assert shop.api.post(f"/v1/coupons/{code}/redemptions", sale).json() == used.json()
    other_store = Pos(suite)
    elsewhere = other_store.api.post(
        f"/v1/coupons/{code}/redemptions", {**sale, "transaction_id": "T-9"}
    )
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (409, "coupon-used")
    not_theirs = other_store.api.request("DELETE", f"/v1/coupons/{code}/redemptions/T-coupon-1")
    assert (not_theirs.status_code, not_theirs.json()["code"]) == (409, "coupon-not-released")
    released = shop.api.request("DELETE", f"/v1/coupons/{code}/redemptions/T-coupon-1")
    assert (released.status_code, released.json()["status"]) == (200, "issued")

    support = staff_login(suite, "support")
    cancelled = support.post(f"/v1/support/coupons/{code}/cancellation", {"reason": "asked"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["coupon"]["status"] == "cancelled"
    assert support.get(f"/v1/support/members/{member['id']}/coupons").json()["items"][0][
        "status"
    ] == ("cancelled")

    figures = next(
        r for r in marketer.get("/v1/marketing/rewards").json()["items"] if r["id"] == reward["id"]
    )["figures"]
    assert (figures["issued"], figures["cancelled"], figures["points_spent"]) == (1, 1, 100)
    today = datetime.now(UTC).date().isoformat()
    report = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"]).get(
        "/v1/admin/reports/points", params={"from": today, "to": today}
    )
    assert report.json()["days"][-1]["rewards"] >= 100
    assert "coupons_outstanding" in report.json()


def test_a_member_without_the_points_gets_nothing(suite: Suite, shop: Pos) -> None:
    marketer = staff_login(suite, "marketer")
    reward = new_reward(marketer, stock=1)
    _member, me = member_with_points(shop, 99)
    refused = me.post(f"/v1/me/rewards/{reward['id']}/redemptions", {"request_id": "r-1"})
    assert (refused.status_code, refused.json()["code"]) == (422, "insufficient-points")
    assert me.get("/v1/me/coupons").json()["items"] == []
    paused = marketer.request(
        "PATCH", f"/v1/marketing/rewards/{reward['id']}", json={"status": "paused"}
    )
    assert paused.json()["status"] == "paused"
    assert reward["id"] not in {r["id"] for r in me.get("/v1/me/rewards").json()["items"]}


def test_partner_codes_are_uploaded_with_duplicates_reported(suite: Suite, shop: Pos) -> None:
    marketer = staff_login(suite, "marketer")
    reward = new_reward(marketer, kind="partner_code", coupon=None, name="Cinema")
    path = f"/v1/marketing/rewards/{reward['id']}/codes"
    first = marketer.post(path, {"codes": ["CIN-1", "cin-2", "CIN-1"]})
    assert first.json() == {"added": 2, "duplicates": ["CIN-1"]}
    second = marketer.post(path, {"csv": "code\nCIN-2\nCIN-3\n"})
    assert second.json() == {"added": 1, "duplicates": ["CIN-2"]}
    _member, me = member_with_points(shop, 100)
    got = me.post(f"/v1/me/rewards/{reward['id']}/redemptions", {"request_id": "r-1"})
    assert got.status_code == 201, got.text
    # As the partner wrote it: the partner, not the till, reads it.
    assert got.json()["coupon"]["partner_code"] in {"CIN-1", "cin-2", "CIN-3"}
    not_discount = shop.api.get(f"/v1/coupons/{got.json()['coupon']['code']}")
    assert not_discount.json()["reason"] == "coupon-not-redeemable"


# The done-when races, on PostgreSQL, where rows are locked rather than the whole database.


@pytest.fixture
def pg_shop(postgres_suite: Suite) -> Pos:
    pos = Pos(postgres_suite)
    pos.suite = postgres_suite  # type: ignore[attr-defined]
    return pos


def test_thirty_members_race_for_ten_in_stock(postgres_suite: Suite, pg_shop: Pos) -> None:
    marketer = staff_login(postgres_suite, "marketer")
    reward = new_reward(marketer, stock=10, points_cost=70)
    members = [member_with_points(pg_shop, 100) for _ in range(30)]

    def redeem(entry: tuple[dict, Api]) -> tuple[str, int, dict]:
        member, me = entry
        answer = me.post(f"/v1/me/rewards/{reward['id']}/redemptions", {"request_id": "race"})
        return member["id"], answer.status_code, answer.json()

    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(redeem, members))
    winners = [member_id for member_id, status, _ in results if status == 201]
    losers = [(member_id, body["code"]) for member_id, status, body in results if status != 201]
    assert len(winners) == 10
    assert {code for _, code in losers} == {"out-of-stock"}
    codes = {body["coupon"]["code"] for _, status, body in results if status == 201}
    assert len(codes) == 10
    for member_id, status, _ in results:
        spent = 100 - pg_shop.balance(member_id)["available"]
        assert spent == (70 if status == 201 else 0)
    figures = next(
        r for r in marketer.get("/v1/marketing/rewards").json()["items"] if r["id"] == reward["id"]
    )["figures"]
    assert (figures["issued"], figures["points_spent"], figures["stock_left"]) == (10, 700, 0)
    checked = run_check(postgres_suite.env)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_one_member_racing_for_a_reward_limited_to_two_gets_two(
    postgres_suite: Suite, pg_shop: Pos
) -> None:
    marketer = staff_login(postgres_suite, "marketer")
    reward = new_reward(marketer, per_member_limit=2, points_cost=10)
    member, me = member_with_points(pg_shop, 100)

    def redeem(n: int) -> tuple[int, str]:
        answer = me.post(f"/v1/me/rewards/{reward['id']}/redemptions", {"request_id": f"r{n}"})
        return answer.status_code, answer.json().get("code", "")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(redeem, range(8)))
    assert sorted(results).count((201, "")) == 2
    assert {code for status, code in results if status != 201} == {"reward-limit-reached"}
    assert len(me.get("/v1/me/coupons").json()["items"]) == 2
    assert pg_shop.balance(member["id"])["available"] == 80


def test_six_tills_of_two_stores_use_one_coupon_at_once(
    postgres_suite: Suite, pg_shop: Pos
) -> None:
    marketer = staff_login(postgres_suite, "marketer")
    reward = new_reward(marketer, coupon={"type": "amount", "value": "50000"})
    _member, me = member_with_points(pg_shop, 100)
    redeemed = me.post(f"/v1/me/rewards/{reward['id']}/redemptions", {"request_id": "r"})
    code = redeemed.json()["coupon"]["code"]
    stores = [pg_shop, Pos(postgres_suite)]

    def use(n: int):
        body = {"transaction_id": f"T-{n}-{uuid.uuid4().hex[:6]}", "amount": "300000"}
        return body, stores[n % 2].api.post(f"/v1/coupons/{code}/redemptions", body)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(use, range(6)))
    won = [(n, body, r) for n, (body, r) in enumerate(results) if r.status_code == 201]
    assert len(won) == 1
    assert {r.json()["code"] for _, r in results if r.status_code != 201} == {"coupon-used"}
    n, body, answer = won[0]
    assert answer.json()["discount"] == "50000.00"
    retry = stores[n % 2].api.post(f"/v1/coupons/{code}/redemptions", body)
    assert (retry.status_code, retry.json()) == (201, answer.json())


def test_a_reward_shown_to_a_segment_is_seen_and_redeemed_by_its_members_only(
    suite: Suite, shop: Pos
) -> None:
    marketer = staff_login(suite, "marketer")
    inside, me_inside = member_with_points(shop, 100)
    _outside, me_outside = member_with_points(shop, 100)
    segment = marketer.post(
        "/v1/marketing/segments", {"name": "vip list", "member_ids": [inside["id"]]}
    )
    assert segment.status_code == 201, segment.text
    reward = new_reward(marketer, visibility={"segment_ids": [segment.json()["id"]]})
    assert reward["id"] in {r["id"] for r in me_inside.get("/v1/me/rewards").json()["items"]}
    assert reward["id"] not in {r["id"] for r in me_outside.get("/v1/me/rewards").json()["items"]}
    hidden = me_outside.post(f"/v1/me/rewards/{reward['id']}/redemptions", {"request_id": "r"})
    assert (hidden.status_code, hidden.json()["code"]) == (404, "reward-not-found")
    seen = me_inside.post(f"/v1/me/rewards/{reward['id']}/redemptions", {"request_id": "r"})
    assert seen.status_code == 201, seen.text
