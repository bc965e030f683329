"""The gateway through Flask's test client, with the services' clients replaced by stand-ins
(tests/unit/gateway_fakes.py): each audience's main routes and pages, their problems, the
OpenAPI document. No process, no network."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from gateway.app import create_app
from gateway.auth import SESSION_COOKIE
from gateway.clients import Clients
from gateway.config import GatewayConfig
from loyalty.campaigns.v1 import campaigns_pb2
from services.runtime.config import Env
from tests.unit.gateway_fakes import (
    LOGIN_CODE,
    MARKETER_TOKEN,
    MEMBER_TOKEN,
    POS_KEY,
    STAFF_PASSWORD,
    STORE_ID,
    fake_clients,
)

ADMIN = "admin-token-for-the-fast-tests"
PROBLEM = "application/problem+json"


@pytest.fixture
def clients() -> Clients:
    return fake_clients()


@pytest.fixture
def app(clients: Clients) -> Iterator[Flask]:
    config = GatewayConfig.load(Env({"REDIS_URL": "", "LOYALTY_ADMIN_TOKEN": ADMIN}))
    yield create_app(config, clients)


@pytest.fixture
def web(app: Flask) -> FlaskClient:
    return app.test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


POS = bearer(POS_KEY)


def purchase(member_id: str, transaction_id: str = "T-1", amount: str = "1250000") -> dict:
    return {
        "transaction_id": transaction_id,
        "member_id": member_id,
        "amount": amount,
        "currency": "IRR",
    }


def test_a_till_enrols_identifies_and_records_a_purchase_for_its_store(
    web: FlaskClient, clients: Clients
) -> None:
    enrolled = web.post(
        "/v1/members", json={"phone": "09121234567", "first_name": "Sara"}, headers=POS
    )
    assert enrolled.status_code == 201
    member_id = enrolled.json["id"]

    bought = web.post("/v1/purchases", json=purchase(member_id), headers=POS)
    assert bought.status_code == 201
    assert (bought.json["points_earned"], bought.json["balance"]["available"]) == (125, 125)
    assert clients.points.calls[0] == ("purchase", (STORE_ID, purchase(member_id)))

    found = web.get("/v1/members/identify", query_string={"phone": "09121234567"}, headers=POS)
    assert found.status_code == 200
    assert found.json["member_id"] == member_id
    assert found.json["display_name"] == "Sara"
    assert found.json["points"] == {"available": 125, "pending": 0}
    assert [offer["title"] for offer in found.json["offers"]] == ["Double points on dairy"]


def test_a_purchase_the_service_refuses_is_a_problem_with_its_code(web: FlaskClient) -> None:
    refused = web.post(
        "/v1/purchases", json=purchase("6f1c2a8e-0d5b-4c1e-9a57-3f2b8d9e4c10"), headers=POS
    )
    assert refused.status_code == 422
    assert refused.content_type == PROBLEM
    assert refused.json["code"] == "unknown-member"


def test_identify_needs_exactly_one_identifier(web: FlaskClient) -> None:
    answer = web.get(
        "/v1/members/identify", query_string={"phone": "0912", "card": "6037"}, headers=POS
    )
    assert (answer.status_code, answer.json["code"]) == (400, "invalid-request")


def test_a_refund_and_a_captured_redemption(web: FlaskClient, clients: Clients) -> None:
    member_id = clients.identity.add("09121234567")["id"]
    web.post("/v1/purchases", json=purchase(member_id), headers=POS)
    refunded = web.post(
        "/v1/purchases/T-1/refunds", json={"refund_id": "R-1", "amount": "250000"}, headers=POS
    )
    assert (refunded.status_code, refunded.json["points_reversed"]) == (201, 25)
    redeemed = web.post(
        "/v1/redemptions",
        json={"redemption_id": "RD-1", "member_id": member_id, "points": 100, "capture": True},
        headers=POS,
    )
    assert redeemed.status_code == 201
    assert (redeemed.json["status"], redeemed.json["balance"]["available"]) == ("captured", 25)


def test_points_of_a_member_no_service_knows_are_not_found(web: FlaskClient) -> None:
    answer = web.get("/v1/members/6f1c2a8e-0d5b-4c1e-9a57-3f2b8d9e4c10/points", headers=POS)
    assert (answer.status_code, answer.content_type) == (404, PROBLEM)


def test_points_of_a_member_points_knows_are_read_without_asking_identity(
    web: FlaskClient, clients: Clients
) -> None:
    known = clients.identity.add("09121234567")["id"]
    web.post("/v1/purchases", json=purchase(known, amount="5000"), headers=POS)
    unheard_of = clients.identity.add("09127654321")["id"]
    for member_id in (known, unheard_of):
        answer = web.get(f"/v1/members/{member_id}/points", headers=POS)
        assert (answer.status_code, answer.json["available"]) == (200, 0)
    assert clients.identity.looked_up == [unheard_of]


def test_routes_refuse_callers_without_credentials_or_grant(web: FlaskClient) -> None:
    anonymous = web.post("/v1/purchases", json=purchase("x"))
    assert (anonymous.status_code, anonymous.json["code"]) == (401, "unauthenticated")
    member_at_till = web.post("/v1/purchases", json=purchase("x"), headers=bearer(ADMIN))
    assert (member_at_till.status_code, member_at_till.json["code"]) == (403, "forbidden")
    bad_body = web.post("/v1/purchases", json={"amount": "1"}, headers=POS)
    assert (bad_body.status_code, bad_body.json["code"]) == (400, "invalid-request")
    nowhere = web.get("/v1/nowhere")
    assert (nowhere.status_code, nowhere.content_type, nowhere.json["code"]) == (
        404,
        PROBLEM,
        "not-found",
    )


def test_a_member_logs_in_with_a_code_and_reads_their_own_profile(web: FlaskClient) -> None:
    assert web.post("/v1/auth/otp", json={"phone": "09121234567"}).json == {"expires_in": 120}
    wrong = web.post("/v1/auth/otp/verify", json={"phone": "09121234567", "code": "000000"})
    assert (wrong.status_code, wrong.json["code"]) == (401, "invalid-code")
    login = web.post("/v1/auth/otp/verify", json={"phone": "09121234567", "code": LOGIN_CODE})
    assert login.status_code == 200 and login.json["enrolled"] is True
    me = web.get("/v1/me", headers=bearer(login.json["token"]))
    assert me.status_code == 200
    assert me.json["member"]["id"] == login.json["member_id"]
    assert me.json["points"]["available"] == 0
    assert web.post("/v1/auth/logout", headers=bearer(MEMBER_TOKEN)).json == {"logged_out": True}
    assert web.get("/v1/me", headers=bearer(MEMBER_TOKEN)).status_code == 401


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has a form"
    return found.group(1)


def test_the_portal_logs_in_through_the_same_flow_as_the_api(
    web: FlaskClient, clients: Clients
) -> None:
    token = csrf(web.get("/portal").text)
    web.post("/portal/code", data={"csrf_token": token, "phone": "09121234567"})
    token = csrf(web.get("/portal").text)
    signed_in = web.post("/portal/verify", data={"csrf_token": token, "code": LOGIN_CODE})
    assert signed_in.status_code == 303
    assert "loyalty_session=" + MEMBER_TOKEN in signed_in.headers["Set-Cookie"]
    assert clients.identity.logins == ["09121234567"]
    page = web.get("/portal")
    assert page.status_code == 200 and 'id="available"' in page.text


def test_a_persian_portal_shows_an_offer_code_as_issued(web: FlaskClient) -> None:
    token = csrf(web.get("/portal").text)
    web.post("/portal/code", data={"csrf_token": token, "phone": "09121234567"})
    token = csrf(web.get("/portal").text)
    web.post("/portal/verify", data={"csrf_token": token, "code": LOGIN_CODE})
    web.set_cookie("lang", "fa")
    page = web.get("/portal").text
    web.delete_cookie("lang")
    assert "کد: LOYAL2X" in page
    assert 'id="available">۰<' in page  # figures still read in Persian digits


def test_the_till_redeems_in_one_captured_hold(web: FlaskClient, clients: Clients) -> None:
    member_id = clients.identity.add("09121234567", "Sara", "Ahmadi")["id"]
    clients.points.available[member_id] = 500
    web.post("/till/sign-in", data={"csrf_token": csrf(web.get("/till").text), "api_key": POS_KEY})
    page = web.get("/till").text
    web.post("/till/identify", data={"csrf_token": csrf(page), "identifier": "09121234567"})
    page = web.get("/till").text
    assert "Sara A." in page
    web.post("/till/redeem", data={"csrf_token": csrf(page), "points": "200"})
    asked = [name for name, _ in clients.points.calls if name in ("hold", "capture", "void")]
    assert asked == ["hold"]
    hold = next(args for name, args in clients.points.calls if name == "hold")
    assert hold[1]["capture"] is True and hold[1]["points"] == 200
    assert clients.points.available[member_id] == 300


def test_staff_log_in_and_a_marketer_launches_a_campaign(web: FlaskClient) -> None:
    wrong = web.post("/v1/staff/login", json={"email": "m@example.com", "password": "nope"})
    assert (wrong.status_code, wrong.content_type) == (401, PROBLEM)
    login = web.post("/v1/staff/login", json={"email": "m@example.com", "password": STAFF_PASSWORD})
    assert login.status_code == 200 and login.json["role"] == "marketer"
    assert "loyalty_session=" in login.headers["Set-Cookie"]
    marketer = bearer(MARKETER_TOKEN)
    made = web.post(
        "/v1/marketing/campaigns",
        json={"name": "Dairy week", "kind": "multiplier", "multiplier": "2"},
        headers=marketer,
    )
    assert (made.status_code, made.json["status"]) == (201, "draft")
    launched = web.post(f"/v1/marketing/campaigns/{made.json['id']}/launch", headers=marketer)
    assert launched.json["status"] == "active"
    listed = web.get("/v1/marketing/campaigns", headers=marketer).json["campaigns"]
    assert [(c["name"], c["status"]) for c in listed] == [("Dairy week", "active")]
    missing = web.post("/v1/marketing/campaigns/99/end", headers=marketer)
    assert (missing.status_code, missing.json["code"]) == (404, "campaign-not-found")
    at_till = web.get("/v1/marketing/campaigns", headers=POS)
    assert at_till.status_code == 403


def test_the_console_offers_the_status_changes_the_service_allows(
    web: FlaskClient, clients: Clients
) -> None:
    draft = clients.campaigns.create_campaign({"name": "Dairy week", "kind": "multiplier"})
    web.set_cookie(SESSION_COOKIE, MARKETER_TOKEN)

    def offered() -> set[str]:
        page = web.get("/console/campaigns")
        assert page.status_code == 200
        return set(
            re.findall(rf'(?:action|href)="/console/campaigns/{draft["id"]}/(\w+)"', page.text)
        )

    assert offered() == {"launch", "end", "delete"}  # launch: a link to its confirmation
    clients.campaigns.change_status(draft["id"], "launch")
    assert offered() == {"pause", "end"}


def test_the_api_takes_the_kinds_of_campaign_the_proto_lists(web: FlaskClient) -> None:
    listed = [
        value.name.removeprefix("CAMPAIGN_KIND_").lower()
        for value in campaigns_pb2.CampaignKind.DESCRIPTOR.values
        if value.number
    ]
    request = web.get("/openapi.json").json["paths"]["/v1/marketing/campaigns"]["post"]
    schema = request["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["kind"]["enum"] == listed
    unknown = web.post(
        "/v1/marketing/campaigns",
        json={"name": "Half points", "kind": "divider"},
        headers=bearer(MARKETER_TOKEN),
    )
    assert (unknown.status_code, unknown.json["code"]) == (400, "invalid-request")


def test_readiness_reports_each_service(web: FlaskClient) -> None:
    ready = web.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["services"] == {
        "identity": "SERVING",
        "points": "SERVING",
        "campaigns": "SERVING",
        "webhooks": "SERVING",
    }


def test_the_openapi_document_is_valid_and_lists_the_pos_routes(web: FlaskClient) -> None:
    spec = web.get("/openapi.json").json
    validate(spec)
    assert {"/v1/purchases", "/v1/members/identify", "/v1/me"} <= set(spec["paths"])


def test_a_bad_body_is_refused_naming_its_first_wrong_field(web: FlaskClient) -> None:
    body = purchase("6f1c2a8e-0d5b-4c1e-9a57-3f2b8d9e4c10")
    body["items"] = [
        {"sku": "MILK-1L", "quantity": 2, "unit_price": "625000"},
        {"quantity": 1, "unit_price": "1000"},
    ]
    refused = web.post("/v1/purchases", json=body, headers=POS)
    assert (refused.status_code, refused.content_type) == (400, PROBLEM)
    assert refused.json["code"] == "invalid-request"
    assert refused.json["field"] == "items.1"
    assert refused.json["detail"] == "items.1: 'sku' is a required property"


def test_a_number_json_has_no_word_for_is_an_invalid_request(web: FlaskClient) -> None:
    # Python's JSON reader takes NaN, which no schema type admits.
    body = '{"transaction_id": "T-1", "member_id": "m-1", "amount": NaN, "currency": "IRR"}'
    refused = web.post("/v1/purchases", data=body, content_type="application/json", headers=POS)
    assert (refused.status_code, refused.json["code"]) == (400, "invalid-request")
    assert refused.json["field"] == "amount"
