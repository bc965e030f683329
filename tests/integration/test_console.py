"""Who reaches the marketer console, seen from a plain HTTP client as a browser would use it."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import requests

from deploy.local import Suite
from loyalty.campaigns.v1 import campaigns_pb2
from tests.integration.test_limits import address, limited  # noqa: F401 (a fixture)
from tests.integration.test_web_security import form_token
from tests.support import STAFF_PASSWORD, Api, Pos, log_in, new_email, new_phone

PAGES = ("/console", "/console/segments", "/console/campaigns", "/console/campaigns/new")


def staff_account(suite: Suite, role: str) -> str:
    email = new_email()
    admin = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    created = admin.post(
        "/v1/admin/staff", {"email": email, "password": STAFF_PASSWORD, "role": role}
    )
    assert created.status_code == 201, created.text
    return email


def sign_in(
    suite: Suite, email: str, password: str = STAFF_PASSWORD, headers: dict | None = None
) -> tuple[requests.Session, requests.Response]:
    """A browser-like session that filled in the console's sign-in form; the page it landed on."""
    browser = requests.Session()
    browser.headers.update(headers or {})
    form = browser.get(suite.gateway_url + "/console/sign-in", timeout=10)
    assert form.status_code == 200
    landed = browser.post(
        suite.gateway_url + "/console/sign-in",
        data={"csrf_token": form_token(form.text), "email": email, "password": password},
        timeout=30,
    )
    return browser, landed


def signed_in(suite: Suite, role: str) -> tuple[requests.Session, str]:
    browser, landed = sign_in(suite, staff_account(suite, role))
    assert landed.status_code in (200, 403)
    return browser, form_token(landed.text)


def test_anonymous_visitors_are_sent_to_sign_in(sqlite_suite: Suite) -> None:
    for path in (*PAGES, "/console/campaigns/some-campaign"):
        answer = requests.get(sqlite_suite.gateway_url + path, allow_redirects=False, timeout=10)
        assert answer.status_code == 303, path
        assert answer.headers["Location"].endswith("/console/sign-in")
    # A member's session is no staff session.
    phone = new_phone()
    Pos(sqlite_suite).enrol(phone=phone)
    member = requests.get(
        sqlite_suite.gateway_url + "/console",
        cookies={"loyalty_session": log_in(sqlite_suite, phone)},
        allow_redirects=False,
        timeout=10,
    )
    assert (member.status_code, member.headers["Location"]) == (303, "/console/sign-in")
    sign_in_page = requests.get(sqlite_suite.gateway_url + "/console/sign-in", timeout=10)
    assert 'id="password"' in sign_in_page.text
    assert "frame-ancestors 'none'" in sign_in_page.headers["Content-Security-Policy"]


def test_a_marketer_and_an_admin_see_every_page_support_staff_get_403(
    sqlite_suite: Suite,
) -> None:
    for role in ("marketer", "admin"):
        browser, _ = signed_in(sqlite_suite, role)
        cookie = next(c for c in browser.cookies if c.name == "loyalty_session")
        assert cookie.has_nonstandard_attr("HttpOnly")
        for path in PAGES:
            page = browser.get(sqlite_suite.gateway_url + path, timeout=30)
            assert page.status_code == 200, (role, path, page.text[:300])
            assert page.headers["Content-Type"].startswith("text/html")
    support, _ = signed_in(sqlite_suite, "support")
    for path in PAGES:
        page = support.get(sqlite_suite.gateway_url + path, timeout=10)
        assert page.status_code == 403, path
        assert "for marketers and administrators" in page.text


def test_the_console_session_opens_no_admin_route_to_a_marketer(sqlite_suite: Suite) -> None:
    browser, _ = signed_in(sqlite_suite, "marketer")
    answer = browser.get(sqlite_suite.gateway_url + "/v1/admin/reports/points", timeout=10)
    assert (answer.status_code, answer.json()["code"]) == (403, "forbidden")
    marketing = browser.get(sqlite_suite.gateway_url + "/v1/marketing/campaigns", timeout=10)
    assert marketing.status_code == 200


