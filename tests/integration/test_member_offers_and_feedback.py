"""What a member meets of the campaigns: offers at the till and on the web, and feedback."""

from __future__ import annotations

import uuid

from deploy.local import Suite
from tests.support import Api, Pos, eventually, log_in, new_phone


def test_an_offer_for_everyone_shows_at_the_till_and_on_the_web(suite: Suite, pos: Pos) -> None:
    phone = new_phone()
    pos.enrol(phone=phone)
    me = Api(suite.gateway_url, log_in(suite, phone))
    title = f"Free coffee {uuid.uuid4().hex[:6]}"
    created = pos.admin.post(
        "/v1/marketing/campaigns",
        {
            "name": title,
            "kind": "offer",
            "offer": {"title": title, "code": "COFFEE"},
            "targeting": {"everyone": True},
        },
    )
    assert created.status_code == 201, created.text
    campaign = created.json()["id"]
    assert pos.admin.post(f"/v1/marketing/campaigns/{campaign}/launch").status_code == 200
    try:

        def offered_at_till() -> bool:
            found = pos.api.get("/v1/members/identify", params={"phone": phone}).json()
            return any(o["campaign_id"] == campaign for o in found["offers"])

        assert eventually(offered_at_till, within=30)
        [offer] = [o for o in me.get("/v1/me/offers").json()["offers"] if o["title"] == title]
        assert (offer["campaign_id"], offer["code"]) == (campaign, "COFFEE")
    finally:
        pos.admin.post(f"/v1/marketing/campaigns/{campaign}/end")


def test_feedback_counts_once_per_feedback_id(suite: Suite, pos: Pos) -> None:
    phone = new_phone()
    pos.enrol(phone=phone)
    me = Api(suite.gateway_url, log_in(suite, phone))
    feedback = {"feedback_id": f"f-{uuid.uuid4().hex}", "rating": 2, "comment": "Long queue"}
    first = me.post("/v1/me/feedback", feedback)
    assert first.status_code == 201, first.text
    assert me.post("/v1/me/feedback", feedback).json() == first.json()
    changed = me.post("/v1/me/feedback", {**feedback, "rating": 5})
    assert changed.status_code == 422
    assert changed.json()["code"] == "idempotency-mismatch"
    assert me.post("/v1/me/feedback", {"rating": 6}).status_code == 400
    anonymous = Api(suite.gateway_url).post("/v1/me/feedback", {"rating": 5})
    assert anonymous.status_code == 401
