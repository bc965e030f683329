"""Opening balances and tiers of members imported from another system.

An opening balance is a posting of its own, from the program's opening account into the
member's available points, in a lot with the expiry the file gives (or the program's). Each
member gets one, once: the `opening_balances` row of the member is written in the posting's
transaction, so a second import of the member posts nothing, even with other points in its
file. The members are recorded as known here, as identity's `member.enrolled` would do later,
so an imported member may spend at the till straight after the import.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from services.points import repository
from services.points.ledger import OPENING, Book, Operations
from services.points.members import MEMBER
from services.points.repository import MemberState
from services.points.tiers import Tier
from services.runtime.batches import check_each, write_batch
from services.runtime.errors import InvalidArgument
from services.runtime.ids import parse_id
from services.runtime.points_limits import MAX_POINTS

POSTED = "posted"
EXISTING = "existing"
REJECTED = "rejected"
REASON = "opening balance"


@dataclass(frozen=True)
class OpeningRow:
    line: int
    member_id: str
    points: int = 0
    expires_at: datetime | None = None
    tier: str = ""


@dataclass(frozen=True)
class OpeningResult:
    line: int
    outcome: str
    error_code: str = ""
    error: str = ""


@dataclass(frozen=True)
class _Checked:
    index: int
    member_id: uuid.UUID
    points: int
    expires_at: datetime | None
    tier: Tier | None


class OpeningBalances(Operations):
    def run(self, rows: list[OpeningRow], dry_run: bool = False) -> list[OpeningResult]:
        """One result per row, in the rows' order."""
        now = self._clock()
        checked, refused = check_each(rows, lambda index, row: self._check(index, row, now))
        results = {
            index: OpeningResult(rows[index].line, REJECTED, e.code, str(e))
            for index, e in refused.items()
        }
        outcomes = write_batch(lambda: self._post(checked, now, dry_run))
        for row in checked:
            results[row.index] = OpeningResult(rows[row.index].line, outcomes[row.index])
        return [results[index] for index in range(len(rows))]

    def _check(self, index: int, row: OpeningRow, now: datetime) -> _Checked:
        if not 0 <= row.points <= MAX_POINTS:
            raise InvalidArgument(f"points must be from 0 to {MAX_POINTS}", code="invalid-points")
        if row.expires_at is not None and row.expires_at <= now:
            raise InvalidArgument("the points' expiry date has passed", code="expiry-passed")
        tier = None
        if row.tier:
            names = {t.name: t for t in self._policy.ladder.tiers}
            if row.tier not in names:
                raise InvalidArgument(
                    f"tier must be one of {', '.join(names)}", code="unknown-tier"
                )
            tier = names[row.tier]
        return _Checked(index, parse_id(row.member_id, "member"), row.points, row.expires_at, tier)

    def _post(self, rows: list[_Checked], now: datetime, dry_run: bool) -> dict[int, str]:
        outcomes: dict[int, str] = {}
        with self._db.write() as session:
            ids = [row.member_id for row in rows]
            opened = repository.members_with_opening_balance(session, ids)
            todo = []
            for row in rows:
                # A member named twice in a batch is opened by its first row.
                outcomes[row.index] = EXISTING if row.member_id in opened else POSTED
                if row.member_id not in opened:
                    opened.add(row.member_id)
                    todo.append(row)
            if dry_run or not todo:
                return outcomes
            repository.learn_members(
                session, {row.member_id: MemberState(MEMBER) for row in todo}, now, final=False
            )
            book = Book(session, self._policy, now)
            owners = book.lock(*(row.member_id for row in todo))
            # One posting for the batch, an entry and a lot per member: a posting per member
            # would cost an import of millions as many round trips.
            book.earn_many(
                [
                    (owner, row.points, row.expires_at)
                    for row, owner in zip(todo, owners, strict=True)
                ],
                kind="opening",
                reason=REASON,
                source_type="import",
                # The batch, by when it was posted: no member sees another's id in their history.
                source_id=f"import:{now.isoformat()}",
                source="import",
                from_account=OPENING,
            )
            book.grant_tiers(
                [
                    (owner, row.tier)
                    for row, owner in zip(todo, owners, strict=True)
                    if row.tier is not None
                ]
            )
            repository.add_opening_balances(
                session,
                [
                    {
                        "member_id": row.member_id,
                        "points": row.points,
                        "tier": row.tier.name if row.tier else "",
                        "expires_at": row.expires_at,
                        "created_at": now,
                    }
                    for row in todo
                ],
            )
        return outcomes