def test_a_post_without_the_pages_token_changes_nothing(sqlite_suite: Suite) -> None:
    browser, token = signed_in(sqlite_suite, "marketer")
    url = sqlite_suite.gateway_url
    name = f"forged {uuid.uuid4().hex[:6]}"
    segment = {"name": name, "city": "tehran", "action": "save"}
    for forged in ({}, {"csrf_token": "forged"}):
        refused = browser.post(url + "/console/segments", data={**segment, **forged})
        assert refused.status_code == 403
        assert "form expired" in refused.text
    admin = Api(url, sqlite_suite.env["LOYALTY_ADMIN_TOKEN"])
    listed = admin.get("/v1/marketing/segments").json()["segments"]
    assert name not in {s["name"] for s in listed}

    draft = admin.post(
        "/v1/marketing/campaigns",
        {"name": name, "kind": "fixed_bonus", "points": 5, "targeting": {"everyone": True}},
    ).json()
    refused = browser.post(url + f"/console/campaigns/{draft['id']}/launch", data={})
    assert refused.status_code == 403
    assert admin.get(f"/v1/marketing/campaigns/{draft['id']}").json()["status"] == "draft"

    # With the page's token the same form works.
    saved = browser.post(url + "/console/segments", data={**segment, "csrf_token": token})
    assert saved.status_code == 200 and "Segment saved" in saved.text
    listed = admin.get("/v1/marketing/segments").json()["segments"]
    assert {"attr": "city", "op": "eq", "value": "tehran"} in [
        s["rule"] for s in listed if s["name"] == name
    ]


def test_a_bad_rule_is_explained_and_nothing_is_saved(sqlite_suite: Suite) -> None:
    browser, token = signed_in(sqlite_suite, "marketer")
    name = f"bad {uuid.uuid4().hex[:6]}"
    url = sqlite_suite.gateway_url + "/console/segments"
    for data, says in (
        ({"days_since_last_purchase": "soon"}, "takes a whole number"),
        ({}, "Choose at least one condition"),
        ({"rule_json": "{not json"}, "not valid JSON"),
        ({"rule_json": '{"attr": "stage", "op": "eq", "value": "grumpy"}'}, "unknown stage"),
    ):
        answer = browser.post(
            url, data={"csrf_token": token, "name": name, "action": "save", **data}
        )
        assert answer.status_code == 422, data
        assert says in answer.text, data
    admin = Api(sqlite_suite.gateway_url, sqlite_suite.env["LOYALTY_ADMIN_TOKEN"])
    assert name not in {s["name"] for s in admin.get("/v1/marketing/segments").json()["segments"]}


def test_sign_in_is_throttled_like_the_api_login(limited: Suite) -> None:  # noqa: F811
    email, ip = staff_account(limited, "marketer"), address()
    behind_proxy = {"X-Forwarded-For": ip}
    for _ in range(5):
        _, wrong = sign_in(limited, email, "not the password", behind_proxy)
        assert "Wrong e-mail or password" in wrong.text
    browser, throttled = sign_in(limited, email, STAFF_PASSWORD, behind_proxy)
    assert "Too many failed sign-ins" in throttled.text
    assert "loyalty_session" not in browser.cookies
    _, other = sign_in(
        limited, staff_account(limited, "marketer"), headers={"X-Forwarded-For": address()}
    )
    assert 'id="dissatisfied"' in other.text


