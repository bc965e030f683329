"""The web pages' defences, seen from a plain HTTP client."""

from __future__ import annotations

import requests

from deploy.local import Suite
from tests.support import Pos, new_phone


def form_token(html: str) -> str:
    return html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def signed_in_till(suite: Suite, pos: Pos | None = None) -> tuple[requests.Session, str]:
    """A browser-like session signed in to the till, and its CSRF token."""
    pos = pos or Pos(suite)
    browser = requests.Session()
    page = browser.get(suite.gateway_url + "/till", timeout=10)
    answer = browser.post(
        suite.gateway_url + "/till/sign-in",
        data={"csrf_token": form_token(page.text), "api_key": pos.api_key},
        timeout=10,
    )
    assert 'id="identifier"' in answer.text
    # Signing in starts a new session, with a new token.
    return browser, form_token(answer.text)


def test_pages_forbid_framing_and_inline_scripts(sqlite_suite: Suite) -> None:
    page = requests.get(sqlite_suite.gateway_url + "/till", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_the_session_cookie_is_out_of_reach_of_scripts_and_other_sites(
    sqlite_suite: Suite,
) -> None:
    browser, _ = signed_in_till(sqlite_suite)
    cookie = next(c for c in browser.cookies if c.name == "loyalty_web")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite") == "Lax"


def test_a_post_without_the_pages_token_changes_nothing(sqlite_suite: Suite) -> None:
    browser, token = signed_in_till(sqlite_suite)
    for forged in ({}, {"csrf_token": "forged"}):
        refused = browser.post(sqlite_suite.gateway_url + "/till/sign-out", data=forged)
        assert refused.status_code == 403
        assert "form expired" in refused.text
    # Still signed in: the forged sign-out did nothing.
    assert 'id="identifier"' in browser.get(sqlite_suite.gateway_url + "/till").text
    signed_out = browser.post(
        sqlite_suite.gateway_url + "/till/sign-out", data={"csrf_token": token}
    )
    assert 'id="api_key"' in signed_out.text


# What browsers read as another host once they drop tabs and newlines and take `\\` for `/`.
OFF_SITE = (
    "https://evil.example/",
    "//evil.example/x",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "/\\evil.example",
    "\\/evil.example",
    " //evil.example",
    "/till\nSet-Cookie: x=1",
)


def test_the_language_switch_only_returns_to_this_site(sqlite_suite: Suite) -> None:
    browser = requests.Session()
    page = browser.get(sqlite_suite.gateway_url + "/till")
    token = form_token(page.text)
    for target in OFF_SITE:
        answer = browser.post(
            sqlite_suite.gateway_url + "/lang",
            data={"csrf_token": token, "lang": "fa", "next": target},
            allow_redirects=False,
        )
        assert answer.status_code == 303, target
        assert answer.headers["Location"] == "/till", target
    # An escaped newline is part of a path on this site, and a path of this site is kept.
    for target in ("/%0a/evil.example", "/portal"):
        answer = browser.post(
            sqlite_suite.gateway_url + "/lang",
            data={"csrf_token": token, "lang": "fa", "next": target},
            allow_redirects=False,
        )
        assert answer.headers["Location"] == target
    persian = browser.get(sqlite_suite.gateway_url + "/till")
    assert 'dir="rtl"' in persian.text


def test_the_expired_form_page_only_links_back_to_this_site(sqlite_suite: Suite) -> None:
    for target in OFF_SITE:
        refused = requests.post(
            sqlite_suite.gateway_url + "/lang",
            data={"csrf_token": "forged", "lang": "fa", "next": target},
            allow_redirects=False,
        )
        assert refused.status_code == 403, target
        assert '<a href="/till">' in refused.text, target


def test_a_till_cookie_kept_from_before_sign_out_opens_nothing(sqlite_suite: Suite) -> None:
    url = sqlite_suite.gateway_url
    pos = Pos(sqlite_suite)
    phone = new_phone()
    member = pos.enrol(phone=phone, first_name="Parvaneh")
    browser, token = signed_in_till(sqlite_suite, pos)
    shown = browser.post(url + "/till/identify", data={"csrf_token": token, "identifier": phone})
    assert "Parvaneh" in shown.text
    kept = {"loyalty_web": browser.cookies["loyalty_web"]}
    # Until sign-out, the cookie is the till's to use, wherever it is sent from.
    assert "Parvaneh" in requests.get(url + "/till", cookies=kept, timeout=10).text
    before = pos.balance(member["id"])

    browser.post(url + "/till/sign-out", data={"csrf_token": token})

    replayed = requests.get(url + "/till", cookies=kept, timeout=10)
    assert 'id="api_key"' in replayed.text
    assert "Parvaneh" not in replayed.text
    bought = requests.post(
        url + "/till/purchase",
        data={"csrf_token": token, "amount": "1000000", "transaction_id": "TILL-kept-cookie"},
        cookies=kept,
        allow_redirects=False,
        timeout=10,
    )
    assert bought.status_code == 303
    assert pos.balance(member["id"]) == before
