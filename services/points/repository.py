"""SQL for the points service: every query it runs, on a session the caller owns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.points.models import (
    Adjustment,
    Balance,
    Entry,
    Hold,
    HoldAllocation,
    Lot,
    MemberTier,
    Posting,
    Purchase,
    Refund,
    SpendDay,
)


def _insert_for(session: Session):  # type: ignore[no-untyped-def]
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def lock_balances(session: Session, member_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Balance]:
    """The members' balance rows, created if new and locked until the transaction ends.

    Locks are always taken in member id order, so two transactions never wait on each other
    in a circle. (SQLite needs no row locks: a write transaction holds the whole database.)
    """
    ordered = sorted(set(member_ids))
    query = (
        select(Balance)
        .where(Balance.member_id.in_(ordered))
        .order_by(Balance.member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    rows = {row.member_id: row for row in session.scalars(query)}
    if len(rows) == len(ordered):
        return rows  # known members: one statement
    # New members: create their rows (racing creators agree on them), then lock all in order.
    statement = _insert_for(session)(Balance).values(
        [{"member_id": m, "available": 0, "pending": 0, "held": 0, "debt": 0} for m in ordered]
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=[Balance.member_id]))
    return {row.member_id: row for row in session.scalars(query)}


def lock_existing_balances(session: Session, member_ids: Sequence[uuid.UUID]) -> None:
    """Locks balance rows known to exist, without loading them: for bulk changes."""
    session.execute(
        select(Balance.member_id)
        .where(Balance.member_id.in_(sorted(set(member_ids))))
        .order_by(Balance.member_id)
        .with_for_update()
    )


def add_to_balances(session: Session, deltas: dict[uuid.UUID, dict[str, int]]) -> None:
    """Adds each member's bucket deltas in one statement run for all members."""
    table = Balance.__table__
    session.connection().execute(
        update(table)
        .where(table.c.member_id == bindparam("m"))
        .values(
            available=table.c.available + bindparam("add_available"),
            pending=table.c.pending + bindparam("add_pending"),
        ),
        [
            {"m": m, "add_available": d.get("available", 0), "add_pending": d.get("pending", 0)}
            for m, d in deltas.items()
        ],
    )


def balance(session: Session, member_id: uuid.UUID) -> Balance | None:
    return session.get(Balance, member_id)


def purchase_by_transaction(
    session: Session, store_id: uuid.UUID, transaction_id: str
) -> Purchase | None:
    return session.scalar(
        select(Purchase).where(
            Purchase.store_id == store_id, Purchase.transaction_id == transaction_id
        )
    )


def hold_by_redemption(session: Session, store_id: uuid.UUID, redemption_id: str) -> Hold | None:
    return session.scalar(
        select(Hold)
        .where(Hold.store_id == store_id, Hold.redemption_id == redemption_id)
        .execution_options(populate_existing=True)
    )


def adjustment_by_id(session: Session, operation_id: str) -> Adjustment | None:
    return session.scalar(select(Adjustment).where(Adjustment.operation_id == operation_id))


def purchases_owing_bonus(session: Session, limit: int) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """(purchase, member, what to ask campaigns) for purchases still owed their bonus."""
    rows = session.execute(
        select(Purchase.id, Purchase.member_id, Purchase.owed_request)
        .where(Purchase.campaigns_evaluated.is_(False))
        .order_by(Purchase.created_at)
        .limit(limit)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows]


