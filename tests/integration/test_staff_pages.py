"""The staff rooms seen from a plain HTTP client: each role reaches only its rooms, every form
needs its page token, revealing and erasing are deliberate and recorded, stored text is text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

from deploy.local import Suite
from tests.integration.test_rewards_api import new_reward
from tests.integration.test_web_security import form_token
from tests.support import (
    STAFF_PASSWORD,
    Api,
    Pos,
    e164,
    eventually,
    log_in,
    member_view_caught_up,
    new_email,
    new_phone,
    sent_messages,
    staff_login,
)

SCRIPT = "<script>alert(1)</script>"


class StaffBrowser:
    """A browser-like session signed in at the staff entrance."""

    def __init__(self, suite: Suite, role: str) -> None:
        admin = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
        email = new_email()
        created = admin.post(
            "/v1/admin/staff", {"email": email, "password": STAFF_PASSWORD, "role": role}
        )
        assert created.status_code == 201, created.text
        self._sign_in(suite, email, STAFF_PASSWORD)

    @classmethod
    def signed_in(cls, suite: Suite, email: str, password: str) -> StaffBrowser:
        browser = cls.__new__(cls)
        browser._sign_in(suite, email, password)
        return browser

    def _sign_in(self, suite: Suite, email: str, password: str) -> None:
        self.url = suite.gateway_url
        self.email = email
        self.session = requests.Session()
        entrance = self.get("/staff/sign-in")
        self.landed = self.session.post(
            self.url + "/staff/sign-in",
            data={
                "csrf_token": form_token(entrance.text),
                "email": email,
                "password": password,
            },
            timeout=15,
        )
        self.token = form_token(self.landed.text)

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.url + path, timeout=15, allow_redirects=True)

    def post(self, path: str, token: bool = True, **data: str) -> requests.Response:
        if token:
            data["csrf_token"] = self.token
        return self.session.post(self.url + path, data=data, timeout=15)


@pytest.fixture(scope="module")
def agent(sqlite_suite: Suite) -> StaffBrowser:
    return StaffBrowser(sqlite_suite, "support")


@pytest.fixture(scope="module")
def admin(sqlite_suite: Suite) -> StaffBrowser:
    return StaffBrowser(sqlite_suite, "admin")


@pytest.fixture(scope="module")
def pos(sqlite_suite: Suite) -> Pos:
    return Pos(sqlite_suite)


def test_each_role_lands_in_its_room_and_reaches_no_other(
    sqlite_suite: Suite, agent: StaffBrowser, admin: StaffBrowser
) -> None:
    marketer = StaffBrowser(sqlite_suite, "marketer")
    assert agent.landed.url.endswith("/desk")
    assert marketer.landed.url.endswith("/console")
    assert admin.landed.url.endswith("/admin")
    for path in ("/admin", "/admin/audit", "/console", "/console/segments"):
        assert agent.get(path).status_code == 403, path
    for path in ("/desk", f"/desk/members/{uuid.uuid4()}", "/admin"):
        assert marketer.get(path).status_code == 403, path
    for path in ("/desk", "/admin", "/console"):
        assert admin.get(path).status_code == 200, path
    stranger = requests.get(sqlite_suite.gateway_url + "/desk", timeout=15)
    assert stranger.url.endswith("/staff/sign-in")


def test_revealing_a_members_phone_is_recorded(agent: StaffBrowser, pos: Pos) -> None:
    member = pos.enrol(first_name="Nima")
    page = agent.get(f"/desk/members/{member['id']}")
    assert member["phone_masked"] in page.text
    assert "Personal data revealed" not in page.text
    revealed = agent.post(f"/desk/members/{member['id']}/reveal")
    assert member["phone_masked"] not in revealed.text
    page = agent.get(f"/desk/members/{member['id']}")
    assert "Personal data revealed" in page.text
    assert agent.email in page.text
    # The full phone is shown only on the answer to the reveal.
    assert member["phone_masked"] in page.text


def test_erasure_needs_the_members_card_number_typed(agent: StaffBrowser, pos: Pos) -> None:
    member = pos.enrol(first_name="Reza")
    path = f"/desk/members/{member['id']}"
    refused = agent.post(f"{path}/erasure", confirm="1234")
    assert "does not match: nothing was erased" in refused.text
    assert "Reza" in agent.get(path).text
    erased = agent.post(f"{path}/erasure", confirm=member["card_number"])
    assert "Personal data erased." in erased.text
    assert "Reza" not in erased.text
    assert "Personal data erased" in agent.get(path).text


def test_every_staff_form_refuses_a_post_without_its_token(
    agent: StaffBrowser, admin: StaffBrowser, pos: Pos
) -> None:
    member = pos.enrol(first_name="Leila")
    other = pos.enrol(first_name="Leila")
    desk = f"/desk/members/{member['id']}"
    key_id = Api(admin.url, pos.admin.token).get(f"/v1/admin/stores/{pos.store_id}/api-keys")
    key = key_id.json()["items"][0]["key_id"]
    forms = [
        (agent, "/desk/search", {"query": member["card_number"]}),
        (agent, f"{desk}/reveal", {}),
        (agent, f"{desk}/adjustments", {"points": "100", "reason": "forged"}),
        (agent, f"{desk}/merge/preview", {"duplicate": other["card_number"]}),
        (agent, f"{desk}/merge", {"duplicate_id": other["id"]}),
        (agent, f"{desk}/erasure", {"confirm": member["card_number"]}),
        (agent, f"{desk}/export", {}),
        (agent, "/staff/sign-out", {}),
        (admin, "/admin/stores", {"name": "forged store"}),
        (admin, f"/admin/stores/{pos.store_id}/name", {"name": "forged store"}),
        (admin, f"/admin/stores/{pos.store_id}/close", {}),
        (admin, f"/admin/stores/{pos.store_id}/keys", {}),
        (admin, f"/admin/stores/{pos.store_id}/keys/{key}/rotate", {"grace_hours": "1"}),
        (admin, f"/admin/stores/{pos.store_id}/keys/{key}/revoke", {}),
        (admin, "/admin/staff", {"email": new_email(), "password": STAFF_PASSWORD}),
        (admin, f"/admin/staff/{uuid.uuid4()}/disable", {}),
        (admin, f"/admin/staff/{uuid.uuid4()}/role", {"role": "admin"}),
        (admin, f"/admin/staff/{uuid.uuid4()}/password", {"password": STAFF_PASSWORD}),
        (admin, f"/admin/staff/{uuid.uuid4()}/sign-out", {}),
        (agent, f"{desk}/cases", {"kind": "praise", "channel": "phone", "text": "x"}),
        (agent, f"/desk/cases/{uuid.uuid4()}/resolve", {}),
        (agent, f"{desk}/coupons/K7QM4XHD2P/cancellation", {"reason": "forged"}),
    ]
    for browser, path, data in forms:
        refused = browser.post(path, token=False, **data)
        assert refused.status_code == 403, path
        assert "form expired" in refused.text, path
    page = agent.get(desk)
    assert "Leila" in page.text
    assert "What staff did" in page.text and "forged" not in page.text
    assert "Members merged" not in page.text
    assert pos.balance(member["id"])["available"] == 0
    assert pos.balance(other["id"])["member_id"] == other["id"]
    assert "forged store" not in admin.get("/admin").text
    # The key is neither rotated nor revoked.
    keys = Api(admin.url, pos.admin.token).get(f"/v1/admin/stores/{pos.store_id}/api-keys")
    assert [k["status"] for k in keys.json()["items"]] == ["active"]


def test_a_script_for_a_name_is_shown_as_text(
    agent: StaffBrowser, admin: StaffBrowser, pos: Pos
) -> None:
    member = pos.enrol(first_name=SCRIPT, last_name=SCRIPT, city=SCRIPT)
    other = pos.enrol(first_name=SCRIPT)
    desk = f"/desk/members/{member['id']}"
    assert agent.post(f"{desk}/adjustments", points="5", reason=SCRIPT).status_code == 200
    store = admin.post("/admin/stores", name=SCRIPT)
    pages = [
        agent.get(desk),
        agent.post(f"{desk}/reveal"),
        agent.post(f"{desk}/merge/preview", duplicate=other["card_number"]),
        store,
        admin.get("/admin"),
        admin.get("/admin/audit"),
    ]
    for page in pages:
        assert page.status_code == 200, page.url
        assert SCRIPT not in page.text, page.url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, page.url


def test_the_member_page_shows_stores_stage_feedback_coupons_and_referral(
    sqlite_suite: Suite, agent: StaffBrowser, pos: Pos
) -> None:
    marketer = staff_login(sqlite_suite, "marketer")
    phone = new_phone()
    member = pos.enrol(phone=phone, first_name="Sara")
    sale = f"T-{uuid.uuid4().hex[:10]}"
    assert pos.purchase(member["id"], sale, amount="3000000").status_code == 201
    refund = {"refund_id": f"RF-{sale}", "amount": "1000000"}
    assert pos.api.post(f"/v1/purchases/{sale}/refunds", refund).status_code == 201
    me = Api(sqlite_suite.gateway_url, log_in(sqlite_suite, phone))
    feedback = {"feedback_id": f"f-{uuid.uuid4().hex}", "rating": 1, "comment": SCRIPT}
    assert me.post("/v1/me/feedback", feedback).status_code == 201
    reward = new_reward(marketer, name=f"Bread {uuid.uuid4().hex[:6]}", refund_on_cancel=True)
    redeemed = me.post(f"/v1/me/rewards/{reward['id']}/redemptions", {"request_id": "r-1"})
    assert redeemed.status_code == 201, redeemed.text
    code = redeemed.json()["coupon"]["code"]
    referral = me.get("/v1/me/referral").json()["code"]
    assert eventually(lambda: member_view_caught_up(marketer), within=30)

    desk = f"/desk/members/{member['id']}"
    page = agent.get(desk).text
    stage = page.split('id="stage">')[1].split("</td>")[0]
    assert stage.startswith("Dissatisfied")
    history = page.split('id="stage-history">')[1].split("</ul>")[0]
    assert history.count("→ Dissatisfied") == 1
    assert page.split('id="purchase-count">')[1].startswith("1<")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and SCRIPT not in page
    assert code in page and reward["name"] in page
    assert referral in page
    ledger = page.split('id="ledger"')[1].split("</section>")[0]
    assert f'<td class="store"><bdi>{pos.store_name}</bdi></td><td><bdi dir="ltr">{sale}<' in ledger
    activity = page.split('id="activity"')[1].split("</section>")[0]
    for kind in ("purchase", "refund"):
        row = activity.split(f'<tr class="line {kind}">')[1].split("</tr>")[0]
        assert pos.store_name in row and sale in row, kind
    assert agent.post(f"{desk}/coupons/{code}/cancellation", reason=" ").status_code == 200
    assert pos.balance(member["id"])["available"] == 100
    cancelled = agent.post(f"{desk}/coupons/{code}/cancellation", reason="Wrong reward")
    assert "Coupon cancelled" in cancelled.text
    support = staff_login(sqlite_suite, "support")
    [coupon] = support.get(f"/v1/support/members/{member['id']}/coupons").json()["items"]
    assert coupon["status"] == "cancelled"
    again = agent.post(f"{desk}/coupons/{code}/cancellation", reason="Wrong reward")
    assert "Coupon cancelled" in again.text
    assert (coupon["points_spent"], pos.balance(member["id"])["available"]) == (100, 200)


def test_the_member_page_shows_missions_with_spend_as_money_and_the_draws_they_hold(
    sqlite_suite: Suite, agent: StaffBrowser, pos: Pos
) -> None:
    marketer = staff_login(sqlite_suite, "marketer")
    tag = uuid.uuid4().hex[:6]
    mission = marketer.post(
        "/v1/marketing/campaigns",
        {
            "name": f"Spend {tag}",
            "kind": "mission",
            "goal": {"metric": "spend", "target": "5000000"},
            "period": "month",
            "reward_points": 50,
            "targeting": {"everyone": True},
        },
    ).json()["id"]
    assert marketer.post(f"/v1/marketing/campaigns/{mission}/launch").status_code == 200
    closes_at = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    draw = marketer.post(
        "/v1/marketing/draws",
        {
            "name": f"Yalda {tag}",
            "closes_at": closes_at,
            "prizes": [{"name": "Tablet", "count": 1}],
            "chances": {"per_purchase": 2},
        },
    ).json()
    phone = new_phone()
    member = pos.enrol(phone=phone)
    assert pos.purchase(member["id"], amount="1250000").status_code == 201
    me = Api(sqlite_suite.gateway_url, log_in(sqlite_suite, phone))
    assert eventually(
        lambda: [m["progress"] for m in me.get("/v1/me/missions").json()["items"]] == [125000000],
        30,
    )
    assert eventually(
        lambda: any(d["my_chances"] == 2 for d in me.get("/v1/me/draws").json()["items"]), 30
    )

    page = agent.get(f"/desk/members/{member['id']}").text
    missions = page.split('id="missions"')[1].split("</section>")[0]
    assert f"Spend {tag}" in missions
    assert "1,250,000 rials of 5,000,000 rials" in missions
    draws = page.split('id="draws"')[1].split("</section>")[0]
    assert f"Yalda {tag}" in draws and '<td class="chances">2</td>' in draws

    assert marketer.post(f"/v1/marketing/draws/{draw['id']}/cancel").status_code == 200
    assert marketer.post(f"/v1/marketing/campaigns/{mission}/end").status_code == 200


def test_support_records_lists_and_resolves_cases_over_the_api(
    sqlite_suite: Suite, pos: Pos
) -> None:
    support = staff_login(sqlite_suite, "support")
    member = pos.enrol(first_name="Omid")
    body = {
        "case_id": f"case-{uuid.uuid4().hex}",
        "kind": "complaint",
        "channel": "store",
        "category": "Queue",
        "text": "Waited twenty minutes",
    }
    opened = support.post(f"/v1/support/members/{member['id']}/cases", body)
    assert opened.status_code == 201, opened.text
    assert (opened.json()["status"], opened.json()["member_id"]) == ("open", member["id"])
    again = support.post(f"/v1/support/members/{member['id']}/cases", body)
    assert (again.status_code, again.json()) == (201, opened.json())
    queue = support.get("/v1/support/cases", params={"status": "open", "limit": 500}).json()
    assert [c["case_id"] for c in queue["items"]].count(body["case_id"]) == 1
    bad = support.post(f"/v1/support/members/{member['id']}/cases", {**body, "kind": "rant"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid-request")
    nobody = support.post(f"/v1/support/members/{uuid.uuid4()}/cases", body)
    assert nobody.status_code == 404
    assert support.get("/v1/support/cases", params={"status": "shut"}).status_code == 400
    resolved = support.post(
        f"/v1/support/cases/{body['case_id']}/resolution", {"resolution": "Apologised"}
    )
    assert resolved.status_code == 200, resolved.text
    assert (resolved.json()["status"], resolved.json()["resolution"]) == ("resolved", "Apologised")
    mine = support.get("/v1/support/cases", params={"member_id": member["id"]}).json()["items"]
    assert [c["status"] for c in mine] == ["resolved"]
    unknown = support.post(f"/v1/support/cases/{uuid.uuid4()}/resolution", {"resolution": ""})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "case-not-found")
    marketer = staff_login(sqlite_suite, "marketer")
    assert marketer.get("/v1/support/cases").status_code == 403


def test_a_name_finds_every_member_it_starts_and_a_card_finds_one(suite: Suite) -> None:
    agent, pos = StaffBrowser(suite, "support"), Pos(suite)
    family = f"رضایی{uuid.uuid4().hex[:6]}"
    first = pos.enrol(first_name="علی", last_name=family)
    second = pos.enrol(first_name="مریم", last_name=family)
    pos.enrol(first_name="Erased", last_name=family)
    erased = pos.enrol(first_name="Gone", last_name=family)
    agent.post(f"/desk/members/{erased['id']}/erasure", confirm=erased["card_number"])
    # Typed with the Arabic yeh, as an Arabic keyboard writes it.
    listed = agent.post("/desk/search", query=family.replace("ی", "ي"))
    assert listed.text.count('href="/desk/members/') == 3
    assert first["id"] in listed.text and second["id"] in listed.text
    assert erased["id"] not in listed.text
    one = agent.post("/desk/search", query=f"علي {family}")
    assert one.url.endswith(f"/desk/members/{first['id']}")
    by_card = agent.post("/desk/search", query=second["card_number"])
    assert by_card.url.endswith(f"/desk/members/{second['id']}")
    nobody = agent.post("/desk/search", query=f"ز{family}")
    assert "No member matches." in nobody.text


def test_resolving_a_complaint_asks_the_member_for_a_rating_once(suite: Suite) -> None:
    agent, pos = StaffBrowser(suite, "support"), Pos(suite)
    phone = new_phone()
    member = pos.enrol(phone=phone, first_name="Parisa", consents={"sms": True})
    desk = f"/desk/members/{member['id']}"
    case_id = str(uuid.uuid4())
    for _try in range(2):
        recorded = agent.post(
            f"{desk}/cases",
            case_id=case_id,
            kind="complaint",
            channel="phone",
            category="Cashier",
            text="Rude at the till",
        )
        assert "Contact recorded." in recorded.text
    assert recorded.text.count("Rude at the till") == 1
    assert "Rude at the till" in agent.get("/desk").text
    for _try in range(2):
        resolved = agent.post(f"/desk/cases/{case_id}/resolve", resolution="Apologised")
        assert "Case resolved" in resolved.text
    assert "Rude at the till" not in agent.get("/desk").text
    asked = [
        message
        for message in sent_messages(suite)
        if message["to"] == e164(phone) and "How did we do?" in message["body"]
    ]
    assert len(asked) == 1


def test_an_admin_changes_a_role_sets_a_password_and_ends_sessions(
    sqlite_suite: Suite, admin: StaffBrowser
) -> None:
    marketer = StaffBrowser(sqlite_suite, "marketer")
    assert marketer.get("/console").status_code == 200
    staff_id = next(
        account["id"]
        for account in Api(admin.url, sqlite_suite.env["LOYALTY_ADMIN_TOKEN"])
        .get("/v1/admin/staff")
        .json()["items"]
        if account["email"] == marketer.email
    )
    changed = admin.post(f"/admin/staff/{staff_id}/role", role="support")
    assert "Account changed; its sessions are ended." in changed.text
    # The old session ends with the old role (a gateway remembers a session for a moment);
    # a new sign-in leads to the desk.
    assert eventually(lambda: marketer.get("/console").url.endswith("/console/sign-in"))
    again = StaffBrowser.signed_in(sqlite_suite, marketer.email, STAFF_PASSWORD)
    assert again.landed.url.endswith("/desk")

    api = Api(admin.url, sqlite_suite.env["LOYALTY_ADMIN_TOKEN"])
    new_password = "a brand new passphrase"
    answer = api.put(f"/v1/admin/staff/{staff_id}/password", {"password": new_password})
    assert answer.status_code == 200, answer.text
    assert eventually(lambda: again.get("/desk").url.endswith("/staff/sign-in"))
    old = api.with_token(None).post(
        "/v1/staff/login", {"email": marketer.email, "password": STAFF_PASSWORD}
    )
    assert old.status_code == 401
    last = StaffBrowser.signed_in(sqlite_suite, marketer.email, new_password)
    assert admin.post(f"/admin/staff/{staff_id}/sign-out").status_code == 200
    assert eventually(lambda: last.get("/desk").url.endswith("/staff/sign-in"))

    trail = api.get("/v1/admin/audit").json()["items"]
    done = [entry["action"] for entry in trail if entry["subject"] == staff_id]
    assert done[:4] == ["staff.sign_out", "staff.password", "staff.role", "staff.create"]
    assert "Staff role changed" in admin.get("/admin/audit").text


def test_the_desk_and_the_admin_console_speak_persian(
    agent: StaffBrowser, admin: StaffBrowser, pos: Pos
) -> None:
    member = pos.enrol(first_name="Saeed")
    agent.post(f"/desk/members/{member['id']}/adjustments", points="1250", reason="خوش‌آمد")
    for browser in (agent, admin):
        browser.session.cookies.set("lang", "fa")
    page = agent.get(f"/desk/members/{member['id']}")
    assert 'dir="rtl"' in page.text
    assert "اصلاح امتیاز" in page.text
    assert '<td id="available">۱٬۲۵۰</td>' in page.text
    for heading in ("چرخه عمر و بازخورد", "خریدها، پرداخت‌ها با امتیاز و مرجوعی‌ها", "کوپن‌ها"):
        assert f"<h2>{heading}</h2>" in page.text, heading
    # A card number is a code: its digits stay as they are.
    assert member["card_number"] in page.text
    assert "کلیدهای صندوق" in admin.get(f"/admin/stores/{pos.store_id}").text
    for browser in (agent, admin):
        browser.session.cookies.set("lang", "en")


def test_the_admin_console_shows_the_programs_rules(admin: StaffBrowser) -> None:
    program = admin.get("/admin")
    assert "1 point per 10000 IRR" in program.text
    assert "Tiers" in program.text and "member" in program.text


def test_an_admin_renames_and_closes_a_store_and_its_keys_stop_working(
    sqlite_suite: Suite, admin: StaffBrowser
) -> None:
    store = Pos(sqlite_suite)
    path = f"/admin/stores/{store.store_id}"
    renamed = admin.post(f"{path}/name", name="Shiraz - Zand")
    assert "Store renamed." in renamed.text and "Shiraz - Zand" in renamed.text
    assert store.api.get(f"/v1/members/{uuid.uuid4()}/points").status_code == 404
    closed = admin.post(f"{path}/close")
    assert "Store closed; its keys are revoked." in closed.text
    # Every gateway process stops taking the key within a few seconds.
    assert eventually(
        lambda: store.api.get(f"/v1/members/{uuid.uuid4()}/points").status_code == 401
    )
    api = Api(admin.url, sqlite_suite.env["LOYALTY_ADMIN_TOKEN"])
    refused = api.post(f"/v1/admin/stores/{store.store_id}/api-keys")
    assert (refused.status_code, refused.json()["code"]) == (422, "store-closed")
    listed = next(
        s for s in api.get("/v1/admin/stores").json()["items"] if s["id"] == store.store_id
    )
    assert listed["name"] == "Shiraz - Zand" and listed["closed_at"]
    trail = admin.get("/admin/audit").text
    assert "Store closed" in trail and "Store renamed" in trail
