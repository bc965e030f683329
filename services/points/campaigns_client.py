"""Asks the campaigns service which segments and lifecycle stages a member is in, for the
rewards shown only to some (never on a purchase's path)."""

from __future__ import annotations

import uuid

import grpc

from loyalty.campaigns.v1 import campaigns_pb2 as pb
from loyalty.campaigns.v1 import campaigns_pb2_grpc
from services.runtime.channels import open_channel
from services.runtime.errors import Unavailable
from services.runtime.service_auth import ServiceCredentials


class CampaignsAudiences:
    def __init__(self, addr: str, timeout: float, credentials: ServiceCredentials) -> None:
        self._channel = open_channel(addr, credentials, timeout)
        self._stub = campaigns_pb2_grpc.CampaignsServiceStub(self._channel)

    def match(
        self, member_id: uuid.UUID, segment_ids: set[str], stages: set[str]
    ) -> tuple[set[str], set[str]]:
        """Of these segments and stages, those the member is in now. Unavailable when
        campaigns cannot answer."""
        request = pb.MatchAudiencesRequest(
            member_id=str(member_id), segment_ids=sorted(segment_ids), stages=sorted(stages)
        )
        try:
            answer = self._stub.MatchAudiences(request, wait_for_ready=False)
        except grpc.RpcError as error:
            raise Unavailable(
                f"campaigns did not say who may see this reward: {error.code().name}"
            ) from None
        return set(answer.segment_ids), set(answer.stages)

    def close(self) -> None:
        self._channel.close()
