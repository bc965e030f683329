"""PointsService over gRPC: proto in, domain call, proto out; nothing else."""

from __future__ import annotations

import grpc

from loyalty.points.v1 import points_pb2 as pb
from loyalty.points.v1 import points_pb2_grpc
from services.points.ledger import Ledger, PurchaseInput, PurchaseItem
from services.runtime.convert import from_timestamp, to_timestamp
from services.runtime.errors import InvalidArgument


class PointsServicer(points_pb2_grpc.PointsServiceServicer):
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def RecordPurchase(self, request: pb.RecordPurchaseRequest, context: grpc.ServicerContext):
        items = []
        for item in request.items:
            if item.unit_price.currency and item.unit_price.currency != request.amount.currency:
                raise InvalidArgument(
                    "item prices must be in the purchase's currency", "invalid-items"
                )
            items.append(
                PurchaseItem(item.sku, item.category, item.quantity, item.unit_price.amount_minor)
            )
        result = self._ledger.record_purchase(
            PurchaseInput(
                store_id=request.store_id,
                transaction_id=request.transaction_id,
                member_id=request.member_id,
                amount_minor=request.amount.amount_minor,
                currency=request.amount.currency,
                items=tuple(items),
                occurred_at=from_timestamp(request.occurred_at),
            )
        )
        return pb.RecordPurchaseResponse(
            transaction_id=result.transaction_id,
            member_id=result.member_id,
            points_earned=result.points_earned,
            breakdown=[
                pb.EarningLine(source=line.source, points=line.points, reason=line.reason)
                for line in result.breakdown
            ],
            balance=pb.Balance(available=result.available, pending=result.pending),
        )

    def GetBalance(self, request: pb.GetBalanceRequest, context: grpc.ServicerContext):
        available, pending = self._ledger.balance(request.member_id)
        return pb.GetBalanceResponse(
            member_id=request.member_id, balance=pb.Balance(available=available, pending=pending)
        )

    def ListLedger(self, request: pb.ListLedgerRequest, context: grpc.ServicerContext):
        lines, next_cursor = self._ledger.history(request.member_id, request.limit, request.cursor)
        return pb.ListLedgerResponse(
            entries=[
                pb.LedgerEntry(
                    id=str(line.id),
                    kind=line.kind,
                    points=line.points,
                    bucket=line.bucket,
                    reason=line.reason,
                    source_type=line.source_type,
                    source_id=line.source_id,
                    created_at=to_timestamp(line.created_at),
                )
                for line in lines
            ],
            next_cursor=next_cursor,
        )
