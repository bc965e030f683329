"""A coupon campaign gives each member of its target group one coupon from points, never two
(also when its records are lost and it issues again), the control group none; its report
counts the coupons issued and used, and the member view knows who holds an unused coupon."""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path

import requests

from deploy.local import Suite
from services.campaigns.campaigns import in_control
from services.campaigns.projection import bucket_of
from tests.support import (
    Api,
    Pos,
    eventually,
    log_in,
    member_view_caught_up,
    new_phone,
    staff_login,
)

PERCENT = 50


def grants(suite: Suite, campaign_id: str) -> list[tuple[str, str, str | None]]:
    database = Path(suite.env["LOYALTY_DATA_DIR"]) / "campaigns.db"
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT member_id, status, coupon_id FROM coupon_grants WHERE campaign_id = ?",
            (uuid.UUID(campaign_id).hex,),
        ).fetchall()


def test_each_target_member_gets_one_coupon_and_the_report_counts_them(
    sqlite_suite: Suite,
) -> None:
    suite = sqlite_suite
    pos = Pos(suite)
    api = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    phones = {new_phone(): None for _ in range(12)}
    members = {pos.enrol(phone=phone)["id"]: phone for phone in phones}
    audience = api.post(
        "/v1/marketing/segments", {"name": "lapsed pilot", "member_ids": list(members)}
    ).json()
    assert eventually(lambda: member_view_caught_up(api), 60)

    created = api.post(
        "/v1/marketing/campaigns",
        {
            "name": "Come back: 20% off",
            "kind": "coupon",
            "coupon": {"type": "percent", "value": "20", "max_discount": "500000"},
            "targeting": {"segments": [audience["id"]]},
            "control_percent": PERCENT,
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    control = {
        m for m in members if in_control(bucket_of(uuid.UUID(m)), uuid.UUID(campaign_id), PERCENT)
    }
    target = set(members) - control
    assert control and target  # 12 members at 50%: both groups all but surely hold some
    assert api.post(f"/v1/marketing/campaigns/{campaign_id}/launch").status_code == 200

    def issued() -> bool:
        rows = grants(suite, campaign_id)
        return len(rows) == len(target) and all(status == "issued" for _, status, _ in rows)

    assert eventually(issued, 60), grants(suite, campaign_id)

    # Every record of issuing is lost (as by a crash before it was written): the issuer asks
    # points again under the same ids, and points answers the coupons it issued.
    first = {member: coupon for member, _, coupon in grants(suite, campaign_id)}
    database = Path(suite.env["LOYALTY_DATA_DIR"]) / "campaigns.db"
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE coupon_grants SET status = 'pending', coupon_id = NULL WHERE campaign_id = ?",
            (uuid.UUID(campaign_id).hex,),
        )
    assert eventually(issued, 60)
    assert {member: coupon for member, _, coupon in grants(suite, campaign_id)} == first

    held = {}
    for member_id, phone in members.items():
        me = api.with_token(log_in(suite, phone))
        coupons = me.get("/v1/me/coupons").json()["items"]
        ours = [c for c in coupons if c.get("campaign_id") == campaign_id]
        assert len(ours) == (1 if member_id in target else 0)
        if ours:
            held[member_id] = ours[0]["code"]

    winner = sorted(held)[0]
    used = pos.api.post(
        f"/v1/coupons/{held[winner]}/redemptions",
        {"transaction_id": f"T-{uuid.uuid4().hex[:10]}", "amount": "1000000", "currency": "IRR"},
    )
    assert used.status_code == 201, used.text
    assert used.json()["discount"] == "200000.00"  # 20% of 1,000,000

    def reported() -> bool:
        report = api.get(f"/v1/marketing/campaigns/{campaign_id}/report").json()
        return (report["coupons_issued"], report["coupons_used"]) == (len(target), 1)

    assert eventually(reported, 60), api.get(f"/v1/marketing/campaigns/{campaign_id}/report").text
    report = api.get(f"/v1/marketing/campaigns/{campaign_id}/report").json()
    assert report["reached"] == len(target)
    assert report["control"]["members"] == len(control)
    # The console's report page shows the same.
    marketer = staff_login(suite, "marketer")
    page = requests.get(
        f"{suite.gateway_url}/console/campaigns/{campaign_id}",
        cookies={"loyalty_session": marketer.token or ""},
        timeout=30,
    ).text
    issued_bar = re.search(r"Coupons issued.*?bar-value[^>]*>([^<]+)<", page, re.S)
    assert issued_bar and issued_bar.group(1).strip() == str(len(target))

    # The member view, which segments read ("has an unused coupon": coupons_unused >= 1).
    with sqlite3.connect(database) as db:
        view = {
            str(uuid.UUID(member)): (unused, used)
            for member, unused, used in db.execute(
                "SELECT member_id, coupons_unused, coupons_used FROM members"
            )
        }
    for member_id in members:
        expected = (0, 1) if member_id == winner else (1, 0) if member_id in target else (0, 0)
        assert view[member_id] == expected
