"""Purchases earn points exactly once.

No gRPC here; SQL lives in repository.py and bookkeeping in ledger.py. A purchase's posting, its
lot, the member's balance and the idempotency record that makes a POS retry harmless are
written in one database transaction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from sqlalchemy.orm import Session

from loyalty.points.v1 import points_pb2 as pb
from services.points import events, repository
from services.points.ledger import Book
from services.points.members import Members
from services.points.policy import Line, PointsPolicy
from services.points.referrals import reward_first_purchase
from services.runtime.db import Database, utcnow
from services.runtime.errors import InvalidArgument
from services.runtime.idempotency import JsonRecord, Once, check_caller_id
from services.runtime.ids import parse_id
from services.runtime.logs import log
from services.runtime.money import MAX_MINOR

logger = logging.getLogger(__name__)

_QUANTITY = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")
MAX_ITEMS = 1000
MAX_CLOCK_SKEW = timedelta(days=1)


@dataclass(frozen=True)
class PurchaseItem:
    sku: str
    category: str
    quantity: str
    unit_price_minor: int


@dataclass(frozen=True)
class PurchaseInput:
    store_id: str
    transaction_id: str
    member_id: str
    amount_minor: int
    currency: str
    items: tuple[PurchaseItem, ...] = ()
    occurred_at: datetime | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat() if self.occurred_at else None
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PurchaseInput:
        data = json.loads(text)
        data["items"] = tuple(PurchaseItem(**item) for item in data["items"])
        if data["occurred_at"]:
            data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
        return cls(**data)

    def fingerprint(self) -> str:
        """What a retry must repeat exactly to count as the same purchase."""
        body = {
            "member_id": self.member_id,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "items": [asdict(item) for item in self.items],
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class EarningLine:
    source: str
    points: int
    reason: str


@dataclass(frozen=True)
class PurchaseResult(JsonRecord):
    transaction_id: str
    member_id: str
    points_earned: int
    breakdown: tuple[EarningLine, ...]
    available: int
    pending: int

    @classmethod
    def from_json(cls, text: str) -> PurchaseResult:
        data = json.loads(text)
        data["breakdown"] = tuple(EarningLine(**line) for line in data["breakdown"])
        return cls(**data)


class BonusSource(Protocol):
    def evaluate(
        self, purchase: PurchaseInput, base_points: int, fingerprint: str, recorded: bool = False
    ) -> list[EarningLine] | None:
        """Campaign bonuses for the purchase; None when they cannot be known right now.

        `fingerprint` names the request as the till sent it; `recorded` says the purchase is
        recorded under it (a bonus owed). Raises idempotency-mismatch (and books nothing) when
        campaigns answered another request under the same transaction id."""


Clock = Callable[[], datetime]


class Purchases:
    def __init__(
        self,
        database: Database,
        policy: PointsPolicy,
        bonuses: BonusSource,
        members: Members,
        clock: Clock = utcnow,
    ) -> None:
        self._db = database
        self._policy = policy
        self._bonuses = bonuses
        self._members = members
        self._clock = clock

    def record_purchase(self, purchase: PurchaseInput) -> PurchaseResult:
        store_id, member_id = self._validate(purchase)
        once = Once(
            self._db,
            lambda session: repository.purchase_by_transaction(
                session, store_id, purchase.transaction_id
            ),
            purchase.fingerprint(),
            PurchaseResult.from_json,
            "transaction_id",
        )
        with self._db.read_core() as connection:
            found, tier_name, known = repository.replay_and_tier(
                connection, store_id, purchase.transaction_id, member_id
            )
        earlier = once.answer(found)
        if earlier is not None:
            return earlier
        # A member points knows costs nothing more; identity is asked only about a new one.
        earner = self._members.owner(member_id, known)
        if earner != member_id:
            purchase = replace(purchase, member_id=str(earner))
            with self._db.read_core() as connection:
                _, tier_name, _ = repository.replay_and_tier(
                    connection, store_id, purchase.transaction_id, earner
                )
        ladder = self._policy.ladder
        tier = ladder.named(tier_name) if tier_name is not None else ladder.lowest
        # Campaigns are asked before the transaction opens: no lock waits on the network.
        lines = tuple(
            Line(item.sku, item.category, int(Decimal(item.quantity) * item.unit_price_minor))
            for item in purchase.items
        )
        base = self._policy.base_points(purchase.amount_minor, lines)
        bonuses = self._bonuses.evaluate(purchase, base, once.fingerprint)
        earning = [
            EarningLine("base", base, self._policy.label),
            EarningLine(f"tier:{tier.name}", tier.bonus(base), f"{tier.name} ×{tier.multiplier}"),
            *(bonuses or []),
        ]
        earned = sum(line.points for line in earning)
        now = self._clock()
        occurred_at = min(purchase.occurred_at or now, now)
        purchase_id = uuid.uuid4()
        owed_request = None
        if bonuses is None:
            # Asked again later, campaigns judges it at the time it was made.
            owed = replace(purchase, occurred_at=occurred_at).to_json()
            owed_request = json.dumps({"purchase": owed, "base_points": base})

        def apply(session: Session) -> PurchaseResult:
            book = Book(session, self._policy, now)
            # The member, or the survivor of a merge that raced this purchase.
            (owner,) = book.lock(earner)
            lot_id = book.earn(
                owner,
                earned,
                occurred_at,
                kind="earn",
                reason="purchase",
                source_type="pos",
                source_id=purchase.transaction_id,
                source=f"purchase:{purchase_id}",
            )
            reward_first_purchase(book, owner, purchase_id, purchase.amount_minor, occurred_at)
            row = book.balance(owner)
            result = PurchaseResult(
                transaction_id=purchase.transaction_id,
                member_id=str(owner),
                points_earned=earned,
                breakdown=tuple(line for line in earning if line.points or line.source == "base"),
                available=row.available,
                pending=row.pending,
            )
            # A copy of this purchase that got here first makes this fail on the unique
            # (store_id, transaction_id), and the whole transaction rolls back. What it answers
            # counts the purchase's spend, for the tier review below.
            held = repository.add_purchase(
                session,
                now - self._policy.ladder.window,
                id=purchase_id,
                store_id=store_id,
                transaction_id=purchase.transaction_id,
                member_id=owner,
                amount_minor=purchase.amount_minor,
                currency=purchase.currency,
                occurred_at=occurred_at,
                request_hash=once.fingerprint,
                campaigns_evaluated=bonuses is not None,
                owed_request=owed_request,
                points_earned=earned,
                refunded_minor=0,
                points_reversed=0,
                lot_id=lot_id,
                result=result.to_json(),
                created_at=now,
            )
            events.purchase_recorded(
                session,
                now,
                owner,
                pb.PurchaseRecorded(
                    store_id=str(store_id),
                    transaction_id=purchase.transaction_id,
                    amount_minor=purchase.amount_minor,
                    currency=purchase.currency,
                    items=[pb.PurchaseRecorded.Item(**asdict(item)) for item in purchase.items],
                    occurred_at=occurred_at.isoformat(),
                    points_earned=earned,
                ),
            )
            book.review_tier(owner, upgrade_only=True, held=held)
            log(logger, "purchase recorded", points=earned, bonus_owed=bonuses is None)
            return result

        return once.run(apply, checked=True)

    def _validate(self, purchase: PurchaseInput) -> tuple[uuid.UUID, uuid.UUID]:
        store_id = parse_id(purchase.store_id, "store")
        member_id = parse_id(purchase.member_id, "member")
        check_caller_id(purchase.transaction_id, "transaction_id")
        if purchase.currency != self._policy.currency:
            raise InvalidArgument(
                f"the program runs in {self._policy.currency}, "
                f"not {purchase.currency or 'no currency'}",
                code="currency-mismatch",
            )
        if not 0 < purchase.amount_minor <= MAX_MINOR:
            raise InvalidArgument("amount must be more than zero", code="invalid-amount")
        if purchase.occurred_at and purchase.occurred_at > self._clock() + MAX_CLOCK_SKEW:
            raise InvalidArgument("occurred_at is in the future", code="invalid-occurred-at")
        if len(purchase.items) > MAX_ITEMS:
            raise InvalidArgument(f"at most {MAX_ITEMS} items", code="invalid-items")
        for item in purchase.items:
            if not 0 < len(item.sku) <= 64 or len(item.category) > 64:
                raise InvalidArgument("item sku must be 1 to 64 characters", code="invalid-items")
            if not _QUANTITY.fullmatch(item.quantity) or Decimal(item.quantity) <= 0:
                raise InvalidArgument(
                    "item quantity must be a positive number", code="invalid-items"
                )
            if not 0 <= item.unit_price_minor <= MAX_MINOR:
                raise InvalidArgument("item unit_price must not be negative", code="invalid-items")
        return store_id, member_id
