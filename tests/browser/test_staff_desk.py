"""The staff entrance, the support desk and the admin console in Chromium: an agent finds a
member by a Persian-digit phone, reveals their phone, adjusts points and merges a duplicate
after the preview, every step in the audit trail; an admin sets up a store's POS keys and a
staff account."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from deploy.local import Suite
from tests.browser.conftest import Screens
from tests.browser.test_till import to_persian
from tests.support import STAFF_PASSWORD, Api, Pos, new_email, new_phone


def staff_account(suite: Suite, role: str) -> str:
    """A new staff account's e-mail (its password is STAFF_PASSWORD)."""
    admin = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    email = new_email()
    created = admin.post(
        "/v1/admin/staff", {"email": email, "password": STAFF_PASSWORD, "role": role}
    )
    assert created.status_code == 201, created.text
    return email


def sign_in(page: Page, email: str) -> None:
    page.goto("/staff")
    page.fill("#email", email)
    page.fill("#password", STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_agent_finds_a_member_adjusts_points_and_merges_a_duplicate(
    page: Page, web_suite: Suite, screens: Screens
) -> None:
    pos = Pos(web_suite)
    phone = new_phone()
    email = f"sara.{phone}@example.com"
    member = pos.enrol(phone=phone, first_name="Sara", last_name="Karimi", email=email)
    duplicate = pos.enrol(first_name="Sara", last_name="K")
    assert pos.purchase(duplicate["id"], amount="500000").status_code == 201
    duplicate_points = pos.balance(duplicate["id"])["available"]
    agent = staff_account(web_suite, "support")

    sign_in(page, agent)
    # Support lands on the desk, and sees no door to the admin or marketing rooms.
    expect(page).to_have_url(f"{web_suite.gateway_url}/desk")
    expect(page.locator("nav.console-nav")).not_to_contain_text("Admin")
    screens.take(page, "1-desk")
    page.fill("#query", to_persian(phone))
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#profile h1")).to_contain_text("Sara Karimi")
    expect(page.locator("#phone")).to_have_text(member["phone_masked"])
    screens.take(page, "2-member")

    page.click("#reveal")
    expect(page.locator("#phone")).to_have_text("+98" + phone[1:])
    expect(page.locator("#email")).to_have_text(email)
    expect(page.locator("#audit")).to_contain_text("Personal data revealed")
    screens.take(page, "3-revealed")

    page.fill("#adjust-points", to_persian("250"))
    page.fill("#adjust-reason", "goodwill: late delivery")
    page.get_by_role("button", name="Adjust").click()
    expect(page.locator(".notice")).to_contain_text("Points adjusted; 250 available now.")
    expect(page.locator("#available")).to_have_text("250")
    expect(page.locator("#audit")).to_contain_text("Points adjusted")
    expect(page.locator("#audit")).to_contain_text("goodwill: late delivery")
    screens.take(page, "4-adjusted")

    page.fill("#duplicate", duplicate["card_number"])
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#merge-preview")
    expect(preview).to_contain_text(member["card_number"])
    expect(preview).to_contain_text(duplicate["card_number"])
    screens.take(page, "5-merge-preview")
    page.click("#confirm-merge")
    expect(page.locator(".notice")).to_contain_text(
        f"Merged; {250 + duplicate_points} points available now."
    )
    expect(page.locator("#history")).to_contain_text(duplicate["id"])
    expect(page.locator("#audit")).to_contain_text("Members merged")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download the data export").click()
    exported = json.loads(download.value.path().read_text())
    assert exported["identity"]["member"]["id"] == member["id"]
    assert exported["points"]["available"] == 250 + duplicate_points
    page.reload()
    expect(page.locator("#audit")).to_contain_text("Data exported")
    screens.take(page, "6-merged")
