"""A till's day: set up a store, enrol, identify, buy, retry, read the points and history."""

from __future__ import annotations

import uuid

from tests.support import Api, Pos, logs_of


def test_phone_formats_identify_the_same_member(pos: Pos) -> None:
    digits = f"{uuid.uuid4().int % 10**7:07d}"
    member = pos.enrol(phone=f"0912{digits}", first_name="Sara", last_name="Ahmadi")
    persian = f"0912{digits}".translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    for typed in (
        f"0912{digits}",
        persian,
        f"+98 912 {digits[:3]} {digits[3:]}",
        f"0098-912-{digits[:3]}-{digits[3:]}",
    ):
        found = pos.api.get("/v1/members/identify", params={"phone": typed})
        assert found.status_code == 200, (typed, found.text)
        assert found.json()["member_id"] == member["id"]
        assert found.json()["display_name"] == "Sara A."
        assert found.json()["tier"] == "member"
        assert found.json()["phone_masked"] == f"+98 912 *** **{digits[-2:]}"


def test_card_identifies_and_a_wrong_check_digit_is_refused(pos: Pos) -> None:
    member = pos.enrol()
    card = member["card_number"]
    found = pos.api.get("/v1/members/identify", params={"card": card})
    assert found.status_code == 200
    assert found.json()["member_id"] == member["id"]

    wrong = card[:-1] + str((int(card[-1]) + 1) % 10)
    refused = pos.api.get("/v1/members/identify", params={"card": wrong})
    assert refused.status_code == 422
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "invalid-card-number"


def test_unknown_phone_is_404(pos: Pos) -> None:
    response = pos.api.get("/v1/members/identify", params={"phone": "09990000000"})
    assert response.status_code == 404
    assert response.json()["code"] == "member-not-found"


def test_enrolling_a_taken_phone_is_409_in_any_format(pos: Pos) -> None:
    digits = f"{uuid.uuid4().int % 10**7:07d}"
    pos.enrol(phone=f"0912{digits}")
    again = pos.api.post("/v1/members", {"phone": f"+98912{digits}"})
    assert again.status_code == 409
    assert again.json()["code"] == "member-exists"


def test_purchase_earns_base_points_and_shows_in_balance_and_ledger(pos: Pos) -> None:
    member = pos.enrol()
    response = pos.purchase(
        member["id"],
        "T-1001",
        amount="1250000",
        items=[{"sku": "MILK-1L", "category": "dairy", "quantity": 2, "unit_price": "625000"}],
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["points_earned"] == 125  # 1 point per 10,000 IRR
    assert body["breakdown"] == [
        {"source": "base", "points": 125, "reason": "1 point per 10000 IRR"}
    ]
    assert body["balance"] == {"available": 125, "pending": 0}
    assert pos.balance(member["id"])["available"] == 125

    ledger = pos.api.get(f"/v1/members/{member['id']}/ledger").json()
    assert [(e["kind"], e["points"], e["source_id"]) for e in ledger["items"]] == [
        ("earn", 125, "T-1001")
    ]


def test_a_retried_purchase_earns_once_and_answers_the_same(pos: Pos) -> None:
    member = pos.enrol()
    first = pos.purchase(member["id"], "T-retry", amount="500000")
    second = pos.purchase(member["id"], "T-retry", amount="500000")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert pos.balance(member["id"])["available"] == 50


def test_a_reused_transaction_id_with_another_amount_is_422_and_changes_nothing(pos: Pos) -> None:
    member = pos.enrol()
    assert pos.purchase(member["id"], "T-reuse", amount="500000").status_code == 201
    clash = pos.purchase(member["id"], "T-reuse", amount="900000")
    assert clash.status_code == 422
    assert clash.json()["code"] == "idempotency-mismatch"
    assert pos.balance(member["id"])["available"] == 50
    ledger = pos.api.get(f"/v1/members/{member['id']}/ledger").json()
    assert len(ledger["items"]) == 1


def test_two_stores_may_use_the_same_transaction_id(suite, pos: Pos) -> None:  # type: ignore[no-untyped-def]
    other = Pos(suite)
    member = pos.enrol()
    assert pos.purchase(member["id"], "T-shared", amount="100000").status_code == 201
    assert other.purchase(member["id"], "T-shared", amount="200000").status_code == 201
    assert pos.balance(member["id"])["available"] == 30


def test_ledger_pages_newest_first_with_a_cursor(pos: Pos) -> None:
    member = pos.enrol()
    for n in range(5):
        bought = pos.purchase(member["id"], f"T-page-{n}", amount=f"{(n + 1) * 10000}")
        assert bought.status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = pos.api.get(f"/v1/members/{member['id']}/ledger", params=params).json()
        seen += [entry["source_id"] for entry in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"T-page-{n}" for n in reversed(range(5))]


def test_admin_reads_a_members_points_too(pos: Pos) -> None:
    member = pos.enrol()
    pos.purchase(member["id"], amount="30000")
    assert pos.admin.get(f"/v1/members/{member['id']}/points").json()["available"] == 3


def test_health_and_spec_are_served(suite) -> None:  # type: ignore[no-untyped-def]
    api = Api(suite.gateway_url)
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["services"] == {
        "identity": "SERVING",
        "points": "SERVING",
        "campaigns": "SERVING",
        "webhooks": "SERVING",
    }


def test_no_personal_data_or_secret_reaches_the_logs(suite) -> None:  # type: ignore[no-untyped-def]
    pos = Pos(suite)
    digits = f"{uuid.uuid4().int % 10**7:07d}"
    member = pos.enrol(
        phone=f"0912{digits}",
        email=f"zahra.{digits}@example.com",
        first_name="Zahra",
        last_name="Karimi",
    )
    pos.api.get("/v1/members/identify", params={"phone": f"+98912{digits}"})
    pos.api.get("/v1/members/identify", params={"card": member["card_number"]})
    pos.purchase(member["id"], amount="100000")
    pos.api.post("/v1/members", {"phone": f"0912{digits}"})  # a refused duplicate

    logs = logs_of(suite)
    assert '"route": "/v1/members/identify"' in logs  # the access log is there to search
    for secret in (
        digits,
        f"zahra.{digits}",
        "Zahra",
        "Karimi",
        member["card_number"],
        pos.api_key,
        pos.api_key.removeprefix("lk_"),
        suite.env["LOYALTY_ADMIN_TOKEN"],
    ):
        assert secret not in logs
