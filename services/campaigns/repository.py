"""SQL for the campaigns service: every query it runs, on a session the caller owns.

Conditions over the member view (a segment's rule, a campaign's audience, a lifecycle stage)
are built where their rules live and handed in here as SQL expressions.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    String,
    Subquery,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    tuple_,
    union,
    update,
)
from sqlalchemy import case as case_when
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from services.campaigns.models import (
    Award,
    Base,
    Campaign,
    Case,
    CouponGrant,
    Draw,
    DrawChance,
    DrawPurchase,
    Evaluation,
    Feedback,
    FeedCursor,
    Member,
    MemberAwards,
    MemberPurchase,
    Message,
    MissionFact,
    MissionReward,
    Segment,
    SegmentMember,
    StageChange,
)
from services.runtime import bulk
from services.runtime.db import UtcDateTime

AWARDS = Award.__table__
CAMPAIGNS = Campaign.__table__
EVALUATIONS = Evaluation.__table__
MEMBER_AWARDS = MemberAwards.__table__
MEMBERS = Member.__table__
PURCHASES = MemberPurchase.__table__
STAGE_CHANGES = StageChange.__table__
# Rows inserted per statement, well within every database's limit of bound parameters.
CHUNK = 5000
# The status of a message that was still to be sent when its member was erased.
ERASED = "skipped-erased"


def _on_connection(session: Session, statement: Any, params: Any = None) -> Any:
    return session.connection().execute(statement, params)


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def live(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Only members that still exist as themselves."""
    c = MEMBERS.c
    return condition & c.erased.is_(False) & c.merged_into.is_(None)


def add(session: Session, row: Base) -> None:
    session.add(row)
    session.flush()


def remove(session: Session, row: Base) -> None:
    session.delete(row)


# Campaigns


def campaign(session: Session, campaign_id: uuid.UUID, lock: bool = False) -> Campaign | None:
    return session.get(Campaign, campaign_id, with_for_update=lock)


def campaigns(session: Session) -> list[Campaign]:
    """Every campaign, the newest first."""
    return list(session.scalars(select(Campaign).order_by(Campaign.created_at.desc())))


def unended_campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).where(Campaign.state != "ended")))


def launched_campaigns(session: Session, now: datetime) -> list[Campaign]:
    """Campaigns launched and not past their end, in the order they apply (priority first)."""
    return list(
        session.scalars(
            select(Campaign)
            .where(
                Campaign.state == "launched",
                or_(Campaign.ends_at.is_(None), Campaign.ends_at > now),
            )
            .order_by(Campaign.priority.desc(), Campaign.id)
        )
    )


def any_launched(session: Session) -> bool:
    """Whether any campaign was ever launched (ended and paused ones count)."""
    launched = select(Campaign.id).where(Campaign.launched_at.is_not(None)).exists()
    return bool(session.execute(select(launched)).scalar())


def campaigns_to_queue(session: Session) -> list[uuid.UUID]:
    """Launched campaigns whose messages have not been queued."""
    return list(
        session.scalars(
            select(Campaign.id).where(
                Campaign.state == "launched", Campaign.messages_queued_at.is_(None)
            )
        )
    )


def coupon_campaigns_to_queue(session: Session) -> list[uuid.UUID]:
    """Launched coupon campaigns whose coupons have not been queued."""
    return list(
        session.scalars(
            select(Campaign.id).where(
                Campaign.state == "launched",
                Campaign.kind == "coupon",
                Campaign.coupons_queued_at.is_(None),
            )
        )
    )


# Segments


def segment(session: Session, segment_id: uuid.UUID, lock: bool = False) -> Segment | None:
    return session.get(Segment, segment_id, with_for_update=lock)


def segments(session: Session) -> list[Segment]:
    return list(session.scalars(select(Segment).order_by(Segment.created_at)))


def add_segment(session: Session, row: Segment, member_ids: Sequence[uuid.UUID]) -> None:
    add(session, row)
    for start in range(0, len(member_ids), CHUNK):
        session.execute(
            insert(SegmentMember),
            [{"segment_id": row.id, "member_id": m} for m in member_ids[start : start + CHUNK]],
        )


def delete_segment(session: Session, row: Segment) -> None:
    session.execute(delete(SegmentMember).where(SegmentMember.segment_id == row.id))
    session.delete(row)


def listed_members(segment_id: uuid.UUID) -> ColumnElement[bool]:
    """Members of a static segment, as a condition on the members table."""
    listed = select(SegmentMember.member_id).where(SegmentMember.segment_id == segment_id)
    return MEMBERS.c.member_id.in_(listed)


def is_listed(session: Session, segment_id: uuid.UUID, member_id: uuid.UUID) -> bool:
    return session.get(SegmentMember, (segment_id, member_id)) is not None


def matches(session: Session, member_id: uuid.UUID, condition: ColumnElement[bool]) -> bool:
    """Whether one live member meets the condition (an indexed lookup, not a scan)."""
    query = select(MEMBERS.c.member_id).where(MEMBERS.c.member_id == member_id, live(condition))
    return session.execute(query).first() is not None


def count_members(session: Session, condition: ColumnElement[bool]) -> int:
    query = select(func.count()).select_from(MEMBERS).where(live(condition))
    return int(session.execute(query).scalar_one())


def sample_members(session: Session, condition: ColumnElement[bool], limit: int) -> list[Row]:
    """Stage and tier of up to `limit` live members meeting the condition."""
    c = MEMBERS.c
    return list(session.execute(select(c.stage, c.tier).where(live(condition)).limit(limit)))


