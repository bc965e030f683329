"""Every process serves Prometheus metrics that move with real traffic, and one request's
trace id is the same in the gateway and in the services it reached."""

from __future__ import annotations

import json
import secrets

import requests

from deploy.local import Suite
from tests.support import Pos, logs_of, metrics_of, new_phone

PROCESSES = ("gateway", "identity", "points", "campaigns")
POINTS = "/loyalty.points.v1.PointsService/"


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
    pos.balance(member)  # a hit
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
    assert moved(*points, "loyalty_cache_lookups_total", **view, result="hit") == 1
    assert moved(*points, "loyalty_cache_lookups_total", **view, result="miss") == 1
    head = ("loyalty_outbox_head_sequence", frozenset({"source": "points"}.items()))
    assert after["points"][head] > before["points"][head]


def test_a_member_identity_has_cached_buys_and_reads_points_without_a_call_to_identity(
    suite: Suite, pos: Pos
) -> None:
    member = pos.enrol()["id"]
    get_member = {"method": "/loyalty.identity.v1.IdentityService/GetMember", "code": "OK"}
    before = metrics_of(suite, "identity")
    assert pos.balance(member)["available"] == 0  # identity is asked, and caches the member
    asked = metrics_of(suite, "identity")
    assert moved(before, asked, "loyalty_grpc_server_handled_total", **get_member) == 1

    assert pos.purchase(member, amount="1250000").status_code == 201
    points = pos.balance(member)
    assert points["available"] + points["pending"] == 125
    after = metrics_of(suite, "identity")
    assert moved(asked, after, "loyalty_grpc_server_handled_total", **get_member) == 0


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
