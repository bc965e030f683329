"""SQL for the points service: every query it runs, on a session the caller owns."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Row,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from services.points.models import (
    Adjustment,
    Balance,
    ClosedDay,
    Coupon,
    CouponAllocation,
    Entry,
    Hold,
    HoldAllocation,
    KnownMember,
    Lot,
    MemberTier,
    OpeningBalance,
    PartnerCode,
    Posting,
    Purchase,
    Referral,
    ReferralMonth,
    ReferralProgramRow,
    Refund,
    Reward,
    SpendDay,
)
from services.runtime import bulk
from services.runtime.db import utcnow

# The statements a purchase runs, built once on the tables with bound parameters: building
# and keying a statement on every call costs more CPU than PostgreSQL spends running it.
_balances = Balance.__table__
_entries = Entry.__table__
_lots = Lot.__table__
_postings = Posting.__table__
_purchases = Purchase.__table__
_spend_days = SpendDay.__table__
_tiers = MemberTier.__table__
_members = KnownMember.__table__
_referrals = Referral.__table__
# A member's balance is split in these buckets (see book.py).
BUCKETS = ("available", "pending", "held", "debt")


def due_lots_condition(kind: str, now: datetime | BindParameter):  # type: ignore[no-untyped-def]
    lots = _lots.c
    if kind == "activate":
        return and_(lots.status == "pending", lots.available_at <= now)
    return and_(lots.remaining > 0, lots.expires_at.is_not(None), lots.expires_at <= now)


def _per_dialect(build: Callable[[Any], Any]) -> dict[str, Any]:
    """One statement per dialect, from `build(insert)` with that dialect's insert."""
    return {"postgresql": build(postgresql.insert), "sqlite": build(sqlite.insert)}


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


@dataclass
class BalanceRow:
    """A member's balance row as locked by a transaction, kept in step with its writes."""

    member_id: uuid.UUID
    available: int
    pending: int
    held: int
    debt: int
    # The survivor of a merged duplicate (see book.Book.lock).
    merged_into: uuid.UUID | None = None
    # A referral waits for this member's first qualifying purchase (as the lock found it).
    referral_waiting: bool = False


_NOW = bindparam("now")


def _due_lot(kind: str):  # type: ignore[no-untyped-def]
    """Whether the balance row's member has a lot of `kind` due (a range scan on an index)."""
    mine = _lots.c.member_id == _balances.c.member_id
    return select(_lots.c.id).where(mine, due_lots_condition(kind, _NOW)).exists()


_LOCK_BALANCES = (
    select(
        _balances.c.member_id,
        *(_balances.c[bucket] for bucket in BUCKETS),
        _balances.c.merged_into,
        # Two tests, not one test of either condition: an OR of them is no index's range,
        # and a member's every lot would be read.
        or_(_due_lot("activate"), _due_lot("expire")),
        select(_referrals.c.friend_id)
        .where(_referrals.c.friend_id == _balances.c.member_id, _referrals.c.status == "waiting")
        .exists(),
    )
    .where(_balances.c.member_id.in_(bindparam("members", expanding=True)))
    .order_by(_balances.c.member_id)
    .with_for_update(of=_balances)
)


def lock_balances(
    session: Session, member_ids: Sequence[uuid.UUID], now: datetime
) -> tuple[dict[uuid.UUID, BalanceRow], set[uuid.UUID]]:
    """The members' balance rows, created if new and locked until the transaction ends (each
    saying whether a referral waits for the member), and which of them have lots due to become
    available or to expire by `now`.

    Locks are always taken in member id order, so two transactions never wait on each other
    in a circle. (SQLite needs no row locks: a write transaction holds the whole database.)
    """
    ordered = sorted(set(member_ids))
    params = {"members": ordered, "now": now}
    rows = session.execute(_LOCK_BALANCES, params).all()
    if len(rows) < len(ordered):
        # New members: create their rows (racing creators agree on them), then lock all.
        zero = dict.fromkeys(BUCKETS, 0)
        new = [{"member_id": m, **zero} for m in ordered]
        bulk.insert_rows(session, _balances, new, skip_conflicts_on=("member_id",))
        rows = session.execute(_LOCK_BALANCES, params).all()
    return (
        {row[0]: BalanceRow(*row[:6], referral_waiting=row[7]) for row in rows},
        {row[0] for row in rows if row[6]},
    )


_ADD_TO_BALANCES = (
    update(_balances)
    .where(_balances.c.member_id == bindparam("m"))
    .values({bucket: _balances.c[bucket] + bindparam(f"add_{bucket}") for bucket in BUCKETS})
)


def _add_to_balances(session: Session, deltas: dict[uuid.UUID, dict[str, int]]) -> None:
    """Moves each member's buckets by their deltas (bucket -> points): SQLite's part of
    `add_posting`."""
    session.execute(
        _ADD_TO_BALANCES,
        [
            {"m": m, **{f"add_{bucket}": delta.get(bucket, 0) for bucket in BUCKETS}}
            for m, delta in deltas.items()
        ],
    )


