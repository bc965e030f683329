"""Marketers target members through the HTTP API, and the till shows what they set up."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from deploy.local import Suite
from loyalty.campaigns.v1 import campaigns_pb2, campaigns_pb2_grpc
from services.campaigns.models import FeedCursor
from services.runtime import cursors
from services.runtime.db import Database
from tests.support import (
    Api,
    Pos,
    db_url,
    member_view_caught_up,
    metrics_of,
    service_channel,
)


@pytest.fixture
def api(suite: Suite) -> Iterator[Api]:
    """A marketer; the campaigns a test launches end with it, so other tests' purchases stay
    at the base rate."""
    marketer = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    yield marketer
    for campaign in marketer.get("/v1/marketing/campaigns").json()["campaigns"]:
        if campaign["status"] in ("scheduled", "active", "paused"):
            marketer.post(f"/v1/marketing/campaigns/{campaign['id']}/end")


def launch(api: Api, **definition: Any) -> str:
    definition.setdefault("name", f"campaign {uuid.uuid4().hex[:6]}")
    created = api.post("/v1/marketing/campaigns", definition)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "draft"
    launched = api.post(f"/v1/marketing/campaigns/{created.json()['id']}/launch")
    assert launched.status_code == 200, launched.text
    assert launched.json()["status"] == "active"
    return created.json()["id"]


def campaign_lines(response: Any) -> list[dict]:
    assert response.status_code == 201, response.text
    return [line for line in response.json()["breakdown"] if line["source"] != "base"]


def eventually(check: Callable[[], Any], seconds: float = 120) -> Any:
    """The member view follows events within moments; wait for it, not for a fixed time."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def submit_feedback(suite: Suite, member_id: str, rating: int) -> str:
    with service_channel(suite, "campaigns") as channel:
        stub = campaigns_pb2_grpc.CampaignsServiceStub(channel)
        return stub.SubmitFeedback(
            campaigns_pb2.SubmitFeedbackRequest(
                feedback_id=f"F-{uuid.uuid4().hex[:8]}", member_id=member_id, rating=rating
            ),
            timeout=5,
        ).stage


def test_a_targeted_multiplier_shows_in_the_breakdown_only_for_the_segment(
    api: Api, pos: Pos
) -> None:
    inside, outside = pos.enrol()["id"], pos.enrol()["id"]
    segment = api.post("/v1/marketing/segments", {"name": "VIP", "member_ids": [inside]})
    assert segment.status_code == 201, segment.text
    campaign = launch(
        api, kind="multiplier", multiplier=2, targeting={"segments": [segment.json()["id"]]}
    )

    lines = campaign_lines(pos.purchase(inside, amount="1250000"))
    assert lines == [
        {"source": f"campaign:{campaign}", "points": 125, "reason": lines[0]["reason"]}
    ]
    assert campaign_lines(pos.purchase(outside, amount="1250000")) == []

    paused = api.post(f"/v1/marketing/campaigns/{campaign}/pause")
    assert paused.json()["status"] == "paused"
    assert campaign_lines(pos.purchase(inside, amount="1250000")) == []


def test_a_campaign_for_the_dissatisfied_reaches_exactly_them(
    suite: Suite, api: Api, pos: Pos
) -> None:
    unhappy, refunded, happy = (pos.enrol()["id"] for _ in range(3))
    for member in (unhappy, refunded, happy):
        assert pos.purchase(member, transaction_id=f"T-{member}").status_code == 201
    refund = pos.api.post(
        f"/v1/purchases/T-{refunded}/refunds", {"refund_id": "RF-1", "amount": "100000"}
    )
    assert refund.status_code == 201, refund.text

    submit_feedback(suite, unhappy, 1)
    submit_feedback(suite, happy, 5)

    def dissatisfied() -> set[str]:
        listed = api.get("/v1/marketing/stages").json()["dissatisfied"]
        return {m["member_id"] for m in listed} & {unhappy, refunded, happy}

    assert eventually(lambda: dissatisfied() == {unhappy, refunded})
    campaign = launch(api, kind="fixed_bonus", points=40, targeting={"stages": ["dissatisfied"]})
    awarded = {m for m in (unhappy, refunded, happy) if campaign_lines(pos.purchase(m))}
    assert awarded == {unhappy, refunded}
    report = api.get(f"/v1/marketing/campaigns/{campaign}/report")
    assert report.status_code == 200, report.text
    assert report.json()["reached"] == 2
    assert report.json()["points_awarded"] == 80


