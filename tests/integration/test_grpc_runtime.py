"""Each service is a real gRPC server: health, reflection, the suite's service credential, and a
graceful stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from deploy.local import SERVICES, Suite
from loyalty.campaigns.v1 import campaigns_pb2, campaigns_pb2_grpc
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.points.v1 import points_pb2, points_pb2_grpc
from services.runtime.service_auth import (
    SECRET_VARIABLE,
    VALID_SECONDS,
    ServiceCredentials,
)
from tests.support import (
    STAFF_PASSWORD,
    Api,
    Pos,
    new_email,
    service_channel,
    start_suite,
)

SERVICE_NAMES = {
    "identity": "loyalty.identity.v1.IdentityService",
    "points": "loyalty.points.v1.PointsService",
    "campaigns": "loyalty.campaigns.v1.CampaignsService",
    "webhooks": "loyalty.webhooks.v1.WebhooksService",
}


@pytest.mark.parametrize("service", SERVICES)
def test_health_answers_anyone_and_reflection_only_the_suite(
    sqlite_suite: Suite, service: str
) -> None:
    with grpc.insecure_channel(sqlite_suite.env[f"{service.upper()}_ADDR"]) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", SERVICE_NAMES[service]):
            response = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as unknown:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

        with pytest.raises(grpc.RpcError) as refused:
            ProtoReflectionDescriptorDatabase(channel).get_services()
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    with service_channel(sqlite_suite, service) as channel:
        listed = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {SERVICE_NAMES[service], "grpc.health.v1.Health"} <= listed


# What an outsider who has the published protos tries: an admin of their own, points for a
# member, a campaign. Each is a call only the gateway may make.
def _create_admin(channel: grpc.Channel, email: str) -> Any:
    return identity_pb2_grpc.IdentityServiceStub(channel).CreateStaff(
        identity_pb2.CreateStaffRequest(email=email, password=STAFF_PASSWORD, role="admin"),
        timeout=5,
    )


def _credit(channel: grpc.Channel, member_id: str) -> Any:
    return points_pb2_grpc.PointsServiceStub(channel).AdjustPoints(
        points_pb2.AdjustPointsRequest(
            operation_id=f"A-{uuid.uuid4().hex}",
            member_id=member_id,
            points=1_000_000,
            reason="probe",
            actor="probe",
        ),
        timeout=5,
    )


def _transfer(channel: grpc.Channel, member_id: str) -> Any:
    return points_pb2_grpc.PointsServiceStub(channel).TransferPoints(
        points_pb2.TransferPointsRequest(
            operation_id=f"T-{uuid.uuid4().hex}",
            from_member_id=member_id,
            to_member_id=str(uuid.uuid4()),
            points=1,
            reason="probe",
            actor="probe",
        ),
        timeout=5,
    )


def _create_campaign(channel: grpc.Channel, name: str) -> Any:
    definition = {"name": name, "kind": "fixed_bonus", "points": 500}
    return campaigns_pb2_grpc.CampaignsServiceStub(channel).CreateCampaign(
        campaigns_pb2.CreateCampaignRequest(definition_json=json.dumps(definition)), timeout=5
    )


def _refusal(
    attempt: Callable[[grpc.Channel], Any], channel: grpc.Channel
) -> tuple[grpc.StatusCode, tuple]:
    with pytest.raises(grpc.RpcError) as refused:
        attempt(channel)
    return refused.value.code(), refused.value.trailing_metadata()


def test_no_service_acts_on_a_call_without_the_suites_credential(sqlite_suite: Suite) -> None:
    suite = sqlite_suite
    pos = Pos(suite)
    member = pos.enrol()
    email, campaign = new_email(), f"probe {uuid.uuid4().hex[:8]}"
    secret = suite.env[SECRET_VARIABLE]
    expired = ServiceCredentials(
        "gateway", secret, clock=lambda: time.time() - VALID_SECONDS - 60
    ).credential()
    credentials = {
        "none": None,
        "forged": ServiceCredentials("gateway", "another-secret-" + "x" * 32).credential(),
        "expired": expired,
        "tampered": expired.rsplit(".", 2)[0] + f".{int(time.time())}." + expired[-64:],
        "garbage": "gateway." + "9" * 5000 + ".00",
    }
    for kind, credential in credentials.items():
        for service, attempt in (
            ("identity", lambda channel: _create_admin(channel, email)),
            ("points", lambda channel: _credit(channel, member["id"])),
            ("campaigns", lambda channel: _create_campaign(channel, campaign)),
        ):
            if credential is None:
                channel = grpc.insecure_channel(suite.env[f"{service.upper()}_ADDR"])
            else:
                channel = service_channel(suite, service, credential=credential)
            with channel:
                status, trailer = _refusal(attempt, channel)
            assert status == grpc.StatusCode.UNAUTHENTICATED, (kind, service)
            assert ("loyalty-error-code", "service-unauthenticated") in trailer

    _assert_nothing_was_done(suite, pos, member["id"], email, campaign)


def test_a_service_may_make_only_the_calls_it_needs(sqlite_suite: Suite) -> None:
    suite = sqlite_suite
    pos = Pos(suite)
    member = pos.enrol()
    email, campaign = new_email(), f"probe {uuid.uuid4().hex[:8]}"
    # Each service signs as itself; none of them may make these calls.
    for caller, service, attempt in (
        ("campaigns", "identity", lambda channel: _create_admin(channel, email)),
        ("points", "identity", lambda channel: _create_admin(channel, email)),
        ("identity", "points", lambda channel: _credit(channel, member["id"])),
        ("campaigns", "points", lambda channel: _transfer(channel, member["id"])),
        ("campaigns", "points", lambda channel: _credit(channel, member["id"])),
        ("points", "campaigns", lambda channel: _create_campaign(channel, campaign)),
    ):
        with service_channel(suite, service, caller) as channel:
            status, trailer = _refusal(attempt, channel)
        assert status == grpc.StatusCode.PERMISSION_DENIED, (caller, service)
        assert ("loyalty-error-code", "service-not-allowed") in trailer

    _assert_nothing_was_done(suite, pos, member["id"], email, campaign)


def _assert_nothing_was_done(
    suite: Suite, pos: Pos, member_id: str, email: str, campaign: str
) -> None:
    admin = Api(suite.gateway_url, suite.env["LOYALTY_ADMIN_TOKEN"])
    # The address is still free: no account was made with it.
    staff = admin.post(
        "/v1/admin/staff", {"email": email, "password": STAFF_PASSWORD, "role": "support"}
    )
    assert staff.status_code == 201, staff.text
    assert pos.balance(member_id)["available"] == 0
    campaigns = admin.get("/v1/marketing/campaigns").json()["campaigns"]
    assert campaign not in {c["name"] for c in campaigns}


def test_domain_errors_arrive_as_precise_statuses_with_a_code(sqlite_suite: Suite) -> None:
    with service_channel(sqlite_suite, "points") as channel:
        points = points_pb2_grpc.PointsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            points.RecordPurchase(
                points_pb2.RecordPurchaseRequest(
                    store_id=str(uuid.uuid4()),
                    transaction_id="T-1",
                    member_id=str(uuid.uuid4()),
                    amount=common_pb2.Money(amount_minor=100, currency="EUR"),
                ),
                timeout=5,
            )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("loyalty-error-code", "currency-mismatch") in refused.value.trailing_metadata()


def test_sigterm_lets_in_flight_calls_finish_and_exits_zero(tmp_path: Path) -> None:
    suite = start_suite(tmp_path)
    try:
        pos = Pos(suite)
        member = pos.enrol()
        results: list[tuple[str, grpc.StatusCode]] = []
        lock = threading.Lock()
        started = threading.Barrier(11)
        flowing = threading.Semaphore(0)

        def buy(n: int) -> None:
            with service_channel(suite, "points") as channel:
                stub = points_pb2_grpc.PointsServiceStub(channel)
                grpc.channel_ready_future(channel).result(timeout=5)
                started.wait()
                for attempt in range(50):
                    transaction_id = f"T-drain-{n}-{attempt}"
                    try:
                        stub.RecordPurchase(
                            points_pb2.RecordPurchaseRequest(
                                store_id=pos.store_id,
                                transaction_id=transaction_id,
                                member_id=member["id"],
                                amount=common_pb2.Money(amount_minor=10_000_00, currency="IRR"),
                            ),
                            timeout=10,
                        )
                        code = grpc.StatusCode.OK
                    except grpc.RpcError as error:
                        code = error.code()
                    with lock:
                        results.append((transaction_id, code))
                        if len(results) == 20:
                            flowing.release()
                    if code != grpc.StatusCode.OK:
                        return

        threads = [threading.Thread(target=buy, args=(n,)) for n in range(10)]
        for thread in threads:
            thread.start()
        started.wait()
        flowing.acquire(timeout=30)  # calls are going through: stop now, mid-burst
        suite.processes["points"].send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(30)
        exit_code = suite.processes["points"].wait(30)
    finally:
        codes = suite.stop()

    assert exit_code == 0
    assert codes == {"gateway": 0, "identity": 0, "points": 0, "campaigns": 0, "webhooks": 0}
    with sqlite3.connect(tmp_path / "data" / "points.db") as db:
        stored = {row[0] for row in db.execute("SELECT transaction_id FROM purchases")}
    completed = {tid for tid, code in results if code == grpc.StatusCode.OK}
    refused = {tid for tid, code in results if code != grpc.StatusCode.OK}
    assert completed, "no call was in flight when SIGTERM arrived"
    # Every call the server accepted finished and was kept; the others were turned away
    # before they started (a POS retries those) and left nothing behind.
    assert completed <= stored
    assert not refused & stored
    assert {code for _, code in results} <= {
        grpc.StatusCode.OK,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
    }