_SAME_PURCHASE = and_(
    _purchases.c.store_id == bindparam("store_id"),
    _purchases.c.transaction_id == bindparam("transaction_id"),
)
_KNOWN = _members.c.member_id == bindparam("member_id")
_REPLAY_AND_TIER = select(
    select(_purchases.c.request_hash).where(_SAME_PURCHASE).scalar_subquery().label("request_hash"),
    select(_purchases.c.result).where(_SAME_PURCHASE).scalar_subquery().label("result"),
    select(_tiers.c.tier).where(_tiers.c.member_id == bindparam("member_id")).scalar_subquery(),
    select(_members.c.status).where(_KNOWN).scalar_subquery(),
    select(_members.c.survivor_id).where(_KNOWN).scalar_subquery(),
)


def replay_and_tier(
    connection: Connection, store_id: uuid.UUID, transaction_id: str, member_id: uuid.UUID
) -> tuple[Row | None, str | None, MemberState | None]:
    """In one statement: the purchase already recorded under this transaction id (its
    request_hash and result), if any, the member's tier name, if they have one, and what
    points knows of the member (None: nothing yet)."""
    params = {"store_id": store_id, "transaction_id": transaction_id, "member_id": member_id}
    row = connection.execute(_REPLAY_AND_TIER, params).one()
    known = MemberState(row[3], row[4]) if row[3] is not None else None
    return (row if row.request_hash is not None else None), row[2], known


@dataclass(frozen=True)
class MemberState:
    """What points knows of a member: `member`, `erased`, or `merged` into `survivor_id`."""

    status: str
    survivor_id: uuid.UUID | None = None


_MEMBER_STATE = select(_members.c.status, _members.c.survivor_id).where(_KNOWN)


def member_state(session: Session, member_id: uuid.UUID) -> MemberState | None:
    row = session.execute(_MEMBER_STATE, {"member_id": member_id}).one_or_none()
    return MemberState(row[0], row[1]) if row is not None else None


def _settle_members(insert: Callable[[Any], Any]) -> Any:
    statement = insert(_members)
    return statement.on_conflict_do_update(
        index_elements=["member_id"],
        set_={
            "status": statement.excluded.status,
            "survivor_id": statement.excluded.survivor_id,
            "learned_at": statement.excluded.learned_at,
        },
    )


_SETTLE_MEMBERS = _per_dialect(_settle_members)


def learn_members(
    session: Session, states: dict[uuid.UUID, MemberState], at: datetime, final: bool
) -> None:
    """Records what is known of these members. Only a `final` state (merged, erased) replaces
    one recorded before: a member's state never goes back."""
    if not states:
        return
    rows = [
        {"member_id": m, "status": s.status, "survivor_id": s.survivor_id, "learned_at": at}
        for m, s in states.items()
    ]
    if final:
        session.execute(_SETTLE_MEMBERS[_dialect(session)], rows)
    else:
        bulk.insert_rows(session, _members, rows, skip_conflicts_on=("member_id",))


_ADD_POSTING_ALONE = insert(_postings).returning(_postings.c.id)
_ADD_LOT = insert(_lots).returning(_lots.c.id)
_ADD_PURCHASE = insert(_purchases)
_ENTRY_COLUMNS = ("account", "member_id", "bucket", "amount")


def _posting_in_one_statement(with_lot: bool) -> Any:
    """PostgreSQL: the posting, its entries, its balance moves and the lot it credits, if any,
    as one statement answering the posting's id (and the lot's). Each list of values is one
    array; the values of each part are named apart (`member_id` is in several)."""

    def arrays(prefix: str, table: Any, names: tuple[str, ...], alias: str) -> Any:
        columns = []
        for name in names:
            of = postgresql.ARRAY(table.c[name].type)
            columns.append(cast(bindparam(f"{prefix}_{name}", type_=of), of))
        return func.unnest(*columns).table_valued(*names, name=alias).render_derived()

    posting = (
        postgresql.insert(_postings)
        .values({name: bindparam(name) for name in _POSTING_COLUMNS})
        .returning(_postings.c.id)
        .cte("posting")
    )
    given = arrays("entry", _entries, _ENTRY_COLUMNS, "given")
    entries = postgresql.insert(_entries).from_select(
        ["posting_id", *_ENTRY_COLUMNS],
        select(posting.c.id, *(given.c[name] for name in _ENTRY_COLUMNS)).select_from(
            posting.join(given, true())
        ),
    )
    moves = arrays("move", _balances, ("member_id", *BUCKETS), "move")
    moved = (
        update(_balances)
        .where(_balances.c.member_id == moves.c.member_id)
        .values({bucket: _balances.c[bucket] + moves.c[bucket] for bucket in BUCKETS})
    )
    parts = (entries.cte("entries"), moved.cte("moved"))
    if not with_lot:
        return select(posting.c.id, null()).add_cte(*parts)
    lot = (
        postgresql.insert(_lots)
        .values({name: bindparam(f"lot_{name}") for name in _LOT_COLUMNS})
        .returning(_lots.c.id)
        .cte("lot")
    )
    return select(posting.c.id, lot.c.id).select_from(posting.join(lot, true())).add_cte(*parts)


_POSTING_COLUMNS = ("kind", "reason", "source_type", "source_id", "created_at")
_LOT_COLUMNS = (
    "member_id",
    "status",
    "points",
    "remaining",
    "available_at",
    "expires_at",
    "source",
    "created_at",
)
_ADD_POSTING = {with_lot: _posting_in_one_statement(with_lot) for with_lot in (False, True)}