def member_ids_page(
    session: Session, condition: ColumnElement[bool], after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """Up to `limit` live members meeting the condition, in the order of their ids, after one."""
    c = MEMBERS.c
    query = select(c.member_id).where(live(condition))
    if after is not None:
        query = query.where(c.member_id > after)
    return list(session.scalars(query.order_by(c.member_id).limit(limit)))


def member_ids(session: Session, condition: ColumnElement[bool]) -> list[uuid.UUID]:
    return list(session.scalars(select(MEMBERS.c.member_id).where(condition)))


# The member view


def member(session: Session, member_id: uuid.UUID) -> Member | None:
    return session.get(Member, member_id)


def member_stage(session: Session, member_id: uuid.UUID) -> str | None:
    return session.execute(select(MEMBERS.c.stage).where(MEMBERS.c.member_id == member_id)).scalar()


def stage_history(session: Session, member_id: uuid.UUID, limit: int) -> Sequence[StageChange]:
    """The member's moves between stages, newest first."""
    query = (
        select(StageChange)
        .where(StageChange.member_id == member_id)
        .order_by(StageChange.changed_at.desc(), StageChange.id.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


def member_feedback(session: Session, member_id: uuid.UUID, limit: int) -> Sequence[Feedback]:
    """The member's ratings and comments, newest first."""
    query = (
        select(Feedback)
        .where(Feedback.member_id == member_id)
        .order_by(Feedback.created_at.desc(), Feedback.feedback_id)
        .limit(limit)
    )
    return session.scalars(query).all()


def member_facts(session: Session, member_id: uuid.UUID) -> Row | None:
    """Stage, tier and birth month of one member."""
    c = MEMBERS.c
    query = select(c.stage, c.tier, c.birth_month).where(c.member_id == member_id)
    return session.execute(query).first()


# The statements the member view's feed runs on every page, built once and run on the
# session's connection: no ORM object of the view is ever pending in its transaction.
_MEMBERS_BY_ID = select(MEMBERS).where(MEMBERS.c.member_id.in_(bindparam("ids", expanding=True)))
_STORED_PURCHASES = select(PURCHASES.c.store_id, PURCHASES.c.transaction_id).where(
    tuple_(PURCHASES.c.store_id, PURCHASES.c.transaction_id).in_(bindparam("keys", expanding=True))
)
_REFUND_PURCHASES = (
    update(PURCHASES)
    .where(PURCHASES.c.store_id == bindparam("s"), PURCHASES.c.transaction_id == bindparam("t"))
    .values(refunded_minor=PURCHASES.c.refunded_minor + bindparam("amount"))
)


def members_by_id(session: Session, ids: Collection[uuid.UUID]) -> list[dict[str, Any]]:
    """The given members' rows, as column → value."""
    found = _on_connection(session, _MEMBERS_BY_ID, {"ids": list(ids)})
    return [dict(row._mapping) for row in found]


def insert_members(session: Session, rows: list[dict[str, Any]]) -> None:
    bulk.insert_rows(session, MEMBERS, rows)


@functools.cache
def _update_members(names: tuple[str, ...]) -> Any:
    return (
        update(MEMBERS)
        .where(MEMBERS.c.member_id == bindparam("id"))
        .values({name: bindparam(name) for name in names})
    )


def update_members(session: Session, names: Sequence[str], params: list[dict[str, Any]]) -> None:
    """Writes the named columns of each member in `params` (its id under "id")."""
    _on_connection(session, _update_members(tuple(names)), params)


def stored_purchases(session: Session, keys: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (store, transaction) keys the view holds already."""
    found = _on_connection(session, _STORED_PURCHASES, {"keys": list(keys)})
    return {(store_id, transaction_id) for store_id, transaction_id in found}


def insert_purchases(session: Session, rows: list[dict[str, Any]]) -> None:
    bulk.insert_rows(session, PURCHASES, rows)


def refund_purchases(session: Session, refunds: list[dict[str, Any]]) -> None:
    """Adds `amount` to the refunded part of each purchase (`s` store, `t` transaction)."""
    _on_connection(session, _REFUND_PURCHASES, refunds)


def move_purchases(session: Session, from_id: uuid.UUID, to_id: uuid.UUID) -> None:
    session.execute(
        update(PURCHASES).where(PURCHASES.c.member_id == from_id).values(member_id=to_id)
    )


def move_chances_and_facts(session: Session, from_id: uuid.UUID, to_id: uuid.UUID) -> None:
    """A merged-away member's chances in open draws and facts towards missions become the
    survivor's; a fact both hold (each completed their profile, say) is kept once. A closed
    draw's entries stay as they were drawn."""
    open_draws = select(Draw.id).where(Draw.status == "open")
    session.execute(
        update(DrawChance)
        .where(DrawChance.member_id == from_id, DrawChance.draw_id.in_(open_draws))
        .values(member_id=to_id)
    )
    held = aliased(MissionFact)
    survivor_holds = (
        select(held.id)
        .where(
            held.member_id == to_id,
            held.campaign_id == MissionFact.campaign_id,
            held.source == MissionFact.source,
        )
        .exists()
    )
    session.execute(delete(MissionFact).where(MissionFact.member_id == from_id, survivor_holds))
    session.execute(
        update(MissionFact).where(MissionFact.member_id == from_id).values(member_id=to_id)
    )


def blank_member_texts(session: Session, member_id: uuid.UUID) -> None:
    """Empties the texts written by or for a member: feedback comments and message bodies;
    what was still to be sent to them is not sent."""
    session.execute(update(Feedback).where(Feedback.member_id == member_id).values(comment=""))
    session.execute(
        update(Message)
        .where(Message.member_id == member_id, Message.status == "pending")
        .values(status=ERASED)
    )
    session.execute(update(Message).where(Message.member_id == member_id).values(body=""))


def stage_moves(new_stage: ColumnElement[str], some: bool) -> tuple[Any, Any]:
    """The statements that move live members whose stage differs from `new_stage` (only those
    in the parameter `ids` when `some`) at the parameter `changed_at`: the first records each
    change, the second makes it."""
    m = MEMBERS.c
    due = [new_stage != m.stage, m.erased.is_(False), m.merged_into.is_(None)]
    if some:
        due.append(m.member_id.in_(bindparam("ids", expanding=True)))
    changed_at = bindparam("changed_at", type_=UtcDateTime())
    record = insert(STAGE_CHANGES).from_select(
        ["member_id", "from_stage", "to_stage", "changed_at"],
        select(m.member_id, m.stage, new_stage, changed_at).where(*due),
    )
    move = update(MEMBERS).where(*due).values(stage=new_stage, stage_since=changed_at)
    return record, move


def move_stages(session: Session, moves: tuple[Any, Any], params: dict[str, Any]) -> int:
    """Runs `stage_moves`' statements; returns how many members moved. Members changed through
    the ORM in this transaction are written first (the stage reads their rows); their objects
    do not see the new stage."""
    session.flush()
    record, move = moves
    _on_connection(session, record, params)
    return _on_connection(session, move, params).rowcount


def set_rfm(session: Session, scores: Subquery) -> None:
    """Writes the scores (`member_id`, `r`, `f`, `m`) where they changed."""
    m = MEMBERS.c
    session.execute(
        update(Member)
        .where(
            m.member_id == scores.c.member_id,
            or_(m.rfm_r != scores.c.r, m.rfm_f != scores.c.f, m.rfm_m != scores.c.m),
        )
        .values(rfm_r=scores.c.r, rfm_f=scores.c.f, rfm_m=scores.c.m)
        .execution_options(synchronize_session=False)
    )


def feed_cursors(session: Session) -> dict[str, FeedCursor]:
    return {row.feed: row for row in session.scalars(select(FeedCursor))}


def clear_view(session: Session) -> None:
    """Deletes the member view and every feed cursor."""
    for model in (MemberPurchase, StageChange, Member, FeedCursor):
        session.execute(delete(model))


def compared_rows(session: Session, columns: Sequence[str]) -> dict[uuid.UUID, tuple]:
    """The named columns of every member row, by member."""
    query = select(MEMBERS.c.member_id, *(MEMBERS.c[name] for name in columns))
    return {row[0]: tuple(row[1:]) for row in session.execute(query)}


# Feedback


def feedback(session: Session, feedback_id: str) -> Feedback | None:
    return session.get(Feedback, feedback_id)


def all_feedback(session: Session) -> list[Feedback]:
    """Every feedback, the oldest first."""
    return list(session.scalars(select(Feedback).order_by(Feedback.created_at)))


def recent_feedback(session: Session, limit: int, member_id: uuid.UUID | None) -> list[Row]:
    """Feedback newest first with the member's first name (`feedback_id`, `member_id`,
    `first_name`, `rating`, `comment`, `created_at`): every member's up to `limit`, or one
    member's whole."""
    m = MEMBERS.c
    query = (
        select(
            Feedback.feedback_id,
            Feedback.member_id,
            m.first_name,
            Feedback.rating,
            Feedback.comment,
            Feedback.created_at,
        )
        .join_from(Feedback, MEMBERS, Feedback.member_id == m.member_id, isouter=True)
        .order_by(Feedback.created_at.desc(), Feedback.feedback_id)
    )
    if member_id is None:
        query = query.limit(limit)
    else:
        query = query.where(Feedback.member_id == member_id)
    return list(session.execute(query))


def insert_feedback(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Feedback), rows)


# Answers to purchases: the till's hot path, so its statements are built once and run on the
# session's connection, without the ORM.


def _claims(insert_of: Any) -> Any:
    return (
        insert_of(EVALUATIONS)
        .on_conflict_do_nothing(index_elements=["store_id", "transaction_id"])
        .returning(EVALUATIONS.c.store_id)
    )


_CLAIM = {"postgresql": _claims(postgresql.insert), "sqlite": _claims(sqlite.insert)}
_ANSWER = select(EVALUATIONS.c.result, EVALUATIONS.c.request_hash).where(
    EVALUATIONS.c.store_id == bindparam("store_id"),
    EVALUATIONS.c.transaction_id == bindparam("transaction_id"),
)
_SET_ANSWER = (
    update(EVALUATIONS)
    .where(
        EVALUATIONS.c.store_id == bindparam("store"),
        EVALUATIONS.c.transaction_id == bindparam("transaction"),
    )
    .values(result=bindparam("answer"))
)
_ADD_AWARDS = insert(AWARDS)


def _count_awards_of(insert_of: Any) -> Any:
    counts = MEMBER_AWARDS.c
    return (
        insert_of(MEMBER_AWARDS)
        .values(campaign_id=bindparam("campaign_id"), member_id=bindparam("member_id"), awards=1)
        .on_conflict_do_update(
            index_elements=["campaign_id", "member_id"],
            set_={"awards": counts.awards + 1},
            where=counts.awards < bindparam("limit"),
        )
        .returning(counts.awards)
    )


_COUNT_AWARD = {
    "postgresql": _count_awards_of(postgresql.insert),
    "sqlite": _count_awards_of(sqlite.insert),
}
_UNCOUNT_AWARD = (
    update(MEMBER_AWARDS)
    .where(
        MEMBER_AWARDS.c.campaign_id == bindparam("campaign"),
        MEMBER_AWARDS.c.member_id == bindparam("member"),
        MEMBER_AWARDS.c.awards > 0,
    )
    .values(awards=MEMBER_AWARDS.c.awards - 1)
)
_SPEND_BUDGET = (
    update(CAMPAIGNS)
    .where(
        CAMPAIGNS.c.id == bindparam("campaign"),
        CAMPAIGNS.c.awarded_points + bindparam("points") <= CAMPAIGNS.c.budget_points,
    )
    .values(awarded_points=CAMPAIGNS.c.awarded_points + bindparam("points"))
)
_ADD_AWARDED = (
    update(CAMPAIGNS)
    .where(CAMPAIGNS.c.id == bindparam("campaign"))
    .values(awarded_points=CAMPAIGNS.c.awarded_points + bindparam("points"))
)


def answer(session: Session, store_id: str, transaction_id: str) -> Row | None:
    """The answer (`result`, `request_hash`) recorded for a purchase, if any."""
    params = {"store_id": store_id, "transaction_id": transaction_id}
    return _on_connection(session, _ANSWER, params).first()


def claim_answer(
    session: Session,
    store_id: str,
    transaction_id: str,
    member_id: uuid.UUID,
    fingerprint: str,
    now: datetime,
    result: str = "[]",
) -> bool:
    """Records the answer for the purchase (empty until `record_answer`, unless given); False
    when one is recorded already. A concurrent claim waits here until the first one's
    transaction ends."""
    claimed = _on_connection(
        session,
        _CLAIM[session.get_bind().dialect.name],
        {
            "store_id": store_id,
            "transaction_id": transaction_id,
            "member_id": member_id,
            "result": result,
            "created_at": now,
            "request_hash": fingerprint,
        },
    ).first()
    return claimed is not None


def add_awards(
    session: Session,
    store_id: str,
    transaction_id: str,
    member_id: uuid.UUID,
    now: datetime,
    awards: list[dict[str, Any]],
) -> None:
    """Books the awards (`campaign_id`, `points`, `counted`) of a claimed purchase."""
    rows = [
        {
            "store_id": store_id,
            "transaction_id": transaction_id,
            "member_id": member_id,
            "created_at": now,
            **award,
        }
        for award in awards
    ]
    _on_connection(session, _ADD_AWARDS, rows)


def record_answer(session: Session, store_id: str, transaction_id: str, result: str) -> None:
    """The answer of a purchase claimed with an empty one."""
    params = {"store": store_id, "transaction": transaction_id, "answer": result}
    _on_connection(session, _SET_ANSWER, params)


def withdraw_answer(session: Session, store_id: str, transaction_id: str, keep: str) -> None:
    """Deletes the answer given to the purchase under another fingerprint than `keep`, and gives
    back its awards: the campaigns' awarded points (of the awards counted in them) and the
    members' award counts."""
    c = EVALUATIONS.c
    withdrawn = session.execute(
        delete(EVALUATIONS)
        .where(
            c.store_id == store_id,
            c.transaction_id == transaction_id,
            c.request_hash.not_in(("", keep)),
        )
        .returning(c.store_id)
    ).first()
    if withdrawn is None:
        return
    a = AWARDS.c
    awards = session.execute(
        delete(AWARDS)
        .where(a.store_id == store_id, a.transaction_id == transaction_id)
        .returning(a.campaign_id, a.member_id, a.points, a.counted)
    ).all()
    for award in awards:
        if award.counted:
            add_awarded(session, award.campaign_id, -award.points)
        # Counted only for campaigns with a per-member limit; the others have no row.
        _on_connection(
            session, _UNCOUNT_AWARD, {"campaign": award.campaign_id, "member": award.member_id}
        )


def count_award(session: Session, campaign_id: uuid.UUID, member_id: uuid.UUID, limit: int) -> bool:
    """Counts one more award of the campaign to the member, unless they have `limit` already
    (the row stays locked for the rest of the transaction)."""
    counted = _on_connection(
        session,
        _COUNT_AWARD[session.get_bind().dialect.name],
        {"campaign_id": campaign_id, "member_id": member_id, "limit": limit},
    ).first()
    return counted is not None


def uncount_award(session: Session, campaign_id: uuid.UUID, member_id: uuid.UUID) -> None:
    _on_connection(session, _UNCOUNT_AWARD, {"campaign": campaign_id, "member": member_id})


def spend_budget(session: Session, campaign_id: uuid.UUID, points: int) -> bool:
    """Adds the points to a campaign's awarded points, unless that would pass its budget."""
    spent = _on_connection(session, _SPEND_BUDGET, {"campaign": campaign_id, "points": points})
    return spent.rowcount == 1


def add_awarded(session: Session, campaign_id: uuid.UUID, points: int) -> None:
    _on_connection(session, _ADD_AWARDED, {"campaign": campaign_id, "points": points})


def count_uncounted_awards(session: Session) -> int:
    """Adds the awards not counted yet to their campaigns' awarded points; returns how many.
    A concurrent pass waits for this one's rows and then finds them counted."""
    a = AWARDS.c
    flipped = session.execute(
        update(AWARDS).where(~a.counted).values(counted=True).returning(a.campaign_id, a.points)
    ).all()
    totals: dict[uuid.UUID, int] = {}
    for campaign_id, points in flipped:
        totals[campaign_id] = totals.get(campaign_id, 0) + points
    for campaign_id, points in totals.items():
        add_awarded(session, campaign_id, points)
    return len(flipped)


def awarded_points(session: Session, campaign_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The points each campaign awarded: those counted in its row and those still to count, read
    in one statement so that a pass counting them meanwhile is seen whole or not at all."""
    if not campaign_ids:
        return {}
    c, a = CAMPAIGNS.c, AWARDS.c
    uncounted = (
        select(func.coalesce(func.sum(a.points), 0))
        .where(a.campaign_id == c.id, ~a.counted)
        .scalar_subquery()
    )
    query = select(c.id, c.awarded_points + uncounted).where(c.id.in_(list(campaign_ids)))
    return {campaign_id: int(points) for campaign_id, points in session.execute(query)}


# Messages


def add_rows(session: Session, rows: Sequence[Base]) -> None:
    """Many new rows (messages, coupon grants), a chunk per flush."""
    for start in range(0, len(rows), CHUNK):
        session.add_all(rows[start : start + CHUNK])
        session.flush()


def due_messages(session: Session, now: datetime, limit: int) -> list[Row]:
    """Pending messages due by `now` (`id`, `campaign_id`, `member_id`, `channel`, `body`),
    oldest first."""
    return list(
        session.execute(
            select(
                Message.id, Message.campaign_id, Message.member_id, Message.channel, Message.body
            )
            .where(Message.status == "pending", Message.not_before <= now)
            .order_by(Message.not_before, Message.id)
            .limit(limit)
        )
    )


def record_sent(
    session: Session, message_id: uuid.UUID, status: str, body: str, now: datetime
) -> None:
    session.execute(
        update(Message)
        .where(Message.id == message_id, Message.status == "pending")
        .values(status=status, body=body, sent_at=now)
    )


# What identity answers for a message it sent.
SENT = "sent"


def merged_into(session: Session, survivors: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """The members merged into any of `survivors`."""
    return set(session.scalars(select(Member.member_id).where(Member.merged_into.in_(survivors))))


def member_messages(
    session: Session,
    member_ids: Collection[uuid.UUID],
    limit: int,
    before: tuple[datetime, uuid.UUID] | None,
) -> list[Row]:
    """Messages sent to any of the members, newest first (`id`, `channel`, `body`, `sent_at`,
    `subject`: the campaign's or the draw's name), sent before `before` (a message's `sent_at`
    and `id`) when given."""
    query = (
        select(
            Message.id,
            Message.channel,
            Message.body,
            Message.sent_at,
            func.coalesce(Campaign.name, Draw.name, "").label("subject"),
        )
        .outerjoin(Campaign, Campaign.id == Message.campaign_id)
        .outerjoin(Draw, Draw.id == Message.campaign_id)
        .where(Message.member_id.in_(member_ids), Message.status == SENT)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(limit)
    )
    if before is not None:
        sent_at, message_id = before
        position = tuple_(
            literal(sent_at, Message.sent_at.type), literal(message_id, Message.id.type)
        )
        query = query.where(tuple_(Message.sent_at, Message.id) < position)
    return list(session.execute(query))


def fail_pending(session: Session, campaign_id: uuid.UUID, status: str, now: datetime) -> int:
    """Marks every pending message of the campaign with `status`; returns how many."""
    return session.execute(
        update(Message)
        .where(Message.campaign_id == campaign_id, Message.status == "pending")
        .values(status=status, sent_at=now)
    ).rowcount


# Coupon grants


def due_grants(session: Session, limit: int) -> list[Row]:
    """Coupon grants not issued yet (`id`, `campaign_id`, `member_id`), oldest first."""
    return list(
        session.execute(
            select(CouponGrant.id, CouponGrant.campaign_id, CouponGrant.member_id)
            .where(CouponGrant.status == "pending")
            .order_by(CouponGrant.created_at, CouponGrant.id)
            .limit(limit)
        )
    )


def record_grant(
    session: Session, grant_id: uuid.UUID, status: str, coupon_id: str | None, now: datetime
) -> None:
    session.execute(
        update(CouponGrant)
        .where(CouponGrant.id == grant_id, CouponGrant.status == "pending")
        .values(status=status, coupon_id=coupon_id, issued_at=now)
    )


def mark_coupon_used(session: Session, coupon_id: str, used_at: datetime | None) -> None:
    """A campaign's coupon used at a till (or released again: `used_at` None)."""
    session.execute(
        update(CouponGrant).where(CouponGrant.coupon_id == coupon_id).values(used_at=used_at)
    )


def coupon_counts(session: Session, campaign_id: uuid.UUID) -> tuple[int, int]:
    """A campaign's coupons issued, and used."""
    issued, used = session.execute(
        select(func.count(), func.count(CouponGrant.used_at)).where(
            CouponGrant.campaign_id == campaign_id, CouponGrant.status == "issued"
        )
    ).one()
    return int(issued), int(used)


# Missions


def launched_missions(session: Session) -> list[Campaign]:
    """Launched mission campaigns (whether active now follows from their schedules)."""
    return list(
        session.scalars(
            select(Campaign).where(Campaign.state == "launched", Campaign.kind == "mission")
        )
    )


_LAUNCHED_MISSIONS = select(Campaign.id).where(
    Campaign.state == "launched", Campaign.kind == "mission"
)
_EARNING_DRAWS = select(Draw.id).where(
    Draw.status == "open", (Draw.per_purchase > 0) | (Draw.per_amount_minor > 0)
)
_ANY_MISSION_OR_DRAW = select(_LAUNCHED_MISSIONS.exists(), _EARNING_DRAWS.exists())


def missions_and_draws(session: Session) -> tuple[bool, bool]:
    """Whether any mission is launched (`launched_missions`) and any draw earns chances from
    purchases (`draws_earning`), in one look."""
    missions, draws = _on_connection(session, _ANY_MISSION_OR_DRAW).one()
    return bool(missions), bool(draws)


def in_group(session: Session, member_id: uuid.UUID, condition: ColumnElement[bool]) -> bool:
    """Whether the member's row matches the condition."""
    found = session.execute(
        select(MEMBERS.c.member_id).where(MEMBERS.c.member_id == member_id, condition)
    ).first()
    return found is not None


def add_mission_fact(
    session: Session,
    campaign_id: uuid.UUID,
    member_id: uuid.UUID,
    period: str,
    source: str,
    amount: int,
    now: datetime,
) -> bool:
    """Records what counts towards a mission; False when that source counted already."""
    added = session.execute(
        _insert(session)(MissionFact)
        .values(
            campaign_id=campaign_id,
            member_id=member_id,
            period=period,
            source=source,
            amount=amount,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["campaign_id", "member_id", "source"])
        .returning(MissionFact.id)
    ).first()
    return added is not None


def mission_progress(
    session: Session, campaign_id: uuid.UUID, member_id: uuid.UUID, period: str
) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(MissionFact.amount), 0)).where(
                MissionFact.campaign_id == campaign_id,
                MissionFact.member_id == member_id,
                MissionFact.period == period,
            )
        )
    )


