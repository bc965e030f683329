"""CampaignsService over gRPC."""

from __future__ import annotations

import grpc

from loyalty.campaigns.v1 import campaigns_pb2 as pb
from loyalty.campaigns.v1 import campaigns_pb2_grpc
from services.runtime.errors import InvalidArgument


class CampaignsServicer(campaigns_pb2_grpc.CampaignsServiceServicer):
    def EvaluatePurchase(
        self, request: pb.EvaluatePurchaseRequest, context: grpc.ServicerContext
    ) -> pb.EvaluatePurchaseResponse:
        if not request.member_id or not request.transaction_id:
            raise InvalidArgument("member_id and transaction_id are required")
        if request.amount.amount_minor <= 0:
            raise InvalidArgument("amount must be more than zero", code="invalid-amount")
        # No campaign can be defined yet, so no purchase earns a bonus.
        return pb.EvaluatePurchaseResponse()
