"""Bad input gets problem+json with a 4xx status and a stable code, and writes nothing."""

from __future__ import annotations

import uuid

import pytest
import requests

from deploy.local import Suite
from tests.support import Api, Pos, logs_of

MISSING = object()


def purchase_body(member: str, **changes: object) -> dict:
    body: dict = {
        "transaction_id": f"T-{uuid.uuid4().hex[:10]}",
        "member_id": member,
        "amount": "250000",
        "currency": "IRR",
    }
    for key, value in changes.items():
        if value is MISSING:
            body.pop(key)
        else:
            body[key] = value
    return body


BAD_PURCHASES = [
    ("missing transaction_id", {"transaction_id": MISSING}, 400, "invalid-request"),
    ("missing amount", {"amount": MISSING}, 400, "invalid-request"),
    ("missing currency", {"currency": MISSING}, 400, "invalid-request"),
    ("amount as a float", {"amount": 12.5}, 400, "invalid-request"),
    ("amount as a list", {"amount": [1]}, 400, "invalid-request"),
    ("transaction_id as a number", {"transaction_id": 17}, 400, "invalid-request"),
    ("negative amount", {"amount": "-250000"}, 422, "invalid-amount"),
    ("zero amount", {"amount": "0"}, 422, "invalid-amount"),
    ("amount in words", {"amount": "lots"}, 422, "invalid-amount"),
    ("too many decimals", {"amount": "10.123"}, 422, "invalid-amount"),
    # Past what is held exactly: refused, never rounded to 1.
    ("amount of 30 digits", {"amount": "1.00000000000000000000000000001"}, 422, "invalid-amount"),
    ("amount of 40 digits", {"amount": "1." + "0" * 38 + "1"}, 422, "invalid-amount"),
    ("amount of 40 zeros", {"amount": "1." + "0" * 39}, 422, "invalid-amount"),
    (
        "unit price of 30 digits",
        {"items": [{"sku": "A", "quantity": "1", "unit_price": "1.00000000000000000000000000001"}]},
        422,
        "invalid-amount",
    ),
    ("another currency", {"currency": "USD"}, 422, "currency-mismatch"),
    ("lowercase currency", {"currency": "irr"}, 400, "invalid-request"),
    ("unknown member", {"member_id": str(uuid.uuid4())}, 422, "unknown-member"),
    ("member id not an id", {"member_id": "somebody"}, 422, "unknown-member"),
    ("transaction id with spaces", {"transaction_id": "T 1"}, 422, "invalid-transaction-id"),
    ("item without a price", {"items": [{"sku": "A", "quantity": 1}]}, 400, "invalid-request"),
    (
        "item with a negative quantity",
        {"items": [{"sku": "A", "quantity": "-1", "unit_price": "1"}]},
        422,
        "invalid-items",
    ),
    ("occurred_at not a time", {"occurred_at": "yesterday"}, 400, "invalid-request"),
    (
        "occurred_at far in the future",
        {"occurred_at": "2999-01-01T00:00:00Z"},
        422,
        "invalid-occurred-at",
    ),
]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [case[1:] for case in BAD_PURCHASES],
    ids=[case[0] for case in BAD_PURCHASES],
)
def test_bad_purchase_is_refused_and_writes_nothing(
    pos: Pos, change: dict, status: int, code: str
) -> None:
    member = pos.enrol()
    response = pos.api.post("/v1/purchases", purchase_body(member["id"], **change))
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert "Traceback" not in response.text
    assert pos.balance(member["id"])["available"] == 0
    assert pos.api.get(f"/v1/members/{member['id']}/ledger").json()["items"] == []


def test_a_body_that_is_not_json_is_refused(pos: Pos) -> None:
    not_json = pos.api.post(
        "/v1/purchases", data="{nope", headers={"Content-Type": "application/json"}
    )
    assert (not_json.status_code, not_json.json()["code"]) == (400, "invalid-json")
    form = pos.api.post("/v1/purchases", data="a=1")
    assert (form.status_code, form.json()["code"]) == (415, "unsupported-media-type")
    array = pos.api.post("/v1/purchases", [1, 2])
    assert (array.status_code, array.json()["code"]) == (400, "invalid-request")


@pytest.mark.parametrize(
    "token", [None, "", "nonsense", "lk_forged0000000000000000000000000000000000"]
)
def test_a_bad_api_key_is_401_before_anything_else(pos: Pos, token: str | None) -> None:
    member = pos.enrol()
    caller = pos.api.with_token(token)
    # Even with a bad body, the credentials are what is wrong first.
    response = caller.post("/v1/purchases", {"amount": "nope"})
    assert response.status_code == 401
    assert response.json()["code"] in ("unauthenticated", "invalid-api-key")
    response = caller.post("/v1/purchases", purchase_body(member["id"]))
    assert response.status_code == 401
    assert pos.balance(member["id"])["available"] == 0


def test_a_pos_key_cannot_use_admin_routes(pos: Pos) -> None:
    # A valid key, but not one the route admits: forbidden, not unauthenticated.
    response = pos.api.post("/v1/admin/stores", {"name": "mine now"})
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