def mission_facts_of(
    session: Session, campaign_ids: Collection[uuid.UUID], member_id: uuid.UUID, source: str
) -> list[MissionFact]:
    """What one source (a purchase, say) of a member counts towards the given missions,
    locked."""
    query = select(MissionFact).where(
        MissionFact.campaign_id.in_(campaign_ids),
        MissionFact.member_id == member_id,
        MissionFact.source == source,
    )
    return list(session.scalars(query.with_for_update()))


def withdraw_mission_reward(
    session: Session, campaign_id: uuid.UUID, member_id: uuid.UUID, period: str
) -> None:
    """Forgets a completion points has not paid yet (one paid stands)."""
    session.execute(
        delete(MissionReward).where(
            MissionReward.campaign_id == campaign_id,
            MissionReward.member_id == member_id,
            MissionReward.period == period,
            MissionReward.status == "pending",
        )
    )


def add_mission_reward(
    session: Session,
    campaign_id: uuid.UUID,
    member_id: uuid.UUID,
    period: str,
    points: int,
    reward_id: str,
    now: datetime,
) -> None:
    """A completion to pay, once per mission, member and period."""
    session.execute(
        _insert(session)(MissionReward)
        .values(
            id=f"mission:{campaign_id}:{member_id}:{period}",
            campaign_id=campaign_id,
            member_id=member_id,
            period=period,
            points=points,
            reward_id=reward_id or None,
            status="pending",
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["campaign_id", "member_id", "period"])
    )


