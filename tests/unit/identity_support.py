"""Identity's servicer in this process, on a free port, over a SQLite file and without Redis,
called over gRPC as the gateway calls it. Points is a stand-in answering merges."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2 as pb
from loyalty.identity.v1 import identity_pb2_grpc
from loyalty.points.v1 import points_pb2, points_pb2_grpc
from services.identity.server import MIGRATIONS, build
from services.runtime.channels import open_channel
from services.runtime.config import Env, ServiceConfig
from services.runtime.db import Database
from services.runtime.interceptors import ServerInterceptor
from services.runtime.service_auth import GATEWAY, ServiceCredentials

SECRET = "in-process-test-secret-of-32-chars!"


class Points(points_pb2_grpc.PointsServiceServicer):
    """Moves nothing; answers each merge with the survivor's balance."""

    def __init__(self) -> None:
        self.merges: list[tuple[str, str]] = []

    def MergeMembers(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.merges.append((request.duplicate_member_id, request.survivor_member_id))
        return points_pb2.AdjustmentResponse(other_available=70)


@dataclass
class Identity:
    stub: identity_pb2_grpc.IdentityServiceStub
    points: Points
    data_dir: Path

    def enrol(self, phone: str, **fields: Any) -> pb.Member:
        request = pb.EnrollMemberRequest(phone=phone, **fields)
        return self.stub.EnrollMember(request).member

    def events(self) -> list[tuple[str, str, dict]]:
        page = self.stub.ListEvents(common_pb2.ListEventsRequest(limit=1000))
        return [(e.type, e.member_id, json.loads(e.payload_json)) for e in page.events]


def _server(workers: int = 4) -> tuple[grpc.Server, Callable[[], int]]:
    server = grpc.server(ThreadPoolExecutor(max_workers=workers))
    return server, lambda: server.add_insecure_port("127.0.0.1:0")


@contextmanager
def running_identity(tmp_path: Path, extra_env: Mapping[str, str] = {}) -> Iterator[Identity]:
    """Identity over a SQLite file in `tmp_path`, its settings from `extra_env` besides the
    test's own."""
    points = Points()
    points_server, points_port = _server(2)
    points_pb2_grpc.add_PointsServiceServicer_to_server(points, points_server)
    points_addr = f"127.0.0.1:{points_port()}"
    points_server.start()
    config = ServiceConfig(
        name="identity",
        listen_addr="127.0.0.1:0",
        database_url=f"sqlite:///{tmp_path / 'identity.db'}",
        redis_url=None,
        cache_prefix="test",
        workers=4,
        grace_seconds=0,
        log_level="WARNING",
    )
    migrating = Database(config.database_url)
    migrating.migrate(MIGRATIONS, "identity")
    migrating.dispose()
    env = Env(
        {
            "LOYALTY_DATA_DIR": str(tmp_path),
            "LOYALTY_SERVICE_SECRET": SECRET,
            "POINTS_ADDR": points_addr,
            "IDENTITY_MERGE_REPAIR_INTERVAL": "0",
            **extra_env,
        }
    )
    service = build(config, env)
    server = grpc.server(
        ThreadPoolExecutor(max_workers=config.workers),
        interceptors=[ServerInterceptor(service.credentials)],
    )
    for registration in service.registrations:
        registration.add(registration.servicer, server)
    port = server.add_insecure_port(config.listen_addr)
    server.start()
    channel = open_channel(f"127.0.0.1:{port}", ServiceCredentials(GATEWAY, SECRET), 5.0)
    try:
        yield Identity(identity_pb2_grpc.IdentityServiceStub(channel), points, tmp_path)
    finally:
        channel.close()
        server.stop(None).wait()
        points_server.stop(None).wait()
        for hook in service.on_stop:
            hook()
        service.database.dispose()