def add_posting(
    session: Session,
    values: dict[str, object],
    entries: list[dict],
    deltas: dict[uuid.UUID, dict[str, int]],
    lot: dict[str, object] | None = None,
) -> tuple[int, int | None]:
    """Writes a posting (`values`: kind, reason, source_type, source_id, created_at) with its
    entries, moves each member's buckets by their deltas (bucket -> points) and adds the `lot`
    it credits, if any (its columns but the id). Returns the posting's id and the lot's.
    One statement on PostgreSQL; one per part on SQLite."""
    if _dialect(session) != "postgresql":
        posting_id = session.execute(_ADD_POSTING_ALONE, values).scalar_one()
        bulk.insert_rows(session, _entries, entries, fixed={"posting_id": posting_id})
        if deltas:
            _add_to_balances(session, deltas)
        lot_id = session.execute(_ADD_LOT, lot).scalar_one() if lot is not None else None
        return posting_id, lot_id
    params: dict[str, object] = dict(values)
    for name in _ENTRY_COLUMNS:
        params[f"entry_{name}"] = [entry[name] for entry in entries]
    params["move_member_id"] = list(deltas)
    for bucket in BUCKETS:
        params[f"move_{bucket}"] = [delta.get(bucket, 0) for delta in deltas.values()]
    if lot is not None:
        params.update({f"lot_{name}": value for name, value in lot.items()})
    posting_id, lot_id = session.execute(_ADD_POSTING[lot is not None], params).one()
    return posting_id, lot_id


def add_lot(session: Session, **values: object) -> int:
    return session.execute(_ADD_LOT, values).scalar_one()


def add_lots(session: Session, lots: list[dict]) -> None:
    """Many new lots in one statement (their ids are not needed)."""
    bulk.insert_rows(session, _lots, lots)


def _spend_upsert(insert: Callable[[Any], Any]) -> Any:
    statement = insert(_spend_days)
    return statement.on_conflict_do_update(
        index_elements=["member_id", "day"],
        set_={"amount_minor": _spend_days.c.amount_minor + statement.excluded.amount_minor},
    )


_ADD_SPEND = _per_dialect(_spend_upsert)


def add_spend(session: Session, member_id: uuid.UUID, day: date, amount_minor: int) -> None:
    """Adds to (or, refunded, takes from) the member's qualifying spend of that day."""
    values = {"member_id": member_id, "day": day, "amount_minor": amount_minor}
    session.execute(_ADD_SPEND[_dialect(session)], values)


# What the member paid on the days after `since`, less what was refunded of it: a sum of at most
# a window's days, however many purchases there were.
_SPEND_SINCE = select(func.coalesce(func.sum(_spend_days.c.amount_minor), 0)).where(
    _spend_days.c.member_id == bindparam("member_id"), _spend_days.c.day > bindparam("since")
)


_SPEND_BETWEEN = _SPEND_SINCE.where(_spend_days.c.day <= bindparam("until"))


def spend_between(session: Session, member_id: uuid.UUID, since: datetime, until: datetime) -> int:
    """Qualifying spend on the days after `since` up to the day of `until`, that one included."""
    params = {"member_id": member_id, "since": since.date(), "until": until.date()}
    return int(session.execute(_SPEND_BETWEEN, params).scalar_one())


_MY_TIER = _tiers.c.member_id == bindparam("member_id")
_TIER_COLUMNS = ("tier", "since", "review_at", "floor_tier", "floor_review_at")
_TIER_AND_SPEND = select(
    *(
        select(_tiers.c[name]).where(_MY_TIER).scalar_subquery().label(name)
        for name in _TIER_COLUMNS
    ),
    _SPEND_SINCE.scalar_subquery().label("spend"),
)


def tier_and_spend(session: Session, member_id: uuid.UUID, since: datetime) -> Row:
    """In one statement: the member's tier row (`tier`, `since`, `review_at`, `floor_tier`,
    `floor_review_at`; all None without one) and their qualifying `spend` since `since`."""
    params = {"member_id": member_id, "since": since.date()}
    return session.execute(_TIER_AND_SPEND, params).one()


def _purchase_in_one_statement() -> Any:
    """PostgreSQL: the purchase's record and its spend written, and the member's tier row and
    spend read as `_TIER_AND_SPEND` would read them afterwards, in one statement. (What a
    statement writes, its own reads do not see: the purchase's day is summed from the spend
    the upsert answers, the other days from the table.)"""
    spent = (
        _spend_upsert(postgresql.insert)
        .values(
            member_id=bindparam("member_id"),
            day=bindparam("spend_day"),
            amount_minor=bindparam("spend_amount"),
        )
        .returning(_spend_days.c.day, _spend_days.c.amount_minor)
        .cte("spent")
    )
    recorded = (
        postgresql.insert(_purchases)
        .values({column.name: bindparam(f"purchase_{column.name}") for column in _purchases.c})
        .cte("recorded")
    )
    other_days = _SPEND_SINCE.where(_spend_days.c.day != bindparam("spend_day"))
    this_day = select(func.coalesce(func.sum(spent.c.amount_minor), 0)).where(
        spent.c.day > bindparam("since")
    )
    return select(
        *(
            select(_tiers.c[name]).where(_MY_TIER).scalar_subquery().label(name)
            for name in _TIER_COLUMNS
        ),
        (other_days.scalar_subquery() + this_day.scalar_subquery()).label("spend"),
    ).add_cte(recorded)


