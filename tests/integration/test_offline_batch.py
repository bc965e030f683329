"""A till that was offline uploads its day of sales in one request."""

from __future__ import annotations

import uuid

from tests.support import Pos

LINES = 1000


def test_a_day_of_offline_sales_is_applied_once_and_answered_per_line(pos: Pos) -> None:
    members = [pos.enrol()["id"] for _ in range(10)]
    lines: list[object] = [
        {
            "transaction_id": f"T-off-{n}",
            "member_id": members[n % 10],
            "amount": str((n % 5 + 1) * 10000),
            "currency": "IRR",
            "occurred_at": "2026-11-21T10:15:00Z",
        }
        for n in range(LINES)
    ]
    lines[10] = {**lines[10], "amount": "-5"}  # type: ignore[dict-item]
    lines[20] = {**lines[20], "member_id": str(uuid.uuid4())}  # type: ignore[dict-item]
    lines[30] = {"transaction_id": "T-off-30"}  # missing fields
    lines[40] = "not a purchase"
    lines[50] = {**lines[49], "amount": "990000"}  # type: ignore[dict-item] # reuses T-off-49's id

    first = pos.api.post("/v1/purchases/batch", {"purchases": lines}, timeout=120)
    assert first.status_code == 200, first.text
    body = first.json()
    assert [r["index"] for r in body["results"]] == list(range(LINES))
    refused = {r["index"]: (r["status"], r["code"]) for r in body["results"] if r["status"] != 201}
    assert refused[10] == (422, "invalid-amount")
    assert refused[20] == (422, "unknown-member")
    assert refused[30] == (400, "invalid-request")
    assert refused[40] == (400, "invalid-request")
    # Lines 49 and 50 race for one transaction id: exactly one of them is applied.
    assert len({49, 50} & set(refused)) == 1
    assert refused.get(49, refused.get(50)) == (422, "idempotency-mismatch")
    planned = {10, 20, 30, 40, 49, 50}
    assert [r for r in body["results"] if r["index"] in set(refused) - planned] == []
    assert (body["lines"], body["applied"], body["failed"]) == (LINES, LINES - 5, 5)

    balances = {m: pos.balance(m)["available"] for m in members}
    again = pos.api.post("/v1/purchases/batch", {"purchases": lines}, timeout=120).json()
    assert [r["status"] for r in again["results"]] == [r["status"] for r in body["results"]]
    assert {m: pos.balance(m)["available"] for m in members} == balances
    applied = [r for r in body["results"] if r["status"] == 201]
    assert sum(balances.values()) == sum(r["points_earned"] for r in applied)


def test_an_empty_or_oversized_batch_is_refused(pos: Pos) -> None:
    empty = pos.api.post("/v1/purchases/batch", {"purchases": []})
    assert (empty.status_code, empty.json()["code"]) == (400, "invalid-request")
    wrong = pos.api.post("/v1/purchases/batch", {"purchases": {"a": 1}})
    assert (wrong.status_code, wrong.json()["code"]) == (400, "invalid-request")
