"""The gRPC clients of the three services, one channel each per gateway process, and the
read-only view of identity's member cache that spares most calls to ask whether a member is."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.config import GatewayConfig
from loyalty.campaigns.v1 import campaigns_pb2_grpc
from loyalty.identity.v1 import identity_pb2_grpc
from loyalty.points.v1 import points_pb2_grpc
from services.identity import member_cache
from services.runtime.cache import Cache
from services.runtime.channels import open_channel
from services.runtime.service_auth import GATEWAY, ServiceCredentials


class Upstreams:
    def __init__(self, config: GatewayConfig) -> None:
        credentials = ServiceCredentials(GATEWAY, config.service_secret)
        self._channels = {
            "identity": open_channel(config.identity_addr, credentials, config.rpc_timeout),
            "points": open_channel(config.points_addr, credentials, config.rpc_timeout),
            "campaigns": open_channel(config.campaigns_addr, credentials, config.rpc_timeout),
        }
        self.identity = identity_pb2_grpc.IdentityServiceStub(self._channels["identity"])
        self.points = points_pb2_grpc.PointsServiceStub(self._channels["points"])
        self.campaigns = campaigns_pb2_grpc.CampaignsServiceStub(self._channels["campaigns"])
        self._health = {
            name: health_pb2_grpc.HealthStub(channel) for name, channel in self._channels.items()
        }
        # Identity's cache of member views, read only: see services.identity.member_cache.
        self.member_views = Cache(config.redis_url, member_cache.namespace(config.cache_prefix))
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="readiness")
        # For calls a request makes side by side: pooled threads cost far less than a gRPC
        # future, which starts a thread of its own for every call.
        self.side_calls = ThreadPoolExecutor(max_workers=32, thread_name_prefix="side-call")

    def health(self, timeout: float = 1.0) -> dict[str, str]:
        """Each service's health status name, asked of all three at once."""

        def check(stub: health_pb2_grpc.HealthStub) -> str:
            try:
                response = stub.Check(
                    health_pb2.HealthCheckRequest(), timeout=timeout, wait_for_ready=False
                )
            except grpc.RpcError as error:
                return error.code().name
            return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)

        futures = {name: self._pool.submit(check, stub) for name, stub in self._health.items()}
        return {name: future.result() for name, future in futures.items()}

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._pool.shutdown(wait=False)
        self.side_calls.shutdown(wait=False)
