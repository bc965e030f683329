"""A member sees only their own data, and nobody sets their own points, tier or role through
fields a route does not declare. The route checks walk /openapi.json, so every route the
gateway serves, now or later, is held to them."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from deploy.local import Suite
from tests.support import STAFF_PASSWORD, Api, Pos, identity_sessions, new_email, staff_login

EXTRAS = {
    "points": 1_000_000,
    "tier": "gold",
    "role": "admin",
    "member_id": "",
    "id": "",
    "available": 1_000_000,
    "disabled": False,
    "store_id": "",
}


def member_token(suite: Suite, member_id: str) -> str:
    with identity_sessions(suite) as sessions:
        return sessions.open("member", uuid.UUID(member_id), None, timedelta(minutes=10))


def operations(suite: Suite) -> list[tuple[str, str, dict]]:
    spec = Api(suite.gateway_url).get("/openapi.json").json()
    return [
        (method.upper(), path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]


def admits_members(operation: dict) -> bool:
    return any("memberSession" in option for option in operation["security"])


def test_member_routes_take_the_member_from_the_session_only(suite: Suite) -> None:
    member_routes = [(m, p) for m, p, op in operations(suite) if admits_members(op)]
    assert ("GET", "/v1/session") in member_routes
    for method, path in member_routes:
        assert not re.search(r"\{[^}]*member[^}]*\}|\{id\}", path), (method, path)


def test_member_a_cannot_reach_member_b_through_any_route(suite: Suite) -> None:
    pos = Pos(suite)
    a, b = pos.enrol(first_name="Ava"), pos.enrol(first_name="Bahar")
    assert pos.purchase(b["id"], "B-SECRET-1").status_code == 201
    api = pos.api.with_token(member_token(suite, a["id"]))
    b_traces = (b["id"], b["card_number"], "B-SECRET-1", "Bahar")
    for method, path, operation in operations(suite):
        url = re.sub(r"\{[^}]+\}", b["id"], path)
        if not admits_members(operation):
            if not operation["security"]:
                continue  # open to anyone: login, health, the spec
            answer = api.request(method, url, json={} if method != "GET" else None)
            assert answer.status_code in (403, 404), (method, path, answer.status_code)
            continue
        if method != "GET":
            continue  # a member's own changes; reading is where another's data could leak
        answer = api.get(url, params={"member_id": b["id"], "card": b["card_number"]})
        assert all(trace not in answer.text for trace in b_traces), (method, path)


def test_enrolment_binds_only_declared_fields(suite: Suite, pos: Pos) -> None:
    other = pos.enrol()
    forced = {**EXTRAS, "member_id": other["id"], "id": other["id"], "store_id": str(uuid.uuid4())}
    member = pos.enrol(first_name="Sima", card_number="6037990000000006", **forced)
    assert member["id"] != other["id"] and member["card_number"] != "6037990000000006"
    points = pos.balance(member["id"])
    assert (points["available"], points["pending"], points["tier"]["name"]) == (0, 0, "member")
    assert pos.balance(other["id"])["available"] == 0


def test_a_purchase_binds_only_declared_fields(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    elsewhere = Pos(suite)
    sale = pos.purchase(
        member["id"],
        "T-BIND",
        amount="100000",
        points_earned=1_000_000,
        store_id=elsewhere.store_id,
        **{k: v for k, v in EXTRAS.items() if k not in ("member_id", "store_id")},
    )
    assert sale.status_code == 201
    assert sale.json()["points_earned"] == 10
    # The purchase is the caller's store's, whatever the body said.
    refund = elsewhere.api.post("/v1/purchases/T-BIND/refunds", {"refund_id": "R", "amount": "1"})
    assert refund.status_code == 404


def test_staff_creation_and_login_bind_only_declared_fields(suite: Suite, pos: Pos) -> None:
    email = new_email()
    body = {
        **EXTRAS,
        "email": email,
        "password": STAFF_PASSWORD,
        "role": "support",
        "disabled": True,
        "id": str(uuid.uuid4()),
    }
    created = pos.admin.post("/v1/admin/staff", body)
    assert created.status_code == 201
    assert created.json()["disabled"] is False and created.json()["id"] != body["id"]
    anonymous = Api(suite.gateway_url)
    login = anonymous.post(
        "/v1/staff/login", {"email": email, "password": STAFF_PASSWORD, "role": "admin"}
    )
    assert login.status_code == 200 and login.json()["role"] == "support"
    support = anonymous.with_token(login.json()["token"])
    assert support.post("/v1/admin/stores", {"name": "escalated"}).status_code == 403
    # A marketer's own session cannot be turned into an admin's either.
    marketer = staff_login(suite, "marketer")
    assert marketer.get("/v1/session", json={"role": "admin"}).json()["role"] == "marketer"


def test_a_profile_change_binds_only_declared_fields(suite: Suite, pos: Pos) -> None:
    a, b = pos.enrol(first_name="Ava"), pos.enrol(first_name="Bahar")
    api = pos.api.with_token(member_token(suite, a["id"]))
    body = {**EXTRAS, "member_id": b["id"], "id": b["id"], "first_name": "Avaa"}
    changed = api.request("PATCH", "/v1/me", json=body)
    assert changed.status_code == 200, changed.text
    assert changed.json()["id"] == a["id"] and changed.json()["first_name"] == "Avaa"
    assert pos.admin.get(f"/v1/members/{a['id']}/points").json()["available"] == 0
    assert pos.balance(a["id"])["tier"]["name"] == "member"
    other = pos.api.get("/v1/members/identify", params={"card": b["card_number"]}).json()
    assert other["display_name"].startswith("Bahar")