def mission_completed(
    session: Session, campaign_id: uuid.UUID, member_id: uuid.UUID, period: str
) -> bool:
    found = session.execute(
        select(MissionReward.id).where(
            MissionReward.campaign_id == campaign_id,
            MissionReward.member_id == member_id,
            MissionReward.period == period,
        )
    ).first()
    return found is not None


def due_mission_rewards(session: Session, limit: int) -> list[MissionReward]:
    """Completions not paid yet, oldest first."""
    return list(
        session.scalars(
            select(MissionReward)
            .where(MissionReward.status == "pending")
            .order_by(MissionReward.created_at, MissionReward.id)
            .limit(limit)
        )
    )


def record_mission_reward(
    session: Session, reward_id: str, status: str, reward_status: str | None, now: datetime
) -> None:
    session.execute(
        update(MissionReward)
        .where(MissionReward.id == reward_id, MissionReward.status == "pending")
        .values(status=status, reward_status=reward_status, paid_at=now)
    )


def mission_counts(session: Session, campaign_id: uuid.UUID) -> tuple[int, int, int]:
    """A mission's members with progress, members who completed it, and points paid."""
    started = session.scalar(
        select(func.count(func.distinct(MissionFact.member_id))).where(
            MissionFact.campaign_id == campaign_id, MissionFact.amount > 0
        )
    )
    completed, paid = session.execute(
        select(
            func.count(func.distinct(MissionReward.member_id)),
            func.coalesce(
                func.sum(case_when((MissionReward.status == "paid", MissionReward.points))), 0
            ),
        ).where(MissionReward.campaign_id == campaign_id)
    ).one()
    return int(started or 0), int(completed), int(paid)


