"""Support staff fix points by hand: credits, debits and transfers, each with a reason."""

from __future__ import annotations

import uuid

from sqlalchemy import column, create_engine, select, table

from deploy.local import Suite
from tests.support import Pos, db_url, staff_login


def test_a_credit_then_a_debit_show_in_balance_and_history(pos: Pos) -> None:
    member = pos.enrol()
    body = {"adjustment_id": "ADJ-h1", "points": 200, "reason": "goodwill", "staff_user": "sara"}
    credit = pos.admin.post(f"/v1/admin/members/{member['id']}/adjustments", body)
    assert credit.status_code == 201, credit.text
    assert credit.json()["available"] == 200
    again = pos.admin.post(f"/v1/admin/members/{member['id']}/adjustments", body)
    assert again.json() == credit.json()

    debit = pos.admin.post(
        f"/v1/admin/members/{member['id']}/adjustments",
        {"adjustment_id": "ADJ-h2", "points": -80, "reason": "typo", "staff_user": "sara"},
    )
    assert debit.json()["available"] == 120
    history = pos.api.get(f"/v1/members/{member['id']}/ledger").json()["items"]
    assert [(e["kind"], e["points"], e["reason"], e["source_type"]) for e in history] == [
        ("adjust", -80, "typo", "staff"),
        ("adjust", 200, "goodwill", "staff"),
    ]


def test_a_debit_cannot_overdraw_and_a_reason_is_required(pos: Pos) -> None:
    member = pos.enrol()
    over = pos.admin.post(
        f"/v1/admin/members/{member['id']}/adjustments",
        {"adjustment_id": "ADJ-o", "points": -1, "reason": "x", "staff_user": "sara"},
    )
    assert (over.status_code, over.json()["code"]) == (422, "insufficient-points")
    blank = pos.admin.post(
        f"/v1/admin/members/{member['id']}/adjustments",
        {"adjustment_id": "ADJ-b", "points": 5, "reason": "   ", "staff_user": "sara"},
    )
    assert (blank.status_code, blank.json()["code"]) == (422, "invalid-reason")
    missing = pos.admin.post(
        f"/v1/admin/members/{member['id']}/adjustments",
        {"adjustment_id": "ADJ-m", "points": 5, "staff_user": "sara"},
    )
    assert (missing.status_code, missing.json()["code"]) == (400, "invalid-request")
    assert pos.balance(member["id"])["available"] == 0


