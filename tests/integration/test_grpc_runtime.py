"""Each service is a real gRPC server: health, reflection, and a graceful stop on SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
import threading
import uuid
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from deploy.local import SERVICES, Suite
from loyalty.common.v1 import common_pb2
from loyalty.points.v1 import points_pb2, points_pb2_grpc
from tests.support import Pos, start_suite

SERVICE_NAMES = {
    "identity": "loyalty.identity.v1.IdentityService",
    "points": "loyalty.points.v1.PointsService",
    "campaigns": "loyalty.campaigns.v1.CampaignsService",
}


@pytest.mark.parametrize("service", SERVICES)
def test_service_answers_health_and_reflection(sqlite_suite: Suite, service: str) -> None:
    with grpc.insecure_channel(sqlite_suite.env[f"{service.upper()}_ADDR"]) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", SERVICE_NAMES[service]):
            response = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as unknown:
            health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

        listed = set(ProtoReflectionDescriptorDatabase(channel).get_services())
        assert {SERVICE_NAMES[service], "grpc.health.v1.Health"} <= listed


def test_domain_errors_arrive_as_precise_statuses_with_a_code(sqlite_suite: Suite) -> None:
    with grpc.insecure_channel(sqlite_suite.env["POINTS_ADDR"]) as channel:
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
            with grpc.insecure_channel(suite.env["POINTS_ADDR"]) as channel:
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
    assert codes == {"gateway": 0, "identity": 0, "points": 0, "campaigns": 0}
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
