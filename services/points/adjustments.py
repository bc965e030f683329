"""Changes made by staff or by the club itself rather than a till: manual credits and debits,
transfers between members (each lot keeps its expiry), the merge of a duplicate member's
ledger into the survivor's, and the points campaigns gives or takes for missions and prize
draws. Each is idempotent on its operation id and records who did it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from services.points import repository
from services.points.ledger import (
    ADJUSTED,
    EARNED,
    MAX_MERGE_HOPS,
    REDEEMED,
    Book,
    member,
    program,
)
from services.points.members import MemberOperations
from services.points.models import Adjustment
from services.runtime.errors import FailedPrecondition, InvalidArgument
from services.runtime.idempotency import JsonRecord, Once, check_caller_id
from services.runtime.ids import parse_id
from services.runtime.points_limits import MAX_POINTS


@dataclass(frozen=True)
class AdjustmentResult(JsonRecord):
    operation_id: str
    kind: str
    member_id: str
    other_member_id: str
    points: int
    available: int
    other_available: int


MAX_LISTED = 500
# What staff do to a member's points (the audit trail lists these); campaigns' kinds below.
STAFF_KINDS = ("adjust", "transfer", "merge")
MISSION, DRAW, DRAW_BACK = "mission", "draw", "draw-back"
CAMPAIGNS_ACTOR = "campaigns"


class Adjustments(MemberOperations):
    def of_member(self, member_id: str, limit: int) -> list[Adjustment]:
        """The member's adjustments, transfers and merges (and those of the duplicates merged
        into them), newest first: the points side of the audit trail."""
        parsed = parse_id(member_id, "member")
        with self._db.read() as session:
            for _hop in range(MAX_MERGE_HOPS):
                survivor = repository.survivor_of(session, parsed)
                if survivor is None:
                    break
                parsed = survivor
            ids = [parsed, *repository.merged_into(session, parsed)]
            limit = min(max(limit, 1), MAX_LISTED)
            return repository.adjustments_of(session, ids, STAFF_KINDS, limit)

    def adjust(
        self, operation_id: str, member_id: str, points: int, reason: str, actor: str
    ) -> AdjustmentResult:
        """Credits (points > 0, available at once) or debits (points < 0) a member by hand."""
        target = parse_id(member_id, "member")
        if not 0 < abs(points) <= MAX_POINTS:
            raise InvalidArgument("points must not be zero", code="invalid-points")

        def apply(session: Session, book: Book, owners: list[uuid.UUID]) -> tuple[int, int]:
            (owner,) = owners
            if points > 0:
                book.earn(
                    owner,
                    points,
                    book.now,
                    kind="adjust",
                    reason=reason,
                    source_type="staff",
                    source_id=operation_id,
                    source=f"adjustment:{operation_id}",
                    from_account=ADJUSTED,
                    available_at=book.now,
                )
            else:
                _require(book, owner, -points)
                book.take(owner, -points)
                book.post(
                    "adjust",
                    reason,
                    "staff",
                    operation_id,
                    [member(owner, "available", points), program(ADJUSTED, -points)],
                )
            return book.balance(owner).available, 0

        return self._apply_once("adjust", operation_id, target, None, points, reason, actor, apply)

    def for_campaign(
        self, purpose: str, operation_id: str, member_id: str, points: int, name: str
    ) -> AdjustmentResult:
        """A mission's reward (MISSION, credited and available at once), a prize draw's chances
        bought with points (DRAW, spent), or the return of such a purchase (DRAW_BACK: the
        operation id is the spend's, and the points must be what it spent; returned once)."""
        target = parse_id(member_id, "member")
        if not 0 < points <= MAX_POINTS:
            raise InvalidArgument("points must be more than zero", code="invalid-points")
        reason = f"{purpose}: {' '.join(name.split())[:150]}"

        def credit(book: Book, owner: uuid.UUID, source_id: str, account: str) -> tuple[int, int]:
            book.earn(
                owner,
                points,
                book.now,
                kind=purpose,
                reason=reason,
                source_type="campaign",
                source_id=source_id,
                source=f"{purpose}:{source_id}",
                from_account=account,
                available_at=book.now,
            )
            return book.balance(owner).available, 0

        if purpose == MISSION:

            def apply(session: Session, book: Book, owners: list[uuid.UUID]) -> tuple[int, int]:
                return credit(book, owners[0], operation_id, EARNED)

        elif purpose == DRAW:

            def apply(session: Session, book: Book, owners: list[uuid.UUID]) -> tuple[int, int]:
                (owner,) = owners
                _require(book, owner, points)
                book.take(owner, points)
                moves = [member(owner, "available", -points), program(REDEEMED, points)]
                book.post(DRAW, reason, "campaign", operation_id, moves)
                return book.balance(owner).available, 0

        elif purpose == DRAW_BACK:
            spend_id, operation_id = operation_id, f"{operation_id}:back"

            def apply(session: Session, book: Book, owners: list[uuid.UUID]) -> tuple[int, int]:
                spent = repository.adjustment_by_id(session, spend_id)
                if spent is None or spent.kind != DRAW or spent.member_id != target:
                    raise FailedPrecondition(
                        "no such purchase of chances by this member", code="nothing-to-return"
                    )
                if spent.points != -points:
                    raise FailedPrecondition(
                        f"that purchase spent {-spent.points} points", code="nothing-to-return"
                    )
                return credit(book, owners[0], spend_id, REDEEMED)

        else:
            raise InvalidArgument(f"unknown purpose {purpose!r}", code="invalid-purpose")
        signed = -points if purpose == DRAW else points
        return self._apply_once(
            purpose, operation_id, target, None, signed, reason, CAMPAIGNS_ACTOR, apply
        )

    def transfer(
        self,
        operation_id: str,
        from_member: str,
        to_member: str,
        points: int,
        reason: str,
        actor: str,
    ) -> AdjustmentResult:
        """Moves available points to another member; each part keeps its lot's expiry."""
        source = parse_id(from_member, "member")
        target = parse_id(to_member, "member")
        if source == target:
            raise InvalidArgument("a member cannot transfer to themselves", code="same-member")
        if not 0 < points <= MAX_POINTS:
            raise InvalidArgument("points must be more than zero", code="invalid-points")

        def apply(session: Session, book: Book, owners: list[uuid.UUID]) -> tuple[int, int]:
            giver, taker = owners
            if giver == taker:
                raise InvalidArgument("both members are now one (merged)", code="same-member")
            _require(book, giver, points)
            for lot, part in book.take(giver, points):
                repository.add_lot(
                    session,
                    member_id=taker,
                    status="available",
                    points=part,
                    remaining=part,
                    available_at=book.now,
                    expires_at=lot.expires_at,
                    source=f"transfer:{operation_id}"[:40],
                    created_at=book.now,
                )
            book.post(
                "transfer",
                reason,
                "staff",
                operation_id,
                [member(giver, "available", -points), member(taker, "available", points)],
            )
            return book.balance(giver).available, book.balance(taker).available

        return self._apply_once(
            "transfer", operation_id, source, target, points, reason, actor, apply
        )

    def merge(
        self, operation_id: str, duplicate: str, survivor: str, actor: str
    ) -> AdjustmentResult:
        """Moves everything the duplicate member has (lots as they are, and any debt) to the
        survivor, whose id every later change to the duplicate's then goes to (see
        `Book.lock`). Refused while the duplicate has a redemption on hold, and when either
        member was merged into another already (a reverse or chained merge)."""
        source = parse_id(duplicate, "member")
        target = parse_id(survivor, "member")
        if source == target:
            raise InvalidArgument("a member cannot be merged into themselves", code="same-member")

        def apply(session: Session, book: Book, owners: list[uuid.UUID]) -> tuple[int, int]:
            row = book.balance(source)
            if row.merged_into is not None or book.balance(target).merged_into is not None:
                raise FailedPrecondition(
                    "one of the members was already merged into another", code="already-merged"
                )
            if row.held:
                raise FailedPrecondition(
                    "the duplicate has points on hold: capture or void them first",
                    code="open-holds",
                )
            moved = (row.available, row.pending, row.debt)
            # Its lots and purchases become the survivor's, so a later refund of one of its
            # purchases takes back from the survivor.
            repository.move_lots_and_purchases(session, source, target)
            repository.move_spend(session, source, target)
            moves = []
            for bucket, points in zip(("available", "pending", "debt"), moved, strict=True):
                moves += [member(source, bucket, -points), member(target, bucket, points)]
            book.post("merge", "duplicate member merged", "system", operation_id, moves)
            repository.mark_merged(session, source, target)
            return book.balance(source).available, book.balance(target).available

        return self._apply_once(
            "merge", operation_id, source, target, 0, "duplicate member merged", actor, apply
        )

    def _apply_once(
        self,
        kind: str,
        operation_id: str,
        member_id: uuid.UUID,
        other: uuid.UUID | None,
        points: int,
        reason: str,
        actor: str,
        change: Callable[[Session, Book, list[uuid.UUID]], tuple[int, int]],
    ) -> AdjustmentResult:
        check_caller_id(operation_id, "operation_id")
        reason = " ".join(reason.split())
        if not reason or len(reason) > 200:
            raise InvalidArgument("a reason of 1 to 200 characters is required", "invalid-reason")
        actor = " ".join(actor.split())
        if not actor or len(actor) > 100:
            raise InvalidArgument("say who makes the change (1 to 100 characters)", "invalid-actor")
        # A merge is finished by whoever retries it: who asked first is kept, not compared.
        signed = "" if kind == "merge" else actor
        fingerprint = hashlib.sha256(
            f"{kind}|{member_id}|{other}|{points}|{reason}|{signed}".encode()
        ).hexdigest()
        once = Once(
            self._db,
            lambda session: repository.adjustment_by_id(session, operation_id),
            fingerprint,
            AdjustmentResult.from_json,
            "operation id",
        )
        named = [member_id] + ([other] if other else [])
        # A merge works on the two ids as they are; anything else on the members identity
        # knows, whoever holds the points of each now.
        if kind != "merge":
            named = [self._members.owner(m) for m in named]
        now = self._clock()

        def apply(session: Session) -> AdjustmentResult:
            book = Book(session, self._policy, now)
            owners = book.lock(*named, follow_merges=kind != "merge")
            earlier = once.replay(session)
            if earlier is not None:
                return earlier
            available, other_available = change(session, book, owners)
            result = AdjustmentResult(
                operation_id=operation_id,
                kind=kind,
                member_id=str(member_id),
                other_member_id=str(other or ""),
                points=points,
                available=available,
                other_available=other_available,
            )
            repository.add(
                session,
                Adjustment(
                    operation_id=operation_id,
                    kind=kind,
                    member_id=member_id,
                    other_member_id=other,
                    points=points,
                    reason=reason,
                    actor=actor,
                    request_hash=fingerprint,
                    result=result.to_json(),
                    created_at=now,
                ),
            )
            return result

        return once.run(apply)


def _require(book: Book, member_id: uuid.UUID, points: int) -> None:
    available = book.balance(member_id).available
    if available < points:
        raise FailedPrecondition(
            f"the member has {available} points available, {points} asked",
            code="insufficient-points",
        )