_ADD_PURCHASE_AND_SPEND = _purchase_in_one_statement()


def add_purchase(session: Session, since: datetime, **values: Any) -> Row:
    """The purchase's record (`values`: its columns), its amount added to the member's
    qualifying spend of the day it occurred, and then, as `tier_and_spend` reads them, the
    member's tier row and spend since `since`. One statement on PostgreSQL. Raises
    IntegrityError if the purchase's transaction id was recorded."""
    member_id, day = values["member_id"], values["occurred_at"].date()
    if _dialect(session) != "postgresql":
        add_spend(session, member_id, day, values["amount_minor"])
        session.execute(_ADD_PURCHASE, values)
        return tier_and_spend(session, member_id, since)
    params = {f"purchase_{name}": value for name, value in values.items()}
    params.update(
        member_id=member_id,
        since=since.date(),
        spend_day=day,
        spend_amount=values["amount_minor"],
    )
    return session.execute(_ADD_PURCHASE_AND_SPEND, params).one()


_MINE = _balances.c.member_id == bindparam("member_id")
_EXPIRING = (
    select(_lots.c.expires_at, func.sum(_lots.c.remaining).label("points"))
    .where(
        _lots.c.member_id == bindparam("member_id"),
        _lots.c.remaining > 0,
        _lots.c.expires_at.is_not(None),
        _lots.c.expires_at > bindparam("now"),
    )
    .group_by(_lots.c.expires_at)
    .order_by(_lots.c.expires_at)
    .limit(bindparam("limit"))
    .subquery("expiring")
)
_STANDING = select(
    *(
        select(_balances.c[bucket]).where(_MINE).scalar_subquery().label(bucket)
        for bucket in BUCKETS
    ),
    select(_tiers.c.tier).where(_MY_TIER).scalar_subquery().label("tier"),
    select(_tiers.c.review_at).where(_MY_TIER).scalar_subquery().label("review_at"),
    _SPEND_SINCE.scalar_subquery().label("spend"),
    select(_balances.c.merged_into).where(_MINE).scalar_subquery().label("merged_into"),
    select(_members.c.status).where(_KNOWN).scalar_subquery().label("known"),
).subquery("standing")
# The standing's one row beside each of the next expiry dates (or beside nothing).
_STANDING_AND_EXPIRING = (
    select(_STANDING, _EXPIRING.c.expires_at, _EXPIRING.c.points)
    .select_from(_STANDING.outerjoin(_EXPIRING, true()))
    .order_by(_EXPIRING.c.expires_at)
)


def standing(
    connection: Connection, member_id: uuid.UUID, now: datetime, since: datetime, limit: int
) -> tuple[Row, list[tuple[datetime, int]]]:
    """In one statement: the member's balances (None without a balance row), tier and its
    review date (None without a tier row), qualifying spend since `since`, survivor
    (`merged_into`) and state as points knows it (`known`: None when it does not), and the
    points left per expiry date after `now`, soonest first, at most `limit` dates."""
    params = {"member_id": member_id, "since": since.date(), "now": now, "limit": limit}
    rows = connection.execute(_STANDING_AND_EXPIRING, params).all()
    expiring = [(row.expires_at, int(row.points)) for row in rows if row.expires_at is not None]
    return rows[0], expiring


def add_tier(session: Session, member_id: uuid.UUID, **values: object) -> None:
    session.execute(insert(_tiers), {"member_id": member_id, **values})


def add_tiers(session: Session, rows: list[dict]) -> None:
    """Many members' first tier rows, in one statement."""
    bulk.insert_rows(session, _tiers, rows)


def tiers_and_spends(
    session: Session, member_ids: Sequence[uuid.UUID], since: datetime
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, int]]:
    """In two statements: the tier of each of these members that has a tier row, and the
    qualifying spend since `since` of each that has any."""
    ids = sorted(set(member_ids))
    tiers = session.execute(
        select(_tiers.c.member_id, _tiers.c.tier).where(_tiers.c.member_id.in_(ids))
    )
    spends = session.execute(
        select(_spend_days.c.member_id, func.sum(_spend_days.c.amount_minor))
        .where(_spend_days.c.member_id.in_(ids), _spend_days.c.day > since.date())
        .group_by(_spend_days.c.member_id)
    )
    return {m: tier for m, tier in tiers}, {m: int(total) for m, total in spends}


def update_tier(session: Session, member_id: uuid.UUID, **values: object) -> None:
    session.execute(update(_tiers).where(_tiers.c.member_id == member_id).values(**values))


def lock_existing_balances(session: Session, member_ids: Sequence[uuid.UUID]) -> None:
    """Locks balance rows known to exist, without loading them: for bulk changes."""
    session.execute(
        select(Balance.member_id)
        .where(Balance.member_id.in_(sorted(set(member_ids))))
        .order_by(Balance.member_id)
        .with_for_update()
    )


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