def test_a_control_group_shows_separately_in_the_report(api: Api, pos: Pos) -> None:
    members = [pos.enrol()["id"] for _ in range(16)]
    segment = api.post("/v1/marketing/segments", {"name": "pilot", "member_ids": members}).json()
    campaign = launch(
        api,
        kind="fixed_bonus",
        points=10,
        control_percent=50,
        targeting={"segments": [segment["id"]]},
    )
    awarded = [m for m in members if campaign_lines(pos.purchase(m, amount="2000000"))]

    def report() -> dict:
        body = api.get(f"/v1/marketing/campaigns/{campaign}/report").json()
        bought = body["target"]["buyers"] + body["control"]["buyers"]
        return body if body["audience"] == 16 and bought == 16 else {}

    body = eventually(report)
    assert body, "the member view did not catch up with the purchases"
    target, control = body["target"], body["control"]
    assert target["members"] == len(awarded) > 0
    assert control["members"] == 16 - len(awarded) > 0
    assert target["buyers"] == target["members"] and control["buyers"] == control["members"]
    assert target["spend_per_member"] == control["spend_per_member"] == "2000000.00"
    assert body["reached"] == len(awarded)
    assert body["points_awarded"] == 10 * len(awarded)
    assert body["uplift"] == {"spend_per_member": "0.00", "visits_per_member": 0.0}


