"""A real headless Chromium (Debian's, never a downloaded one) driving the running suite.

Every test gets `screens`, which writes `test-artifacts/screenshots/<test>-<step>.png`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from deploy.local import ROOT, Suite
from tests.support import unavailable

CHROMIUM = os.environ.get("LOYALTY_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        unavailable(f"chromium at {CHROMIUM} (`make install` installs it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


class Screens:
    """Screenshots named after the test and the step they show."""

    def __init__(self, test_name: str) -> None:
        self.prefix = re.sub(r"[^\w.-]+", "_", test_name).strip("_")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, step: str, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{self.prefix}-{step}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def screens(request: pytest.FixtureRequest) -> Screens:
    return Screens(request.node.name)


def _page(browser: Browser, suite: Suite, viewport: dict) -> Iterator[Page]:
    context = browser.new_context(base_url=suite.gateway_url, viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15_000)
    # Assertions wait as long as actions: on a busy machine a page may take seconds to answer.
    expect.set_options(timeout=15_000)
    yield page
    context.close()


@pytest.fixture
def web_suite(sqlite_suite: Suite) -> Suite:
    """The suite the browser talks to (started once per run by tests/support.start_suite)."""
    return sqlite_suite


@pytest.fixture
def page(browser: Browser, web_suite: Suite) -> Iterator[Page]:
    """A desktop-sized page, for the till and the console."""
    yield from _page(browser, web_suite, DESKTOP)


@pytest.fixture
def phone_page(browser: Browser, web_suite: Suite) -> Iterator[Page]:
    """A phone-sized page (390×844), for the member portal."""
    yield from _page(browser, web_suite, PHONE)
