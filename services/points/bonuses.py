"""Asks the campaigns service what bonus a purchase earns, without ever holding up the till."""

from __future__ import annotations

import logging

import grpc

from loyalty.campaigns.v1 import campaigns_pb2 as pb
from loyalty.campaigns.v1 import campaigns_pb2_grpc
from loyalty.common.v1 import common_pb2
from services.points.purchases import EarningLine, PurchaseInput
from services.runtime.channels import open_channel
from services.runtime.convert import to_timestamp
from services.runtime.interceptors import domain_error_of
from services.runtime.logs import log
from services.runtime.service_auth import ServiceCredentials

logger = logging.getLogger(__name__)


class CampaignBonuses:
    def __init__(self, addr: str, timeout: float, credentials: ServiceCredentials) -> None:
        self._channel = open_channel(addr, credentials, timeout)
        self._stub = campaigns_pb2_grpc.CampaignsServiceStub(self._channel)

    def evaluate(
        self, purchase: PurchaseInput, base_points: int, fingerprint: str, recorded: bool = False
    ) -> list[EarningLine] | None:
        request = pb.EvaluatePurchaseRequest(
            store_id=purchase.store_id,
            transaction_id=purchase.transaction_id,
            member_id=purchase.member_id,
            amount=common_pb2.Money(amount_minor=purchase.amount_minor, currency=purchase.currency),
            items=[
                common_pb2.PurchaseItem(
                    sku=item.sku,
                    category=item.category,
                    quantity=item.quantity,
                    unit_price=common_pb2.Money(
                        amount_minor=item.unit_price_minor, currency=purchase.currency
                    ),
                )
                for item in purchase.items
            ],
            base_points=base_points,
            request_fingerprint=fingerprint,
            recorded=recorded,
        )
        if purchase.occurred_at:
            request.occurred_at.CopyFrom(to_timestamp(purchase.occurred_at))
        try:
            # Fail fast when campaigns is down: the till must not wait for a bonus.
            response = self._stub.EvaluatePurchase(request, wait_for_ready=False)
        except grpc.RpcError as error:
            refusal = domain_error_of(error)
            # Answered for another request under this id: this one must not be recorded. (A
            # recorded purchase refused so has met a copy still in flight: asked again later.)
            if refusal.code == "idempotency-mismatch" and not recorded:
                raise refusal from None
            log(
                logger,
                "campaigns gave no answer",
                logging.WARNING,
                status=error.code().name,
                code=refusal.code,
            )
            return None
        return [
            EarningLine(f"campaign:{bonus.campaign_id}", bonus.points, bonus.reason)
            for bonus in response.bonuses
        ]

    def close(self) -> None:
        self._channel.close()
