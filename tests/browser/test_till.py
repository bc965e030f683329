"""A cashier at a store without an integration works the till in a browser."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from deploy.local import Suite
from tests.browser.conftest import Screens
from tests.support import Api, Pos, log_in, new_phone


def to_persian(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


def test_a_cashier_records_a_purchase_and_redeems(
    page: Page, web_suite: Suite, screens: Screens
) -> None:
    pos = Pos(web_suite)
    phone = new_phone()
    member = pos.enrol(phone=phone, first_name="Sara", last_name="Ahmadi")
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))

    page.goto("/till")
    screens.take(page, "1-sign-in")
    page.fill("#api_key", "not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".notice.error")).to_contain_text("not valid")
    page.fill("#api_key", pos.api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#identifier")).to_be_visible()
    screens.take(page, "2-find-member")

    # The cashier types the phone as the customer says it, in Persian digits.
    page.fill("#identifier", to_persian(phone))
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#member h1")).to_have_text("Sara A.")
    expect(page.locator("#available")).to_have_text("0")
    screens.take(page, "3-member")

    page.fill("#amount", "۱٬۲۵۰٬۰۰۰")
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".notice")).to_contain_text("125 points earned")
    expect(page.locator("#available")).to_have_text("125")
    screens.take(page, "4-purchase-recorded")

    page.fill("#points", "50")
    page.get_by_role("button", name="Redeem").click()
    expect(page.locator(".notice")).to_contain_text("50 points redeemed")
    expect(page.locator("#available")).to_have_text("75")
    screens.take(page, "5-redeemed")

    page.fill("#points", "1000")
    page.get_by_role("button", name="Redeem").click()
    expect(page.locator(".notice.error")).to_contain_text("Not enough points")

    page.click("#switch-language")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("#available")).to_have_text("۷۵")
    screens.take(page, "6-persian")

    # The ledger agrees with what the till showed, and nothing personal went into a URL.
    balance = pos.balance(member["id"])
    assert (balance["available"], balance["held"]) == (75, 0)
    for url in urls:
        assert phone[1:] not in url and pos.api_key not in url and member["id"] not in url


def test_the_till_refuses_a_form_from_another_site(page: Page, web_suite: Suite) -> None:
    pos = Pos(web_suite)
    page.goto("/till")
    page.fill("#api_key", pos.api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#identifier")).to_be_visible()
    # The browser still holds the signed-in cookie; a form without the page's token is refused.
    response = page.request.post("/till/sign-out", form={"csrf_token": "forged"})
    assert response.status == 403
    page.goto("/till")
    expect(page.locator("#identifier")).to_be_visible()


def test_a_cashier_finds_a_member_by_the_qr_code_on_their_phone(
    page: Page, web_suite: Suite, screens: Screens
) -> None:
    pos = Pos(web_suite)
    phone = new_phone()
    pos.enrol(phone=phone, first_name="Reza")
    qr = Api(web_suite.gateway_url, log_in(web_suite, phone)).get("/v1/me/qr").json()["token"]

    page.goto("/till")
    page.fill("#api_key", pos.api_key)
    page.get_by_role("button", name="Sign in").click()
    page.fill("#identifier", "not-a-member-code")
    page.get_by_role("button", name="Find").click()
    expect(page.locator(".notice.error")).to_contain_text("not a member's QR code")
    page.fill("#identifier", qr)  # what a scanner types
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#member h1")).to_have_text("Reza")
    screens.take(page, "member")


def test_a_cashier_enrols_a_customer_and_refunds_part_of_a_sale_by_its_number(
    page: Page, web_suite: Suite, screens: Screens
) -> None:
    pos = Pos(web_suite)
    phone = new_phone()
    page.goto("/till")
    page.fill("#api_key", pos.api_key)
    page.get_by_role("button", name="Sign in").click()

    # Forms of the till refuse a request without the page's token, and change nothing.
    for path in ("/till/enrol", "/till/refund/find", "/till/refund"):
        forged = page.request.post(path, form={"csrf_token": "forged", "phone": phone})
        assert forged.status == 403, path
    assert pos.api.get("/v1/members/identify", params={"phone": phone}).status_code == 404

    page.fill("#enrol-phone", to_persian(phone))
    page.fill("#enrol-first", "Nima")
    page.fill("#enrol-last", "<b>Karimi</b>")
    page.get_by_role("button", name="Enrol", exact=True).click()
    expect(page.locator(".notice")).to_contain_text("enrolled")
    expect(page.locator("#member h1")).to_have_text("Nima <.")
    screens.take(page, "1-enrolled")

    page.fill("#amount", "1250000")
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".notice")).to_contain_text("125 points earned")
    expect(page.locator("#worth")).to_have_text("Worth 12,500 rials")
    transaction = page.locator("#notice-code").inner_text()
    assert transaction.startswith("TILL-")
    screens.take(page, "2-sale-with-its-number")
    page.get_by_role("button", name="Next customer").click()

    # The same phone enrolled again is the member already there, not a second one.
    page.fill("#enrol-phone", phone)
    page.get_by_role("button", name="Enrol", exact=True).click()
    expect(page.locator(".notice")).to_contain_text("member already")
    expect(page.locator("#available")).to_contain_text("125")
    page.get_by_role("button", name="Next customer").click()

    page.fill("#refund-transaction", "TILL-no-such-sale")
    page.get_by_role("button", name="Look up the sale").click()
    expect(page.locator(".notice.error")).to_contain_text("no purchase with this transaction")
    page.fill("#refund-transaction", transaction)
    page.get_by_role("button", name="Look up the sale").click()
    expect(page.locator("#refund-purchase")).to_contain_text("Paid 1,250,000 rials")
    expect(page.locator("#refund-amount")).to_have_value("1,250,000")  # the whole, unless changed
    screens.take(page, "3-refund-found")
    page.fill("#refund-amount", "250,000")
    page.get_by_role("button", name="Refund", exact=True).click()
    expect(page.locator(".notice")).to_contain_text("Refunded 250,000: 25 points taken back")
    screens.take(page, "4-refunded")

    member = pos.api.get("/v1/members/identify", params={"phone": phone}).json()
    assert pos.balance(member["member_id"])["available"] == 100
    left = pos.api.get(f"/v1/purchases/{transaction}").json()
    assert (left["refunded"], left["refundable"]) == ("250000.00", "1000000.00")
