"""Staff accounts and their roles: who may use which routes."""

from __future__ import annotations

import uuid

from deploy.local import Suite
from gateway.auth import SESSION_LOCAL_TTL
from tests.integration.test_sessions import refused_within
from tests.support import STAFF_PASSWORD, Api, Pos, new_email, staff_login


def test_an_admin_creates_staff_who_log_in_with_their_role(suite: Suite, pos: Pos) -> None:
    email = new_email()
    created = pos.admin.post(
        "/v1/admin/staff",
        {"email": f"  {email.upper()} ", "password": STAFF_PASSWORD, "role": "support"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == email and created.json()["role"] == "support"
    anonymous = pos.admin.with_token(None)
    login = anonymous.post("/v1/staff/login", {"email": email, "password": STAFF_PASSWORD})
    assert login.status_code == 200, login.text
    assert login.json()["role"] == "support"
    cookie = login.headers["Set-Cookie"]
    assert "loyalty_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; behind TLS the cookie is Secure
    me = anonymous.with_token(login.json()["token"]).get("/v1/session")
    assert me.json() == {**me.json(), "kind": "staff", "role": "support"}
    assert me.json()["staff_id"] == created.json()["id"]


def test_the_session_cookie_alone_works_and_says_secure_behind_tls(suite: Suite) -> None:
    staff = staff_login(suite, "marketer")
    cookie_only = Api(suite.gateway_url)
    cookie_only.session.cookies.set("loyalty_session", staff.token)
    assert cookie_only.get("/v1/session").json()["role"] == "marketer"
    email = new_email()
    staff.with_token(suite.env["LOYALTY_ADMIN_TOKEN"]).post(
        "/v1/admin/staff", {"email": email, "password": STAFF_PASSWORD, "role": "support"}
    )
    behind_tls = cookie_only.with_token(None).post(
        "/v1/staff/login",
        {"email": email, "password": STAFF_PASSWORD},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert "Secure" in behind_tls.headers["Set-Cookie"]


def test_a_taken_email_weak_password_or_unknown_role_is_refused(suite: Suite, pos: Pos) -> None:
    email = new_email()
    first = pos.admin.post(
        "/v1/admin/staff", {"email": email, "password": STAFF_PASSWORD, "role": "admin"}
    )
    assert first.status_code == 201
    again = pos.admin.post(
        "/v1/admin/staff", {"email": email.upper(), "password": STAFF_PASSWORD, "role": "admin"}
    )
    assert (again.status_code, again.json()["code"]) == (409, "staff-exists")
    weak = pos.admin.post(
        "/v1/admin/staff", {"email": new_email(), "password": "short", "role": "admin"}
    )
    assert weak.status_code == 400
    bad_role = pos.admin.post(
        "/v1/admin/staff", {"email": new_email(), "password": STAFF_PASSWORD, "role": "owner"}
    )
    assert bad_role.status_code == 400
    bad_email = pos.admin.post(
        "/v1/admin/staff", {"email": "nobody", "password": STAFF_PASSWORD, "role": "admin"}
    )
    assert (bad_email.status_code, bad_email.json()["code"]) == (422, "invalid-email")


def test_wrong_password_unknown_email_and_disabled_account_look_the_same(
    suite: Suite, pos: Pos
) -> None:
    address = new_email()
    account = pos.admin.post(
        "/v1/admin/staff", {"email": address, "password": STAFF_PASSWORD, "role": "support"}
    ).json()
    anonymous = Api(suite.gateway_url)
    wrong = anonymous.post("/v1/staff/login", {"email": address, "password": "not the password"})
    unknown = anonymous.post("/v1/staff/login", {"email": new_email(), "password": STAFF_PASSWORD})
    disabled = pos.admin.put(f"/v1/admin/staff/{account['id']}/disabled", {"disabled": True})
    assert disabled.json()["disabled"] is True
    refused = anonymous.post("/v1/staff/login", {"email": address, "password": STAFF_PASSWORD})
    for answer in (wrong, unknown, refused):
        assert (answer.status_code, answer.json()["code"]) == (401, "invalid-credentials")
    enabled = pos.admin.put(f"/v1/admin/staff/{account['id']}/disabled", {"disabled": False})
    assert enabled.json()["disabled"] is False
    again = anonymous.post("/v1/staff/login", {"email": address, "password": STAFF_PASSWORD})
    assert again.status_code == 200


def test_disabling_an_account_ends_its_sessions(suite: Suite, pos: Pos) -> None:
    staff = staff_login(suite, "admin")
    assert staff.post("/v1/admin/stores", {"name": "by staff"}).status_code == 201
    staff_id = staff.get("/v1/session").json()["staff_id"]
    assert (
        pos.admin.put(f"/v1/admin/staff/{staff_id}/disabled", {"disabled": True}).status_code == 200
    )
    # Identity ends the sessions at once; each gateway process may remember one a moment longer.
    assert refused_within(staff, SESSION_LOCAL_TTL + 1)
    assert staff.post("/v1/admin/stores", {"name": "by staff"}).status_code == 401


def test_logout_ends_the_session_and_clears_the_cookie(suite: Suite) -> None:
    staff = staff_login(suite, "marketer")
    out = staff.post("/v1/staff/logout")
    assert out.status_code == 204
    assert "loyalty_session=;" in out.headers["Set-Cookie"]
    assert staff.get("/v1/session").status_code == 401


def admin_calls(member_id: str, store_id: str) -> list[tuple[str, str, dict | None]]:
    """One call to each admin route: every one a change, a secret or an admin report."""
    transfer = {
        "transfer_id": "T-1",
        "from_member_id": member_id,
        "to_member_id": member_id,
        "points": 1,
        "reason": "me",
        "staff_user": "me",
    }
    adjustment = {"adjustment_id": "A-1", "points": 500, "reason": "me", "staff_user": "me"}
    staff = {"email": new_email(), "password": STAFF_PASSWORD, "role": "admin"}
    keys = f"/v1/admin/stores/{store_id}/api-keys"
    return [
        ("POST", "/v1/admin/stores", {"name": "not yours"}),
        ("POST", keys, None),
        ("GET", keys, None),
        ("POST", f"{keys}/{uuid.uuid4()}/revoke", None),
        ("POST", f"{keys}/{uuid.uuid4()}/rotate", {}),
        ("POST", "/v1/admin/staff", staff),
        ("PUT", f"/v1/admin/staff/{uuid.uuid4()}/disabled", {"disabled": True}),
        ("POST", "/v1/admin/points/jobs", None),
        ("POST", f"/v1/admin/members/{member_id}/adjustments", adjustment),
        ("POST", "/v1/admin/transfers", transfer),
        ("GET", "/v1/admin/reports/points", None),
    ]


def test_marketers_and_support_cannot_use_admin_routes(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    calls = admin_calls(member["id"], pos.store_id)
    spec = Api(suite.gateway_url).get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        if path.startswith("/v1/admin/"):
            for method, operation in methods.items():
                # Every admin route, including any this test does not call, is closed to
                # marketers; support staff may have member-care routes of their own there.
                assert "marketer" not in operation["description"], (method, path)
    for role in ("marketer", "support"):
        staff = staff_login(suite, role)
        for method, path, body in calls:
            answer = staff.request(method, path, json=body)
            assert (answer.status_code, answer.json()["code"]) == (403, "forbidden"), (role, path)
    assert pos.balance(member["id"])["available"] == 0


def test_a_staff_admin_uses_admin_routes(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    staff = staff_login(suite, "admin")
    store = staff.post("/v1/admin/stores", {"name": "opened by staff"})
    assert store.status_code == 201
    assert staff.post(f"/v1/admin/stores/{store.json()['id']}/api-keys").status_code == 201
    adjusted = staff.post(
        f"/v1/admin/members/{member['id']}/adjustments",
        {"adjustment_id": "GOODWILL-1", "points": 70, "reason": "goodwill", "staff_user": "x"},
    )
    assert adjusted.status_code == 201
    assert pos.balance(member["id"])["available"] == 70


def test_support_reads_members_but_changes_nothing(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    assert pos.purchase(member["id"]).status_code == 201
    support = staff_login(suite, "support")
    assert support.get(f"/v1/members/{member['id']}/points").status_code == 200
    assert support.get(f"/v1/members/{member['id']}/ledger").status_code == 200
    found = support.get("/v1/members/identify", params={"card": member["card_number"]})
    assert found.json()["member_id"] == member["id"]
    before = pos.balance(member["id"])
    refused = [
        support.post("/v1/members", {"phone": "09120000000"}),
        support.post(
            "/v1/purchases",
            {
                "transaction_id": "S-1",
                "member_id": member["id"],
                "amount": "1000",
                "currency": "IRR",
            },
        ),
        support.post(
            "/v1/redemptions", {"redemption_id": "S-1", "member_id": member["id"], "points": 1}
        ),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert pos.balance(member["id"]) == before


def test_marketers_do_not_read_one_members_data(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()
    marketer = staff_login(suite, "marketer")
    for path in (f"/v1/members/{member['id']}/points", f"/v1/members/{member['id']}/ledger"):
        assert marketer.get(path).status_code == 403


def test_a_change_made_with_the_cookie_must_come_from_this_site(suite: Suite) -> None:
    staff = staff_login(suite, "marketer")
    browser = Api(suite.gateway_url)
    browser.session.cookies.set("loyalty_session", staff.token)
    host = suite.gateway_url.split("://", 1)[1]
    for headers in ({}, {"Origin": "https://evil.example"}, {"Referer": "https://evil.example/x"}):
        forged = browser.post("/v1/staff/logout", headers=headers)
        assert (forged.status_code, forged.json()["code"]) == (403, "cross-site-request")
    assert browser.get("/v1/session").status_code == 200  # reading needs no proof
    own = browser.post("/v1/staff/logout", headers={"Origin": f"http://{host}"})
    assert own.status_code == 204
    assert staff.get("/v1/session").status_code == 401