# Reports


def group_figures(
    session: Session,
    group: ColumnElement[str],
    audience: ColumnElement[bool],
    start: datetime | None,
    end: datetime,
) -> list[Row]:
    """Per group of the audience: members, buyers, visits and net spend between start and end
    (`grp`, then the four counts)."""
    p = PURCHASES.c
    window = [p.occurred_at <= literal(end, UtcDateTime())]
    if start is not None:
        window.append(p.occurred_at >= literal(start, UtcDateTime()))
    bought = (
        select(
            p.member_id,
            func.count().label("visits"),
            func.sum(p.amount_minor - p.refunded_minor).label("spend"),
        )
        .where(and_(*window))
        .group_by(p.member_id)
        .subquery()
    )
    return list(
        session.execute(
            select(
                group.label("grp"),
                func.count(),
                func.count(bought.c.member_id),
                func.coalesce(func.sum(bought.c.visits), 0),
                func.coalesce(func.sum(bought.c.spend), 0),
            )
            .select_from(Member)
            .outerjoin(bought, bought.c.member_id == MEMBERS.c.member_id)
            .where(audience)
            .group_by(group)
        )
    )


def reach(session: Session, campaign_id: uuid.UUID) -> tuple[int, int]:
    """Members who got an award, a coupon or a sent message of the campaign, and how many
    messages were sent."""
    awarded = select(Award.member_id).where(Award.campaign_id == campaign_id)
    messaged = select(Message.member_id).where(
        Message.campaign_id == campaign_id, Message.status == SENT
    )
    granted = select(CouponGrant.member_id).where(
        CouponGrant.campaign_id == campaign_id, CouponGrant.status == "issued"
    )
    reached = session.execute(
        select(func.count()).select_from(union(awarded, messaged, granted).subquery())
    ).scalar_one()
    sent = session.execute(select(func.count()).select_from(messaged.subquery())).scalar_one()
    return int(reached), int(sent)


