"""SQL for the points service: every query it runs, on a session the caller owns."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.points.models import Balance, Entry, Posting, Purchase


def purchase_by_transaction(
    session: Session, store_id: uuid.UUID, transaction_id: str
) -> Purchase | None:
    return session.scalar(
        select(Purchase).where(
            Purchase.store_id == store_id, Purchase.transaction_id == transaction_id
        )
    )


def add_to_balance(
    session: Session, member_id: uuid.UUID, available: int = 0, pending: int = 0
) -> tuple[int, int]:
    """Adds to the member's balances in one atomic upsert; returns them as they now stand."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Balance).values(member_id=member_id, available=available, pending=pending)
    statement = statement.on_conflict_do_update(
        index_elements=[Balance.member_id],
        set_={
            "available": Balance.available + statement.excluded.available,
            "pending": Balance.pending + statement.excluded.pending,
        },
    ).returning(Balance.available, Balance.pending)
    row = session.execute(statement).one()
    return row.available, row.pending


def balance(session: Session, member_id: uuid.UUID) -> tuple[int, int]:
    row = session.get(Balance, member_id)
    return (row.available, row.pending) if row else (0, 0)


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