def purchases_owing_bonus(
    session: Session, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID, str, str]]:
    """(purchase, member, what to ask campaigns, the request's fingerprint) for purchases still
    owed their bonus."""
    rows = session.execute(
        select(Purchase.id, Purchase.member_id, Purchase.owed_request, Purchase.request_hash)
        .where(Purchase.campaigns_evaluated.is_(False))
        .order_by(Purchase.created_at)
        .limit(limit)
    ).all()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


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


def _posting_day(session: Session) -> Any:
    """A posting's UTC day, as SQL."""
    if _dialect(session) == "postgresql":
        return func.date(func.timezone("UTC", Posting.created_at))
    return func.date(Posting.created_at)


# The points the club owes: what members hold available, pending or on hold (not their debt).
_OWED = and_(Entry.member_id.is_not(None), Entry.bucket.in_(("available", "pending", "held")))


def owed_movements(session: Session, start: datetime, end: datetime) -> dict[date, int]:
    """UTC day → net change of the points owed to members, for postings in [start, end)."""
    day = _posting_day(session)
    rows = session.execute(
        select(day, func.sum(Entry.amount))
        .join(Posting, Posting.id == Entry.posting_id)
        .where(_OWED, Posting.created_at >= start, Posting.created_at < end)
        .group_by(day)
    ).all()
    return {_as_date(row[0]): int(row[1]) for row in rows}


def first_posting_at(session: Session) -> datetime | None:
    """When the first posting was written (None: none yet)."""
    return session.scalar(select(func.min(Posting.created_at)))


def closed_days(session: Session, first: date, last: date) -> list[ClosedDay]:
    """The closed days kept from `first` to `last`."""
    return list(
        session.scalars(select(ClosedDay).where(ClosedDay.day >= first, ClosedDay.day <= last))
    )


_ADD_CLOSED_DAYS = _per_dialect(
    lambda insert: insert(ClosedDay.__table__).on_conflict_do_nothing(index_elements=["day"])
)


def add_closed_days(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Keep these days' figures; a day another process kept first is left as it is (both
    counted the same unchanging postings)."""
    session.execute(_ADD_CLOSED_DAYS[_dialect(session)], list(rows))


def book_entries(
    session: Session, start: datetime, end: datetime, after: int, limit: int
) -> list[Row]:
    """The entries of postings in [start, end) after entry `after`, in the order written."""
    return list(
        session.execute(
            select(
                Entry.id,
                Entry.posting_id,
                Posting.created_at,
                Posting.kind,
                Posting.reason,
                Posting.source_type,
                Posting.source_id,
                Entry.account,
                Entry.member_id,
                Entry.bucket,
                Entry.amount,
            )
            .join(Posting, Posting.id == Entry.posting_id)
            .where(Posting.created_at >= start, Posting.created_at < end, Entry.id > after)
            .order_by(Entry.id)
            .limit(limit)
        )
    )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def program_movements(
    session: Session, start: datetime, end: datetime
) -> list[tuple[date, str, int, int]]:
    """(UTC day, program account, points out, points in) for postings in [start, end)."""
    day = _posting_day(session)
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
            _as_date(row[0]),
            row[1],
            int(row[2]),
            int(row[3]),
        )
        for row in rows
    ]


def mark_merged(session: Session, duplicate: uuid.UUID, survivor: uuid.UUID) -> None:
    """The duplicate's balance row, and those of members merged into it before, now name the
    survivor (their points must have moved already: the database refuses any left behind)."""
    session.execute(
        update(_balances)
        .where(or_(_balances.c.member_id == duplicate, _balances.c.merged_into == duplicate))
        .values(merged_into=survivor)
    )


def move_lots_and_purchases(session: Session, source: uuid.UUID, target: uuid.UUID) -> None:
    """The source member's lots, purchases and coupons become the target's."""
    for table in (_lots, _purchases, Coupon.__table__):
        session.execute(update(table).where(table.c.member_id == source).values(member_id=target))


def add(session: Session, *records: object) -> None:
    """New records, written at once (so a unique guard fires here, and ids are known)."""
    session.add_all(records)
    session.flush()


def lot_by_id(session: Session, lot_id: int) -> Lot | None:
    return session.get(Lot, lot_id)


def purchase_as_it_stands(session: Session, purchase_id: uuid.UUID) -> Purchase | None:
    """The purchase read again, even if this session has it already."""
    return session.get(Purchase, purchase_id, populate_existing=True)


def move_spend(session: Session, source: uuid.UUID, target: uuid.UUID) -> None:
    for day, amount in session.execute(
        select(SpendDay.day, SpendDay.amount_minor).where(SpendDay.member_id == source)
    ).all():
        add_spend(session, target, day, amount)
    session.execute(delete(SpendDay).where(SpendDay.member_id == source))


def tiers_due_for_review(session: Session, now: datetime, limit: int) -> list[uuid.UUID]:
    query = select(MemberTier.member_id).where(MemberTier.review_at <= now).limit(limit)
    return list(session.scalars(query))


def refund_by_id(session: Session, store_id: uuid.UUID, refund_id: str) -> Refund | None:
    return session.scalar(
        select(Refund).where(Refund.store_id == store_id, Refund.refund_id == refund_id)
    )


def spendable_lots(
    session: Session, member_id: uuid.UUID, now: datetime, limit: int, leave_out: int | None
) -> list[Lot]:
    """The first `limit` of the member's available lots with points left, soonest-expiring
    first, but for the lot `leave_out`."""
    query = (
        select(Lot)
        .where(
            Lot.member_id == member_id,
            Lot.status == "available",
            Lot.remaining > 0,
            or_(Lot.expires_at.is_(None), Lot.expires_at > now),
        )
        .order_by(Lot.expires_at.asc().nulls_last(), Lot.id)
        .limit(limit)
    )
    if leave_out is not None:
        query = query.where(Lot.id != leave_out)
    return list(session.scalars(query))


def allocations_of(session: Session, hold_id: uuid.UUID) -> list[tuple[HoldAllocation, Lot]]:
    rows = session.execute(
        select(HoldAllocation, Lot)
        .join(Lot, Lot.id == HoldAllocation.lot_id)
        .where(HoldAllocation.hold_id == hold_id)
    ).all()
    return [(allocation, lot) for allocation, lot in rows]


def survivor_of(session: Session, member_id: uuid.UUID) -> uuid.UUID | None:
    """The member a merged duplicate's points went to (None: not merged)."""
    return session.scalar(select(_balances.c.merged_into).where(_MINE), {"member_id": member_id})


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


