"""A member's history as the member understands it, read from the ledger.

The ledger keeps every movement between buckets; a member thinks in purchases, redemptions and
refunds. A page is one line per posting that changed what the member may spend (or will, once
pending points activate): a redemption is its hold alone (its capture only moves held points
on), a redemption voided or expired shows nothing, and an activation nothing. Purchases carry
their store, amount and the time they happened at the till, so an offline upload shows the day
of the sale rather than the day it arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.points import repository
from services.points.balances import whose_history
from services.runtime import cursors
from services.runtime.db import Database
from services.runtime.ids import parse_id
from services.runtime.points_limits import LEDGER_PAGE_DEFAULT, LEDGER_PAGE_MAX

# What each kind of posting is to a member; kinds not named here keep their own name.
_KINDS = {"hold": "redemption", "refund": "refund", "expire": "expiry", "adjust": "adjustment"}
_UNDONE = ("voided", "expired")


@dataclass(frozen=True)
class ActivityLine:
    kind: str
    points: int
    happened_at: datetime
    store_id: str = ""
    # Money of a purchase or refund, in minor units; None for the other kinds.
    amount_minor: int | None = None
    reference: str = ""


class Activity:
    def __init__(self, database: Database) -> None:
        self._db = database

    def page(self, member_id: str, limit: int, cursor: str) -> tuple[list[ActivityLine], str]:
        """A page of the member's (or their merge survivor's) history, newest first, and the
        cursor of the next page ("" at the end)."""
        parsed = parse_id(member_id, "member")
        limit = min(max(limit or LEDGER_PAGE_DEFAULT, 1), LEDGER_PAGE_MAX)
        before = cursors.decode(cursor, 1)[0] if cursor else None
        with self._db.read() as session:
            owner = whose_history(session, parsed)
            rows = repository.member_postings(session, owner, limit + 1, before)
            page = rows[:limit]
            ids = {kind: [p.source_id for p, _ in page if p.kind == kind] for kind in _SOURCES}
            purchases = {
                found.transaction_id: found
                for found in repository.purchases_of(session, owner, ids["earn"])
            }
            holds = {
                found.redemption_id: found
                for found in repository.holds_of(session, owner, ids["hold"] + ids["release"])
            }
            refunds = {
                refund.refund_id: (refund, purchase)
                for refund, purchase in repository.refunds_of(session, owner, ids["refund"])
            }
        lines = []
        for posting, points in page:
            hold = holds.get(posting.source_id)
            if hold is not None and (
                posting.kind == "release" or (posting.kind == "hold" and hold.status in _UNDONE)
            ):
                continue  # the redemption gave its points back: nothing happened
            if points == 0:
                continue
            line = ActivityLine(
                kind=_KINDS.get(posting.kind, posting.kind),
                points=points,
                happened_at=posting.created_at,
            )
            if posting.kind == "earn":
                purchase = purchases.get(posting.source_id)
                kind = "purchase" if posting.source_type == "pos" else "bonus"
                line = ActivityLine(
                    kind=kind,
                    points=points,
                    happened_at=purchase.occurred_at if purchase else posting.created_at,
                    store_id=str(purchase.store_id) if purchase else "",
                    amount_minor=purchase.amount_minor if purchase and kind == "purchase" else None,
                    reference=posting.source_id,
                )
            elif posting.kind == "hold" and hold is not None:
                line = ActivityLine(
                    kind="redemption",
                    points=points,
                    happened_at=posting.created_at,
                    store_id=str(hold.store_id),
                    reference=hold.redemption_id,
                )
            elif posting.kind == "refund" and posting.source_id in refunds:
                refund, purchase = refunds[posting.source_id]
                line = ActivityLine(
                    kind="refund",
                    points=points,
                    happened_at=posting.created_at,
                    store_id=str(refund.store_id),
                    amount_minor=refund.amount_minor,
                    reference=purchase.transaction_id,
                )
            lines.append(line)
        next_cursor = cursors.encode(page[-1][0].id) if len(rows) > limit else ""
        return lines, next_cursor


# The postings whose source names a purchase, hold or refund of the member.
_SOURCES = ("earn", "hold", "release", "refund")
