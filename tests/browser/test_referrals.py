"""A marketer sets the referral program in the console; a member shares their code from the
portal, and a friend who opens the link joins referred by them (en and fa, on a phone)."""

from __future__ import annotations

from urllib.parse import unquote

from playwright.sync_api import Page, expect

from deploy.local import Suite
from tests.browser.conftest import Screens
from tests.support import (
    STAFF_PASSWORD,
    Api,
    Pos,
    e164,
    last_code,
    log_in,
    new_email,
    new_phone,
)


def log_in_on_the_portal(page: Page, suite: Suite, phone: str) -> None:
    page.fill("#phone", phone)
    page.locator("form[action='/portal/code'] button").click()
    page.fill("#code", last_code(suite, e164(phone)))
    page.locator("form[action='/portal/verify'] button").click()
    expect(page.locator("#balance")).to_be_visible()


def test_a_marketer_sets_the_program_and_a_friend_joins_through_a_shared_link(
    phone_page: Page, web_suite: Suite, screens: Screens
) -> None:
    page = phone_page
    admin = Api(web_suite.gateway_url, web_suite.env["LOYALTY_ADMIN_TOKEN"])
    email = new_email()
    staff = {"email": email, "password": STAFF_PASSWORD, "role": "marketer"}
    assert admin.post("/v1/admin/staff", staff).status_code == 201

    page.goto("/console/referrals")
    page.fill("#email", email)
    page.fill("#password", STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/console/referrals")
    page.fill("#referrer_points", "۵۰۰")  # typed in Persian digits
    page.fill("#referee_points", "200")
    page.fill("#min_purchase", "1,000,000")
    page.fill("#monthly_cap", "abc")
    page.check("#active")
    page.get_by_role("button", name="Save the program").click()
    expect(page.locator(".notice.error")).to_be_visible()
    page.fill("#referrer_points", "۵۰۰")
    page.fill("#referee_points", "200")
    page.fill("#min_purchase", "1,000,000")
    page.fill("#monthly_cap", "3")
    page.check("#active")
    page.get_by_role("button", name="Save the program").click()
    expect(page.locator(".notice")).to_have_text("The referral program is saved.")
    expect(page.locator("#referrer_points")).to_have_value("500")
    screens.take(page, "1-console-referrals")
    page.click("#switch-language")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("button", name="ذخیره برنامه")).to_be_visible()
    screens.take(page, "2-console-referrals-fa")
    page.click("#switch-language")
    program = admin.get("/v1/marketing/referral-program").json()
    assert (program["referrer_points"], program["monthly_cap"], program["active"]) == (500, 3, True)

    # The member's portal: the code, the link and an SMS ready to send.
    pos = Pos(web_suite)
    referrer_phone = new_phone()
    pos.enrol(phone=referrer_phone, first_name="Sara")
    page.goto("/portal")
    log_in_on_the_portal(page, web_suite, referrer_phone)
    code = page.locator("#referral-code").inner_text()
    link = page.locator("#referral-link").input_value()
    assert link.endswith(f"/portal?ref={code}")
    sms = page.locator("#referral-sms").get_attribute("href") or ""
    assert sms.startswith("sms:") and code in unquote(sms) and link in unquote(sms)
    screens.take(page, "3-portal-referral")
    page.click("#switch-language")
    # A code is shown as it is given, never with Persian digits.
    expect(page.locator("#referral-code")).to_have_text(code)
    expect(page.locator("#referral-counts")).to_contain_text("۰")
    screens.take(page, "4-portal-referral-fa")
    page.click("#switch-language")
    page.locator("form[action='/portal/logout'] button").click()

    # A friend opens the link: the code is filled in, and the first login enrols them referred.
    page.goto(link)
    expect(page.locator("#referral_code")).to_have_value(code)
    log_in_on_the_portal(page, web_suite, new_phone())
    shared = Api(web_suite.gateway_url, log_in(web_suite, referrer_phone)).get("/v1/me/referral")
    assert shared.json()["invited"] == 1