def test_bad_definitions_are_refused_with_the_culprit(api: Api) -> None:
    rule = {"and": [{"attr": "city", "op": "eq", "value": "x"}, {"attr": "mood"}]}
    refused = api.post("/v1/marketing/segments/preview", {"rule": rule})
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid-rule"
    assert refused.json()["detail"].startswith("rule.and[1]")

    bad = api.post(
        "/v1/marketing/campaigns",
        {
            "name": "x",
            "kind": "fixed_bonus",
            "points": 5,
            "schedule": {"hours": {"from": "25:00", "to": "10:00"}},
        },
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid-campaign"
    assert bad.json()["detail"].startswith("schedule.hours.from")

    campaign = launch(
        api, kind="offer", offer={"title": "Free coffee"}, targeting={"everyone": True}
    )
    again = api.post(f"/v1/marketing/campaigns/{campaign}/launch")
    assert again.status_code == 409
    assert again.json()["code"] == "campaign-active"
    assert api.get(f"/v1/marketing/campaigns/{uuid.uuid4()}").status_code == 404
    assert api.with_token("nope").get("/v1/marketing/campaigns").status_code == 401


def test_segments_in_use_stay_and_drafts_can_be_deleted(api: Api) -> None:
    segment = api.post("/v1/marketing/segments", {"name": "few", "member_ids": []}).json()
    draft = api.post(
        "/v1/marketing/campaigns",
        {
            "name": "later",
            "kind": "fixed_bonus",
            "points": 5,
            "targeting": {"segments": [segment["id"]]},
        },
    ).json()
    in_use = api.request("DELETE", f"/v1/marketing/segments/{segment['id']}")
    assert in_use.status_code == 409
    assert in_use.json()["code"] == "segment-in-use"
    assert api.request("DELETE", f"/v1/marketing/campaigns/{draft['id']}").status_code == 204
    assert api.request("DELETE", f"/v1/marketing/segments/{segment['id']}").status_code == 204
    assert api.get(f"/v1/marketing/segments/{segment['id']}").status_code == 404

    running = launch(api, kind="fixed_bonus", points=1, targeting={"everyone": True})
    refused = api.request("DELETE", f"/v1/marketing/campaigns/{running}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "campaign-not-draft"


def test_what_would_halt_campaigns_is_refused_when_saved_or_asked(api: Api) -> None:
    """A template that cannot render, a rule value beyond its column and absurd preview numbers
    once saved fine and then failed every message or every purchase; now each is a 422."""

    def refused(path: str, body: dict, code: str, culprit: str) -> None:
        answer = api.post(path, body)
        assert answer.status_code == 422, answer.text
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        assert answer.json()["code"] == code
        assert answer.json()["detail"].startswith(culprit), answer.json()["detail"]

    def offer(template: str) -> dict:
        return {
            "name": "Tea",
            "kind": "offer",
            "offer": {"title": "Free tea", "code": "TEA"},
            "targeting": {"everyone": True},
            "message": {"channel": "sms", "template": template},
        }

    for template in (
        "Hi {first_name:d}",
        "Hi {first_name!r}",
        "Hi {offer.__class__}",
        "Hi {first_name[0]}",
        "Hi {0}",
        "Hi {}",
        "Hi {phone}",
        "Hi {first_name",
        "{first_name}",
        "Hi {first_name} " + "x" * 950,
    ):
        refused("/v1/marketing/campaigns", offer(template), "invalid-template", "message.template")
    last = {**offer("Hi {first_name}"), "schedule": {"ends_at": "9999-12-31T23:00:00-05:00"}}
    refused("/v1/marketing/campaigns", last, "invalid-campaign", "schedule.ends_at")
    saved = api.post("/v1/marketing/campaigns", offer("سلام {first_name}، {offer} {{مهمان ما}}"))
    assert saved.status_code == 201, saved.text
    api.request("DELETE", f"/v1/marketing/campaigns/{saved.json()['id']}")

    huge = 12345678901234567890123
    rule = {
        "and": [
            {"attr": "city", "op": "eq", "value": "x"},
            {"attr": "purchase_count", "op": "gt", "value": huge},
        ]
    }
    refused("/v1/marketing/segments", {"name": "x", "rule": rule}, "invalid-rule", "rule.and[1]")
    far = {"attr": "days_since_last_purchase", "op": "gt", "value": 10**9}
    refused("/v1/marketing/segments/preview", {"rule": far}, "invalid-rule", "rule.value")
    cities = {"attr": "city", "op": "in", "value": [f"c{i}" for i in range(1000)]}
    refused(
        "/v1/marketing/segments/preview",
        {"rule": {"or": [cities] * 3}},
        "invalid-rule",
        "rule.or[2]",
    )


def test_a_preview_narrowed_around_one_member_shows_nothing_of_them(api: Api, pos: Pos) -> None:
    city = f"naein{uuid.uuid4().hex[:6]}"
    alone = {"attr": "city", "op": "eq", "value": city}
    target = pos.enrol(first_name="Target", city=city)["id"]
    assert pos.purchase(target, amount="9000000").status_code == 201
    narrowed = {"and": [alone, {"attr": "total_spend", "op": "gte", "value": "9000000"}]}
    assert eventually(lambda: member_view_caught_up(api)), (
        "the member view did not learn the purchase"
    )
    for rule in (alone, narrowed):
        answer = api.post("/v1/marketing/segments/preview", {"rule": rule})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"size": None, "fewer_than": 10, "sample": []}

    for _ in range(9):
        pos.enrol(first_name="Other", city=city)

    def town() -> dict:
        answer = api.post("/v1/marketing/segments/preview", {"rule": alone}).json()
        return answer if answer["size"] == 10 else {}

    shown = eventually(town)
    assert shown, "the member view did not learn the members"
    assert shown["fewer_than"] is None
    assert len(shown["sample"]) == 10
    assert all(set(member) == {"stage", "tier"} for member in shown["sample"])
    assert target not in str(shown) and "Target" not in str(shown)


def test_the_member_views_position_in_each_feed_is_a_metric(suite: Suite, pos: Pos) -> None:
    """`loyalty_consumer_last_sequence` names the last event the member view applied from each
    service, as its stored cursor does; once it has applied points' last event, it is points'
    `loyalty_outbox_head_sequence`."""
    marketer = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    member = pos.enrol()["id"]
    assert pos.purchase(member).status_code == 201

    def applied() -> dict[str, int]:
        with database.read() as session:
            return {
                row.feed: cursors.decode(row.cursor, 2)[1] if row.cursor else 0
                for row in session.scalars(select(FeedCursor))
            }

    def points_head() -> float:
        return metrics_of(suite, "points")[
            ("loyalty_outbox_head_sequence", frozenset({"source": "points"}.items()))
        ]

    # On PostgreSQL the feed serves the purchase's event once every older transaction of the
    # server has ended (another test's too): until then the view is caught up with what it can
    # read, and behind the head.
    database = Database(db_url(suite, "campaigns"))
    try:
        assert eventually(
            lambda: member_view_caught_up(marketer) and applied().get("points") == points_head()
        )
        positions = applied()
    finally:
        database.dispose()
    assert set(positions) == {"identity", "points"}
    shown = metrics_of(suite, "campaigns")
    for source, sequence in positions.items():
        labels = frozenset({"consumer": "campaigns", "source": source}.items())
        assert shown[("loyalty_consumer_last_sequence", labels)] == sequence


def test_each_campaign_says_what_can_be_done_with_it_next(suite: Suite) -> None:
    """The service's own transitions, so that no client keeps a copy: a draft can be launched,
    ended or deleted; an active campaign paused or ended."""
    with service_channel(suite, "campaigns") as channel:
        stub = campaigns_pb2_grpc.CampaignsServiceStub(channel)
        definition = json.dumps(
            {"name": "next", "kind": "fixed_bonus", "points": 1, "targeting": {"everyone": True}}
        )
        draft = stub.CreateCampaign(
            campaigns_pb2.CreateCampaignRequest(definition_json=definition), timeout=5
        ).campaign
        assert (list(draft.allowed_actions), draft.deletable) == (
            [campaigns_pb2.CAMPAIGN_ACTION_LAUNCH, campaigns_pb2.CAMPAIGN_ACTION_END],
            True,
        )
        active = stub.ChangeCampaignStatus(
            campaigns_pb2.ChangeCampaignStatusRequest(
                campaign_id=draft.id, action=campaigns_pb2.CAMPAIGN_ACTION_LAUNCH
            ),
            timeout=5,
        ).campaign
        assert (active.status, list(active.allowed_actions), active.deletable) == (
            "active",
            [campaigns_pb2.CAMPAIGN_ACTION_PAUSE, campaigns_pb2.CAMPAIGN_ACTION_END],
            False,
        )
        ended = stub.ChangeCampaignStatus(
            campaigns_pb2.ChangeCampaignStatusRequest(
                campaign_id=draft.id, action=campaigns_pb2.CAMPAIGN_ACTION_END
            ),
            timeout=5,
        ).campaign
        assert (ended.status, list(ended.allowed_actions), ended.deletable) == ("ended", [], False)


def test_the_api_takes_exactly_the_kinds_the_proto_lists(api: Api) -> None:
    """Each CampaignKind is a draft with the fields its `kind_fields` name; no other kind is."""
    sample = {
        "multiplier": "2",
        "points": 10,
        "categories": ["dairy"],
        "min_spend": "1000000",
        "offer": {"title": "Free coffee"},
        "coupon": {"type": "percent", "value": "20", "valid_days": 30},
        "goal": {"metric": "purchases", "target": 3},
        "period": "month",
        "reward_points": 100,
    }
    for value in campaigns_pb2.CampaignKind.DESCRIPTOR.values:
        if not value.number:
            continue
        kind = value.name.removeprefix("CAMPAIGN_KIND_").lower()
        fields = value.GetOptions().Extensions[campaigns_pb2.kind_fields]
        definition = {"name": f"every {kind}", "kind": kind, **{f: sample[f] for f in fields}}
        created = api.post("/v1/marketing/campaigns", definition)
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["kind"], body["allowed_actions"], body["deletable"]) == (
            kind,
            ["launch", "end"],
            True,
        )
        assert api.request("DELETE", f"/v1/marketing/campaigns/{body['id']}").status_code == 204
    unknown = api.post("/v1/marketing/campaigns", {"name": "halved", "kind": "divider"})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid-request")