def test_the_campaign_builder_sends_what_the_marketer_typed(sqlite_suite: Suite) -> None:
    browser, token = signed_in(sqlite_suite, "marketer")
    url = sqlite_suite.gateway_url + "/console/campaigns"
    name = f"double {uuid.uuid4().hex[:6]}"
    form = {
        "csrf_token": token,
        "name": name,
        "kind": "multiplier",
        "multiplier": "۱٫۵",  # Persian digits and decimal point
        "points": "ignored for a multiplier",
        "target": "stages",
        "stages": ["dissatisfied", "lapsed"],
        "starts_at": "۱۴۰۵/۰۹/۱۰ ۰۹:۰۰",  # Jalali, in Persian digits: 1 December 2026
        "ends_at": "2026-12-31 21:00",
        "budget_points": "۵۰۰۰",
        "per_member_limit": "3",
        "control_percent": "10",
        "channel": "sms",
        "template": "{first_name}, double points this month",
    }
    saved = browser.post(url, data=form, timeout=30)
    assert saved.status_code == 200 and "saved as a draft" in saved.text
    admin = Api(sqlite_suite.gateway_url, sqlite_suite.env["LOYALTY_ADMIN_TOKEN"])
    listed = admin.get("/v1/marketing/campaigns").json()["campaigns"]
    campaign = next(c for c in listed if c["name"] == name)
    assert campaign["status"] == "draft"
    zone = ZoneInfo(sqlite_suite.env.get("LOYALTY_TIMEZONE", "Asia/Tehran"))
    assert campaign["definition"] == {
        "name": name,
        "kind": "multiplier",
        "multiplier": "1.5",
        "targeting": {"stages": ["dissatisfied", "lapsed"]},
        "schedule": {
            "starts_at": datetime(2026, 12, 1, 9, 0, tzinfo=zone).isoformat(),
            "ends_at": datetime(2026, 12, 31, 21, 0, tzinfo=zone).isoformat(),
        },
        "budget_points": 5000,
        "per_member_limit": 3,
        "control_percent": 10,
        "message": {"channel": "sms", "template": "{first_name}, double points this month"},
    }

    # What the campaigns service refuses comes back on the form, in its own words.
    for change, says in (
        ({"multiplier": "1"}, "multiplier: must be more than 1"),
        ({"kind": "fixed_bonus", "points": "many"}, "takes a whole number"),
        ({"target": "segment"}, "targeting"),
    ):
        refused = browser.post(url, data={**form, "name": f"{name} bad", **change}, timeout=30)
        assert refused.status_code == 422, change
        assert says in refused.text, change
        assert f'value="{name} bad"' in refused.text  # the form keeps what was typed
    listed = admin.get("/v1/marketing/campaigns").json()["campaigns"]
    assert f"{name} bad" not in {c["name"] for c in listed}

    # A draft can be deleted from the list; a launched campaign only ended.
    deleted = browser.post(f"{url}/{campaign['id']}/delete", data={"csrf_token": token})
    assert "Draft deleted." in deleted.text
    assert admin.get(f"/v1/marketing/campaigns/{campaign['id']}").status_code == 404


def test_a_draft_can_be_ended_from_the_console_as_the_service_allows(sqlite_suite: Suite) -> None:
    browser, token = signed_in(sqlite_suite, "marketer")
    admin = Api(sqlite_suite.gateway_url, sqlite_suite.env["LOYALTY_ADMIN_TOKEN"])
    draft = admin.post(
        "/v1/marketing/campaigns",
        {"name": f"never run {uuid.uuid4().hex[:6]}", "kind": "fixed_bonus", "points": 5},
    ).json()
    assert (draft["allowed_actions"], draft["deletable"]) == (["launch", "end"], True)
    url = f"{sqlite_suite.gateway_url}/console/campaigns"

    def offered() -> set[str]:
        page = browser.get(url, timeout=10)
        return set(
            re.findall(rf'(?:action|href)="/console/campaigns/{draft["id"]}/(\w+)"', page.text)
        )

    assert offered() == {"launch", "end", "delete"}
    ended = browser.post(f"{url}/{draft['id']}/end", data={"csrf_token": token}, timeout=10)
    assert "Campaign ended." in ended.text
    assert admin.get(f"/v1/marketing/campaigns/{draft['id']}").json()["status"] == "ended"
    assert offered() == set()


