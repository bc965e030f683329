"""A member's new e-mail address needs the code sent to it: no one can put another person's
address on their own record, to be listed as that person's duplicate or found by it."""

from __future__ import annotations

import re
import uuid

import requests

from deploy.local import Suite
from tests.integration.test_web_security import form_token
from tests.support import Api, Pos, e164, last_code, log_in, new_phone, sent_messages


def email_code(suite: Suite, address: str) -> str:
    """The latest code the (stand-in) e-mail provider was given for an address."""
    for message in reversed(sent_messages(suite, "email")):
        if message["to"] == address:
            found = re.search(r"\b(\d{6})\b", message["body"])
            assert found, "the message holds no code"
            return found.group(1)
    raise AssertionError("no code was sent to this address")


def paired(pos: Pos, first: str, second: str) -> bool:
    listed = pos.admin.get("/v1/support/members/duplicates", params={"limit": 500})
    assert listed.status_code == 200, listed.text
    return any(
        {pair["first"]["id"], pair["second"]["id"]} == {first, second}
        for pair in listed.json()["pairs"]
    )


def identified_by(pos: Pos, address: str):
    return pos.api.get("/v1/members/identify", params={"email": address})


def test_another_members_email_is_not_set_without_the_code_sent_to_it(
    suite: Suite, pos: Pos
) -> None:
    address = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    owner = pos.enrol(email=address)  # given at the till: taken as it is
    phone = new_phone()
    other = pos.enrol(phone=phone)
    me = Api(suite.gateway_url, log_in(suite, phone))

    asked = me.request("PATCH", "/v1/me", json={"email": address.upper(), "city": "Shiraz"})
    assert asked.status_code == 200, asked.text
    assert asked.json()["city"] == "Shiraz"
    assert asked.json()["email_change"]["email"] == address
    assert asked.json()["email_change"]["expires_in"] > 0
    guess = f"{(int(email_code(suite, address)) + 1) % 10**6:06d}"
    wrong = me.post("/v1/me/email/confirm", {"email": address, "code": guess})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "wrong-code")

    assert me.get("/v1/me").json()["member"]["email_masked"] == ""
    assert not paired(pos, owner["id"], other["id"])
    found = identified_by(pos, address)
    assert (found.status_code, found.json()["member_id"]) == (200, owner["id"])

    # Whoever reads the mail at that address can prove it: then the address is set, and the two
    # records are what the duplicates list is for.
    code = email_code(suite, address)
    confirmed = me.post("/v1/me/email/confirm", {"email": address, "code": code})
    assert confirmed.status_code == 200, confirmed.text
    assert me.get("/v1/me").json()["member"]["email_masked"] != ""
    assert paired(pos, owner["id"], other["id"])
    assert identified_by(pos, address).json()["code"] == "ambiguous-identifier"
    again = me.post("/v1/me/email/confirm", {"email": address, "code": code})
    assert (again.status_code, again.json()["code"]) == (401, "code-expired")


def test_a_code_works_only_for_the_address_and_the_member_it_was_sent_for(
    suite: Suite, pos: Pos
) -> None:
    phone, other_phone = new_phone(), new_phone()
    pos.enrol(phone=phone)
    pos.enrol(phone=other_phone)
    me = Api(suite.gateway_url, log_in(suite, phone))
    someone = Api(suite.gateway_url, log_in(suite, other_phone))
    mine = f"mine-{uuid.uuid4().hex[:8]}@example.com"
    assert me.request("PATCH", "/v1/me", json={"email": mine}).status_code == 200
    code = email_code(suite, mine)

    elsewhere = f"else-{uuid.uuid4().hex[:8]}@example.com"
    for_another_address = me.post("/v1/me/email/confirm", {"email": elsewhere, "code": code})
    assert (for_another_address.status_code, for_another_address.json()["code"]) == (
        401,
        "code-expired",
    )
    by_another_member = someone.post("/v1/me/email/confirm", {"email": mine, "code": code})
    assert by_another_member.status_code == 401
    assert someone.get("/v1/me").json()["member"]["email_masked"] == ""

    assert me.post("/v1/me/email/confirm", {"email": mine, "code": code}).status_code == 200
    # Removing the address needs no code; the same address again sends none.
    assert "email_change" not in me.request("PATCH", "/v1/me", json={"email": mine}).json()
    removed = me.request("PATCH", "/v1/me", json={"email": ""})
    assert (removed.status_code, removed.json()["email_masked"]) == (200, "")
    assert identified_by(pos, mine).status_code == 404


def test_the_portal_sets_a_new_email_address_once_the_code_is_typed(sqlite_suite: Suite) -> None:
    suite, phone = sqlite_suite, new_phone()
    Pos(suite).enrol(phone=phone, first_name="Sara")
    browser, portal = requests.Session(), suite.gateway_url + "/portal"
    login_page = browser.get(portal, timeout=10)
    sent = browser.post(
        portal + "/code",
        data={"csrf_token": form_token(login_page.text), "phone": phone},
        timeout=10,
    )
    home = browser.post(
        portal + "/verify",
        data={"csrf_token": form_token(sent.text), "code": last_code(suite, e164(phone))},
        timeout=10,
    )
    token = form_token(home.text)
    me = Api(suite.gateway_url, browser.cookies["loyalty_session"])
    address = f"sara-{uuid.uuid4().hex[:8]}@example.com"

    saved = browser.post(
        portal + "/profile",
        data={"csrf_token": token, "first_name": "Sara", "city": "Yazd", "email": address},
        timeout=10,
    )
    assert "We sent a code to your new e-mail address" in saved.text
    assert 'action="/portal/email/confirm"' in saved.text and address in saved.text
    assert me.get("/v1/me").json()["member"]["city"] == "Yazd"
    assert me.get("/v1/me").json()["member"]["email_masked"] == ""
    persian = browser.get(portal, cookies={"lang": "fa"}, timeout=10)
    assert "تأیید ایمیل" in persian.text and f'<bdi dir="ltr">{address}</bdi>' in persian.text
    without_token = browser.post(
        portal + "/email/confirm", data={"email_code": email_code(suite, address)}, timeout=10
    )
    assert without_token.status_code == 403
    assert me.get("/v1/me").json()["member"]["email_masked"] == ""

    confirmed = browser.post(
        portal + "/email/confirm",
        data={"csrf_token": token, "email_code": email_code(suite, address)},
        timeout=10,
    )
    assert "Your e-mail address is set." in confirmed.text
    assert 'action="/portal/email/confirm"' not in confirmed.text
    assert me.get("/v1/me").json()["member"]["email_masked"] != ""
