"""A marketer creates a prize draw in the console; a member buys chances with points in the
portal (a form sent twice spends once); the marketer closes the draw and sees its seed and
winners, and the member sees that they won: in English and in Persian (Persian digits, Jalali
dates), the portal on a phone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Page, expect

from deploy.local import Suite
from services.campaigns.draw_selection import commitment
from services.runtime.jalali import to_jalali
from tests.browser.conftest import DESKTOP, Screens
from tests.browser.test_referrals import log_in_on_the_portal
from tests.support import STAFF_PASSWORD, Api, Pos, eventually, new_email, new_phone

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def jalali_in_a_week(suite: Suite) -> tuple[str, str]:
    """A moment a week from now as a marketer types it in Persian (Jalali, Persian digits),
    and the Jalali year as the portal shows it."""
    zone = ZoneInfo(suite.env.get("LOYALTY_TIMEZONE", "Asia/Tehran"))
    when = datetime.now(zone) + timedelta(days=7)
    year, month, day = to_jalali(when.date())
    typed = f"{year}/{month:02d}/{day:02d} 20:30".translate(PERSIAN_DIGITS)
    return typed, str(year).translate(PERSIAN_DIGITS)


def sign_in_to_the_console(page: Page, email: str, path: str) -> None:
    page.goto(path)
    page.fill("#email", email)
    page.fill("#password", STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(path)


def test_a_marketer_runs_a_draw_and_a_member_who_bought_chances_sees_they_won(
    phone_page: Page, browser: Browser, web_suite: Suite, screens: Screens
) -> None:
    admin = Api(web_suite.gateway_url, web_suite.env["LOYALTY_ADMIN_TOKEN"])
    email = new_email()
    staff = {"email": email, "password": STAFF_PASSWORD, "role": "marketer"}
    assert admin.post("/v1/admin/staff", staff).status_code == 201
    console_context = browser.new_context(base_url=web_suite.gateway_url, viewport=DESKTOP)
    console = console_context.new_page()
    sign_in_to_the_console(console, email, "/console/draws")
    expect(console.get_by_role("link", name="Prize draws")).to_have_attribute(
        "aria-current", "page"
    )

    # A form that says no way to earn a chance is refused, its fields kept.
    name = f"Yalda {new_phone()[-4:]}"
    closes_at, jalali_year = jalali_in_a_week(web_suite)
    console.fill("#name", name)
    console.fill("#closes_at", closes_at)
    console.fill("#prize_name_1", "Tablet")
    console.fill("#prize_count_1", "1")
    console.fill("#prize_name_2", "Gift card")
    console.fill("#prize_count_2", "۲")  # typed in Persian digits
    console.click("#create-draw")
    expect(console.locator(".notice.error")).to_contain_text("Say how chances are earned")
    expect(console.locator("#prize_name_2")).to_have_value("Gift card")
    console.fill("#points_per_chance", "5")
    console.fill("#max_per_member", "10")
    console.check("input[name=target][value=tiers]")  # who may enter, as campaigns target
    console.fill("#tiers", "member")
    console.click("#create-draw")
    expect(console.locator(".notice")).to_have_text(
        "The draw is open; its commitment is published."
    )
    draw_id = console.url.rstrip("/").rsplit("/", 1)[-1]
    published = admin.get(f"/v1/marketing/draws/{draw_id}").json()
    assert [(p["name"], p["count"]) for p in published["prizes"]] == [
        ("Tablet", 1),
        ("Gift card", 2),
    ]
    assert published["targeting"] == {"tiers": ["member"]}
    expect(console.locator("#audience")).to_have_text("Tiers: member")
    expect(console.locator("#commitment")).to_have_text(published["seed_sha256"])
    expect(console.locator("#status")).to_have_text("Open")
    screens.take(console, "1-console-draw-open")

    # The member buys chances with points on their phone; the same form sent again spends once.
    pos = Pos(web_suite)
    phone = new_phone()
    member_id = pos.enrol(phone=phone, first_name="Sara", consents={"sms": True})["id"]
    assert pos.purchase(member_id, amount="2000000").status_code == 201
    before = pos.balance(member_id)["available"]
    assert before >= 15
    page = phone_page
    page.goto("/portal")
    log_in_on_the_portal(page, web_suite, phone)
    page.click("#draws-link a")
    card = page.locator(f"#draw-{draw_id}")

    def listed() -> bool:
        page.reload()
        return card.count() == 1

    # Listed once campaigns' member view knows the new member is of the draw's tier.
    assert eventually(listed, 60)
    expect(card).to_contain_text(name)
    expect(card.locator(".commitment")).to_have_text(published["seed_sha256"])
    form = card.locator("form.buy")
    form.locator("input[name=chances]").fill("۳")
    sent = {
        field: form.locator(f"input[name={field}]").input_value()
        for field in ("csrf_token", "request_id")
    }
    form.get_by_role("button", name="Buy with points").click()
    expect(page.locator(".notice")).to_have_text("Your chances are in the draw.")
    expect(card.locator(".my-chances")).to_have_text("3")
    again = page.request.post(
        f"/portal/draws/{draw_id}/chances", form={**sent, "chances": "3"}, max_redirects=0
    )
    assert again.status == 303
    assert pos.balance(member_id)["available"] == before - 15
    page.reload()
    expect(card.locator(".my-chances")).to_have_text("3")
    screens.take(page, "2-portal-chances")
    page.click("#switch-language")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(card.locator(".my-chances")).to_have_text("۳")
    expect(card).to_contain_text(jalali_year)  # the closing time as a Jalali date
    screens.take(page, "3-portal-chances-fa")

    # Over the limit per member: refused, nothing spent.
    card.locator("input[name=chances]").fill("8")
    card.locator("form.buy button").click()
    expect(page.locator(".notice.error")).to_contain_text("سقف")
    assert pos.balance(member_id)["available"] == before - 15

    # The marketer sees the chances held, closes the draw and reads its seed and winners.
    console.goto("/console/draws")
    row = console.locator(f"tr.draw[data-id='{draw_id}']")
    expect(row.locator(".entrants")).to_have_text("1")
    expect(row.locator(".chances")).to_have_text("3")
    row.get_by_role("link", name=name).click()
    console.click("#close")
    console.get_by_role("button", name="Close it and pick the winners").click()
    expect(console.locator(".notice")).to_contain_text("The draw is closed")
    expect(console.locator("#status")).to_have_text("Closed")
    seed = console.locator("#seed").inner_text()
    assert commitment(seed) == published["seed_sha256"]
    winners = console.locator("#winners tr.winner")
    expect(winners).to_have_count(1)
    expect(winners.first).to_contain_text(member_id)
    expect(winners.first).to_contain_text("Tablet")
    expect(console.locator("#result")).not_to_contain_text(phone)
    expect(console.locator("#verify-command")).to_contain_text(
        "python -m services.campaigns.draw_selection verify draw.json SEED"
    )
    entries = console.request.get(console.locator("#entries").get_attribute("href") or "")
    assert entries.json()["entries"] == [{"member_id": member_id, "chances": 3}]
    assert entries.json()["seed"] == seed
    screens.take(console, "4-console-draw-closed")
    console.click("#switch-language")
    expect(console.locator("#result h2")).to_have_text("نتیجه")
    expect(console.locator("#status")).to_have_text("بسته")
    screens.take(console, "5-console-draw-closed-fa")
    console_context.close()

    # The member sees they won, and the seed that matches the commitment.
    page.reload()
    expect(card.locator(".result.won")).to_have_text("برنده شدید: Tablet!")
    page.click("#switch-language")
    expect(card.locator(".result.won")).to_have_text("You won: Tablet!")
    expect(card.locator(".seed")).to_have_text(seed)
    expect(card.locator("form.buy")).to_have_count(0)
    screens.take(page, "6-portal-won")

    # The news waits in the member's messages too, as the SMS told it.
    page.goto("/portal")
    page.click("#messages-link a")
    told = page.locator("#messages .message")

    def arrived() -> bool:
        page.reload()
        return told.count() == 1

    assert eventually(arrived, 60)
    expect(told.first.locator("h2")).to_have_text(name)
    expect(told.first.locator(".body")).to_contain_text("Tablet")
    expect(told.first.locator(".when")).to_contain_text("by SMS")
    page.click("#switch-language")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(told.first.locator(".when")).to_contain_text("با پیامک")
    zone = ZoneInfo(web_suite.env.get("LOYALTY_TIMEZONE", "Asia/Tehran"))
    this_year = str(to_jalali(datetime.now(zone).date())[0]).translate(PERSIAN_DIGITS)
    expect(told.first.locator(".when")).to_contain_text(this_year)
    screens.take(page, "7-portal-messages-fa")


def test_a_cancelled_draw_gives_the_points_back(
    page: Page, web_suite: Suite, screens: Screens
) -> None:
    admin = Api(web_suite.gateway_url, web_suite.env["LOYALTY_ADMIN_TOKEN"])
    email = new_email()
    staff = {"email": email, "password": STAFF_PASSWORD, "role": "marketer"}
    assert admin.post("/v1/admin/staff", staff).status_code == 201
    closes_at = (datetime.now(ZoneInfo("UTC")) + timedelta(days=3)).isoformat()
    name = f"Nowruz <b>{new_phone()[-4:]}</b>"  # stored text is shown as typed, never as markup
    body = {
        "name": name,
        "closes_at": closes_at,
        "prizes": [{"name": "Bicycle", "count": 1}],
        "chances": {"points_per_chance": 4},
    }
    draw = admin.post("/v1/marketing/draws", body)
    assert draw.status_code == 201, draw.text
    draw_id = draw.json()["id"]
    pos = Pos(web_suite)
    phone = new_phone()
    member_id = pos.enrol(phone=phone)["id"]
    assert pos.purchase(member_id, amount="2000000").status_code == 201
    before = pos.balance(member_id)["available"]
    page.goto("/portal")
    log_in_on_the_portal(page, web_suite, phone)
    page.goto("/portal/draws")
    page.locator(f"#draw-{draw_id} input[name=chances]").fill("2")
    page.locator(f"#draw-{draw_id} form.buy button").click()
    expect(page.locator(".notice")).to_have_text("Your chances are in the draw.")
    assert pos.balance(member_id)["available"] == before - 8

    page.context.clear_cookies()
    sign_in_to_the_console(page, email, f"/console/draws/{draw_id}")
    expect(page.locator("#draw h1")).to_have_text(name)
    page.click("#cancel")
    expect(page.locator("#confirm")).to_contain_text("returns the points")
    page.click("#confirm-cancel")
    expect(page.locator(".notice")).to_contain_text("The draw is cancelled")
    expect(page.locator("#status")).to_have_text("Cancelled")
    expect(page.locator("#close")).to_have_count(0)
    screens.take(page, "1-console-draw-cancelled")
    assert pos.balance(member_id)["available"] == before
    missing = page.goto("/console/draws/00000000-0000-4000-8000-000000000000")
    assert missing is not None and missing.status == 404
