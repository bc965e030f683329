"""Integration events, written to an outbox table in the same transaction as the change they
describe, and read back in order by consumers that keep their own cursor.

On PostgreSQL, sequence numbers become visible out of order (a transaction that took number 9
may commit after the one that took 10), so a reader paging by sequence alone could skip an
event for good. Each event therefore records its transaction id; readers see only events of
transactions older than every transaction still running (`pg_snapshot_xmin`: on the whole
server, so a long transaction in any of its databases holds the feed back until it ends),
ordered by (transaction id, sequence). An event that commits later always sorts after what was
already read. On SQLite, writers take turns, so commit order is sequence order.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Text,
    Uuid,
    and_,
    event,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from services.runtime import bulk, cursors, logs
from services.runtime.db import UtcDateTime

BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxColumns:
    """Mixed into a service's `OutboxEvent` model, on its own declarative base."""

    __tablename__ = "outbox"

    sequence: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    txid: Mapped[int] = mapped_column(BigInteger, index=True)
    type: Mapped[str] = mapped_column(String(60))
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    payload: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True)
class Event:
    sequence: int
    type: str
    member_id: str
    payload: dict[str, Any]
    occurred_at: datetime


# The PostgreSQL transaction id, taken by the INSERT itself (no round trip of its own).
_TXID = text("pg_current_xact_id()::text::bigint")
# Where a session keeps the events added in its transaction until it commits.
_PENDING = "outbox_pending"


def append(
    session: Session,
    model: type,
    events: list[tuple[str, uuid.UUID | None, dict]],
    occurred_at: datetime,
) -> None:
    """Adds (type, member, payload) events to the outbox, in this transaction.

    They are written just before it commits, all of them in one statement, in the order they
    were added (a purchase's points change and the purchase itself cost one round trip)."""
    if not events:
        return
    pending = session.info.setdefault(_PENDING, {})
    pending.setdefault(model, []).extend(
        {
            "type": kind,
            "member_id": member_id,
            "payload": json.dumps(payload, separators=(",", ":"), default=str),
            "occurred_at": occurred_at,
        }
        for kind, member_id, payload in events
    )


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    on_postgres = session.get_bind().dialect.name == "postgresql"
    for model, rows in pending.items():
        bulk.insert_rows(
            session, model.__table__, rows, fixed={"txid": _TXID if on_postgres else 0}
        )


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def read(session: Session, model: type, cursor: str, limit: int) -> tuple[list[Event], str]:
    """Events after `cursor` (empty: from the start), oldest first, and the next cursor."""
    after_txid, after_sequence = cursors.decode(cursor, 2) if cursor else (-1, 0)
    table = model.__table__
    query = (
        select(table)
        .where(
            # Implied by the next condition, but only this one bounds the index scan: without
            # it every page reads the outbox from its first event.
            table.c.txid >= after_txid,
            or_(
                table.c.txid > after_txid,
                and_(table.c.txid == after_txid, table.c.sequence > after_sequence),
            ),
        )
        .order_by(table.c.txid, table.c.sequence)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        xmin = func.pg_snapshot_xmin(func.pg_current_snapshot())
        query = query.where(table.c.txid < func.cast(func.cast(xmin, Text), BigInteger))
    rows = session.execute(query).all()
    events = [
        Event(
            sequence=row.sequence,
            type=row.type,
            member_id=str(row.member_id or ""),
            payload=json.loads(row.payload),
            occurred_at=row.occurred_at,
        )
        for row in rows
    ]
    if not rows:
        # What every idle consumer reads a few times a second: not worth a line at INFO.
        logs.routine()
    next_cursor = cursors.encode(rows[-1].txid, rows[-1].sequence) if rows else cursor
    return events, next_cursor


def head(session: Session, model: type) -> int | None:
    """The sequence of the last event in the order consumers read them (None before the
    first): a consumer whose last event is this one has read everything. Not the largest
    sequence: a transaction may take its number after a younger one has committed, and be read
    before it."""
    table = model.__table__
    newest = select(table.c.sequence).order_by(table.c.txid.desc(), table.c.sequence.desc())
    return session.scalar(newest.limit(1))