def test_the_builder_offers_the_kinds_the_proto_lists_with_their_fields(
    sqlite_suite: Suite,
) -> None:
    browser, _ = signed_in(sqlite_suite, "marketer")
    page = browser.get(f"{sqlite_suite.gateway_url}/console/campaigns/new", timeout=10).text
    select = page[
        page.index('<select id="kind"') : page.index("</select>", page.index('id="kind"'))
    ]
    kinds = {
        value.name.removeprefix("CAMPAIGN_KIND_").lower(): set(
            value.GetOptions().Extensions[campaigns_pb2.kind_fields]
        )
        for value in campaigns_pb2.CampaignKind.DESCRIPTOR.values
        if value.number
    }
    assert re.findall(r'<option value="(\w+)"', select) == list(kinds)
    for name in ("multiplier", "points", "min_spend", "categories"):
        shown = re.search(rf'<div data-kinds="([\w ]*)">\s*<label for="{name}"', page)
        assert shown is not None, name
        assert set(shown.group(1).split()) == {k for k, fields in kinds.items() if name in fields}


def test_an_admin_downloads_the_accounting_files_from_the_console(sqlite_suite: Suite) -> None:
    admin, _ = signed_in(sqlite_suite, "admin")
    overview = admin.get(sqlite_suite.gateway_url + "/console", timeout=30).text
    assert 'action="/v1/admin/exports/ledger.csv"' in overview
    today = datetime.now(UTC).date().isoformat()
    ledger = admin.get(
        sqlite_suite.gateway_url + "/v1/admin/exports/liability.csv",
        params={"from": today, "to": today},
        timeout=30,
    )
    assert ledger.status_code == 200
    assert ledger.text.removeprefix("\ufeff").startswith("day,earned,")
    marketer, _ = signed_in(sqlite_suite, "marketer")
    page = marketer.get(sqlite_suite.gateway_url + "/console", timeout=30).text
    assert 'id="accounting"' not in page


def test_a_launch_is_confirmed_with_its_audience_and_an_empty_control_group_is_said(
    sqlite_suite: Suite,
) -> None:
    browser, token = signed_in(sqlite_suite, "marketer")
    admin = Api(sqlite_suite.gateway_url, sqlite_suite.env["LOYALTY_ADMIN_TOKEN"])
    stage = f"nobody-{uuid.uuid4().hex[:6]}"  # a stage no member is in: an empty audience
    draft = admin.post(
        "/v1/marketing/campaigns",
        {
            "name": f"tiny {stage}",
            "kind": "fixed_bonus",
            "points": 5,
            "control_percent": 10,
            "targeting": {"stages": ["lapsed"], "tiers": [stage]},
            "message": {"channel": "sms", "template": "{first_name}: <b>5 points</b> for you"},
        },
    )
    assert draft.status_code == 201, draft.text
    campaign = draft.json()["id"]
    url = f"{sqlite_suite.gateway_url}/console/campaigns/{campaign}/launch"

    # A launch without the confirmation goes to the confirmation, and launches nothing.
    asked = browser.post(url, data={"csrf_token": token}, timeout=10)
    assert asked.url == url and asked.status_code == 200
    assert admin.get(f"/v1/marketing/campaigns/{campaign}").json()["status"] == "draft"
    assert 'id="launch-audience">0 members<' in asked.text
    assert 'id="control-empty"' in asked.text and "rounds to nobody" in asked.text
    assert "&lt;b&gt;5 points&lt;/b&gt;" in asked.text  # the preview, as text
    assert "opt-out line" in asked.text

    forged = browser.post(url, data={"confirmed": "yes"}, timeout=10)
    assert forged.status_code == 403
    launched = browser.post(url, data={"csrf_token": token, "confirmed": "yes"}, timeout=10)
    assert "Campaign launched." in launched.text
    assert admin.get(f"/v1/marketing/campaigns/{campaign}").json()["status"] == "active"