def member_postings(
    session: Session, member_id: uuid.UUID, limit: int, before_id: int | None
) -> list[tuple[Posting, int]]:
    """The postings that moved the member's points, newest first from just below `before_id`,
    each with its change to what the member may spend or will (every bucket but `held`)."""
    spendable = func.sum(case((Entry.bucket == "held", 0), else_=Entry.amount))
    query = (
        select(Entry.posting_id, spendable)
        .where(Entry.member_id == member_id)
        .group_by(Entry.posting_id)
        .order_by(Entry.posting_id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(Entry.posting_id < before_id)
    changes = dict(session.execute(query).all())
    if not changes:
        return []
    postings = session.scalars(select(Posting).where(Posting.id.in_(changes))).all()
    return sorted(
        ((posting, int(changes[posting.id])) for posting in postings),
        key=lambda pair: pair[0].id,
        reverse=True,
    )


def purchases_of(
    session: Session, member_id: uuid.UUID, transaction_ids: Sequence[str]
) -> list[Purchase]:
    if not transaction_ids:
        return []
    return list(
        session.scalars(
            select(Purchase).where(
                Purchase.member_id == member_id, Purchase.transaction_id.in_(transaction_ids)
            )
        )
    )


def holds_of(session: Session, member_id: uuid.UUID, redemption_ids: Sequence[str]) -> list[Hold]:
    if not redemption_ids:
        return []
    return list(
        session.scalars(
            select(Hold).where(Hold.member_id == member_id, Hold.redemption_id.in_(redemption_ids))
        )
    )


def refunds_of(
    session: Session, member_id: uuid.UUID, refund_ids: Sequence[str]
) -> list[tuple[Refund, Purchase]]:
    if not refund_ids:
        return []
    query = (
        select(Refund, Purchase)
        .join(Purchase, Refund.purchase_id == Purchase.id)
        .where(Purchase.member_id == member_id, Refund.refund_id.in_(refund_ids))
    )
    return [(refund, purchase) for refund, purchase in session.execute(query).all()]


# Set-based maintenance: the jobs move many lots in a few statements per batch of members.


def members_with_due_lots(
    session: Session, kind: str, now: datetime, limit: int
) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(Lot.member_id).where(due_lots_condition(kind, now)).distinct().limit(limit)
        )
    )


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


_ADD_REFERRALS = _per_dialect(
    lambda insert: insert(Referral.__table__).on_conflict_do_nothing(index_elements=["friend_id"])
)


def add_referrals(session: Session, referrals: dict[uuid.UUID, uuid.UUID], at: datetime) -> None:
    """Records friends (keys) and who referred them; a friend already recorded is left as is."""
    if not referrals:
        return
    rows = [
        {
            "friend_id": friend,
            "referrer_id": referrer,
            "status": "waiting",
            "min_purchase_minor": 0,
            "referrer_points": 0,
            "friend_points": 0,
            "referred_at": at,
        }
        for friend, referrer in referrals.items()
    ]
    session.execute(_ADD_REFERRALS[_dialect(session)], rows)


def referral_program(session: Session) -> ReferralProgramRow | None:
    return session.get(ReferralProgramRow, 1)


def referral_for_update(session: Session, friend_id: uuid.UUID) -> Referral | None:
    return session.get(Referral, friend_id, with_for_update=True)


def referral_of_purchase(session: Session, purchase_id: uuid.UUID) -> Referral | None:
    found = session.scalar(
        select(Referral.friend_id).where(
            Referral.purchase_id == purchase_id, Referral.status == "rewarded"
        )
    )
    return referral_for_update(session, found) if found is not None else None


_ADD_REFERRAL_MONTH = _per_dialect(
    lambda insert: insert(ReferralMonth.__table__).on_conflict_do_nothing(
        index_elements=["referrer_id", "month"]
    )
)


def referral_month_for_update(
    session: Session, referrer_id: uuid.UUID, month: str
) -> ReferralMonth:
    """The referrer's count of the month, locked until the transaction ends."""
    values = {"referrer_id": referrer_id, "month": month, "rewarded": 0}
    session.execute(_ADD_REFERRAL_MONTH[_dialect(session)], values)
    return session.get(ReferralMonth, (referrer_id, month), with_for_update=True)