def stage_entries(session: Session, since: datetime) -> list[Row]:
    """(day, stage, members who entered it that day) since a moment."""
    c = STAGE_CHANGES.c
    day = func.date(c.changed_at)
    return list(
        session.execute(
            select(day, c.to_stage, func.count())
            .where(c.changed_at >= literal(since, UtcDateTime()))
            .group_by(day, c.to_stage)
            .order_by(day, c.to_stage)
        )
    )


def _counted(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case_when((condition, 1), else_=0)), 0)


def _within(column: ColumnElement, start: datetime, days: int = 7) -> ColumnElement[bool]:
    return (column >= literal(start, UtcDateTime())) & (
        column < literal(start + timedelta(days=days), UtcDateTime())
    )


def club_totals(session: Session, now: datetime, week_starts: Sequence[datetime]) -> Row:
    """One pass over the live members: `members`, `active_30`, `active_90`, `buyers`,
    `repeat_buyers`, `visits`, `spend`, then `new_0`… the members enrolled in each week of 7
    days from `week_starts`."""
    m = MEMBERS.c
    columns = [
        func.count().label("members"),
        _counted(m.last_purchase_at >= literal(now - timedelta(days=30), UtcDateTime())).label(
            "active_30"
        ),
        _counted(m.last_purchase_at >= literal(now - timedelta(days=90), UtcDateTime())).label(
            "active_90"
        ),
        _counted(m.purchase_count >= 1).label("buyers"),
        _counted(m.purchase_count >= 2).label("repeat_buyers"),
        func.coalesce(func.sum(m.purchase_count), 0).label("visits"),
        func.coalesce(func.sum(m.total_spend_minor), 0).label("spend"),
        *(
            _counted(_within(m.enrolled_at, start)).label(f"new_{n}")
            for n, start in enumerate(week_starts)
        ),
    ]
    return session.execute(select(*columns).where(live(true()))).one()


