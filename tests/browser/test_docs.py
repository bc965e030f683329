"""An integrator reads the API reference at /docs and tries a call from it."""

from __future__ import annotations

import json

import requests
from playwright.sync_api import ConsoleMessage, Page, expect

from deploy.local import Suite
from tests.browser.conftest import Screens


def test_docs_list_every_operation_and_try_one(
    page: Page, web_suite: Suite, screens: Screens
) -> None:
    spec = requests.get(web_suite.gateway_url + "/openapi.json", timeout=5).json()
    count = sum(len(methods) for methods in spec["paths"].values())
    problems: list[str] = []
    page.on("console", lambda message: _keep_errors(message, problems))

    page.goto("/docs")
    expect(page.locator("section.operation")).to_have_count(count)
    purchases = page.locator("#post_v1_purchases")
    expect(purchases).to_contain_text('"points_earned": 125')  # the response example
    screens.take(page, "1-reference", full_page=False)

    # Try it: the admin creates a store with the example body.
    page.fill("#token", web_suite.env["LOYALTY_ADMIN_TOKEN"])
    stores = page.locator("#post_v1_admin_stores")
    stores.get_by_role("button", name="Send").click()
    answer = stores.locator(".answer")
    expect(answer).to_have_attribute("data-status", "201")
    store = json.loads(answer.inner_text().split("\n", 1)[1])
    assert store["name"] == "Tehran - Valiasr"
    answer.scroll_into_view_if_needed()
    screens.take(page, "2-tried", full_page=False)

    # Without the token the same call is refused, and the page shows the problem.
    page.fill("#token", "")
    stores.get_by_role("button", name="Send").click()
    expect(answer).to_have_attribute("data-status", "401")
    assert problems == []  # no script blocked by the content security policy, no errors


def _keep_errors(message: ConsoleMessage, problems: list[str]) -> None:
    # A refused API call is logged by the browser as a failed resource; that one is expected.
    if message.type == "error" and "401" not in message.text:
        problems.append(message.text)