def test_a_transfer_between_members(pos: Pos) -> None:
    giver, receiver = pos.enrol(), pos.enrol()
    pos.purchase(giver["id"], amount="1000000")
    body = {
        "transfer_id": "TR-h1",
        "from_member_id": giver["id"],
        "to_member_id": receiver["id"],
        "points": 60,
        "reason": "family",
        "staff_user": "sara",
    }
    moved = pos.admin.post("/v1/admin/transfers", body)
    assert moved.status_code == 201, moved.text
    assert (moved.json()["available"], moved.json()["to_available"]) == (40, 60)
    assert pos.admin.post("/v1/admin/transfers", body).json() == moved.json()
    unknown = pos.admin.post(
        "/v1/admin/transfers", {**body, "transfer_id": "TR-h2", "to_member_id": str(uuid.uuid4())}
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown-member")
    assert pos.balance(receiver["id"])["available"] == 60


def recorded_actors(suite: Suite, *operation_ids: str) -> dict[str, str]:
    """Who the points service's audit trail says made each change."""
    engine = create_engine(db_url(suite, "points"))
    with engine.connect() as connection:
        adjustments = table("adjustments", column("operation_id"), column("actor"))
        rows = connection.execute(
            select(adjustments.c.operation_id, adjustments.c.actor).where(
                adjustments.c.operation_id.in_(operation_ids)
            )
        )
        actors = {operation_id: actor for operation_id, actor in rows}
    engine.dispose()
    return actors


def test_the_audit_trail_names_the_caller_not_the_staff_user_in_the_body(
    suite: Suite, pos: Pos
) -> None:
    staff = staff_login(suite, "admin")
    staff_id = staff.get("/v1/session").json()["staff_id"]
    member, other = pos.enrol(), pos.enrol()
    forged = {
        "adjustment_id": f"ADJ-{uuid.uuid4().hex[:8]}",
        "points": 50,
        "reason": "goodwill",
        "staff_user": "someone-else",
    }
    credit = staff.post(f"/v1/admin/members/{member['id']}/adjustments", forged)
    assert credit.status_code == 201, credit.text
    # Naming another person in a retry changes nothing: it is the same change by the same caller.
    again = staff.post(
        f"/v1/admin/members/{member['id']}/adjustments", {**forged, "staff_user": "a third"}
    )
    assert (again.status_code, again.json()) == (201, credit.json())
    transfer = {
        "transfer_id": f"TR-{uuid.uuid4().hex[:8]}",
        "from_member_id": member["id"],
        "to_member_id": other["id"],
        "points": 20,
        "reason": "family",
        "staff_user": "someone-else",
    }
    assert staff.post("/v1/admin/transfers", transfer).status_code == 201
    by_token = {**forged, "adjustment_id": f"ADJ-{uuid.uuid4().hex[:8]}"}
    by_admin_token = pos.admin.post(f"/v1/admin/members/{other['id']}/adjustments", by_token)
    assert by_admin_token.status_code == 201
    assert recorded_actors(
        suite, forged["adjustment_id"], transfer["transfer_id"], by_token["adjustment_id"]
    ) == {
        forged["adjustment_id"]: f"staff:{staff_id}",
        transfer["transfer_id"]: f"staff:{staff_id}",
        by_token["adjustment_id"]: "admin-token",
    }


def test_only_the_admin_adjusts_points(pos: Pos) -> None:
    member = pos.enrol()
    body = {"adjustment_id": "ADJ-p", "points": 1000, "reason": "me", "staff_user": "till"}
    response = pos.api.post(f"/v1/admin/members/{member['id']}/adjustments", body)
    assert response.status_code == 403
    assert pos.balance(member["id"])["available"] == 0


def _today(report: dict) -> dict:
    return report["days"][-1]


def test_the_points_report_shows_liability_and_todays_movements(pos: Pos) -> None:
    before = pos.admin.get("/v1/admin/reports/points").json()
    member = pos.enrol()
    pos.purchase(member["id"], "T-rep", amount="1000000")  # +100 earned
    pos.api.post(
        "/v1/redemptions",
        {"redemption_id": "RD-rep", "member_id": member["id"], "points": 30, "capture": True},
    )
    pos.api.post("/v1/purchases/T-rep/refunds", {"refund_id": "RF-rep", "amount": "100000"})
    pos.admin.post(
        f"/v1/admin/members/{member['id']}/adjustments",
        {"adjustment_id": "ADJ-rep", "points": 5, "reason": "sorry", "staff_user": "sara"},
    )
    after = pos.admin.get("/v1/admin/reports/points").json()

    moved = {
        k: _today(after)[k] - _today(before)[k]
        for k in ("earned", "reversed", "redeemed", "adjusted", "expired")
    }
    assert moved == {"earned": 100, "reversed": 10, "redeemed": 30, "adjusted": 5, "expired": 0}
    owed = after["liability"]["available"] - before["liability"]["available"]
    assert owed == 100 - 30 - 10 + 5
    value = float(after["liability"]["value"]) - float(before["liability"]["value"])
    assert value == owed * 100  # POINTS_VALUE defaults to 100 IRR a point
    assert len(after["days"]) == 31


def test_a_backwards_or_too_long_period_is_refused(pos: Pos) -> None:
    backwards = pos.admin.get(
        "/v1/admin/reports/points", params={"from": "2026-02-01", "to": "2026-01-01"}
    )
    assert (backwards.status_code, backwards.json()["code"]) == (422, "invalid-period")
    too_long = pos.admin.get(
        "/v1/admin/reports/points", params={"from": "2024-01-01", "to": "2026-01-01"}
    )
    assert too_long.status_code == 422
    assert pos.api.get("/v1/admin/reports/points").status_code == 403
