"""The portal's rewards and coupons, the till's coupon and the console's catalog, driven through
Flask's test client over in-memory clients (tests/unit/gateway_fakes.py, and a rewards stand-in
here that keeps the rules the pages rely on: one coupon per request id, one use per coupon)."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.app import create_app
from gateway.auth import SESSION_COOKIE
from gateway.clients import Clients
from gateway.config import GatewayConfig
from gateway.problems import Problem
from services.runtime.config import Env
from tests.unit.gateway_fakes import (
    LOGIN_CODE,
    MARKETER_TOKEN,
    POS_KEY,
    STORE_ID,
    fake_clients,
)

PERCENT_OFF = {"type": "percent", "value": "20", "max_discount": None, "min_purchase": "500000"}


class FakeRewards:
    def __init__(self, points) -> None:  # type: ignore[no-untyped-def]
        self.points = points
        self.catalog: dict[str, dict] = {}
        self.issued: dict[str, dict] = {}
        self.requests: dict[str, str] = {}
        self.uses: dict[tuple[str, str], dict] = {}
        self.uploads: list[list[str]] = []
        self.made: list[dict] = []

    def add(self, name: str, cost: int, stock: int | None = 5, **extra: object) -> dict:
        reward = {
            "id": str(uuid.uuid4()),
            "kind": "coupon",
            "name": name,
            "description": "",
            "name_fa": "",
            "description_fa": "",
            "points_cost": cost,
            "stock": stock,
            "per_member_limit": None,
            "valid_days": 30,
            "coupon": PERCENT_OFF,
            "status": "active",
            "remaining": None,
            "figures": {
                "issued": 0,
                "used": 0,
                "expired": 0,
                "cancelled": 0,
                "points_spent": 0,
                "stock_left": stock,
                "codes_left": 0,
            },
            **extra,
        }
        self.catalog[reward["id"]] = reward
        return reward

    def rewards(self, member_id: str = "") -> list[dict]:
        return list(self.catalog.values())

    def redeem(self, member_id: str, reward_id: str, request_id: str) -> dict:
        if request_id in self.requests:
            return {"coupon": self.issued[self.requests[request_id]]}
        reward = self.catalog[reward_id]
        if self.points.balance_of(member_id) < reward["points_cost"]:
            raise Problem(422, "insufficient-points", "not enough points")
        self.points.available[member_id] -= reward["points_cost"]
        reward["stock"] -= 1
        reward["figures"]["issued"] += 1
        reward["figures"]["points_spent"] += reward["points_cost"]
        code = f"K7M2X{len(self.issued) + 3}PQ9R"
        coupon = {
            "id": str(uuid.uuid4()),
            "code": code,
            "kind": "coupon",
            "status": "issued",
            "name": reward["name"],
            "name_fa": "",
            "partner_code": None,
            "discount": {**PERCENT_OFF, "currency": "IRR"},
            "expires_at": "2027-03-21T12:00:00+00:00",
            "member_id": member_id,
        }
        self.issued[code] = coupon
        self.requests[request_id] = code
        return {"coupon": coupon, "points_spent": reward["points_cost"], "balance": {}}

    def coupons(self, member_id: str, status: str = "") -> list[dict]:
        return [c for c in self.issued.values() if c["member_id"] == member_id]

    def _find(self, code: str) -> dict:
        typed = re.sub(r"[\s-]", "", code).upper()
        if typed not in self.issued:
            raise Problem(404, "coupon-not-found", "no such coupon")
        return self.issued[typed]

    def check(self, code: str, amount: str | None, currency: str | None) -> dict:
        coupon = self._find(code)
        usable = coupon["status"] == "issued" and int(amount or 0) >= 500000
        reason = None if usable else "coupon-min-purchase"
        discount = str(int(amount or 0) // 5) if usable else None
        return {**coupon, "usable": usable, "reason": reason, "discount_amount": discount}

    def use(self, store_id: str, code: str, use: dict) -> dict:
        coupon = self._find(code)
        key = (store_id, use["transaction_id"])
        if key in self.uses:
            return self.uses[key]
        if coupon["status"] != "issued":
            raise Problem(409, "coupon-used", "already used")
        coupon["status"] = "used"
        self.uses[key] = {
            **coupon,
            "discount": str(int(use["amount"]) // 5),
            "currency": "IRR",
        }
        return self.uses[key]

    def release(self, store_id: str, code: str, transaction_id: str) -> dict:
        coupon = self._find(code)
        self.uses.pop((store_id, transaction_id), None)
        coupon["status"] = "issued"
        return coupon

    def create_reward(self, body: dict, actor: str) -> dict:
        self.made.append(body)
        return self.add(body["name"], body["points_cost"], body.get("stock"), kind=body["kind"])

    def update_reward(self, reward_id: str, body: dict, actor: str) -> dict:
        self.catalog[reward_id].update(body)
        return self.catalog[reward_id]

    def add_codes(self, reward_id: str, codes: list[str]) -> dict:
        self.uploads.append(codes)
        seen: set[str] = set()
        duplicates = [c for c in codes if c in seen or seen.add(c)]  # type: ignore[func-returns-value]
        return {"added": len(codes) - len(duplicates), "duplicates": duplicates}


@pytest.fixture
def clients() -> Clients:
    found = fake_clients()
    found.rewards = FakeRewards(found.points)  # type: ignore[assignment]
    return found


@pytest.fixture
def app(clients: Clients) -> Iterator[Flask]:
    config = GatewayConfig.load(Env({"REDIS_URL": "", "LOYALTY_ADMIN_TOKEN": "admin-token"}))
    yield create_app(config, clients)


@pytest.fixture
def web(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has a form"
    return found.group(1)


def member_signed_in(web: FlaskClient, clients: Clients, points: int) -> str:
    token = csrf(web.get("/portal").text)
    web.post("/portal/code", data={"csrf_token": token, "phone": "09121234567"})
    token = csrf(web.get("/portal").text)
    web.post("/portal/verify", data={"csrf_token": token, "code": LOGIN_CODE})
    member_id = clients.identity.phones["09121234567"]
    clients.points.available[member_id] = points
    return member_id


def test_a_member_redeems_once_however_often_the_confirm_is_sent(
    web: FlaskClient, clients: Clients
) -> None:
    coffee = clients.rewards.add("Free coffee", 300)
    clients.rewards.add("Cinema ticket", 5000, stock=None)
    member_id = member_signed_in(web, clients, 1000)
    page = web.get("/portal/rewards").text
    assert f'href="/portal/rewards/{coffee["id"]}"' in page
    assert "4,000 more points needed" in page and "always available" in page

    confirm = web.get(f"/portal/rewards/{coffee['id']}").text
    form = {
        "csrf_token": csrf(confirm),
        "request_id": re.search(r'name="request_id" value="([^"]+)"', confirm).group(1),
    }
    for _ in range(2):  # the member taps twice
        sent = web.post(f"/portal/rewards/{coffee['id']}/redeem", data=form)
        assert sent.status_code == 303
    assert clients.points.balance_of(member_id) == 700
    page = web.get("/portal/rewards").text
    assert page.count('class="coupon issued"') == 1
    assert '<bdi dir="ltr" class="code">K7M2X3PQ9R</bdi>' in page
    assert '<svg viewBox="' in page and "<title>K7M2X3PQ9R</title>" in page

    web.set_cookie("lang", "fa")
    page = web.get("/portal/rewards").text
    web.delete_cookie("lang")
    assert "K7M2X3PQ9R" in page  # not K7M۲X۳PQ۹R
    assert "معتبر تا ۱ فروردین ۱۴۰۶" in page  # 21 March 2027, in Tehran
    assert "۲۰٪ تخفیف" in page


def test_a_reward_beyond_the_members_points_says_so(web: FlaskClient, clients: Clients) -> None:
    ticket = clients.rewards.add("Cinema ticket", 5000)
    member_signed_in(web, clients, 100)
    confirm = web.get(f"/portal/rewards/{ticket['id']}").text
    form = {
        "csrf_token": csrf(confirm),
        "request_id": "web-1",
    }
    web.post(f"/portal/rewards/{ticket['id']}/redeem", data=form)
    assert "Not enough points." in web.get(f"/portal/rewards/{ticket['id']}").text
    assert not clients.rewards.issued


def test_a_cashier_checks_uses_and_gives_back_a_coupon_within_a_purchase(
    web: FlaskClient, clients: Clients
) -> None:
    reward = clients.rewards.add("20% off", 100)
    member_id = clients.identity.add("09121234567", "Sara", "Ahmadi")["id"]
    clients.points.available[member_id] = 500
    clients.rewards.redeem(member_id, reward["id"], "r-1")
    web.post("/till/sign-in", data={"csrf_token": csrf(web.get("/till").text), "api_key": POS_KEY})
    page = web.get("/till").text
    web.post("/till/identify", data={"csrf_token": csrf(page), "identifier": "09121234567"})

    # Typed loosely, in Persian digits, for too small a purchase: the till says why not.
    page = web.get("/till").text
    typed = {"csrf_token": csrf(page), "coupon": "k7m۲x-۳pq۹r", "amount": "۱۰۰٬۰۰۰"}
    web.post("/till/coupon/check", data=typed)
    page = web.get("/till").text
    assert 'class="code">K7M2X3PQ9R</bdi>' in page
    assert "below this coupon&#39;s minimum" in page and 'id="use-coupon"' not in page

    # As scanned (the QR code holds the code) with a purchase it fits.
    web.post(
        "/till/coupon/check",
        data={"csrf_token": csrf(page), "coupon": "K7M2X3PQ9R", "amount": "1,000,000"},
    )
    page = web.get("/till").text
    assert "Discount: 200,000 rials" in page and "To pay: 800,000 rials" in page
    web.post("/till/coupon/use", data={"csrf_token": csrf(page)})
    page = web.get("/till").text
    assert "Coupon used: 200,000 off; 800,000 to pay." in page
    assert clients.rewards.issued["K7M2X3PQ9R"]["status"] == "used"
    transaction = re.search(r'name="transaction_id" value="([^"]+)"', page).group(1)
    assert clients.rewards.uses[(STORE_ID, transaction)]
    assert (
        'id="amount" name="amount" inputmode="decimal" required autofocus\n    value="800,000"'
        in page
    )

    # The sale is cancelled: the coupon can be used again.
    web.post("/till/coupon/release", data={"csrf_token": csrf(page)})
    assert "given back" in web.get("/till").text
    assert clients.rewards.issued["K7M2X3PQ9R"]["status"] == "issued"


def test_a_marketer_creates_a_reward_uploads_codes_and_reads_its_figures(
    web: FlaskClient, clients: Clients
) -> None:
    web.set_cookie(SESSION_COOKIE, MARKETER_TOKEN)
    clients.campaigns.stage_overview = lambda limit: {"stages": {"lapsed": 3}, "dissatisfied": []}
    clients.campaigns.segments = lambda: [{"id": "seg-1", "name": "Tehran"}]
    page = web.get("/console/rewards").text
    made = web.post(
        "/console/rewards",
        data={
            "csrf_token": csrf(page),
            "kind": "partner_code",
            "name": "Cinema ticket",
            "name_fa": "بلیت سینما",
            "points_cost": "۲۵۰۰",
            "stock": "",
            "stages": "lapsed",
            "tiers": "gold، silver",
        },
    )
    assert made.status_code == 303
    reward_id = made.headers["Location"].rsplit("/", 1)[1]
    assert clients.rewards.catalog[reward_id]["points_cost"] == 2500
    assert clients.rewards.made[-1]["visibility"] == {
        "segment_ids": [],
        "stages": ["lapsed"],
        "tiers": ["gold", "silver"],
    }
    page = web.get(made.headers["Location"]).text
    assert 'id="stock-left">unlimited<' in page

    upload = web.post(
        f"/console/rewards/{reward_id}/codes",
        data={
            "csrf_token": csrf(page),
            "codes_file": (io.BytesIO(b"code\nCIN-0001\nCIN-0002\nCIN-0001\n"), "codes.csv"),
            "codes_text": "CIN-0003\nCIN-0002",
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 200
    assert clients.rewards.uploads == [["CIN-0001", "CIN-0002", "CIN-0001", "CIN-0003", "CIN-0002"]]
    assert "3 codes added; 2 duplicates refused." in upload.text
    assert upload.text.count("<code>CIN-000") == 2

    words = "nothing"
    bad = web.post(
        "/console/rewards",
        data={"csrf_token": csrf(page), "kind": "coupon", "name": "x", "points_cost": words},
    )
    assert bad.status_code == 422 and "whole number" in bad.text

    web.post(f"/console/rewards/{reward_id}/pause", data={"csrf_token": csrf(page)})
    assert clients.rewards.catalog[reward_id]["status"] == "paused"
    assert 'id="pause">Resume<' in web.get(f"/console/rewards/{reward_id}").text


def test_the_campaign_builder_gives_a_coupon_campaign_its_coupon(
    web: FlaskClient, clients: Clients
) -> None:
    web.set_cookie(SESSION_COOKIE, MARKETER_TOKEN)
    clients.campaigns.stage_overview = lambda limit: {"stages": {"lapsed": 3}, "dissatisfied": []}
    clients.campaigns.segments = lambda: []
    page = web.get("/console/campaigns/new").text
    assert 'data-kinds="coupon"' in page
    web.post(
        "/console/campaigns",
        data={
            "csrf_token": csrf(page),
            "name": "Come back",
            "kind": "coupon",
            "coupon_type": "percent",
            "coupon_value": "۲۰",
            "coupon_max_discount": "500,000",
            "coupon_valid_days": "14",
            "target": "stages",
            "stages": "lapsed",
            "control_percent": "10",
        },
    )
    made = clients.campaigns.campaigns_made[-1]
    assert made["coupon"] == {
        "type": "percent",
        "value": "20",
        "max_discount": "500000",
        "valid_days": 14,
    }
    assert made["targeting"] == {"stages": ["lapsed"]} and made["control_percent"] == 10
