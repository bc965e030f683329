"""The staff entrance, the support desk and the admin console in Chromium: an agent finds a
member by a Persian-digit phone, reveals their phone, adjusts points and merges a duplicate
after the preview, every step in the audit trail; an admin sets up a store's POS keys and a
staff account."""

from __future__ import annotations

import json
import uuid

from playwright.sync_api import Browser, Page, expect

from deploy.local import Suite
from tests.browser.conftest import Screens
from tests.browser.test_till import to_persian
from tests.support import STAFF_PASSWORD, Api, Pos, eventually, new_email, new_phone


def staff_account(suite: Suite, role: str) -> str:
    """A new staff account's e-mail (its password is STAFF_PASSWORD)."""
    admin = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    email = new_email()
    created = admin.post(
        "/v1/admin/staff", {"email": email, "password": STAFF_PASSWORD, "role": role}
    )
    assert created.status_code == 201, created.text
    return email


def key_works(api: Api, key: str) -> bool:
    """Whether the gateway takes the POS key (a member it does not know is a 404 to it)."""
    status = api.with_token(key).get(f"/v1/members/{uuid.uuid4()}/points").status_code
    assert status in (401, 404)
    return status == 404


def sign_in(page: Page, email: str) -> None:
    page.goto("/staff")
    page.fill("#email", email)
    page.fill("#password", STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_agent_finds_a_member_records_a_complaint_adjusts_points_and_merges_a_duplicate(
    page: Page, browser: Browser, web_suite: Suite, screens: Screens
) -> None:
    pos = Pos(web_suite)
    phone = new_phone()
    email = f"sara.{phone}@example.com"
    tag = uuid.uuid4().hex[:6]
    first_name = f"سارا{tag}"
    member = pos.enrol(phone=phone, first_name=first_name, last_name=f"کریمی{tag}", email=email)
    duplicate = pos.enrol(first_name="سارا", last_name="ک")
    assert pos.purchase(duplicate["id"], amount="500000").status_code == 201
    duplicate_points = pos.balance(duplicate["id"])["available"]
    agent = staff_account(web_suite, "support")

    sign_in(page, agent)
    # Support lands on the desk, and sees no door to the admin or marketing rooms.
    expect(page).to_have_url(f"{web_suite.gateway_url}/desk")
    expect(page.locator("nav.console-nav")).not_to_contain_text("Admin")
    screens.take(page, "1-desk")
    # The name as an Arabic keyboard types it: Arabic kaf and yeh.
    page.fill("#query", f"كريمي{tag}")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#profile h1")).to_contain_text(f"{first_name} کریمی{tag}")
    page.get_by_role("link", name="Support desk").click()
    page.fill("#query", to_persian(phone))
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#profile h1")).to_contain_text(f"{first_name} کریمی{tag}")
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

    page.select_option("#case-kind", "complaint")
    page.select_option("#case-channel", "phone")
    page.fill("#case-category", "Delivery")
    page.fill("#case-text", "The order came two days late.")
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".notice")).to_contain_text("Contact recorded.")
    expect(page.locator("#cases tr.case.open")).to_contain_text("The order came two days late.")
    screens.take(page, "5-complaint")
    # The marketing console shows the member as dissatisfied, and the complaint's category.
    marketer = browser.new_context(base_url=web_suite.gateway_url)
    console = marketer.new_page()
    sign_in(console, staff_account(web_suite, "marketer"))
    expect(console.locator("#dissatisfied")).to_contain_text(first_name)
    console.get_by_role("link", name="Complaints").click()
    expect(console.locator("#complaints tr.category", has_text="delivery")).to_be_visible()
    screens.take(console, "6-console-dissatisfied")
    marketer.close()
    page.get_by_role("link", name="Support desk").click()
    expect(page.locator("#queue")).to_contain_text("The order came two days late.")
    page.locator("#queue a").last.click()
    page.locator("#cases form.resolve input[name=resolution]").fill("Refunded the delivery fee")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".notice")).to_contain_text("Case resolved")
    expect(page.locator("#cases tr.case.resolved")).to_contain_text("Refunded the delivery fee")

    page.fill("#duplicate", duplicate["card_number"])
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#merge-preview")
    expect(preview).to_contain_text(member["card_number"])
    expect(preview).to_contain_text(duplicate["card_number"])
    screens.take(page, "7-merge-preview")
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
    screens.take(page, "8-merged")


def test_an_admin_issues_rotates_and_revokes_a_pos_key_and_creates_a_staff_account(
    page: Page, web_suite: Suite, screens: Screens
) -> None:
    admin = staff_account(web_suite, "admin")
    api = Api(web_suite.gateway_url)
    sign_in(page, admin)
    expect(page).to_have_url(f"{web_suite.gateway_url}/admin")
    # An admin may go to every room.
    for room in ("Support desk", "Admin", "Marketing"):
        expect(page.locator("nav.console-nav").get_by_role("link", name=room)).to_be_visible()

    store = f"Isfahan {new_email()[6:12]}"
    page.fill("#store-name", store)
    page.get_by_role("button", name="Create store").click()
    expect(page.locator("#store h1")).to_have_text(store)
    store_url = page.url
    page.get_by_role("button", name="Issue a key").click()
    first_key = page.locator("#new-key code").inner_text()
    screens.take(page, "1-key-issued")
    assert key_works(api, first_key)
    page.goto(store_url)
    # Shown once: the page no longer has it.
    expect(page.locator("#new-key")).to_have_count(0)

    page.locator("form.rotate input[name=grace_hours]").fill(to_persian("2"))
    page.get_by_role("button", name="Rotate").click()
    second_key = page.locator("#new-key code").inner_text()
    assert second_key != first_key
    expect(page.locator("tr.key", has_text="expiring")).to_have_count(1)
    screens.take(page, "2-key-rotated")
    # During the grace period both keys work.
    assert key_works(api, first_key)
    assert key_works(api, second_key)

    page.locator("tr.key", has_text="active").get_by_role("button", name="Revoke").click()
    expect(page.locator(".notice")).to_contain_text("Key revoked.")
    # Every gateway process stops taking it within a few seconds.
    assert eventually(lambda: not key_works(api, second_key))
    screens.take(page, "3-key-revoked")

    page.get_by_role("link", name="Admin", exact=True).click()
    agent = new_email()
    page.fill("#staff-email", agent)
    page.fill("#staff-password", STAFF_PASSWORD)
    page.select_option("#staff-role", "support")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator(".notice")).to_contain_text("Account created.")
    expect(page.locator("#staff tr", has_text=agent)).to_contain_text("Support")
    screens.take(page, "4-staff-created")
    login = api.post("/v1/staff/login", {"email": agent, "password": STAFF_PASSWORD})
    assert login.json()["role"] == "support"

    page.get_by_role("link", name="Audit trail").click()
    trail = page.locator("#audit")
    for action in ("Staff account created", "POS key revoked", "POS key rotated", "POS key issued"):
        expect(trail).to_contain_text(action)
    expect(trail).to_contain_text(admin)
    screens.take(page, "5-audit")