def stage_entries_by_week(
    session: Session, stages: Sequence[str], week_starts: Sequence[datetime]
) -> dict[str, list[int]]:
    """Per stage, the members who entered it in each week of 7 days from `week_starts`."""
    c = STAGE_CHANGES.c
    span = 7 * len(week_starts)
    query = (
        select(c.to_stage, *(_counted(_within(c.changed_at, start)) for start in week_starts))
        .where(c.to_stage.in_(stages), _within(c.changed_at, week_starts[0], span))
        .group_by(c.to_stage)
    )
    found = {row[0]: [int(n) for n in row[1:]] for row in session.execute(query)}
    return {stage: found.get(stage, [0] * len(week_starts)) for stage in stages}


def stage_counts(session: Session) -> dict[str, int]:
    m = MEMBERS.c
    query = select(m.stage, func.count()).where(live(true())).group_by(m.stage)
    return {stage: int(n) for stage, n in session.execute(query)}


def dissatisfied_members(session: Session, limit: int) -> list[Row]:
    """The most recently dissatisfied members (`member_id`, `first_name`, `stage_since`,
    `last_rating`)."""
    m = MEMBERS.c
    return list(
        session.execute(
            select(m.member_id, m.first_name, m.stage_since, m.last_rating)
            .where(live(m.stage == "dissatisfied"))
            .order_by(m.stage_since.desc())
            .limit(limit)
        )
    )


def case(session: Session, case_id: str, lock: bool = False) -> Case | None:
    return session.get(Case, case_id, with_for_update=lock)


def cases(session: Session, member_id: uuid.UUID | None, status: str, limit: int) -> list[Case]:
    """A member's cases newest first, or (no member) everyone's, oldest first: the queue."""
    query = select(Case).limit(limit)
    if status:
        query = query.where(Case.status == status)
    if member_id is not None:
        return list(
            session.scalars(
                query.where(Case.member_id == member_id).order_by(
                    Case.opened_at.desc(), Case.case_id
                )
            )
        )
    return list(session.scalars(query.order_by(Case.opened_at, Case.case_id)))


def complaint_counts(session: Session, since: datetime) -> list[tuple[str, int, int]]:
    """Per category: complaints opened since `since`, and those of them still open."""
    rows = session.execute(
        select(
            Case.category,
            func.count(),
            func.sum(case_when((Case.status == "open", 1), else_=0)),
        )
        .where(Case.kind == "complaint", Case.opened_at >= since)
        .group_by(Case.category)
        .order_by(func.count().desc(), Case.category)
    )
    return [(category, total, int(still_open or 0)) for category, total, still_open in rows]


def count_open_complaints(session: Session, member_id: uuid.UUID) -> None:
    """Sets the member view's count of the member's open complaints from their cases."""
    still_open = (
        select(func.count())
        .where(Case.member_id == member_id, Case.kind == "complaint", Case.status == "open")
        .scalar_subquery()
    )
    session.execute(
        update(Member).where(Member.member_id == member_id).values(open_complaints=still_open)
    )


