"""The member view: what identity and points events say about each member, applied one page
of events per transaction together with the feed's cursor, so each event counts exactly once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy.orm import Session

from services.campaigns import repository
from services.campaigns.lifecycle import refresh_stages
from services.campaigns.member_rows import MemberState, PageRows, PurchaseKey
from services.campaigns.models import FeedCursor, Member
from services.campaigns.settings import Lifecycle
from services.runtime.outbox import Event

PROFILE_FIELDS = ("first_name", "city", "birth_date", "gender", "interests")


def bucket_of(member_id: uuid.UUID) -> int:
    """A stable number in [0, 10000) for a member."""
    return int.from_bytes(hashlib.sha256(member_id.bytes).digest()[:4], "big") % 10000


def member_row(session: Session, member_id: uuid.UUID) -> Member:
    row = repository.member(session, member_id)
    if row is None:
        row = Member(
            member_id=member_id,
            bucket=bucket_of(member_id),
            consent_sms=False,
            consent_email=False,
            tier="member",
            points=0,
            purchase_count=0,
            total_spend_minor=0,
            refund_count=0,
            refunded_minor=0,
            stage="potential",
            rfm_r=0,
            rfm_f=0,
            rfm_m=0,
            erased=False,
        )
        repository.add(session, row)
    return row


def category_name(value: str) -> str:
    return value.strip().lower().replace(",", " ")


def with_categories(known: str | None, more: Iterable[str]) -> str:
    """`",dairy,"` and ["bakery"] → `",bakery,dairy,"`."""
    names = {n for n in (known or "").split(",") if n} | {category_name(m) for m in more}
    names.discard("")
    return "," + ",".join(sorted(names)) + "," if names else ""


def _when(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=default.tzinfo)


def _profile(row: MemberState, payload: dict) -> None:
    if "first_name" in payload:
        row.first_name = payload["first_name"] or None
    if "city" in payload:
        row.city = (payload["city"] or "").strip().lower() or None
    if "birth_date" in payload:
        born = date.fromisoformat(payload["birth_date"]) if payload["birth_date"] else None
        row.birth_date, row.birth_month = born, born.month if born else None
    if "gender" in payload:
        row.gender = payload["gender"] or None
    if "interests" in payload:
        row.interests = json.dumps(payload["interests"] or [])


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(x for x in (a, b) if x is not None) if (a or b) else None


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(x for x in (a, b) if x is not None) if (a or b) else None


def apply(session: Session, rows: PageRows, event: Event) -> uuid.UUID | None:
    """Applies one event; returns the member whose stage may have changed."""
    if not event.member_id:
        return None
    member_id = uuid.UUID(event.member_id)
    payload = event.payload
    kind = event.type
    row = rows.member(member_id, bucket_of(member_id))
    if kind == "member.enrolled":
        row.enrolled_at = row.enrolled_at or event.occurred_at
        row.enrolled_store_id = payload.get("store_id") or None
        _profile(row, payload)
        consents = payload.get("consents") or {}
        row.consent_sms = bool(consents.get("sms"))
        row.consent_email = bool(consents.get("email"))
    elif kind == "member.profile_changed":
        _profile(row, payload)
    elif kind == "member.consent_changed":
        if payload.get("channel") in ("sms", "email"):
            row[f"consent_{payload['channel']}"] = bool(payload.get("granted"))
    elif kind == "member.erased":
        _erase(session, row)
    elif kind == "member.merged":
        survivor_id = uuid.UUID(payload["survivor_id"])
        _merge(session, rows, row, rows.member(survivor_id, bucket_of(survivor_id)))
        return survivor_id
    elif kind == "purchase.recorded":
        _purchase(rows, row, payload, event.occurred_at)
    elif kind == "purchase.refunded":
        amount = int(payload.get("amount_minor", 0))
        row.refund_count += 1
        row.refunded_minor += amount
        row.total_spend_minor -= amount
        row.last_refund_at = event.occurred_at
        rows.refund_purchase(_purchase_key(payload), amount)
    elif kind == "tier.changed":
        row.tier = payload.get("to") or row.tier
    elif kind.startswith("points."):
        row.points += int((payload.get("changes") or {}).get("available", 0))
    return member_id


def _purchase_key(payload: dict) -> PurchaseKey:
    return str(payload.get("store_id", "")), str(payload.get("transaction_id", ""))


def _purchase(rows: PageRows, row: MemberState, payload: dict, occurred: datetime) -> None:
    at = _when(payload.get("occurred_at"), occurred)
    amount = int(payload.get("amount_minor", 0))
    values = {
        "member_id": row.member_id,
        "amount_minor": amount,
        "refunded_minor": 0,
        "occurred_at": at,
    }
    if not rows.add_purchase(_purchase_key(payload), values):
        return
    row.purchase_count += 1
    row.total_spend_minor += amount
    row.first_purchase_at = _earlier(row.first_purchase_at, at)
    row.last_purchase_at = _later(row.last_purchase_at, at)
    row.categories = with_categories(
        row.categories, (str(item.get("category") or "") for item in payload.get("items") or [])
    )


def _erase(session: Session, row: MemberState) -> None:
    row.first_name = row.city = row.gender = row.interests = None
    row.birth_date = row.birth_month = None
    row.consent_sms = row.consent_email = False
    row.erased = True
    # A message's text was written for the member (their name, their points).
    repository.blank_member_texts(session, row.member_id)


def _merge(session: Session, rows: PageRows, row: MemberState, survivor: MemberState) -> None:
    """The merged-away member's history counts for the survivor from now on."""
    survivor.purchase_count += row.purchase_count
    survivor.total_spend_minor += row.total_spend_minor
    survivor.refund_count += row.refund_count
    survivor.refunded_minor += row.refunded_minor
    survivor.first_purchase_at = _earlier(survivor.first_purchase_at, row.first_purchase_at)
    survivor.last_purchase_at = _later(survivor.last_purchase_at, row.last_purchase_at)
    survivor.last_refund_at = _later(survivor.last_refund_at, row.last_refund_at)
    rows.flush_purchases()  # the member's purchases of this page move too
    repository.move_purchases(session, row.member_id, survivor.member_id)
    survivor.categories = with_categories(survivor.categories, row.categories.split(","))
    row.merged_into = survivor.member_id
    row.purchase_count = 0