BAD_ENROLMENTS = [
    ({}, 400, "invalid-request"),
    ({"phone": 9121234567}, 400, "invalid-request"),
    ({"phone": "12"}, 422, "invalid-phone"),
    ({"phone": "not a phone"}, 422, "invalid-phone"),
    ({"phone": "09121234567", "email": "nobody"}, 422, "invalid-email"),
    ({"phone": "09121234567", "birth_date": "1990-13-45"}, 422, "invalid-birth-date"),
    ({"phone": "09121234567", "birth_date": "2999-01-01"}, 422, "invalid-birth-date"),
    ({"phone": "09121234567", "consents": {"fax": True}}, 400, "invalid-request"),
    ({"phone": "09121234567", "consents": {"sms": "yes"}}, 400, "invalid-request"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_ENROLMENTS)
def test_bad_enrolment_is_refused_and_enrols_nobody(
    pos: Pos, body: dict, status: int, code: str
) -> None:
    response = pos.api.post("/v1/members", body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    if isinstance(body.get("phone"), str):
        lookup = pos.api.get("/v1/members/identify", params={"phone": body["phone"]})
        assert lookup.status_code in (404, 422)


def test_bad_query_parameters(pos: Pos) -> None:
    member = pos.enrol()
    for params in ({}, {"phone": "0912", "card": "1"}):
        response = pos.api.get("/v1/members/identify", params=params)
        assert (response.status_code, response.json()["code"]) == (400, "invalid-request")
    for limit in ("0", "201", "ten"):
        response = pos.api.get(f"/v1/members/{member['id']}/ledger", params={"limit": limit})
        assert (response.status_code, response.json()["code"]) == (400, "invalid-request")
    response = pos.api.get(f"/v1/members/{member['id']}/ledger", params={"cursor": "garbage!"})
    assert (response.status_code, response.json()["code"]) == (422, "invalid-cursor")


def test_unknown_members_and_stores_are_404(pos: Pos) -> None:
    assert pos.api.get(f"/v1/members/{uuid.uuid4()}/points").status_code == 404
    assert pos.api.get("/v1/members/not-an-id/ledger").status_code == 404
    response = pos.admin.post(f"/v1/admin/stores/{uuid.uuid4()}/api-keys")
    assert (response.status_code, response.json()["code"]) == (404, "store-not-found")


def test_unknown_routes_and_methods_answer_problem_json(suite) -> None:  # type: ignore[no-untyped-def]
    missing = requests.get(suite.gateway_url + "/v1/nothing-here", timeout=5)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"
    wrong_method = requests.delete(suite.gateway_url + "/v1/purchases", timeout=5)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "method-not-allowed"
    assert Api(suite.gateway_url).get("/healthz").status_code == 200


def test_whole_numbers_written_with_a_point_are_taken_as_integers(pos: Pos) -> None:
    # JSON Schema counts 200.0 as an integer, so the gateway must too (it once answered 500).
    member = pos.enrol()
    credit = pos.admin.post(
        f"/v1/admin/members/{member['id']}/adjustments",
        {
            "adjustment_id": f"A-{uuid.uuid4().hex[:8]}",
            "points": 200.0,
            "reason": "r",
            "staff_user": "s",
        },
    )
    assert credit.status_code == 201, credit.text
    assert credit.json()["available"] == 200
    hold = pos.api.post(
        "/v1/redemptions",
        {"redemption_id": f"RD-{uuid.uuid4().hex[:8]}", "member_id": member["id"], "points": 50.0},
    )
    assert hold.status_code == 201, hold.text
    assert pos.balance(member["id"])["held"] == 50


def test_a_string_that_is_not_unicode_is_refused(pos: Pos) -> None:
    member = pos.enrol()
    body = '{"transaction_id": "T-\\ud800", "member_id": "%s", "amount": "1", "currency": "IRR"}'
    answer = pos.api.post(
        "/v1/purchases",
        data=body % member["id"],
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid-json"
    assert pos.balance(member["id"])["available"] == 0


def test_a_refund_past_exact_digits_is_refused_and_takes_nothing_back(pos: Pos) -> None:
    member = pos.enrol()
    bought = pos.purchase(member["id"], amount="1000000")
    assert bought.status_code == 201, bought.text
    transaction_id = bought.json()["transaction_id"]
    for amount in ("1.00000000000000000000000000001", "1" * 40):
        refund = pos.api.post(
            f"/v1/purchases/{transaction_id}/refunds",
            {"refund_id": f"RF-{uuid.uuid4().hex[:8]}", "amount": amount},
        )
        assert (refund.status_code, refund.json()["code"]) == (422, "invalid-amount")
    assert pos.balance(member["id"])["available"] == 100


@pytest.mark.parametrize(("persian", "ascii"), [("۲", "2"), ("٢.۵", "2.5")])
def test_item_quantities_in_persian_digits_count_like_ascii_ones(
    pos: Pos, persian: str, ascii: str
) -> None:
    member = pos.enrol()
    earned = []
    for quantity in (persian, ascii):
        item = {"sku": "MILK", "category": "dairy", "quantity": quantity, "unit_price": "100000"}
        bought = pos.purchase(member["id"], amount="1000000", items=[item])
        assert bought.status_code == 201, bought.text
        earned.append(bought.json()["points_earned"])
    assert earned[0] == earned[1] == 100


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"transaction_id": "T-deep", "items": ' + "[" * 65 + "]" * 65 + "}",
    ],
    ids=["100,000 brackets", "65 deep"],
)
def test_json_nested_too_deep_is_refused_without_a_traceback(
    suite: Suite, pos: Pos, body: str
) -> None:
    answer = pos.api.post("/v1/purchases", data=body, headers={"Content-Type": "application/json"})
    assert (answer.status_code, answer.json()["code"]) == (400, "invalid-json")
    assert "RecursionError" not in logs_of(suite)
