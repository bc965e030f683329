"""The calls points makes to identity: who a member id names, and identity's member events."""

from __future__ import annotations

import uuid

import grpc

from loyalty.identity.v1 import identity_pb2 as pb
from loyalty.identity.v1 import identity_pb2_grpc
from services.points.members import IdentityAnswer
from services.runtime.channels import open_channel
from services.runtime.errors import Unavailable
from services.runtime.event_feed import Feed, grpc_feed
from services.runtime.service_auth import ServiceCredentials

FEED = "identity"


class IdentityMembers:
    def __init__(self, addr: str, timeout: float, credentials: ServiceCredentials) -> None:
        self._channel = open_channel(addr, credentials, timeout)
        self._stub = identity_pb2_grpc.IdentityServiceStub(self._channel)

    def lookup(self, member_id: uuid.UUID) -> IdentityAnswer | None:
        try:
            response = self._stub.GetMember(pb.GetMemberRequest(member_id=str(member_id)))
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise Unavailable(f"identity did not answer: {error.code().name}") from None
        member = response.member
        referrer = uuid.UUID(member.referrer_id) if member.referrer_id else None
        return IdentityAnswer(uuid.UUID(member.id), member.erased, referrer)

    def feed(self) -> Feed:
        return grpc_feed(FEED, self._stub.ListEvents)

    def close(self) -> None:
        self._channel.close()
