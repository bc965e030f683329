"""Refunds take back the points the refunded part of a purchase earned.

In proportion to the money refunded, cumulatively (so refunding a purchase in parts takes back
exactly what refunding it at once would). Points come from the purchase's own lot first, even
while still pending, then from the member's other lots; what the member has already spent is
recorded as debt that future earning pays off, never silently lost. A tier the refunded spend
had lifted the member to since their last review is taken back too, and so is a referral
reward the purchase earned, within the return window (see referrals.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from loyalty.points.v1 import points_pb2 as pb
from services.points import events, repository
from services.points.ledger import Book, Operations
from services.points.models import Refund
from services.points.referrals import take_back_on_refund
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from services.runtime.idempotency import JsonRecord, Once, check_caller_id
from services.runtime.ids import parse_id


@dataclass(frozen=True)
class RefundResult(JsonRecord):
    refund_id: str
    transaction_id: str
    member_id: str
    amount_minor: int
    points_reversed: int
    debt_added: int
    available: int
    pending: int
    debt: int


@dataclass(frozen=True)
class RefundablePurchase:
    transaction_id: str
    member_id: str
    amount_minor: int
    refunded_minor: int
    points_earned: int
    occurred_at: datetime


class Refunds(Operations):
    def purchase(self, store_id: str, transaction_id: str) -> RefundablePurchase:
        """The store's purchase `transaction_id`, as a refund at the till starts from it."""
        store = parse_id(store_id, "store")
        with self._db.read() as session:
            found = repository.purchase_by_transaction(session, store, transaction_id)
            if found is None:
                raise NotFound("no purchase with this transaction_id", code="purchase-not-found")
            return RefundablePurchase(
                transaction_id=found.transaction_id,
                member_id=str(found.member_id),
                amount_minor=found.amount_minor,
                refunded_minor=found.refunded_minor,
                points_earned=found.points_earned,
                occurred_at=found.occurred_at,
            )

    def refund(
        self, store_id: str, transaction_id: str, refund_id: str, amount_minor: int
    ) -> RefundResult:
        store = parse_id(store_id, "store")
        check_caller_id(refund_id, "refund_id")
        if amount_minor <= 0:
            raise InvalidArgument("amount must be more than zero", code="invalid-amount")
        fingerprint = hashlib.sha256(f"{transaction_id}|{amount_minor}".encode()).hexdigest()
        once = Once(
            self._db,
            lambda session: repository.refund_by_id(session, store, refund_id),
            fingerprint,
            RefundResult.from_json,
            "refund_id",
        )
        now = self._clock()

        def apply(session: Session) -> RefundResult:
            purchase = repository.purchase_by_transaction(session, store, transaction_id)
            if purchase is None:
                raise NotFound("no purchase with this transaction_id", code="purchase-not-found")
            book = Book(session, self._policy, now)
            book.lock(purchase.member_id)
            earlier = once.replay(session)
            if earlier is not None:
                return earlier
            session.refresh(purchase)  # as it stands now that its member is locked
            left = purchase.amount_minor - purchase.refunded_minor
            if amount_minor > left:
                raise FailedPrecondition(
                    f"only {left} (minor units) of this purchase is left to refund",
                    code="refund-exceeds-purchase",
                )
            refunded = purchase.refunded_minor + amount_minor
            due = purchase.points_earned * refunded // purchase.amount_minor
            points = due - purchase.points_reversed
            own = repository.lot_by_id(session, purchase.lot_id) if purchase.lot_id else None
            debt = book.take_back(
                purchase.member_id, points, own, "refund", "purchase refunded", refund_id
            )
            purchase.refunded_minor = refunded
            purchase.points_reversed = due
            take_back_on_refund(book, purchase, refund_id)
            repository.add_spend(
                session, purchase.member_id, purchase.occurred_at.date(), -amount_minor
            )
            book.undo_refunded_upgrade(purchase.member_id)
            events.purchase_refunded(
                session,
                now,
                purchase.member_id,
                pb.PurchaseRefunded(
                    store_id=str(store),
                    transaction_id=transaction_id,
                    refund_id=refund_id,
                    amount_minor=amount_minor,
                    refunded_minor=refunded,
                    purchase_amount_minor=purchase.amount_minor,
                    points_reversed=points,
                ),
            )
            row = book.balance(purchase.member_id)
            result = RefundResult(
                refund_id=refund_id,
                transaction_id=transaction_id,
                member_id=str(purchase.member_id),
                amount_minor=amount_minor,
                points_reversed=points,
                debt_added=debt,
                available=row.available,
                pending=row.pending,
                debt=-row.debt,
            )
            repository.add(
                session,
                Refund(
                    store_id=store,
                    refund_id=refund_id,
                    purchase_id=purchase.id,
                    amount_minor=amount_minor,
                    request_hash=fingerprint,
                    result=result.to_json(),
                    created_at=now,
                ),
            )
            return result

        return once.run(apply)
