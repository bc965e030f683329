"""Rewards end to end in the browser: a marketer creates rewards and uploads partner codes in the
console, a member redeems points for a coupon on the phone and sees it with its QR code (in
English and Persian), and a cashier types it, gives it back, scans it and uses it with a
purchase at the till."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect

from deploy.local import Suite
from gateway.web.qr import inline_svg
from tests.browser.conftest import Screens
from tests.browser.test_till import to_persian
from tests.support import Pos, e164, last_code, new_phone, staff_login


def console_sign_in(page: Page, suite: Suite) -> None:
    marketer = staff_login(suite, "marketer")
    page.context.add_cookies(
        [{"name": "loyalty_session", "value": marketer.token, "url": suite.gateway_url}]
    )


def portal_log_in(page: Page, suite: Suite, phone: str) -> None:
    page.goto("/portal")
    page.fill("#phone", phone)
    page.get_by_role("button", name="Send me a code").click()
    page.fill("#code", last_code(suite, e164(phone)))
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#balance")).to_be_visible()


def test_rewards_from_the_console_to_the_portal_and_the_till(
    page: Page, phone_page: Page, web_suite: Suite, screens: Screens, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    # The marketer creates a coupon reward, then a partner-code reward with its codes.
    console_sign_in(page, web_suite)
    page.goto("/console/rewards")
    page.select_option("#kind", "coupon")
    page.fill("#name", f"20% off {tag}")
    page.fill("#name_fa", f"۲۰٪ تخفیف {tag}")
    page.fill("#points_cost", "100")
    page.fill("#stock", "5")
    page.fill("#valid_days", "30")
    page.select_option("#coupon_type", "percent")
    page.fill("#coupon_value", "20")
    page.fill("#coupon_min_purchase", "500000")
    page.click("#create-reward")
    expect(page.locator(".notice")).to_contain_text("The reward was created.")
    expect(page.locator("#stock-left")).to_have_text("5")

    page.goto("/console/rewards")
    page.select_option("#kind", "partner_code")
    expect(page.locator("#coupon_value")).to_be_hidden()  # a partner code gives no discount
    page.fill("#name", f"Cinema ticket {tag}")
    page.fill("#points_cost", "۵۰۰")
    page.click("#create-reward")
    expect(page.locator("#codes")).to_be_visible()
    codes = tmp_path / "codes.csv"
    pool = [f"CIN{tag.upper()}{n}" for n in (2, 3, 4)]
    codes.write_text(f"code\n{pool[0]}\n{pool[1]}\n{pool[0]}\n")
    page.set_input_files("#codes_file", str(codes))
    page.fill("#codes_text", pool[2])
    page.click("#upload-codes")
    expect(page.locator(".notice")).to_contain_text("3 codes added; 1 duplicates refused.")
    expect(page.locator("#duplicates")).to_have_text(pool[0])
    expect(page.locator("#codes-left")).to_have_text("3")
    screens.take(page, "1-console-codes")

    # A member with 250 points redeems the coupon twice on the phone.
    pos = Pos(web_suite)
    phone = new_phone()
    member = pos.enrol(phone=phone, first_name="Sara", last_name="Ahmadi")
    assert pos.purchase(member["id"], amount="2500000").status_code == 201
    portal_log_in(phone_page, web_suite, phone)
    phone_page.click("#rewards-link a")
    reward = phone_page.locator(".reward", has_text=f"20% off {tag}")
    expect(reward).to_contain_text("100 points · 5 left")
    expect(phone_page.locator(".reward", has_text=f"Cinema ticket {tag}")).to_contain_text(
        "250 more points needed"
    )
    for count in (1, 2):
        phone_page.locator(".reward", has_text=f"20% off {tag}").get_by_role(
            "link", name="Redeem"
        ).click()
        expect(phone_page.locator("#confirm")).to_contain_text("Spend 100 points")
        phone_page.click("#redeem")
        expect(phone_page.locator(".notice")).to_contain_text("your coupon is below")
        expect(phone_page.locator(".coupon.issued")).to_have_count(count)
    coupon = phone_page.locator(".coupon.issued").first
    code = coupon.locator(".code").inner_text()
    assert re.fullmatch(r"[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{10}", code), code
    # The QR code the till scans holds the code itself.
    drawn = coupon.locator("svg.qr-code path").get_attribute("d")
    assert drawn == re.search(r' d="([^"]+)"', inline_svg(code, code)).group(1)
    expect(phone_page.locator("#rewards .muted").first).to_contain_text("50 points to spend")
    screens.take(phone_page, "2-portal-coupon")
    phone_page.click("#switch-language")
    expect(phone_page.locator("html")).to_have_attribute("dir", "rtl")
    expect(coupon.locator(".code")).to_have_text(code)  # never digit-converted
    expect(coupon.locator(".expires")).to_contain_text("معتبر تا")
    expect(coupon.locator(".gives")).to_contain_text("۲۰٪ تخفیف")
    screens.take(phone_page, "3-portal-coupon-persian")

    # The cashier, in Persian, types the code loosely for a purchase: it fits, it is used, the
    # sale is cancelled and the coupon given back.
    page.goto("/till")
    page.fill("#api_key", pos.api_key)
    page.get_by_role("button", name="Sign in").click()
    page.fill("#identifier", phone)
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#member h1")).to_have_text("Sara A.")
    page.click("#switch-language")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    typed = to_persian(f"{code[:5]}-{code[5:]}".lower())
    page.fill("#coupon-code", typed)
    page.fill("#coupon-amount", "۱٬۰۰۰٬۰۰۰")
    page.click("#coupon-form button")
    expect(page.locator("#coupon .code")).to_have_text(code)
    expect(page.locator("#discount")).to_have_text("تخفیف: ۲۰۰٬۰۰۰ ریال")
    page.click("#use-coupon")
    expect(page.locator(".notice")).to_contain_text("کوپن استفاده شد")
    expect(page.locator("#to-pay")).to_contain_text("۸۰۰٬۰۰۰")
    screens.take(page, "4-till-coupon-used")
    page.click("#release-coupon")
    expect(page.locator(".notice")).to_contain_text("کوپن برگردانده شد")

    # In English, the scanner types the QR code's text: the code as issued.
    page.click("#switch-language")
    page.fill("#coupon-code", code)
    page.fill("#coupon-amount", "300000")
    page.click("#coupon-form button")
    expect(page.locator("#coupon-refused")).to_contain_text("below this coupon's minimum")
    page.fill("#coupon-code", code)
    page.fill("#coupon-amount", "1000000")
    page.click("#coupon-form button")
    expect(page.locator("#discount")).to_have_text("Discount: 200,000 rials")
    page.click("#use-coupon")
    expect(page.locator(".notice")).to_contain_text("Coupon used: 200,000 off; 800,000 to pay.")
    expect(page.locator("#amount")).to_have_value("800,000")
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".notice")).to_contain_text("80 points earned")
    screens.take(page, "5-till-purchase-with-coupon")

    # The member's coupon now reads used; the reward's figures count it.
    phone_page.reload()
    expect(phone_page.locator(".coupon.used")).to_have_count(1)
    expect(phone_page.locator(".coupon.used .status")).to_have_text("استفاده شده")
    page.goto("/console/rewards")
    row = page.locator("tr.reward", has_text=f"20% off {tag}")
    expect(row.locator(".issued")).to_have_text("2")
    expect(row.locator(".used")).to_have_text("1")
    expect(row.locator(".spent")).to_have_text("200")
    expect(row.locator(".stock")).to_have_text("3")
    screens.take(page, "6-console-figures")
