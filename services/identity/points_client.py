"""The calls identity makes to the points service: moving a duplicate's ledger on a merge,
saying at once that a member's data was erased, and whether the referral program is on."""

from __future__ import annotations

import grpc

from loyalty.points.v1 import points_pb2 as pb
from loyalty.points.v1 import points_pb2_grpc
from services.runtime.channels import open_channel
from services.runtime.interceptors import domain_error_of
from services.runtime.service_auth import ServiceCredentials


class PointsLedger:
    def __init__(self, addr: str, credentials: ServiceCredentials, timeout: float = 10.0) -> None:
        self._channel = open_channel(addr, credentials, timeout)
        self._stub = points_pb2_grpc.PointsServiceStub(self._channel)

    def merge(self, duplicate_id: str, survivor_id: str, actor: str) -> int:
        """Moves the duplicate's points to the survivor; safe to repeat. The survivor's available
        points afterwards."""
        request = pb.MergeMembersRequest(
            # One merge per duplicate ever, so its id names the operation.
            operation_id=f"merge-{duplicate_id}",
            duplicate_member_id=duplicate_id,
            survivor_member_id=survivor_id,
            actor=actor,
        )
        try:
            response = self._stub.MergeMembers(request)
        except grpc.RpcError as error:
            raise domain_error_of(error) from None
        return response.other_available

    def forget(self, member_id: str) -> None:
        """Tells points the member was erased; safe to repeat."""
        try:
            self._stub.ForgetMember(pb.ForgetMemberRequest(member_id=member_id))
        except grpc.RpcError as error:
            raise domain_error_of(error) from None

    def referrals_open(self) -> bool:
        """Whether the referral program is on: a referral code given at enrolment counts."""
        try:
            response = self._stub.GetReferralProgram(pb.GetReferralProgramRequest())
        except grpc.RpcError as error:
            raise domain_error_of(error) from None
        return response.program.active

    def close(self) -> None:
        self._channel.close()
