"""Lifecycle stages and RFM scores, computed in the database, set-based.

The stage is one SQL expression over the member row, so the same rule serves one member as an
event arrives and every member in the periodic pass (time alone makes members lapse):

- dissatisfied, before any other: a complaint not resolved yet;
- potential: no purchase yet;
- dissatisfied: a rating at or below the threshold, or a refund not followed by a better rating,
  within the signal window;
- lapsed: no purchase for `lapsed_days`;
- loyal: at least `loyal_purchases` purchases within `loyal_window_days`;
- satisfied: a good rating within the signal window, not overtaken by a refund;
- customer: everyone else who has bought.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, func, literal, or_, select
from sqlalchemy.orm import Session

from services.campaigns import repository
from services.campaigns.models import Member, MemberPurchase
from services.campaigns.settings import Lifecycle
from services.runtime.db import UtcDateTime

STAGES = ("potential", "customer", "satisfied", "dissatisfied", "loyal", "lapsed")


def stage_expression(rules: Lifecycle) -> ColumnElement[str]:
    """The stage rule over the member row, its moments left as the parameters `signal_from`,
    `loyal_from` and `lapsed_from` (see `stage_moments`)."""
    m = Member.__table__.c
    signal_from = bindparam("signal_from", type_=UtcDateTime())
    refund_counts = and_(
        m.last_refund_at >= signal_from,
        or_(m.last_feedback_at.is_(None), m.last_feedback_at < m.last_refund_at),
    )
    dissatisfied = or_(
        and_(m.last_rating <= rules.dissatisfied_rating, m.last_feedback_at >= signal_from),
        refund_counts,
    )
    satisfied = and_(
        m.last_rating >= rules.satisfied_rating,
        m.last_feedback_at >= signal_from,
        or_(m.last_refund_at.is_(None), m.last_refund_at <= m.last_feedback_at),
    )
    recent = (
        select(func.count())
        .where(
            MemberPurchase.member_id == m.member_id,
            MemberPurchase.occurred_at >= bindparam("loyal_from", type_=UtcDateTime()),
        )
        .scalar_subquery()
    )
    return case(
        # A complaint counts before anything else, before the first purchase too.
        (m.open_complaints > 0, literal("dissatisfied")),
        (m.purchase_count == 0, literal("potential")),
        (dissatisfied, literal("dissatisfied")),
        (m.last_purchase_at < bindparam("lapsed_from", type_=UtcDateTime()), "lapsed"),
        (recent >= rules.loyal_purchases, literal("loyal")),
        (satisfied, literal("satisfied")),
        else_=literal("customer"),
    )


def stage_moments(rules: Lifecycle, now: datetime) -> dict[str, datetime]:
    """The parameters of `stage_expression` at `now`."""
    return {
        "signal_from": now - timedelta(days=rules.signal_days),
        "loyal_from": now - timedelta(days=rules.loyal_window_days),
        "lapsed_from": now - timedelta(days=rules.lapsed_days),
    }


@functools.cache
def _stage_moves(rules: Lifecycle, some: bool) -> tuple[Any, Any]:
    # Built once per process: a page of the feed refreshes its members' stages.
    return repository.stage_moves(stage_expression(rules), some)


def refresh_stages(
    session: Session,
    rules: Lifecycle,
    now: datetime,
    member_ids: Iterable[uuid.UUID] | None = None,
) -> int:
    """Moves members whose stage no longer matches the rule, recording each change; all members
    when `member_ids` is None. Two statements, whatever the number of members: the changes are
    recorded, then applied. Returns how many changed."""
    params: dict[str, Any] = {**stage_moments(rules, now), "changed_at": now}
    if member_ids is not None:
        params["ids"] = list(member_ids)
        if not params["ids"]:
            return 0
    return repository.move_stages(session, _stage_moves(rules, member_ids is not None), params)


def refresh_rfm(session: Session) -> None:
    """Recency, frequency and monetary quintiles (1 low .. 5 high) of every buying member."""
    m = Member.__table__.c
    scores = (
        select(
            m.member_id,
            func.ntile(5).over(order_by=m.last_purchase_at).label("r"),
            func.ntile(5).over(order_by=m.purchase_count).label("f"),
            func.ntile(5).over(order_by=m.total_spend_minor).label("m"),
        )
        .where(m.purchase_count > 0, m.erased.is_(False), m.merged_into.is_(None))
        .subquery()
    )
    repository.set_rfm(session, scores)
