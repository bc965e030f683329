"""Redeeming points at the till, in two phases: a hold reserves them, capture spends them,
void gives them back. A hold neither captured nor voided in time expires by itself.

A hold takes its points out of specific lots (soonest-expiring first) at once, so nothing can
expire or be spent twice while it waits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.points import repository
from services.points.ledger import EXPIRED, REDEEMED, Book, member, program
from services.points.members import MemberOperations
from services.points.models import Hold, HoldAllocation
from services.runtime.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from services.runtime.idempotency import JsonRecord, Once, check_caller_id
from services.runtime.ids import parse_id
from services.runtime.points_limits import MAX_POINTS


@dataclass(frozen=True)
class RedemptionResult(JsonRecord):
    redemption_id: str
    member_id: str
    points: int
    status: str
    expires_at: str
    available: int
    pending: int


class Redemptions(MemberOperations):
    def hold(
        self, store_id: str, redemption_id: str, member_id: str, points: int, capture: bool
    ) -> RedemptionResult:
        """Reserves `points` (and spends them at once with `capture`). Idempotent on the
        store's redemption_id: a retry gets the original answer."""
        store = parse_id(store_id, "store")
        member_uuid = parse_id(member_id, "member")
        check_caller_id(redemption_id, "redemption_id")
        if not 0 < points <= MAX_POINTS:
            raise InvalidArgument("points must be more than zero", code="invalid-points")
        fingerprint = hashlib.sha256(f"{member_uuid}|{points}|{capture}".encode()).hexdigest()
        once = Once(
            self._db,
            lambda session: repository.hold_by_redemption(session, store, redemption_id),
            fingerprint,
            RedemptionResult.from_json,
            "redemption_id",
        )
        spender = self._members.owner(member_uuid)
        now = self._clock()

        def apply(session: Session) -> RedemptionResult:
            book = Book(session, self._policy, now)
            (owner,) = book.lock(spender)
            earlier = once.replay(session)
            if earlier is not None:
                return earlier
            row = book.balance(owner)
            if row.available < points:
                raise FailedPrecondition(
                    f"the member has {row.available} points available, {points} asked",
                    code="insufficient-points",
                )
            hold = Hold(
                store_id=store,
                redemption_id=redemption_id,
                member_id=owner,
                points=points,
                status="held",
                request_hash=fingerprint,
                result="",
                expires_at=now + self._policy.hold_for,
                created_at=now,
            )
            repository.add(session, hold)  # the unique guard fires here for a duplicate
            taken = book.take(owner, points)
            assert sum(part for _, part in taken) == points, "lots disagree with the balance"
            allocations = [
                HoldAllocation(hold_id=hold.id, lot_id=lot.id, points=part) for lot, part in taken
            ]
            repository.add(session, *allocations)
            book.post(
                "hold",
                "points held for a redemption",
                "pos",
                redemption_id,
                [member(owner, "available", -points), member(owner, "held", points)],
            )
            if capture:
                _capture(book, hold)
            result = _result(hold, book)
            hold.result = result.to_json()
            return result

        return once.run(apply)

    def capture(self, store_id: str, redemption_id: str) -> RedemptionResult:
        return self._resolve(store_id, redemption_id, "captured")

    def void(self, store_id: str, redemption_id: str) -> RedemptionResult:
        return self._resolve(store_id, redemption_id, "voided")

    def _resolve(self, store_id: str, redemption_id: str, outcome: str) -> RedemptionResult:
        store = parse_id(store_id, "store")
        with self._db.read() as session:
            found = repository.hold_by_redemption(session, store, redemption_id)
        if found is None:
            raise NotFound("no redemption with this id", code="redemption-not-found")
        now = self._clock()
        with self._db.write() as session:
            book = Book(session, self._policy, now)
            book.lock(found.member_id)
            hold = repository.hold_by_redemption(session, store, redemption_id)
            assert hold is not None
            if hold.status == "held" and hold.expires_at <= now:
                release(book, hold, "expired")
            elif hold.status == "held":
                if outcome == "captured":
                    _capture(book, hold)
                else:
                    release(book, hold, "voided")
            result = _result(hold, book)
        if result.status == outcome or (outcome == "voided" and result.status == "expired"):
            return result
        raise Conflict(
            f"the redemption is {result.status}, it cannot be {outcome}",
            code=f"redemption-{result.status}",
        )


def _capture(book: Book, hold: Hold) -> None:
    book.post(
        "redeem",
        "points redeemed",
        "pos",
        hold.redemption_id,
        [member(hold.member_id, "held", -hold.points), program(REDEEMED, hold.points)],
    )
    hold.status = "captured"
    hold.resolved_at = book.now


def release(book: Book, hold: Hold, status: str) -> None:
    """Gives a hold's points back to its lots (or expires them if their lots have)."""
    back, expired = book.give_back(repository.allocations_of(book.session, hold.id))
    moves = [
        member(hold.member_id, "held", -hold.points),
        member(hold.member_id, "available", back),
    ]
    if expired:
        moves.append(program(EXPIRED, expired))
    book.post(
        "release",
        f"redemption {status}",
        "pos" if status == "voided" else "system",
        hold.redemption_id,
        moves,
    )
    hold.status = status
    hold.resolved_at = book.now


def _result(hold: Hold, book: Book) -> RedemptionResult:
    row = book.balance(hold.member_id)
    return RedemptionResult(
        redemption_id=hold.redemption_id,
        member_id=str(hold.member_id),
        points=hold.points,
        status=hold.status,
        expires_at=hold.expires_at.isoformat(),
        available=row.available,
        pending=row.pending,
    )
