"""A marketer builds a segment, sees its size, launches a campaign and reads its report."""

from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from deploy.local import Suite
from services.runtime.jalali import MONTHS_FA
from tests.browser.conftest import Screens
from tests.browser.test_till import to_persian
from tests.integration.test_marketing_api import eventually
from tests.support import STAFF_PASSWORD, Api, Pos, log_in, new_email, new_phone


def test_a_marketer_builds_a_segment_and_launches_a_campaign(
    page: Page, web_suite: Suite, screens: Screens
) -> None:
    admin = Api(web_suite.gateway_url, web_suite.env["LOYALTY_ADMIN_TOKEN"])
    email = new_email()
    created = admin.post(
        "/v1/admin/staff", {"email": email, "password": STAFF_PASSWORD, "role": "marketer"}
    )
    assert created.status_code == 201, created.text
    # Ten members of a town of their own, so the audience is known exactly (a preview shows
    # no audience smaller than ten).
    city = f"kashan{uuid.uuid4().hex[:6]}"
    pos = Pos(web_suite)
    members = [pos.enrol(first_name=f"Sara {i}", city=city)["id"] for i in range(10)]
    rule = {"rule": {"attr": "city", "op": "eq", "value": city}}
    assert eventually(
        lambda: admin.post("/v1/marketing/segments/preview", rule).json()["size"] == 10
    )
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))

    page.goto("/console")
    expect(page).to_have_url(f"{web_suite.gateway_url}/console/sign-in")
    screens.take(page, "1-sign-in")
    page.fill("#email", email)
    page.fill("#password", "not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".notice.error")).to_contain_text("Wrong e-mail or password")
    page.fill("#email", email)
    page.fill("#password", STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # The overview opens with the club at a glance, then the dissatisfied members, then stages.
    expect(page.locator("main section").first).to_have_id("glance")
    expect(page.locator("main section").nth(1)).to_have_id("dissatisfied")
    expect(page.locator("#stages")).to_be_visible()
    screens.take(page, "2-overview")

    page.get_by_role("link", name="Segments").click()
    page.fill("#name", f"Kashan {city[-6:]}")
    page.fill("#city", city)
    # The size follows the form as it is edited, before anything is saved.
    expect(page.locator("#audience-size")).to_have_text("10 members")
    expect(page.locator("#audience-sample li")).to_have_count(5)
    expect(page.locator("#audience-sample")).not_to_contain_text("Sara")
    expect(page.locator("#composed-rule")).to_contain_text(city)
    page.check("input[name=consent_sms]")
    expect(page.locator("#audience-size")).to_have_text("fewer than 10 members")
    page.uncheck("input[name=consent_sms]")
    expect(page.locator("#audience-size")).to_have_text("10 members")
    screens.take(page, "3-segment-builder")
    page.click("#save-segment")
    expect(page.locator(".notice")).to_contain_text("Segment saved: 10 members now.")
    screens.take(page, "4-segment-saved")

    segment_row = page.locator("#segments tr", has_text=f"Kashan {city[-6:]}")
    segment_row.get_by_role("link", name="Campaign for this segment").click()
    expect(page.locator("input[name=target][value=segment]")).to_be_checked()
    name = f"Kashan bonus {city[-6:]}"
    page.fill("#name", name)
    page.select_option("#kind", "fixed_bonus")
    expect(page.locator("#multiplier")).to_be_hidden()
    page.fill("#points", "40")
    page.fill("#budget_points", "1000")
    page.select_option("#channel", "sms")
    page.fill("#template", "{first_name}, 40 bonus points on your next visit")
    screens.take(page, "5-campaign-builder")
    page.click("#create-campaign")
    expect(page.locator(".notice")).to_contain_text("saved as a draft")
    row = page.locator("tr.campaign", has_text=name)
    expect(row.locator(".status")).to_have_text("Draft")
    row.get_by_role("link", name="Launch").click()
    # The launch first says whom it reaches and shows the message.
    expect(page.locator("#launch-audience")).to_have_text("10 members")
    expect(page.locator("#message-preview")).to_contain_text("40 bonus points on your next visit")
    expect(page.locator("#control-empty")).to_have_count(0)
    screens.take(page, "6-launch-confirm")
    page.get_by_role("button", name="Launch now").click()
    expect(page.locator(".notice")).to_contain_text("Campaign launched.")
    expect(row.locator(".status")).to_have_text("Active")
    screens.take(page, "7-campaign-active")

    # Members of the segment buy; the till awards the bonus. (The till waits for campaigns only
    # POINTS_CAMPAIGNS_TIMEOUT seconds, so on a busy machine a purchase may earn the base rate.)
    def bonus(member_id: str) -> list[int]:
        bought = pos.purchase(member_id)
        assert bought.status_code == 201, bought.text
        return [line["points"] for line in bought.json()["breakdown"] if line["source"] != "base"]

    assert next((b for b in map(bonus, members * 5) if b), []) == [40]

    campaign_id = row.get_attribute("data-id")
    # What the campaigns service counted (a bonus it granted while the till had stopped waiting
    # is counted too), as the report page must show it.
    awarded = admin.get(f"/v1/marketing/campaigns/{campaign_id}/report").json()["points_awarded"]
    assert awarded >= 40
    row.get_by_role("link", name=name).click()
    expect(page.locator("#status")).to_have_text("Active")
    expect(page.locator("#audience .bar-row").first).to_contain_text("10")
    expect(page.locator("#points .bar-row").nth(0)).to_contain_text(f"{awarded:,}")
    expect(page.locator("#points .bar-row").nth(1)).to_contain_text("1,000")
    expect(page.locator("#uplift")).to_contain_text("No control group")
    screens.take(page, "7-report")

    page.click("#switch-language")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("#points .bar-row").nth(0)).to_contain_text(
        to_persian(f"{awarded:,}").replace(",", "٬")
    )
    expect(page.locator("#points .bar-row").nth(1)).to_contain_text("۱٬۰۰۰")
    screens.take(page, "8-report-persian")

    # Ended from its report, so other tests' purchases stay at the base rate.
    page.locator("form[action$='/end'] button").click()
    ended = page.locator("tr.campaign", has_text=name).locator(".status")
    expect(ended).to_have_text("پایان‌یافته")
    for url in urls:
        assert email not in url and STAFF_PASSWORD.split()[0] not in url


def test_a_marketer_sees_the_club_at_a_glance_in_english_and_persian(
    page: Page, web_suite: Suite, screens: Screens
) -> None:
    admin = Api(web_suite.gateway_url, web_suite.env["LOYALTY_ADMIN_TOKEN"])
    email = new_email()
    created = admin.post(
        "/v1/admin/staff", {"email": email, "password": STAFF_PASSWORD, "role": "marketer"}
    )
    assert created.status_code == 201, created.text
    pos = Pos(web_suite)
    phone = new_phone()
    buyer = pos.enrol(phone=phone, first_name="<script>alert(1)</script>")["id"]
    for _ in range(2):
        assert pos.purchase(buyer, amount="1000000").status_code == 201
    comment = "صف طولانی بود <script>alert(1)</script>\nbut the staff were kind"
    said = Api(web_suite.gateway_url, log_in(web_suite, phone)).post(
        "/v1/me/feedback", {"feedback_id": f"f-{uuid.uuid4().hex}", "rating": 2, "comment": comment}
    )
    assert said.status_code < 300, said.text
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto("/console/sign-in")
    page.fill("#email", email)
    page.fill("#password", STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    glance = page.locator("#glance")
    expect(glance.locator("h1")).to_have_text("The club at a glance")
    assert int(page.locator("#glance-members").inner_text().replace(",", "")) >= 1
    expect(page.locator("#glance-repeat")).to_contain_text("%")  # of buyers who came back
    # Twelve weeks of columns, drawn on the server as SVG: one series of new members, three of
    # points, four of stage moves.
    expect(page.locator("#chart-members rect")).to_have_count(12)
    expect(page.locator("#chart-points rect")).to_have_count(36)
    expect(page.locator("#chart-stages rect")).to_have_count(48)
    expect(page.locator("#chart-members text")).to_have_count(12)
    tallest = page.locator("#chart-points rect.s0").evaluate_all(
        "rects => Math.max(...rects.map(r => Number(r.getAttribute('height'))))"
    )
    assert tallest > 0  # points were earned this week
    screens.take(page, "1-english")

    page.click("#switch-language")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(glance.locator("h1")).to_have_text("باشگاه در یک نگاه")
    last_week = page.locator("#chart-members text").last.text_content() or ""
    assert any(month in last_week for month in MONTHS_FA), last_week
    assert not any(digit in last_week for digit in "0123456789")
    expect(page.locator("#glance-members")).not_to_contain_text("1")
    screens.take(page, "2-persian")
    page.click("#switch-language")

    # The marketer reads what the member wrote, as text.
    page.get_by_role("link", name="Feedback").click()
    row = page.locator("#feedback tr", has_text="staff were kind")
    expect(row.locator(".comment")).to_have_text(comment)
    expect(row).to_contain_text("<script>alert(1)</script>")  # the name too, as text
    screens.take(page, "3-feedback")
    assert dialogs == []
