"""A marketer builds a mission in the console, with points and a reward chosen from the
catalog, and launches it; a member's purchases move its progress bar in the portal, which says
what it gives, in English and in Persian (Persian digits, a Jalali date)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from deploy.local import Suite
from tests.browser.conftest import Screens
from tests.browser.test_referrals import log_in_on_the_portal
from tests.support import (
    STAFF_PASSWORD,
    Api,
    Pos,
    eventually,
    member_view_caught_up,
    new_email,
    new_phone,
)


def test_a_marketer_builds_a_mission_and_a_member_sees_its_progress(
    phone_page: Page, web_suite: Suite, screens: Screens
) -> None:
    page = phone_page
    admin = Api(web_suite.gateway_url, web_suite.env["LOYALTY_ADMIN_TOKEN"])
    email = new_email()
    staff = {"email": email, "password": STAFF_PASSWORD, "role": "marketer"}
    assert admin.post("/v1/admin/staff", staff).status_code == 201
    coffee = f"Coffee {new_phone()[-4:]}"
    reward = admin.post(
        "/v1/marketing/rewards",
        {
            "name": coffee,
            "name_fa": "قهوه رایگان",
            "points_cost": 400,
            "coupon": {"type": "percent", "value": "100", "max_discount": "500000"},
        },
    )
    assert reward.status_code == 201, reward.text
    reward_id = reward.json()["id"]
    page.goto("/console/campaigns/new")
    page.fill("#email", email)
    page.fill("#password", STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/console/campaigns/new")

    name = f"Four visits {new_phone()[-4:]}"
    page.fill("#name", name)
    page.select_option("#kind", "mission")
    expect(page.locator("#points")).to_be_hidden()
    page.select_option("#goal_metric", "purchases")
    page.fill("#goal_target", "۴")  # typed in Persian digits
    page.select_option("#period", "month")
    page.fill("#reward_points", "300")
    page.select_option("#reward_id", label=coffee)
    page.select_option("#congratulate_channel", "sms")
    page.fill("#congratulate_template", "Well done {first_name}, your coffee is waiting")
    page.check("input[name=target][value=everyone]")
    screens.take(page, "1-mission-builder")
    page.click("#create-campaign")
    expect(page.locator(".notice")).to_contain_text("saved as a draft")
    row = page.locator("tr.campaign", has_text=name)
    row.get_by_role("link", name="Launch").click()
    page.get_by_role("button", name="Launch now").click()
    expect(page.locator(".notice")).to_contain_text("Campaign launched.")
    expect(row.locator(".status")).to_have_text("Active")
    campaign_id = row.get_attribute("data-id")
    stored = admin.get(f"/v1/marketing/campaigns/{campaign_id}").json()
    assert stored["kind"] == "mission"
    assert stored["definition"]["reward_id"] == reward_id
    assert stored["definition"]["congratulate"]["channel"] == "sms"

    pos = Pos(web_suite)
    phone = new_phone()
    member_id = pos.enrol(phone=phone, first_name="Sara")["id"]
    for _ in range(3):
        assert pos.purchase(member_id).status_code == 201
    # The member view reads the purchases in the background.
    assert eventually(lambda: member_view_caught_up(admin), 60)
    page.context.clear_cookies()
    page.goto("/portal")
    log_in_on_the_portal(page, web_suite, phone)
    mission = page.locator(f"#mission-{campaign_id}")
    expect(mission).to_contain_text(name)
    expect(mission.locator(".mission-progress")).to_have_text("3 of 4")
    expect(mission.locator(".progress")).to_have_attribute("aria-valuenow", "75")
    expect(mission).to_contain_text("Reward: 300 points")
    expect(mission).to_contain_text(coffee)
    screens.take(page, "2-portal-mission")
    page.click("#switch-language")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(mission.locator(".mission-progress")).to_have_text("۳ از ۴")
    expect(mission).to_contain_text("شروع دوباره")
    expect(mission).to_contain_text("پاداش: ۳۰۰ امتیاز")
    expect(mission).to_contain_text("قهوه رایگان")
    screens.take(page, "3-portal-mission-fa")
    page.click("#switch-language")
    # The suite is shared: a mission left running would pay other tests' members.
    assert admin.post(f"/v1/marketing/campaigns/{campaign_id}/end").status_code == 200