def record_feedback(session: Session, member_id: uuid.UUID, rating: int, at: datetime) -> None:
    row = member_row(session, member_id)
    row.last_rating = rating
    row.last_feedback_at = at


def _members_and_purchases(events: list[Event]) -> tuple[set[uuid.UUID], set[PurchaseKey]]:
    """Every member a page touches (merge survivors too) and the purchases it records."""
    members: set[uuid.UUID] = set()
    purchases: set[PurchaseKey] = set()
    for event in events:
        if not event.member_id:
            continue
        members.add(uuid.UUID(event.member_id))
        if event.type == "member.merged":
            members.add(uuid.UUID(event.payload["survivor_id"]))
        elif event.type == "purchase.recorded":
            purchases.add(_purchase_key(event.payload))
    return members, purchases


def apply_page(
    session: Session,
    cursor: FeedCursor,
    events: list[Event],
    next_cursor: str,
    rules: Lifecycle,
    now: datetime,
) -> None:
    """Applies a page of one feed's events and moves its cursor, in the caller's transaction:
    the page's members are read in one statement and written back in a few."""
    rows = PageRows(session)
    rows.load(*_members_and_purchases(events))
    touched: set[uuid.UUID] = set()
    for event in events:
        member_id = apply(session, rows, event)
        if member_id is not None:
            touched.add(member_id)
    rows.flush()
    refresh_stages(session, rules, now, touched)
    cursor.cursor = next_cursor
    cursor.events_applied += len(events)
    if events:
        cursor.last_event_at = events[-1].occurred_at
    cursor.applied_at = now


def reset(session: Session) -> None:
    """Forgets the whole member view and every cursor, to rebuild it from the first event.
    Feedback is campaigns' own record, so it stays and is laid over the rebuilt view."""
    repository.clear_view(session)
    for feedback in repository.all_feedback(session):
        record_feedback(session, feedback.member_id, feedback.rating, feedback.created_at)