def referrals_rewarded(session: Session, referrer_ids: Sequence[uuid.UUID]) -> int:
    """Friends of these members whose purchase rewarded the referral."""
    return session.scalar(
        select(func.count()).where(
            Referral.referrer_id.in_(referrer_ids), Referral.status == "rewarded"
        )
    )


def merged_into(session: Session, survivor_id: uuid.UUID) -> list[uuid.UUID]:
    """The members whose points were merged into the survivor's."""
    return list(
        session.scalars(select(Balance.member_id).where(Balance.merged_into == survivor_id))
    )


def adjustments_of(
    session: Session, member_ids: list[uuid.UUID], kinds: tuple[str, ...], limit: int
) -> list[Adjustment]:
    """The adjustments of these kinds touching these members, newest first."""
    return list(
        session.scalars(
            select(Adjustment)
            .where(
                or_(
                    Adjustment.member_id.in_(member_ids),
                    Adjustment.other_member_id.in_(member_ids),
                ),
                Adjustment.kind.in_(kinds),
            )
            .order_by(Adjustment.created_at.desc(), Adjustment.id)
            .limit(limit)
        )
    )


def members_with_opening_balance(
    session: Session, member_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    return set(
        session.scalars(
            select(OpeningBalance.member_id).where(OpeningBalance.member_id.in_(member_ids))
        )
    )


def add_opening_balances(session: Session, rows: list[dict]) -> None:
    """Raises IntegrityError if another import recorded one of these members meanwhile."""
    bulk.insert_rows(session, OpeningBalance.__table__, rows)


# The rewards catalog and its coupons.


def reward(session: Session, reward_id: uuid.UUID, lock: bool = False) -> Reward | None:
    query = select(Reward).where(Reward.id == reward_id)
    return session.scalar(query.with_for_update() if lock else query)


def rewards(session: Session, active_at: datetime | None = None) -> list[Reward]:
    """Every reward, newest first; with `active_at`, only those active then."""
    query = select(Reward).order_by(Reward.created_at.desc(), Reward.id)
    if active_at is not None:
        query = query.where(
            Reward.status == "active",
            or_(Reward.starts_at.is_(None), Reward.starts_at <= active_at),
            or_(Reward.ends_at.is_(None), Reward.ends_at > active_at),
        )
    return list(session.scalars(query))


def take_stock(session: Session, reward_id: uuid.UUID) -> bool:
    """One of the reward's stock, if any is left: a conditional update, so concurrent
    redemptions queue on the row and never take more than there is."""
    taken = session.execute(
        update(Reward)
        .where(Reward.id == reward_id, Reward.stock > 0)
        .values(stock=Reward.stock - 1)
    )
    return taken.rowcount == 1  # type: ignore[attr-defined]


def return_stock(session: Session, reward_id: uuid.UUID) -> None:
    session.execute(
        update(Reward)
        .where(Reward.id == reward_id, Reward.stock.is_not(None))
        .values(stock=Reward.stock + 1)
    )


def member_coupon_count(session: Session, member_id: uuid.UUID, reward_id: uuid.UUID) -> int:
    """Coupons of the reward the member got by redeeming it (cancelled ones do not count)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Coupon)
            .where(
                Coupon.member_id == member_id,
                Coupon.reward_id == reward_id,
                Coupon.status != "cancelled",
                Coupon.points_spent > 0,
            )
        )
        or 0
    )


def member_coupon_counts(session: Session, member_id: uuid.UUID) -> dict[uuid.UUID, int]:
    rows = session.execute(
        select(Coupon.reward_id, func.count())
        .where(
            Coupon.member_id == member_id,
            Coupon.status != "cancelled",
            Coupon.points_spent > 0,
            Coupon.reward_id.is_not(None),
        )
        .group_by(Coupon.reward_id)
    ).all()
    return {row[0]: int(row[1]) for row in rows}


def coupon_by_request(session: Session, member_id: uuid.UUID, request_id: str) -> Coupon | None:
    return session.scalar(
        select(Coupon).where(Coupon.member_id == member_id, Coupon.request_id == request_id)
    )


def coupon_by_code(session: Session, code: str, lock: bool = False) -> Coupon | None:
    query = select(Coupon).where(Coupon.code == code)
    return session.scalar(query.with_for_update() if lock else query)


def coupons_of(session: Session, member_id: uuid.UUID, status: str) -> list[Coupon]:
    query = (
        select(Coupon)
        .where(Coupon.member_id == member_id)
        .order_by(Coupon.issued_at.desc(), Coupon.id)
        .limit(500)
    )
    if status:
        query = query.where(Coupon.status == status)
    return list(session.scalars(query))


def use_coupon(session: Session, coupon_id: uuid.UUID, now: datetime, **use: object) -> bool:
    """Marks an issued, unexpired coupon used: a conditional update, so of any number of
    tills trying at once exactly one wins."""
    used = session.execute(
        update(Coupon)
        .where(
            Coupon.id == coupon_id,
            Coupon.status == "issued",
            or_(Coupon.expires_at.is_(None), Coupon.expires_at > now),
        )
        .values(status="used", used_at=now, **use)
    )
    return used.rowcount == 1  # type: ignore[attr-defined]


def release_coupon(
    session: Session, coupon_id: uuid.UUID, store_id: uuid.UUID, transaction_id: str
) -> bool:
    """The coupon issued again, if that store's transaction used it."""
    released = session.execute(
        update(Coupon)
        .where(
            Coupon.id == coupon_id,
            Coupon.status == "used",
            Coupon.store_id == store_id,
            Coupon.transaction_id == transaction_id,
        )
        .values(
            status="issued",
            used_at=None,
            store_id=None,
            transaction_id=None,
            use_amount_minor=None,
            use_currency=None,
            discount_minor=None,
        )
    )
    return released.rowcount == 1  # type: ignore[attr-defined]


def expire_coupons(session: Session, now: datetime, limit: int) -> list[Coupon]:
    """Up to `limit` issued coupons past their expiry, marked expired (locked rows skipped:
    another process is on them)."""
    query = (
        select(Coupon)
        .where(Coupon.status == "issued", Coupon.expires_at <= now)
        .order_by(Coupon.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    found = list(session.scalars(query))
    for coupon in found:
        coupon.status = "expired"
    session.flush()
    return found


def coupon_allocations(
    session: Session, coupon_id: uuid.UUID
) -> list[tuple[CouponAllocation, Lot]]:
    rows = session.execute(
        select(CouponAllocation, Lot)
        .join(Lot, Lot.id == CouponAllocation.lot_id)
        .where(CouponAllocation.coupon_id == coupon_id)
    ).all()
    return [(allocation, lot) for allocation, lot in rows]


def add_partner_codes(session: Session, reward_id: uuid.UUID, codes: dict[str, str]) -> set[str]:
    """Adds the codes (by key, as written) whose key is not in the pool yet; returns the keys
    that were."""
    keys = list(codes)
    existing = set()
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        existing.update(
            session.scalars(
                select(PartnerCode.code_key).where(
                    PartnerCode.reward_id == reward_id, PartnerCode.code_key.in_(chunk)
                )
            )
        )
    now = utcnow()
    new = [
        {"reward_id": reward_id, "code": code, "code_key": key, "added_at": now}
        for key, code in codes.items()
        if key not in existing
    ]
    if new:
        session.execute(insert(PartnerCode), new)
    return existing


def hand_out_partner_code(
    session: Session, reward_id: uuid.UUID, coupon_id: uuid.UUID
) -> str | None:
    """A free code of the pool, now the coupon's; None when the pool is empty. A code a
    concurrent redemption has locked is skipped, so each is handed out once."""
    row = session.execute(
        select(PartnerCode.id, PartnerCode.code)
        .where(PartnerCode.reward_id == reward_id, PartnerCode.coupon_id.is_(None))
        .order_by(PartnerCode.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    session.execute(update(PartnerCode).where(PartnerCode.id == row[0]).values(coupon_id=coupon_id))
    return row[1]


def free_partner_codes(session: Session) -> dict[uuid.UUID, int]:
    rows = session.execute(
        select(PartnerCode.reward_id, func.count())
        .where(PartnerCode.coupon_id.is_(None))
        .group_by(PartnerCode.reward_id)
    ).all()
    return {row[0]: int(row[1]) for row in rows}


def coupon_figures(session: Session, now: datetime) -> dict[uuid.UUID, dict[str, int]]:
    """Per reward: coupons by status (an issued one past its expiry counts as expired) and the
    points spent on it less those returned."""
    status = case(
        (and_(Coupon.status == "issued", Coupon.expires_at <= now), "expired"),
        else_=Coupon.status,
    )
    rows = session.execute(
        select(
            Coupon.reward_id,
            status,
            func.count(),
            func.sum(Coupon.points_spent - Coupon.points_returned),
        )
        .where(Coupon.reward_id.is_not(None))
        .group_by(Coupon.reward_id, status)
    ).all()
    figures: dict[uuid.UUID, dict[str, int]] = {}
    for reward_id, state, count, spent in rows:
        totals = figures.setdefault(reward_id, {"points_spent": 0})
        totals[state] = int(count)
        totals["points_spent"] += int(spent or 0)
    return figures


def coupons_outstanding(session: Session, now: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Coupon)
            .where(
                Coupon.status == "issued", or_(Coupon.expires_at.is_(None), Coupon.expires_at > now)
            )
        )
        or 0
    )


def reward_spending(session: Session, start: datetime, end: datetime) -> list[tuple[date, int]]:
    """(UTC day, points spent on rewards less points returned) for postings in [start, end)."""
    day = _posting_day(session)
    rows = session.execute(
        select(day, func.sum(Entry.amount))
        .join(Posting, Posting.id == Entry.posting_id)
        .where(
            Entry.account == "program:redeemed",
            Posting.source_type == "reward",
            Posting.created_at >= start,
            Posting.created_at < end,
        )
        .group_by(day)
    ).all()
    return [(_as_date(row[0]), int(row[1])) for row in rows]


def member_tier(session: Session, member_id: uuid.UUID) -> str | None:
    """The member's tier now (None: no tier row yet, so the lowest)."""
    return session.scalar(select(_tiers.c.tier).where(_tiers.c.member_id == member_id))
