"""An administrator registers a webhook endpoint from the console on a phone, in Persian, and
reads its delivery log: the secret is shown once, the page reads right to left, fits the
screen, and shows its numbers in Persian digits."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from deploy.local import Suite
from tests.browser.conftest import Screens
from tests.support import STAFF_PASSWORD, Api, Pos, eventually, new_email


def test_an_administrator_registers_an_endpoint_in_persian_on_a_phone(
    phone_page: Page, web_suite: Suite, screens: Screens
) -> None:
    page = phone_page
    admin = Api(web_suite.gateway_url, web_suite.env["LOYALTY_ADMIN_TOKEN"])
    email = new_email()
    created = admin.post(
        "/v1/admin/staff", {"email": email, "password": STAFF_PASSWORD, "role": "admin"}
    )
    assert created.status_code == 201, created.text
    page.goto("/console/sign-in")
    page.fill("#email", email)
    page.fill("#password", STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Webhooks").click()
    page.click("#switch-language")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")

    page.fill("#url", "http://127.0.0.1:9/crm")
    page.check("input[name=event_types][value='member.enrolled']")
    page.click("#register-endpoint")
    expect(page.locator("#new-endpoint h1")).to_have_text("نشانی ثبت شد")
    secret = page.locator("#endpoint-secret").inner_text()
    assert secret.startswith("whsec_")
    screens.take(page, "1-registered")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"]

    # A member enrols: the endpoint (nobody listens there) shows a waiting delivery.
    Pos(web_suite).enrol(first_name="Sara")
    page.locator("#new-endpoint a").click()

    def delivery_shown() -> bool:
        page.reload()
        return page.locator("#deliveries .delivery").count() > 0

    assert eventually(delivery_shown, within=60)
    expect(page.locator("#deliveries .delivery .status").first).to_have_text("در انتظار")
    attempts = page.locator("#deliveries .delivery td").nth(2).inner_text()
    assert attempts and all(char in "۰۱۲۳۴۵۶۷۸۹٬" for char in attempts)
    assert secret not in page.content()
    screens.take(page, "2-delivery-log")
    page.click("#switch-endpoint")
    expect(page.locator(".notice")).to_have_text("نشانی خاموش شد.")
