"""Double-entry bookkeeping of points, inside one database transaction.

Every change is a posting whose entries sum to zero: points leave one account and enter
another. Member accounts are split in buckets (available, pending, held, debt) that are kept in
step on the member's locked balance row; points earned are kept in lots, spent
soonest-expiring first, so a balance is always the sum of what its lots have left.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row
from sqlalchemy.orm import Session

from loyalty.points.v1 import points_pb2 as pb
from services.points import events, repository
from services.points.models import HoldAllocation, Lot
from services.points.policy import PointsPolicy
from services.points.repository import BUCKETS, BalanceRow
from services.points.tiers import Tier
from services.runtime import metrics
from services.runtime.db import Database, utcnow
from services.runtime.errors import FailedPrecondition

MEMBER = "member"
EARNED = "program:earned"
REDEEMED = "program:redeemed"
EXPIRED = "program:expired"
ADJUSTED = "program:adjustments"
# Where imported members' opening balances come from.
OPENING = "program:opening"
TOUCHED_MEMBERS = "points_members_touched"
# How many lots a spend reads at a time.
TAKE_BATCH = 100
POSTINGS_MADE = "points_postings_made"
# A merged duplicate names its survivor; survivors merged later are followed this far.
MAX_MERGE_HOPS = 5


def session_touched(session: Session, member_ids: Iterable[uuid.UUID]) -> None:
    """Notes members whose points this transaction changes, for cache invalidation on commit."""
    session.info.setdefault(TOUCHED_MEMBERS, set()).update(member_ids)


def count_committed_postings(session: Session) -> None:
    """After a commit: the postings it made, for the metrics."""
    metrics.count_postings(session.info.pop(POSTINGS_MADE, ()))


class UnbalancedPosting(AssertionError):
    """A posting whose entries do not sum to zero: a programming error, never accepted."""


@dataclass(frozen=True)
class Move:
    """`points` into one account (negative: out of it)."""

    points: int
    account: str
    member_id: uuid.UUID | None = None
    bucket: str | None = None


def member(member_id: uuid.UUID, bucket: str, points: int) -> Move:
    assert bucket in BUCKETS
    return Move(points, MEMBER, member_id, bucket)


def program(account: str, points: int) -> Move:
    return Move(points, account)


class Operations:
    """What every use case that changes points works with: the database, the program's rules
    and a clock (a test's own, to move time)."""

    def __init__(
        self, database: Database, policy: PointsPolicy, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = database
        self._policy = policy
        self._clock = clock


class Book:
    """The ledger as one transaction sees it: its locked balances and its clock."""

    def __init__(self, session: Session, policy: PointsPolicy, now: datetime) -> None:
        self.session = session
        self.policy = policy
        self.now = now
        self.balances: dict[uuid.UUID, BalanceRow] = {}

    def lock(self, *member_ids: uuid.UUID, follow_merges: bool = True) -> list[uuid.UUID]:
        """Locks the members' balances and settles their due lots (see `settle_due`); every
        change to a member starts here. Answers whose points each change is for: the member
        itself, or, for a duplicate merged into another, its survivor (locked too), so that a
        posting racing a merge lands on the survivor instead of an id nobody reads any more."""
        self._lock_rows(member_ids)
        if not follow_merges:
            return list(member_ids)
        owners = []
        for member_id in member_ids:
            owner = member_id
            for _hop in range(MAX_MERGE_HOPS):
                survivor = self.balances[owner].merged_into
                if survivor is None:
                    break
                # Locked after the duplicate, out of id order: only a change that raced the
                # merge (or came with an old id) gets here.
                self._lock_rows((survivor,))
                owner = survivor
            else:
                raise FailedPrecondition("the member's merges go too deep", code="merge-chain")
            owners.append(owner)
        return owners

    def _lock_rows(self, member_ids: Iterable[uuid.UUID]) -> None:
        member_ids = tuple(member_ids)
        session_touched(self.session, member_ids)
        missing = [m for m in member_ids if m not in self.balances]
        if not missing:
            return
        rows, due = repository.lock_balances(self.session, missing, self.now)
        self.balances.update(rows)
        for member_id in sorted(due):
            for kind in ("activate", "expire"):
                self.settle_due(kind, [member_id], f"member:{member_id}")

    def balance(self, member_id: uuid.UUID) -> BalanceRow:
        return self.balances[member_id]

    def post(
        self,
        kind: str,
        reason: str,
        source_type: str,
        source_id: str,
        moves: list[Move],
        lot: dict[str, object] | None = None,
    ) -> int | None:
        """Writes a balanced posting and moves the locked members' buckets with it; `lot`: the
        lot it credits (its columns), written with it. Returns the lot's id."""
        changes, lot_id = self._write(kind, reason, source_type, source_id, moves, lot)
        for member_id, delta in changes.items():
            assert member_id in self.balances, "a member's balance must be locked first"
            row = self.balances[member_id]
            for bucket, points in delta.items():
                setattr(row, bucket, getattr(row, bucket) + points)
        return lot_id

    def _write(
        self,
        kind: str,
        reason: str,
        source_type: str,
        source_id: str,
        moves: list[Move],
        lot: dict[str, object] | None = None,
    ) -> tuple[dict[uuid.UUID, dict[str, int]], int | None]:
        """Writes the posting, its entries, its members' balance changes, the lot it credits
        and its events; returns each member's bucket changes (the caller moves the rows it
        holds) and the lot's id."""
        moves = [move for move in moves if move.points]
        if not moves:
            assert lot is None, "a lot is credited by a posting"
            return {}, None
        if sum(move.points for move in moves) != 0:
            raise UnbalancedPosting(f"{kind}: {moves}")
        reason, source_id = reason[:200], source_id[:100]
        changes: dict[uuid.UUID, dict[str, int]] = {}
        for m in moves:
            if m.account == MEMBER:
                bucket = changes.setdefault(m.member_id, {})
                bucket[m.bucket] = bucket.get(m.bucket, 0) + m.points
        posting_id, lot_id = repository.add_posting(
            self.session,
            {
                "kind": kind,
                "reason": reason,
                "source_type": source_type,
                "source_id": source_id,
                "created_at": self.now,
            },
            [
                {
                    "account": m.account,
                    "member_id": m.member_id,
                    "bucket": m.bucket,
                    "amount": m.points,
                }
                for m in moves
            ],
            changes,
            lot,
        )
        self.session.info.setdefault(POSTINGS_MADE, []).append(
            (kind, sum(m.points for m in moves if m.points > 0))
        )
        events.points_changed(
            self.session,
            self.now,
            kind,
            {
                member_id: pb.PointsChanged(
                    posting_id=posting_id,
                    reason=reason,
                    source_type=source_type,
                    source_id=source_id,
                    changes=change,
                )
                for member_id, change in changes.items()
            },
        )
        return changes, lot_id

    def earn(
        self,
        member_id: uuid.UUID,
        points: int,
        earned_at: datetime,
        *,
        kind: str,
        reason: str,
        source_type: str,
        source_id: str,
        source: str,
        expires_at: datetime | None = None,
        from_account: str = EARNED,
        available_at: datetime | None = None,
    ) -> int | None:
        """Credits `points` in a new lot, pending for the return window unless `available_at`
        says otherwise; a debt is paid off first. Returns the lot's id (None: all went to
        the debt)."""
        if points <= 0:
            return None
        row = self.balances[member_id]
        pay_debt = min(points, -row.debt)
        rest = points - pay_debt
        if available_at is None:
            available_at = earned_at + self.policy.pending
        pending = available_at > self.now
        bucket = "pending" if pending else "available"
        lot = {
            "member_id": member_id,
            "status": bucket,
            "points": rest,
            "remaining": rest,
            "available_at": available_at,
            "expires_at": expires_at or self.policy.expiry.expires_at(earned_at),
            "source": source[:40],
            "created_at": self.now,
        }
        return self.post(
            kind,
            reason,
            source_type,
            source_id,
            [
                program(from_account, -points),
                member(member_id, "debt", pay_debt),
                member(member_id, bucket, rest),
            ],
            lot=lot if rest else None,
        )

    def earn_many(
        self,
        credits: list[tuple[uuid.UUID, int, datetime | None]],
        *,
        kind: str,
        reason: str,
        source_type: str,
        source_id: str,
        source: str,
        from_account: str,
    ) -> None:
        """Credits (member, points, expiry) to many members in one posting, available at once,
        each in a lot of its own (the program's expiry when none is given); a member's debt is
        paid off first. What `earn` does for one, set-based for an import's thousands."""
        moves: list[Move] = []
        lots: list[dict] = []
        debts: dict[uuid.UUID, int] = {}
        total = 0
        for member_id, points, expires_at in credits:
            if points <= 0:
                continue
            debt = debts.get(member_id, self.balances[member_id].debt)
            pay_debt = min(points, -debt)
            debts[member_id] = debt + pay_debt
            rest = points - pay_debt
            total += points
            moves += [member(member_id, "debt", pay_debt), member(member_id, "available", rest)]
            if rest:
                lots.append(
                    {
                        "member_id": member_id,
                        "status": "available",
                        "points": rest,
                        "remaining": rest,
                        "available_at": self.now,
                        "expires_at": expires_at or self.policy.expiry.expires_at(self.now),
                        "source": source[:40],
                        "created_at": self.now,
                    }
                )
        # The program's side in one entry: the members' entries say who got what.
        self.post(kind, reason, source_type, source_id, [program(from_account, -total), *moves])
        repository.add_lots(self.session, lots)

    def take(
        self, member_id: uuid.UUID, points: int, first: Lot | None = None
    ) -> list[tuple[Lot, int]]:
        """Takes up to `points` from the member's lots: `first` first, then soonest-expiring.

        Returns what was taken from which lot; the caller posts the matching entries.
        """
        taken: list[tuple[Lot, int]] = []

        def take_from(lots: list[Lot]) -> None:
            nonlocal points
            for lot in lots:
                if points <= 0:
                    return
                part = min(lot.remaining, points)
                if part:
                    lot.remaining -= part
                    taken.append((lot, part))
                    points -= part

        if first is not None:
            take_from([first])
        # A batch at a time: a member may have hundreds of thousands of lots, and a spend
        # needs only the first few. The lots a batch empties drop out of the next one.
        while points > 0:
            batch = repository.spendable_lots(
                self.session, member_id, self.now, TAKE_BATCH, first.id if first else None
            )
            take_from(batch)
            self.session.flush()
            if len(batch) < TAKE_BATCH:
                break
        self.session.flush()
        return taken

    def take_back(
        self,
        member_id: uuid.UUID,
        points: int,
        first: Lot | None,
        kind: str,
        reason: str,
        source_id: str,
        source_type: str = "pos",
    ) -> int:
        """Takes back `points` the member earned, from `first` (their own lot) then the others;
        what they already spent becomes debt. Returns the debt added."""
        taken = self.take(member_id, points, first=first)
        moves = [program(EARNED, points)]
        for lot, part in taken:
            moves.append(member(member_id, lot.status, -part))
        debt = points - sum(part for _, part in taken)
        moves.append(member(member_id, "debt", -debt))
        self.post(kind, reason, source_type, source_id, moves)
        return debt

    def give_back(self, allocations: list[tuple[HoldAllocation, Lot]]) -> tuple[int, int]:
        """Returns held points to their lots; points of lots expired meanwhile expire now.

        Returns (points back in lots, points expired).
        """
        back = expired = 0
        for allocation, lot in allocations:
            if lot.expires_at is not None and lot.expires_at <= self.now:
                expired += allocation.points
            else:
                lot.remaining += allocation.points
                back += allocation.points
        self.session.flush()
        return back, expired

    def settle_due(self, kind: str, member_ids: list[uuid.UUID], source_id: str) -> int:
        """Activates or expires the due lots of these (locked) members in one posting.

        Set-based, for one member or thousands: the balances move in one statement, and any
        balance row this transaction holds is read again afterwards.
        """
        totals = repository.due_totals(self.session, kind, self.now, member_ids)
        if not totals:
            return 0
        session_touched(self.session, member_ids)
        moves: list[Move] = []
        deltas: dict[uuid.UUID, dict[str, int]] = {}
        moved = 0
        for member_id, status, points in totals:
            moved += points
            delta = deltas.setdefault(member_id, {})
            if kind == "activate":
                moves.append(member(member_id, "pending", -points))
                moves.append(member(member_id, "available", points))
                delta["pending"] = delta.get("pending", 0) - points
                delta["available"] = delta.get("available", 0) + points
            else:
                moves.append(member(member_id, status, -points))
                delta[status] = delta.get(status, 0) - points
        if kind == "expire":
            moves.append(program(EXPIRED, moved))
        reason = "points became available" if kind == "activate" else "points expired"
        # The posting moves the balances; `deltas` keeps the rows this transaction holds in step.
        self._write(kind, reason, "system", source_id, moves)
        repository.settle_due_lots(self.session, kind, self.now, member_ids)
        for member_id, delta in deltas.items():
            if member_id in self.balances:
                row = self.balances[member_id]
                row.available += delta.get("available", 0)
                row.pending += delta.get("pending", 0)
        return moved

    def review_tier(
        self, member_id: uuid.UUID, upgrade_only: bool, held: Row | None = None
    ) -> tuple[str, str]:
        """Brings the member's tier in line with their qualifying spend: higher at once; lower
        only when the review date has come (`upgrade_only` False). `held`: the member's tier
        row and spend as `repository.tier_and_spend` reads them now, if the caller has them.
        Returns (before, after)."""
        ladder = self.policy.ladder
        if held is None:
            held = repository.tier_and_spend(self.session, member_id, self.now - ladder.window)
        before = ladder.named(held.tier) if held.tier is not None else ladder.lowest
        earned = ladder.earned_by(held.spend)
        next_review = self.now + ladder.window
        if not upgrade_only and held.review_at is not None and held.review_at <= self.now:
            return self._set_tier(member_id, held, earned, next_review, floor=None)
        if ladder.rank(earned) > ladder.rank(before):
            # The tier below an upgrade: what the last review gave, however many upgrades since.
            if held.floor_tier is not None:
                floor = (held.floor_tier, held.floor_review_at)
            else:
                floor = (before.name, held.review_at or next_review)
            return self._set_tier(member_id, held, earned, next_review, floor)
        if held.tier is None:
            return self._set_tier(member_id, held, before, next_review, floor=None)
        return before.name, before.name

    def grant_tiers(self, grants: list[tuple[uuid.UUID, Tier]]) -> None:
        """Gives each member a tier until their next review, a window from now (imported
        members' standing); the review keeps it only if their spend earns it, and a higher
        tier their spend earns meanwhile lifts them at once. What `_set_tier` does for one
        member, set-based for an import's thousands: their tier rows and spends are read in
        two statements, new rows written in one and the `tier.changed` events in another."""
        if not grants:
            return
        ladder = self.policy.ladder
        member_ids = [member_id for member_id, _tier in grants]
        session_touched(self.session, member_ids)
        held, spend = repository.tiers_and_spends(
            self.session, member_ids, self.now - ladder.window
        )
        review_at = self.now + ladder.window
        new: dict[uuid.UUID, dict[str, object]] = {}
        changes: list[tuple[uuid.UUID, str, str, int]] = []
        for member_id, tier in grants:
            values: dict[str, object] = {
                "tier": tier.name,
                "review_at": review_at,
                "floor_tier": None,
                "floor_review_at": None,
            }
            before = ladder.named(held[member_id]) if member_id in held else ladder.lowest
            if tier != before:
                values["since"] = self.now
                changes.append((member_id, before.name, tier.name, spend.get(member_id, 0)))
            if member_id in new:
                new[member_id].update(values)
            elif member_id in held:
                repository.update_tier(self.session, member_id, **values)
            else:
                new[member_id] = {"member_id": member_id, "since": self.now, **values}
            held[member_id] = tier.name
        repository.add_tiers(self.session, list(new.values()))
        events.tiers_changed(self.session, self.now, changes)

    def undo_refunded_upgrade(self, member_id: uuid.UUID) -> tuple[str, str]:
        """After a refund: a tier the member was upgraded to since their last review falls back
        to what their spend still earns, no lower than the tier that review gave, and is next
        reviewed when that tier would have been. What the spend earns is the higher of its
        window up to the upgrade and its window up to now, so refunding a purchase from a later
        day than the upgrade never undoes it. Returns (before, after)."""
        ladder = self.policy.ladder
        held = repository.tier_and_spend(self.session, member_id, self.now - ladder.window)
        before = ladder.named(held.tier) if held.tier is not None else ladder.lowest
        if held.floor_tier is None:
            return before.name, before.name
        floor = ladder.named(held.floor_tier)
        at_upgrade = repository.spend_between(
            self.session, member_id, held.since - ladder.window, held.since
        )
        after = max(
            floor, ladder.earned_by(at_upgrade), ladder.earned_by(held.spend), key=ladder.rank
        )
        if ladder.rank(after) >= ladder.rank(before):
            return before.name, before.name
        kept = None if after == floor else (held.floor_tier, held.floor_review_at)
        return self._set_tier(member_id, held, after, held.floor_review_at, kept)

    def _set_tier(
        self,
        member_id: uuid.UUID,
        held: Row,
        tier: Tier,
        review_at: datetime,
        floor: tuple[str, datetime] | None,
    ) -> tuple[str, str]:
        """Writes the member's tier row (`held` is it as `tier_and_spend` read it) and, if the
        tier changes, a `tier.changed` event."""
        ladder = self.policy.ladder
        session_touched(self.session, [member_id])
        before = ladder.named(held.tier) if held.tier is not None else ladder.lowest
        values: dict[str, object] = {
            "tier": tier.name,
            "review_at": review_at,
            "floor_tier": floor[0] if floor else None,
            "floor_review_at": floor[1] if floor else None,
        }
        if held.tier is None:
            repository.add_tier(self.session, member_id, since=self.now, **values)
        else:
            if tier != before:
                values["since"] = self.now
            repository.update_tier(self.session, member_id, **values)
        if tier != before:
            events.tier_changed(
                self.session, self.now, member_id, before.name, tier.name, int(held.spend)
            )
        return before.name, tier.name
