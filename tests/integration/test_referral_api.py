"""Referrals through the real suite: a marketer sets the program, a member shares their code,
friends enrol with it at the till and at the portal, and the first qualifying purchase rewards
both sides once however the till retries it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from deploy.local import Suite
from tests.support import (
    Api,
    Pos,
    e164,
    last_code,
    log_in,
    new_phone,
    run_check,
    staff_login,
)

PROGRAM = {
    "referrer_points": 500,
    "referee_points": 200,
    "min_purchase": "1000000",
    "monthly_cap": 10,
}


def set_program(suite: Suite, **changes: object) -> dict:
    marketer = staff_login(suite, "marketer")
    answer = marketer.put("/v1/marketing/referral-program", {**PROGRAM, **changes})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_friends_enrol_with_a_code_and_the_first_purchase_rewards_both_once(
    suite: Suite, pos: Pos
) -> None:
    program = set_program(suite)
    assert program["active"] is True and Decimal(program["min_purchase"]) == 1000000
    referrer_phone = new_phone()
    referrer = pos.enrol(phone=referrer_phone)
    me = Api(suite.gateway_url, log_in(suite, referrer_phone))
    shared = me.get("/v1/me/referral").json()
    assert shared["invited"] == 0 and shared["rewarded"] == 0
    assert shared["link"].endswith(f"/portal?ref={shared['code']}")
    assert me.get("/v1/me/referral").json()["code"] == shared["code"]  # the same code each time

    # At the till: typed in lower case, with a dash.
    code = shared["code"]
    friend = pos.enrol(referral_code=f"{code[:3].lower()}-{code[3:].lower()}")
    # At the portal's first login.
    web_phone = new_phone()
    anonymous = Api(suite.gateway_url)
    assert anonymous.post("/v1/auth/otp", {"phone": web_phone}).status_code == 202
    verified = anonymous.post(
        "/v1/auth/otp/verify",
        {"phone": web_phone, "code": last_code(suite, e164(web_phone)), "referral_code": code},
    )
    assert verified.status_code == 200 and verified.json()["enrolled"] is True
    assert me.get("/v1/me/referral").json()["invited"] == 2

    # Under the minimum: nothing; then the qualifying purchase, sent four times at once.
    assert pos.purchase(friend["id"], amount="500000").status_code == 201
    assert pos.balance(referrer["id"])["available"] == 0
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: pos.purchase(friend["id"], "T-ref-1"), range(4)))
    assert {answer.status_code for answer in answers} == {201}
    assert pos.purchase(friend["id"], "T-ref-1").json() == answers[0].json()
    earned = answers[0].json()["points_earned"]
    assert pos.balance(referrer["id"])["available"] == 500
    assert pos.balance(friend["id"])["available"] == 200 + earned + 50
    assert me.get("/v1/me/referral").json() == {**shared, "invited": 2, "rewarded": 1}
    assert run_check(suite.env).returncode == 0


def test_a_code_that_cannot_refer_enrols_nobody(sqlite_suite: Suite) -> None:
    # Identity alone judges a code, the same on either database: one backend is enough.
    suite, pos = sqlite_suite, Pos(sqlite_suite)
    set_program(suite)
    phone = new_phone()
    unknown = pos.api.post("/v1/members", {"phone": phone, "referral_code": "ZZZZ222"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "invalid-referral-code"
    malformed = pos.api.post("/v1/members", {"phone": phone, "referral_code": "not a code"})
    assert malformed.json()["code"] == "invalid-referral-code"
    assert pos.api.get("/v1/members/identify", params={"phone": phone}).status_code == 404

    referrer_phone = new_phone()
    pos.enrol(phone=referrer_phone)
    code = Api(suite.gateway_url, log_in(suite, referrer_phone)).get("/v1/me/referral").json()
    # An existing member is not referred: their own phone, or anyone's already enrolled.
    again = pos.api.post("/v1/members", {"phone": referrer_phone, "referral_code": code["code"]})
    assert again.status_code == 409
    # A program turned off refuses every code.
    set_program(suite, active=False)
    try:
        off = pos.api.post("/v1/members", {"phone": phone, "referral_code": code["code"]})
        assert off.status_code == 422 and off.json()["code"] == "invalid-referral-code"
        web = Api(suite.gateway_url)
        assert web.post("/v1/auth/otp", {"phone": phone}).status_code == 202
        login_code = last_code(suite, e164(phone))
        refused = web.post(
            "/v1/auth/otp/verify",
            {"phone": phone, "code": login_code, "referral_code": code["code"]},
        )
        assert refused.status_code == 422 and refused.json()["code"] == "invalid-referral-code"
        assert pos.api.get("/v1/members/identify", params={"phone": phone}).status_code == 404
        # The login code was not used up: without the referral, the same code logs in.
        plain = web.post("/v1/auth/otp/verify", {"phone": phone, "code": login_code})
        assert plain.status_code == 200 and plain.json()["enrolled"] is True
    finally:
        set_program(suite)
