"""Tills retry, and sometimes the same purchase arrives many times at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from deploy.local import Suite
from tests.support import Pos

COPIES = 20


def _post_copies(suite: Suite, pos: Pos, body: dict) -> list[requests.Response]:
    def post(_: int) -> requests.Response:
        return requests.post(
            suite.gateway_url + "/v1/purchases",
            json=body,
            headers={"Authorization": f"Bearer {pos.api_key}"},
            timeout=30,
        )

    with ThreadPoolExecutor(max_workers=COPIES) as pool:
        return list(pool.map(post, range(COPIES)))


def test_twenty_concurrent_copies_of_a_purchase_earn_once(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    body = {
        "transaction_id": "T-burst",
        "member_id": member["id"],
        "amount": "770000",
        "currency": "IRR",
    }
    responses = _post_copies(suite, pos, body)

    assert [r.status_code for r in responses] == [201] * COPIES
    assert all(r.json() == responses[0].json() for r in responses)
    assert responses[0].json()["points_earned"] == 77
    assert pos.balance(member["id"])["available"] == 77
    ledger = pos.api.get(f"/v1/members/{member['id']}/ledger").json()["items"]
    assert [e["points"] for e in ledger] == [77]


def test_concurrent_copies_with_different_bodies_apply_exactly_one(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()

    def post(amount: int) -> requests.Response:
        return requests.post(
            suite.gateway_url + "/v1/purchases",
            json={
                "transaction_id": "T-race",
                "member_id": member["id"],
                "amount": str(amount * 10000),
                "currency": "IRR",
            },
            headers={"Authorization": f"Bearer {pos.api_key}"},
            timeout=30,
        )

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(post, range(1, 11)))

    winners = [r for r in responses if r.status_code == 201]
    losers = [r for r in responses if r.status_code != 201]
    assert len(winners) == 1
    assert all(r.status_code == 422 and r.json()["code"] == "idempotency-mismatch" for r in losers)
    assert pos.balance(member["id"])["available"] == winners[0].json()["points_earned"]
