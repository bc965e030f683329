"""Redemptions and refunds through the POS API, as integrators call them."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from deploy.local import Suite
from tests.support import Pos


def funded_member(pos: Pos, points: int) -> dict:
    member = pos.enrol()
    bought = pos.purchase(member["id"], amount=str(points * 10000))
    assert bought.status_code == 201, bought.text
    return member


def test_hold_then_capture_spends_the_points(pos: Pos) -> None:
    member = funded_member(pos, 100)
    held = pos.api.post(
        "/v1/redemptions", {"redemption_id": "RD-1", "member_id": member["id"], "points": 40}
    )
    assert held.status_code == 201, held.text
    assert held.json()["status"] == "held"
    assert held.json()["balance"] == {"available": 60, "pending": 0}
    assert pos.balance(member["id"])["held"] == 40

    captured = pos.api.post("/v1/redemptions/RD-1/capture")
    assert (captured.status_code, captured.json()["status"]) == (200, "captured")
    points = pos.balance(member["id"])
    assert (points["available"], points["held"]) == (60, 0)
    assert points["available_value"] == "6000.00"  # 60 points at POINTS_VALUE 100
    void_after = pos.api.post("/v1/redemptions/RD-1/void")
    assert (void_after.status_code, void_after.json()["code"]) == (409, "redemption-captured")


def test_void_gives_the_points_back(pos: Pos) -> None:
    member = funded_member(pos, 100)
    body = {"redemption_id": "RD-v", "member_id": member["id"], "points": 70}
    pos.api.post("/v1/redemptions", body)
    voided = pos.api.post("/v1/redemptions/RD-v/void")
    assert (voided.status_code, voided.json()["status"]) == (200, "voided")
    assert pos.balance(member["id"])["available"] == 100
    late = pos.api.post("/v1/redemptions/RD-v/capture")
    assert (late.status_code, late.json()["code"]) == (409, "redemption-voided")


def test_paying_with_points_captures_at_once(pos: Pos) -> None:
    member = funded_member(pos, 100)
    paid = pos.api.post(
        "/v1/redemptions",
        {"redemption_id": "RD-pay", "member_id": member["id"], "points": 100, "capture": True},
    )
    assert (paid.status_code, paid.json()["status"]) == (201, "captured")
    assert pos.balance(member["id"])["available"] == 0


def test_redeeming_more_than_available_is_422_and_holds_nothing(pos: Pos) -> None:
    member = funded_member(pos, 10)
    refused = pos.api.post(
        "/v1/redemptions", {"redemption_id": "RD-big", "member_id": member["id"], "points": 11}
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "insufficient-points")
    assert pos.balance(member["id"])["available"] == 10
    assert pos.balance(member["id"])["held"] == 0


def test_a_retried_redemption_is_held_once(pos: Pos) -> None:
    member = funded_member(pos, 100)
    body = {"redemption_id": "RD-r", "member_id": member["id"], "points": 30}
    first, again = pos.api.post("/v1/redemptions", body), pos.api.post("/v1/redemptions", body)
    assert again.json() == first.json()
    assert pos.balance(member["id"])["available"] == 70
    clash = pos.api.post("/v1/redemptions", {**body, "points": 31})
    assert (clash.status_code, clash.json()["code"]) == (422, "idempotency-mismatch")


def test_bad_redemptions_are_refused(pos: Pos) -> None:
    member = funded_member(pos, 10)
    mine, nobody = member["id"], str(uuid.uuid4())
    for rid, who, points, status, code in (
        ("x", mine, 0, 400, "invalid-request"),
        ("x", mine, "5", 400, "invalid-request"),
        ("x", nobody, 5, 422, "unknown-member"),
        ("a b", mine, 5, 422, "invalid-redemption-id"),
    ):
        body = {"redemption_id": rid, "member_id": who, "points": points}
        response = pos.api.post("/v1/redemptions", body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    missing = pos.api.post("/v1/redemptions/nothing-here/capture")
    assert (missing.status_code, missing.json()["code"]) == (404, "redemption-not-found")
    assert pos.balance(member["id"])["available"] == 10


def test_a_partial_refund_takes_back_its_share_of_the_points(pos: Pos) -> None:
    member = pos.enrol()
    pos.purchase(member["id"], "T-ref", amount="1000000")  # 100 points
    refund = pos.api.post("/v1/purchases/T-ref/refunds", {"refund_id": "RF-1", "amount": "250000"})
    assert refund.status_code == 201, refund.text
    assert refund.json()["points_reversed"] == 25
    assert refund.json()["balance"]["available"] == 75
    again = pos.api.post("/v1/purchases/T-ref/refunds", {"refund_id": "RF-1", "amount": "250000"})
    assert again.json() == refund.json()
    too_much = pos.api.post(
        "/v1/purchases/T-ref/refunds", {"refund_id": "RF-2", "amount": "750000.01"}
    )
    found = pos.api.get("/v1/purchases/T-ref")
    assert found.status_code == 200, found.text
    assert (found.json()["member_id"], found.json()["refunded"]) == (member["id"], "250000.00")
    assert (found.json()["amount"], found.json()["refundable"]) == ("1000000.00", "750000.00")
    assert (too_much.status_code, too_much.json()["code"]) == (422, "refund-exceeds-purchase")
    assert pos.balance(member["id"])["available"] == 75


def test_refunding_the_purchase_that_made_a_member_gold_takes_gold_back(pos: Pos) -> None:
    member = pos.enrol()
    bought = pos.purchase(member["id"], "T-gold", amount="200000000")  # gold's threshold
    assert bought.status_code == 201, bought.text
    gold = pos.balance(member["id"])["tier"]
    assert (gold["name"], gold["title"], gold["title_fa"], gold["next"]) == (
        "gold",
        "Gold",
        "طلایی",
        None,
    )
    refund = pos.api.post(
        "/v1/purchases/T-gold/refunds", {"refund_id": "RF-gold", "amount": "200000000"}
    )
    assert refund.status_code == 201, refund.text
    tier = pos.balance(member["id"])["tier"]
    assert (tier["name"], tier["qualifying_spend"]) == ("member", "0.00")
    assert (tier["title_fa"], tier["next"]["title"], tier["next"]["title_fa"]) == (
        "عضو",
        "Silver",
        "نقره‌ای",
    )
    after = pos.purchase(member["id"], amount="1000000")
    assert [line["source"] for line in after.json()["breakdown"]] == ["base"]
    assert after.json()["points_earned"] == 100


def test_a_refund_of_spent_points_shows_as_debt(pos: Pos) -> None:
    member = pos.enrol()
    pos.purchase(member["id"], "T-spent", amount="1000000")
    pos.api.post(
        "/v1/redemptions",
        {"redemption_id": "RD-s", "member_id": member["id"], "points": 80, "capture": True},
    )
    refund = pos.api.post(
        "/v1/purchases/T-spent/refunds", {"refund_id": "RF-s", "amount": "1000000"}
    )
    assert (refund.json()["points_reversed"], refund.json()["debt_added"]) == (100, 80)
    points = pos.balance(member["id"])
    assert (points["available"], points["debt"]) == (0, 80)


def test_a_store_cannot_refund_or_capture_for_another_store(suite: Suite, pos: Pos) -> None:
    other = Pos(suite)
    member = funded_member(pos, 100)
    pos.purchase(member["id"], "T-mine", amount="500000")
    hold = {"redemption_id": "RD-mine", "member_id": member["id"], "points": 5}
    pos.api.post("/v1/redemptions", hold)

    refund = other.api.post("/v1/purchases/T-mine/refunds", {"refund_id": "RF-x", "amount": "1"})
    assert (refund.status_code, refund.json()["code"]) == (404, "purchase-not-found")
    peek = other.api.get("/v1/purchases/T-mine")
    assert (peek.status_code, peek.json()["code"]) == (404, "purchase-not-found")
    capture = other.api.post("/v1/redemptions/RD-mine/capture")
    assert (capture.status_code, capture.json()["code"]) == (404, "redemption-not-found")
    void = other.api.post("/v1/redemptions/RD-mine/void")
    assert void.status_code == 404
    points = pos.balance(member["id"])
    assert (points["available"], points["held"]) == (145, 5)


def test_two_hundred_concurrent_redemptions_never_overspend(suite: Suite, pos: Pos) -> None:
    member = funded_member(pos, 1000)
    asks = [(n, 5 + n % 11) for n in range(200)]  # 2,000 points asked of 1,000

    def redeem(ask: tuple[int, int]) -> requests.Response:
        n, points = ask
        return requests.post(
            suite.gateway_url + "/v1/redemptions",
            json={
                "redemption_id": f"RD-c-{n}",
                "member_id": member["id"],
                "points": points,
                "capture": True,
            },
            headers={"Authorization": f"Bearer {pos.api_key}"},
            timeout=60,
        )

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(redeem, asks))

    captured = sum(p for (_, p), r in zip(asks, responses, strict=True) if r.status_code == 201)
    refused = [r for r in responses if r.status_code != 201]
    assert all(r.status_code == 422 and r.json()["code"] == "insufficient-points" for r in refused)
    assert 0 < captured <= 1000
    points = pos.balance(member["id"])
    assert points["available"] == 1000 - captured >= 0
    assert points["held"] == 0
    # Refusals only came once the points ran out: what is left cannot pay the smallest ask.
    assert points["available"] < min(
        p for (_, p), r in zip(asks, responses, strict=True) if r.status_code != 201
    )
