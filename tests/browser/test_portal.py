"""A member uses the portal on a phone: logs in with the SMS code, reads points and history,
switches to Persian, edits the profile."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Page, expect

from deploy.local import Suite
from services.runtime.jalali import MONTHS_FA, to_jalali
from tests.browser.conftest import PHONE, Screens
from tests.support import Api, Pos, e164, eventually, last_code, new_phone, sent_messages

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def test_a_member_logs_in_with_the_code_and_reads_points_in_english_and_persian(
    phone_page: Page, web_suite: Suite, screens: Screens
) -> None:
    page = phone_page
    pos = Pos(web_suite)
    phone = new_phone()
    member = pos.enrol(phone=phone, first_name="Sara", last_name="Ahmadi")
    for _ in range(12):
        assert pos.purchase(member["id"], amount="250000").status_code == 201
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))

    page.goto("/portal")
    screens.take(page, "1-login")
    page.fill("#phone", phone.translate(PERSIAN))  # typed in Persian digits
    page.get_by_role("button", name="Send me a code").click()
    expect(page.locator("#code")).to_be_visible()
    screens.take(page, "2-code")
    page.fill("#code", "000000")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".notice.error")).to_contain_text("not right")
    page.fill("#code", last_code(web_suite, e164(phone)))
    page.get_by_role("button", name="Log in").click()

    expect(page.locator("#balance h1")).to_have_text("Hello, Sara")
    expect(page.locator("#available")).to_have_text("300")  # 12 × 25
    expect(page.locator("#tier")).to_contain_text("Tier: Member")
    expect(page.locator("#tier")).to_contain_text("to reach Silver")
    expect(page.locator("#history tr")).to_have_count(10)
    page.wait_for_function("document.getElementById('qr-image').naturalWidth > 0")
    screens.take(page, "3-home")
    page.click("#older")
    expect(page.locator("#history tr")).to_have_count(2)
    screens.take(page, "4-older-history")

    page.click("#switch-language")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("#available")).to_have_text("۳۰۰")
    expect(page.locator("#tier h2")).to_have_text("سطح: عضو")
    today = to_jalali(datetime.now(ZoneInfo("Asia/Tehran")).date())
    jalali_today = f"{today[2]} {MONTHS_FA[today[1] - 1]} {today[0]}".translate(PERSIAN)
    expect(page.locator("#history .when").first).to_have_text(jalali_today)
    screens.take(page, "5-persian")

    # A birth date typed in the Jalali calendar, with Persian digits, is kept as the same day.
    page.fill("#birth_date", "۱۳۷۰/۰۱/۳۱")
    page.fill("#city", "شیراز")
    page.locator("input[name=consent_email]").check()
    page.get_by_role("button", name="ذخیره").click()
    expect(page.locator(".notice")).to_have_text("ذخیره شد.")
    expect(page.locator("#birth_date")).to_have_value("۱۳۷۰/۰۱/۳۱")
    screens.take(page, "6-profile-saved")
    page.click("#switch-language")
    expect(page.locator("#birth_date")).to_have_value("1991-04-20")
    expect(page.locator("input[name=consent_email]")).to_be_checked()

    token = next(c["value"] for c in page.context.cookies() if c["name"] == "loyalty_session")
    assert Api(web_suite.gateway_url, token).get("/v1/me").json()["member"]["city"] == "شیراز"
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#phone")).to_be_visible()
    # Logged out everywhere: every gateway process refuses the session within seconds.
    session = Api(web_suite.gateway_url, token)
    assert eventually(lambda: session.get("/v1/me").status_code == 401)
    for url in urls:
        assert phone[1:] not in url and member["id"] not in url and token not in url


def test_the_portal_pages_never_show_another_members_data(
    phone_page: Page, web_suite: Suite
) -> None:
    pos = Pos(web_suite)
    mine, theirs = new_phone(), new_phone()
    pos.enrol(phone=mine, first_name="Neda")
    other = pos.enrol(phone=theirs, first_name="Ali")
    assert pos.purchase(other["id"]).status_code == 201
    page = phone_page
    page.goto("/portal")
    page.fill("#phone", mine)
    page.get_by_role("button", name="Send me a code").click()
    page.fill("#code", last_code(web_suite, e164(mine)))
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#balance h1")).to_have_text("Hello, Neda")
    expect(page.locator("#available")).to_have_text("0")
    # No page takes a member id: asking for the other member's changes nothing.
    page.goto(f"/portal?member_id={other['id']}")
    expect(page.locator("#balance h1")).to_have_text("Hello, Neda")
    expect(page.locator("#history")).to_contain_text("No points yet")


def test_a_member_sees_an_offer_and_gives_feedback(
    phone_page: Page, web_suite: Suite, screens: Screens
) -> None:
    pos = Pos(web_suite)
    phone = new_phone()
    pos.enrol(phone=phone, first_name="Maryam")
    title = f"Free coffee {uuid.uuid4().hex[:6]}"
    created = pos.admin.post(
        "/v1/marketing/campaigns",
        {
            "name": title,
            "kind": "offer",
            "offer": {"title": title, "code": "COFFEE"},
            "targeting": {"everyone": True},
        },
    )
    assert created.status_code == 201, created.text
    campaign = created.json()["id"]
    assert pos.admin.post(f"/v1/marketing/campaigns/{campaign}/launch").status_code == 200
    try:
        page = phone_page
        page.goto("/portal")
        page.fill("#phone", phone)
        page.get_by_role("button", name="Send me a code").click()
        page.fill("#code", last_code(web_suite, e164(phone)))
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#balance h1")).to_have_text("Hello, Maryam")
        for _ in range(30):  # the member view learns of a new member within moments
            if page.locator("#offers").count():
                break
            page.wait_for_timeout(1000)
            page.reload()
        expect(page.locator("#offers")).to_contain_text(title)
        expect(page.locator("#offers")).to_contain_text("Code: COFFEE")
        screens.take(page, "1-offer")

        page.locator("#feedback input[value='4']").check()
        page.fill("#comment", "Friendly staff")
        page.get_by_role("button", name="Send").click()
        expect(page.locator(".notice")).to_have_text("Thank you for your feedback.")
        screens.take(page, "2-feedback-sent")
    finally:
        pos.admin.post(f"/v1/marketing/campaigns/{campaign}/end")


def test_a_persian_browser_gets_the_persian_portal_with_one_line_per_redemption(
    browser: Browser, web_suite: Suite, screens: Screens
) -> None:
    pos = Pos(web_suite)
    phone = new_phone()
    member = pos.enrol(phone=phone, first_name="Maryam")
    # A sale made offline ten days ago, uploaded today with its own time.
    sold = datetime.now(UTC) - timedelta(days=10)
    batch = pos.api.post(
        "/v1/purchases/batch",
        {
            "purchases": [
                {
                    "transaction_id": "T-offline-1",
                    "member_id": member["id"],
                    "amount": "2500000",
                    "currency": "IRR",
                    "occurred_at": sold.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            ]
        },
    )
    assert batch.json()["applied"] == 1, batch.text
    held = pos.api.post(
        "/v1/redemptions", {"redemption_id": "RD-w1", "member_id": member["id"], "points": 40}
    )
    assert held.status_code == 201, held.text
    assert pos.api.post("/v1/redemptions/RD-w1/capture").status_code == 200
    voided = {"redemption_id": "RD-w2", "member_id": member["id"], "points": 5}
    assert pos.api.post("/v1/redemptions", voided).status_code == 201
    assert pos.api.post("/v1/redemptions/RD-w2/void").status_code == 200

    context = browser.new_context(base_url=web_suite.gateway_url, viewport=PHONE, locale="fa-IR")
    page = context.new_page()
    page.goto("/portal")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")  # no choice made: the browser's
    page.fill("#phone", phone)
    page.get_by_role("button", name="ارسال کد").click()
    expect(page.locator("#code")).to_be_visible()
    (sms,) = [m for m in sent_messages(web_suite) if m["to"] == e164(phone)][-1:]
    assert sms["body"].startswith("کد باشگاه مشتریان")  # the code's SMS in Persian too
    page.fill("#code", last_code(web_suite, e164(phone)))
    page.get_by_role("button", name="ورود").click()
    expect(page.locator("#available")).to_have_text("۲۱۰")  # 250 earned, 40 spent

    # The captured redemption is one line (not hold and capture); the voided one none.
    expect(page.locator("#history tr")).to_have_count(2)
    redemption = page.locator("#history tr.redemption")
    expect(redemption).to_have_count(1)
    expect(redemption).to_contain_text(f"پرداخت با امتیاز در {pos.store_name}".translate(PERSIAN))
    expect(redemption).to_contain_text("۴۰")
    purchase = page.locator("#history tr.purchase")
    day = to_jalali(sold.astimezone(ZoneInfo("Asia/Tehran")).date())
    expect(purchase.locator(".when")).to_have_text(
        f"{day[2]} {MONTHS_FA[day[1] - 1]} {day[0]}".translate(PERSIAN)
    )
    expect(purchase).to_contain_text("۲٬۵۰۰٬۰۰۰ ریال")
    expect(purchase).to_contain_text(f"خرید در {pos.store_name}".translate(PERSIAN))
    screens.take(page, "persian-history")
    context.close()


def test_a_member_changes_their_number_downloads_their_data_and_deletes_the_account(
    phone_page: Page, web_suite: Suite, screens: Screens
) -> None:
    page = phone_page
    pos = Pos(web_suite)
    phone, new = new_phone(), new_phone()
    member = pos.enrol(phone=phone, first_name="Nasrin")
    page.goto("/portal")
    page.fill("#phone", phone)
    page.get_by_role("button", name="Send me a code").click()
    page.fill("#code", last_code(web_suite, e164(phone)))
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#balance h1")).to_have_text("Hello, Nasrin")

    # Every new form refuses a request without the page's token.
    for path in ("/portal/phone", "/portal/phone/confirm", "/portal/delete"):
        forged = page.request.post(path, form={"csrf_token": "forged", "confirm": "delete"})
        assert forged.status == 403, path

    page.fill("#new_phone", new)
    page.get_by_role("button", name="Get the codes").click()
    expect(page.locator(".notice")).to_contain_text("one to the new number")
    page.fill("#old_code", last_code(web_suite, e164(phone)))
    page.fill("#new_code", last_code(web_suite, e164(new)))
    page.get_by_role("button", name="Change the number").click()
    expect(page.locator(".notice")).to_contain_text("number is changed")
    found = pos.api.get("/v1/members/identify", params={"phone": new})
    assert found.json()["member_id"] == member["id"]
    screens.take(page, "1-number-changed")

    with page.expect_download() as download:
        page.click("#export")
    document = json.loads(Path(download.value.path()).read_text())
    assert document["identity"]["member"]["phone"] == e164(new)
    assert "feedback" in document

    page.fill("#confirm", "not sure")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".notice.error")).to_contain_text("Type DELETE")
    page.fill("#confirm", "DELETE")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".notice")).to_contain_text("Your account is deleted")
    expect(page.locator("#phone")).to_be_visible()  # logged out
    screens.take(page, "2-deleted")
    gone = pos.api.get("/v1/members/identify", params={"phone": new})
    assert gone.status_code == 404
