"""Sending through identity, which alone knows members' phones and e-mails and checks their
consent again; and the points service, for the {expiry} of a message."""

from __future__ import annotations

import grpc

from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.points.v1 import points_pb2, points_pb2_grpc
from services.runtime.channels import open_channel
from services.runtime.convert import from_timestamp
from services.runtime.errors import Unavailable
from services.runtime.interceptors import worth_retrying
from services.runtime.service_auth import ServiceCredentials


class IdentitySender:
    def __init__(
        self, identity_addr: str, points_addr: str, credentials: ServiceCredentials
    ) -> None:
        self._identity_channel = open_channel(identity_addr, credentials, 10.0)
        self._points_channel = open_channel(points_addr, credentials, 5.0)
        self._identity = identity_pb2_grpc.IdentityServiceStub(self._identity_channel)
        self._points = points_pb2_grpc.PointsServiceStub(self._points_channel)

    def send(self, message_id: str, member_id: str, channel: str, body: str) -> str:
        request = identity_pb2.SendMessageRequest(  # type: ignore[attr-defined]
            message_id=message_id,
            member_id=member_id,
            channel=(
                identity_pb2.MESSAGE_CHANNEL_SMS  # type: ignore[attr-defined]
                if channel == "sms"
                else identity_pb2.MESSAGE_CHANNEL_EMAIL  # type: ignore[attr-defined]
            ),
            body=body,
        )
        try:
            response = self._identity.SendMessage(request)  # type: ignore[attr-defined]
        except grpc.RpcError as error:
            if worth_retrying(error):
                raise Unavailable(f"identity: {error.code().name}") from None
            # Refused for good (e.g. an unknown member): recorded, not tried again.
            return "failed-" + error.code().name.lower().replace("_", "-")
        name = identity_pb2.MessageStatus.Name(response.status)  # type: ignore[attr-defined]
        return name.removeprefix("MESSAGE_STATUS_").lower().replace("_", "-")

    def expiry(self, member_id: str) -> str:
        try:
            balance = self._points.GetBalance(points_pb2.GetBalanceRequest(member_id=member_id))
        except grpc.RpcError:
            return ""
        if not balance.expiring:
            return ""
        soonest = balance.expiring[0]
        when = from_timestamp(soonest.expires_at)
        return f"{soonest.points} points on {when.date().isoformat()}" if when else ""

    def close(self) -> None:
        self._identity_channel.close()
        self._points_channel.close()