def draw(session: Session, draw_id: uuid.UUID, lock: bool = False) -> Draw | None:
    return session.get(Draw, draw_id, with_for_update=lock)


def draws(session: Session, limit: int) -> list[Draw]:
    return list(session.scalars(select(Draw).order_by(Draw.created_at.desc()).limit(limit)))


def draws_of_member(session: Session, member_id: uuid.UUID, limit: int) -> list[Draw]:
    """The draws open now or that the member holds chances in, newest first."""
    held = select(DrawChance.draw_id).where(DrawChance.member_id == member_id)
    query = (
        select(Draw)
        .where(Draw.status != "cancelled")
        .where((Draw.status == "open") | Draw.id.in_(held))
    )
    return list(session.scalars(query.order_by(Draw.created_at.desc()).limit(limit)))


def member_chances(session: Session, draw_id: uuid.UUID, member_id: uuid.UUID) -> int:
    total = session.scalar(
        select(func.sum(DrawChance.chances)).where(
            DrawChance.draw_id == draw_id, DrawChance.member_id == member_id
        )
    )
    return int(total or 0)


def pending_chances(session: Session, draw_id: uuid.UUID, member_id: uuid.UUID) -> int:
    total = session.scalar(
        select(func.sum(DrawPurchase.chances)).where(
            DrawPurchase.draw_id == draw_id,
            DrawPurchase.member_id == member_id,
            DrawPurchase.status == "pending",
        )
    )
    return int(total or 0)


def draw_entries(session: Session, draw_id: uuid.UUID) -> list[tuple[str, int]]:
    """Each member's chances in the draw (member ids as text), erased members left out."""
    erased = select(Member.member_id).where(Member.erased.is_(True))
    rows = session.execute(
        select(func.cast(DrawChance.member_id, String), func.sum(DrawChance.chances))
        .where(DrawChance.draw_id == draw_id, DrawChance.member_id.not_in(erased))
        .group_by(DrawChance.member_id)
    )
    # SQLite keeps a uuid as bare hex: the text every service shows is the dashed form.
    return [
        (member_id if "-" in member_id else str(uuid.UUID(member_id)), int(chances))
        for member_id, chances in rows
    ]


def draw_totals(
    session: Session, draw_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """Per draw, the members holding chances and the chances they hold, erased members left
    out as closing leaves them out."""
    if not draw_ids:
        return {}
    erased = select(Member.member_id).where(Member.erased.is_(True))
    rows = session.execute(
        select(
            DrawChance.draw_id,
            func.count(func.distinct(DrawChance.member_id)),
            func.sum(DrawChance.chances),
        )
        .where(DrawChance.draw_id.in_(list(draw_ids)), DrawChance.member_id.not_in(erased))
        .group_by(DrawChance.draw_id)
    )
    return {draw_id: (int(members), int(chances)) for draw_id, members, chances in rows}


def draw_purchase(
    session: Session, draw_id: uuid.UUID, member_id: uuid.UUID, request_id: str
) -> DrawPurchase | None:
    return session.scalar(
        select(DrawPurchase).where(
            DrawPurchase.draw_id == draw_id,
            DrawPurchase.member_id == member_id,
            DrawPurchase.request_id == request_id,
        )
    )


def draw_purchase_by_id(
    session: Session, purchase_id: uuid.UUID, lock: bool = False
) -> DrawPurchase | None:
    return session.get(DrawPurchase, purchase_id, with_for_update=lock)


def unfinished_draw_purchases(session: Session, before: datetime, limit: int) -> list[uuid.UUID]:
    """Purchases of chances a crash or a cancelled draw left between two steps."""
    query = (
        select(DrawPurchase.id)
        .where(
            ((DrawPurchase.status == "pending") & (DrawPurchase.created_at < before))
            | (DrawPurchase.status == "returning")
        )
        .order_by(DrawPurchase.created_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def return_draw_purchases(session: Session, draw_id: uuid.UUID) -> None:
    """Marks the points spent on a cancelled draw's chances as to be returned."""
    session.execute(
        update(DrawPurchase)
        .where(DrawPurchase.draw_id == draw_id, DrawPurchase.status == "spent")
        .values(status="returning")
    )


def open_draw_targetings(session: Session) -> list[tuple[uuid.UUID, str]]:
    """Each open draw's id and who may enter it (JSON)."""
    query = select(Draw.id, Draw.targeting).where(Draw.status == "open")
    return [(draw_id, targeting) for draw_id, targeting in session.execute(query)]


def draws_earning(session: Session) -> list[Draw]:
    """Open draws in which purchases earn chances."""
    query = select(Draw).where(
        Draw.status == "open", (Draw.per_purchase > 0) | (Draw.per_amount_minor > 0)
    )
    return list(session.scalars(query))


def open_draw_chances(
    session: Session, member_id: uuid.UUID, source: str
) -> list[tuple[DrawChance, Draw]]:
    """The chances one source of a member earned in draws still open, with their draws,
    locked."""
    query = (
        select(DrawChance, Draw)
        .join(Draw, Draw.id == DrawChance.draw_id)
        .where(
            DrawChance.member_id == member_id,
            DrawChance.source == source,
            Draw.status == "open",
        )
        .with_for_update(of=DrawChance)
    )
    return [(chance, draw) for chance, draw in session.execute(query)]


def has_draw_chance(session: Session, draw_id: uuid.UUID, source: str) -> bool:
    found = select(DrawChance.id).where(DrawChance.draw_id == draw_id, DrawChance.source == source)
    return session.scalar(found) is not None
