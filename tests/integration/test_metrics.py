"""Every process serves Prometheus metrics that move with real traffic, and one request's
trace id is the same in the gateway and in the services it reached."""

from __future__ import annotations

import json
import secrets
import uuid

import requests

from deploy.local import Suite
from tests.integration.test_ledger_members import _enrolled_sequence, _points_has_read
from tests.support import Pos, eventually, logs_of, metrics_of, new_phone

PROCESSES = ("gateway", "identity", "points", "campaigns")
POINTS = "/loyalty.points.v1.PointsService/"
GET_MEMBER = {"method": "/loyalty.identity.v1.IdentityService/GetMember", "code": "OK"}


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    """How much the sample `name` with exactly `labels` grew between two scrapes."""
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_counts_latencies_postings_and_cache_hits_follow_the_traffic(
    suite: Suite, pos: Pos
) -> None:
    member = pos.enrol()["id"]
    pos.balance(member)
    before = {process: metrics_of(suite, process) for process in PROCESSES}

    for _ in range(3):
        assert pos.purchase(member, amount="1250000").status_code == 201
    pos.balance(member)  # a miss: the purchases moved the member's generation
    pos.balance(member)  # a hit, which the gateway answers without asking points
    unknown = pos.api.get("/v1/members/identify", params={"phone": new_phone()})
    assert unknown.status_code == 404

    after = {process: metrics_of(suite, process) for process in PROCESSES}
    gateway, points = (before["gateway"], after["gateway"]), (before["points"], after["points"])
    http = {"method": "POST", "route": "/v1/purchases", "status": "201"}
    assert moved(*gateway, "loyalty_http_requests_total", **http) == 3
    assert moved(*gateway, "loyalty_http_request_duration_seconds_count", **http) == 3
    assert moved(*gateway, "loyalty_http_request_duration_seconds_sum", **http) > 0
    identify = {"method": "GET", "route": "/v1/members/identify", "status": "404"}
    assert moved(*gateway, "loyalty_http_requests_total", **identify) == 1

    rpc = {"method": POINTS + "RecordPurchase", "code": "OK"}
    assert moved(*points, "loyalty_grpc_server_handled_total", **rpc) == 3
    assert moved(*points, "loyalty_grpc_server_handling_seconds_count", **rpc) == 3
    not_found = {
        "method": "/loyalty.identity.v1.IdentityService/IdentifyMember",
        "code": "NOT_FOUND",
    }
    assert (
        moved(
            before["identity"], after["identity"], "loyalty_grpc_server_handled_total", **not_found
        )
        == 1
    )
    evaluated = {"method": "/loyalty.campaigns.v1.CampaignsService/EvaluatePurchase", "code": "OK"}
    assert (
        moved(
            before["campaigns"],
            after["campaigns"],
            "loyalty_grpc_server_handled_total",
            **evaluated,
        )
        == 3
    )

    assert moved(*points, "loyalty_points_postings_total", kind="earn") == 3
    assert moved(*points, "loyalty_points_posted_total", kind="earn") == 3 * 125
    view = {"cache": "points", "kind": "view"}
    assert moved(*gateway, "loyalty_cache_lookups_total", **view, result="miss") == 1
    assert moved(*gateway, "loyalty_cache_lookups_total", **view, result="hit") == 1
    assert moved(*points, "loyalty_cache_lookups_total", **view, result="miss") == 1
    assert moved(*points, "loyalty_cache_lookups_total", **view, result="hit") == 0
    balance_reads = {"method": POINTS + "GetBalance", "code": "OK"}
    assert moved(*points, "loyalty_grpc_server_handled_total", **balance_reads) == 1
    head = ("loyalty_outbox_head_sequence", frozenset({"source": "points"}.items()))
    assert after["points"][head] > before["points"][head]


def test_a_member_points_has_learned_buys_and_reads_points_without_a_call_to_identity(
    suite: Suite, pos: Pos
) -> None:
    """Points learns members from identity's events: once it has read the enrolment, the till's
    purchases, refunds and reads of the member's points and history ask identity nothing."""
    member = pos.enrol()["id"]
    enrolled = _enrolled_sequence(suite, member)
    assert eventually(lambda: _points_has_read(suite, enrolled), 60)
    before = metrics_of(suite, "identity")

    purchases = ["T-" + secrets.token_hex(6) for _ in range(2)]
    for transaction_id in purchases:
        assert pos.purchase(member, transaction_id, amount="1250000").status_code == 201
    points = pos.balance(member)
    assert points["available"] + points["pending"] == 250
    history = pos.api.get(f"/v1/members/{member}/ledger")
    assert history.status_code == 200 and len(history.json()["items"]) == 2
    for transaction_id in purchases:
        refunded = pos.api.post(
            f"/v1/purchases/{transaction_id}/refunds",
            {"refund_id": "R-" + secrets.token_hex(6), "amount": "1250000"},
        )
        assert refunded.status_code == 201, refunded.text
    points = pos.balance(member)  # nothing left, and still known to points
    assert (points["available"], points["pending"]) == (0, 0)
    after = metrics_of(suite, "identity")
    assert moved(before, after, "loyalty_grpc_server_handled_total", **GET_MEMBER) == 0

    # An id neither points nor identity knows: identity is asked, and says so.
    unknown = pos.api.get(f"/v1/members/{uuid.uuid4()}/points")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "member-not-found")
    asked = metrics_of(suite, "identity")
    not_found = {**GET_MEMBER, "code": "NOT_FOUND"}
    assert moved(after, asked, "loyalty_grpc_server_handled_total", **not_found) == 1


def test_the_trace_id_from_the_till_reaches_the_services(suite: Suite, pos: Pos) -> None:
    member = pos.enrol()["id"]
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    body = {
        "transaction_id": f"T-{trace_id[:12]}",
        "member_id": member,
        "amount": "50000",
        "currency": "IRR",
    }
    response = pos.api.post("/v1/purchases", body, headers={"traceparent": traceparent})
    assert response.status_code == 201

    lines = [json.loads(line) for line in logs_of(suite).splitlines() if trace_id in line]
    hops = {(line["process"], line.get("route") or line.get("method")) for line in lines}
    assert ("gateway", "/v1/purchases") in hops
    assert ("points", POINTS + "RecordPurchase") in hops
    assert ("campaigns", "/loyalty.campaigns.v1.CampaignsService/EvaluatePurchase") in hops
    request_ids = {line["request_id"] for line in lines}
    assert len(request_ids) == 1, "trace and request id travel together"


def test_made_up_methods_and_paths_do_not_grow_the_metric_series(suite: Suite) -> None:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for n in range(50):
        method = "PROBE" + letters[n // 26] + letters[n % 26]
        path = f"/v1/purchases/{secrets.token_hex(4)}" if n % 2 else "/v1/purchases"
        answer = requests.request(method, suite.gateway_url + path, timeout=5)
        assert answer.status_code in (404, 405)

    samples = metrics_of(suite, "gateway")
    series = [dict(labels) for name, labels in samples if name == "loyalty_http_requests_total"]
    methods = {labels["method"] for labels in series}
    assert "other" in methods
    assert methods <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}
    assert {labels["route"] for labels in series if labels["method"] == "other"} == {"unmatched"}