def balance_totals(session: Session) -> tuple[int, int, int, int]:
    row = session.execute(
        select(
            func.coalesce(func.sum(Balance.available), 0),
            func.coalesce(func.sum(Balance.pending), 0),
            func.coalesce(func.sum(Balance.held), 0),
            func.coalesce(func.sum(Balance.debt), 0),
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def program_movements(
    session: Session, start: datetime, end: datetime
) -> list[tuple[date, str, int, int]]:
    """(UTC day, program account, points out, points in) for postings in [start, end)."""
    if session.get_bind().dialect.name == "postgresql":
        day = func.date(func.timezone("UTC", Posting.created_at))
    else:
        day = func.date(Posting.created_at)
    rows = session.execute(
        select(
            day,
            Entry.account,
            func.sum(case((Entry.amount < 0, -Entry.amount), else_=0)),
            func.sum(case((Entry.amount > 0, Entry.amount), else_=0)),
        )
        .join(Posting, Posting.id == Entry.posting_id)
        .where(
            Entry.account.like("program:%"),
            Posting.created_at >= start,
            Posting.created_at < end,
        )
        .group_by(day, Entry.account)
    ).all()
    return [
        (
            row[0] if isinstance(row[0], date) else date.fromisoformat(row[0]),
            row[1],
            int(row[2]),
            int(row[3]),
        )
        for row in rows
    ]


def member_tier(session: Session, member_id: uuid.UUID) -> MemberTier | None:
    return session.get(MemberTier, member_id)


def add_spend(session: Session, member_id: uuid.UUID, day: date, amount_minor: int) -> None:
    """Adds to (or, refunded, takes from) the member's qualifying spend of that day."""
    statement = _insert_for(session)(SpendDay).values(
        member_id=member_id, day=day, amount_minor=amount_minor
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[SpendDay.member_id, SpendDay.day],
            set_={"amount_minor": SpendDay.amount_minor + statement.excluded.amount_minor},
        )
    )


def move_spend(session: Session, source: uuid.UUID, target: uuid.UUID) -> None:
    for day, amount in session.execute(
        select(SpendDay.day, SpendDay.amount_minor).where(SpendDay.member_id == source)
    ).all():
        add_spend(session, target, day, amount)
    session.execute(delete(SpendDay).where(SpendDay.member_id == source))


def qualifying_spend(session: Session, member_id: uuid.UUID, since: datetime) -> int:
    """What the member paid on the days after `since`, less what was refunded of it: a sum of
    at most a window's days, however many purchases there were."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(SpendDay.amount_minor), 0)).where(
                SpendDay.member_id == member_id, SpendDay.day > since.date()
            )
        )
    )


def tiers_due_for_review(session: Session, now: datetime, limit: int) -> list[uuid.UUID]:
    query = select(MemberTier.member_id).where(MemberTier.review_at <= now).limit(limit)
    return list(session.scalars(query))


def refund_by_id(session: Session, store_id: uuid.UUID, refund_id: str) -> Refund | None:
    return session.scalar(
        select(Refund).where(Refund.store_id == store_id, Refund.refund_id == refund_id)
    )


def spendable_lots(session: Session, member_id: uuid.UUID, now: datetime) -> list[Lot]:
    """The member's available lots with points left, soonest-expiring first."""
    return list(
        session.scalars(
            select(Lot)
            .where(
                Lot.member_id == member_id,
                Lot.status == "available",
                Lot.remaining > 0,
                or_(Lot.expires_at.is_(None), Lot.expires_at > now),
            )
            .order_by(Lot.expires_at.asc().nulls_last(), Lot.id)
        )
    )


def allocations_of(session: Session, hold_id: uuid.UUID) -> list[tuple[HoldAllocation, Lot]]:
    rows = session.execute(
        select(HoldAllocation, Lot)
        .join(Lot, Lot.id == HoldAllocation.lot_id)
        .where(HoldAllocation.hold_id == hold_id)
    ).all()
    return [(allocation, lot) for allocation, lot in rows]


def add_entries(session: Session, posting: Posting, entries: list[dict]) -> None:
    # Core, not ORM, bulk insert: the ORM leaves out NULL columns and splits the statement.
    session.execute(
        insert(Entry.__table__), [{"posting_id": posting.id, **entry} for entry in entries]
    )


def member_entries(
    session: Session, member_id: uuid.UUID, limit: int, before_id: int | None
) -> list[tuple[Entry, Posting]]:
    """The member's entries, newest first, from just below `before_id`."""
    query = (
        select(Entry, Posting)
        .join(Posting, Entry.posting_id == Posting.id)
        .where(Entry.member_id == member_id)
        .order_by(Entry.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(Entry.id < before_id)
    return [(entry, posting) for entry, posting in session.execute(query).all()]


def expiring(session: Session, member_id: uuid.UUID, now: datetime, limit: int) -> list:
    """Points left per expiry date, soonest first."""
    return list(
        session.execute(
            select(Lot.expires_at, func.sum(Lot.remaining))
            .where(
                Lot.member_id == member_id,
                Lot.remaining > 0,
                Lot.expires_at.is_not(None),
                Lot.expires_at > now,
            )
            .group_by(Lot.expires_at)
            .order_by(Lot.expires_at)
            .limit(limit)
        ).all()
    )


# Set-based maintenance: the jobs move many lots in a few statements per batch of members.


def due_lots_condition(kind: str, now: datetime):  # type: ignore[no-untyped-def]
    if kind == "activate":
        return and_(Lot.status == "pending", Lot.available_at <= now)
    return and_(Lot.remaining > 0, Lot.expires_at.is_not(None), Lot.expires_at <= now)


def members_with_due_lots(
    session: Session, kind: str, now: datetime, limit: int
) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(Lot.member_id).where(due_lots_condition(kind, now)).distinct().limit(limit)
        )
    )


def has_due_lots(session: Session, member_id: uuid.UUID, now: datetime) -> bool:
    due = or_(due_lots_condition("activate", now), due_lots_condition("expire", now))
    query = select(Lot.id).where(Lot.member_id == member_id, due).limit(1)
    return session.scalar(query) is not None


def due_totals(
    session: Session, kind: str, now: datetime, member_ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, str, int]]:
    """(member, lot status, points) summed over the due lots of these members."""
    return [
        (row[0], row[1], int(row[2]))
        for row in session.execute(
            select(Lot.member_id, Lot.status, func.sum(Lot.remaining))
            .where(due_lots_condition(kind, now), Lot.member_id.in_(member_ids))
            .group_by(Lot.member_id, Lot.status)
        ).all()
    ]


def settle_due_lots(
    session: Session, kind: str, now: datetime, member_ids: list[uuid.UUID]
) -> None:
    values = {"status": "available"} if kind == "activate" else {"remaining": 0}
    session.execute(
        update(Lot)
        .where(due_lots_condition(kind, now), Lot.member_id.in_(member_ids))
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def due_holds(session: Session, now: datetime, limit: int) -> list[tuple[str, uuid.UUID]]:
    return [
        (row[0], row[1])
        for row in session.execute(
            select(Hold.redemption_id, Hold.store_id)
            .where(Hold.status == "held", Hold.expires_at <= now)
            .limit(limit)
        ).all()
    ]
