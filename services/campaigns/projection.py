"""The member view: what identity and points events say about each member, applied one page
of events per transaction together with the feed's cursor, so each event counts exactly once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from loyalty.identity.v1 import identity_pb2
from loyalty.points.v1 import points_pb2
from services.campaigns import repository
from services.campaigns.lifecycle import refresh_stages
from services.campaigns.member_rows import MemberState, PageRows, PurchaseKey
from services.campaigns.models import Member
from services.campaigns.settings import Lifecycle
from services.runtime import event_types
from services.runtime.outbox import Event

# A merged duplicate names its survivor; survivors merged later are followed this far.
MAX_MERGE_HOPS = 5


def bucket_of(member_id: uuid.UUID) -> int:
    """A stable number in [0, 10000) for a member."""
    return int.from_bytes(hashlib.sha256(member_id.bytes).digest()[:4], "big") % 10000


def _owner(rows: PageRows, member_id: uuid.UUID) -> MemberState:
    """The row a member's purchases count on: their own, or, once the view has merged them,
    their survivor's. Identity's and points' feeds are read apart, so a duplicate's last
    purchases may arrive after its merge."""
    row = rows.member(member_id, bucket_of(member_id))
    for _hop in range(MAX_MERGE_HOPS):
        if row.merged_into is None:
            break
        row = rows.member(row.merged_into, bucket_of(row.merged_into))
    return row


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


def _when(value: str, default: datetime) -> datetime:
    if not value:
        return default
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=default.tzinfo)


def _profile(
    row: MemberState, profile: identity_pb2.MemberEnrolled | identity_pb2.MemberProfileChanged
) -> None:
    row.first_name = profile.first_name or None
    row.city = profile.city.strip().lower() or None
    born = date.fromisoformat(profile.birth_date) if profile.birth_date else None
    row.birth_date, row.birth_month = born, born.month if born else None
    row.gender = profile.gender or None
    row.interests = json.dumps(list(profile.interests))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(x for x in (a, b) if x is not None) if (a or b) else None


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(x for x in (a, b) if x is not None) if (a or b) else None


def apply(
    session: Session, rows: PageRows, event: Event, payload: Message | None
) -> uuid.UUID | None:
    """Applies one event, its payload read as its message; returns the member whose stage may
    have changed."""
    if not event.member_id:
        return None
    member_id = uuid.UUID(event.member_id)
    row = rows.member(member_id, bucket_of(member_id))
    # The most frequent first: every purchase brings a points change.
    match payload:
        case points_pb2.PointsChanged():
            # Points moves a merged duplicate's balance itself, with changes of its own.
            row.points += payload.changes.get("available", 0)
        case points_pb2.PurchaseRecorded():
            row = _owner(rows, member_id)
            _purchase(rows, row, payload, event.occurred_at)
        case points_pb2.PurchaseRefunded():
            row = _owner(rows, member_id)
            row.refund_count += 1
            row.refunded_minor += payload.amount_minor
            row.total_spend_minor -= payload.amount_minor
            row.last_refund_at = event.occurred_at
            rows.refund_purchase(_purchase_key(payload), payload.amount_minor)
        case points_pb2.TierChanged():
            row.tier = payload.to or row.tier
        case points_pb2.CouponChanged():
            _coupon(session, row, event.type, payload, event.occurred_at)
        case identity_pb2.MemberEnrolled():
            row.enrolled_at = row.enrolled_at or event.occurred_at
            row.enrolled_store_id = payload.store_id or None
            _profile(row, payload)
            row.consent_sms = payload.consents.sms
            row.consent_email = payload.consents.email
        case identity_pb2.MemberProfileChanged():
            _profile(row, payload)
        case identity_pb2.MemberConsentChanged():
            if payload.channel in ("sms", "email"):
                row[f"consent_{payload.channel}"] = payload.granted
        case identity_pb2.MemberErased():
            _erase(session, row)
        case identity_pb2.MemberMerged():
            survivor_id = uuid.UUID(payload.survivor_id)
            _merge(session, rows, row, rows.member(survivor_id, bucket_of(survivor_id)))
            return survivor_id
    return row.member_id


def _purchase_key(
    payload: points_pb2.PurchaseRecorded | points_pb2.PurchaseRefunded,
) -> PurchaseKey:
    return payload.store_id, payload.transaction_id


def purchase_source(
    payload: points_pb2.PurchaseRecorded | points_pb2.PurchaseRefunded,
) -> str:
    """What a purchase is recorded under by what it earned (draw chances, mission facts), so
    that a replayed event, or its refund, finds it."""
    store_id, transaction_id = _purchase_key(payload)
    return f"purchase:{store_id}:{transaction_id}"


def _purchase(
    rows: PageRows, row: MemberState, payload: points_pb2.PurchaseRecorded, occurred: datetime
) -> None:
    at = _when(payload.occurred_at, occurred)
    values = {
        "member_id": row.member_id,
        "amount_minor": payload.amount_minor,
        "refunded_minor": 0,
        "occurred_at": at,
    }
    if not rows.add_purchase(_purchase_key(payload), values):
        return
    row.purchase_count += 1
    row.total_spend_minor += payload.amount_minor
    row.first_purchase_at = _earlier(row.first_purchase_at, at)
    row.last_purchase_at = _later(row.last_purchase_at, at)
    row.categories = with_categories(row.categories, (item.category for item in payload.items))


# How each coupon event moves a member's (unused, used) coupons.
COUPON_MOVES = {
    event_types.COUPON_ISSUED: (1, 0),
    event_types.COUPON_USED: (-1, 1),
    event_types.COUPON_RELEASED: (1, -1),
    event_types.COUPON_CANCELLED: (-1, 0),
    event_types.COUPON_EXPIRED: (-1, 0),
}


def _coupon(
    session: Session,
    row: MemberState,
    event_type: str,
    payload: points_pb2.CouponChanged,
    occurred: datetime,
) -> None:
    unused, used = COUPON_MOVES.get(event_type, (0, 0))
    row.coupons_unused = max(row.coupons_unused + unused, 0)
    row.coupons_used = max(row.coupons_used + used, 0)
    if payload.campaign_id and used:
        # A campaign's coupon: its report counts it used.
        at = occurred if used > 0 else None
        repository.mark_coupon_used(session, payload.coupon_id, at)


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
    survivor.coupons_unused += row.coupons_unused
    survivor.coupons_used += row.coupons_used
    survivor.first_purchase_at = _earlier(survivor.first_purchase_at, row.first_purchase_at)
    survivor.last_purchase_at = _later(survivor.last_purchase_at, row.last_purchase_at)
    survivor.last_refund_at = _later(survivor.last_refund_at, row.last_refund_at)
    rows.flush_purchases()  # the member's purchases of this page move too
    repository.move_purchases(session, row.member_id, survivor.member_id)
    repository.move_chances_and_facts(session, row.member_id, survivor.member_id)
    survivor.categories = with_categories(survivor.categories, row.categories.split(","))
    row.merged_into = survivor.member_id
    row.purchase_count = row.coupons_unused = row.coupons_used = 0


def record_feedback(session: Session, member_id: uuid.UUID, rating: int, at: datetime) -> None:
    row = member_row(session, member_id)
    row.last_rating = rating
    row.last_feedback_at = at


Parsed = list[tuple[Event, Message | None]]


@dataclass(frozen=True)
class Page:
    """A page of events applied to the view, each payload read as its message, and whom each
    of its members' purchases count for now: the member, or the survivor the view merged them
    into (in this page or before), who by then holds what the duplicate earned."""

    events: Parsed
    owners: dict[uuid.UUID, uuid.UUID]

    def owner(self, member_id: uuid.UUID) -> uuid.UUID:
        return self.owners.get(member_id, member_id)


def _members_and_purchases(page: Parsed) -> tuple[set[uuid.UUID], set[PurchaseKey]]:
    """Every member a page touches (merge survivors too) and the purchases it records."""
    members: set[uuid.UUID] = set()
    purchases: set[PurchaseKey] = set()
    for event, payload in page:
        if not event.member_id:
            continue
        members.add(uuid.UUID(event.member_id))
        if isinstance(payload, identity_pb2.MemberMerged):
            members.add(uuid.UUID(payload.survivor_id))
        elif isinstance(payload, points_pb2.PurchaseRecorded):
            purchases.add(_purchase_key(payload))
    return members, purchases


def apply_page(session: Session, events: list[Event], rules: Lifecycle, now: datetime) -> Page:
    """Applies a page of one feed's events in the caller's transaction (which moves the feed's
    cursor): each payload is read once as its message, the page's members are read in one
    statement and written back in a few."""
    page = [(event, event_types.parse(event.type, event.payload)) for event in events]
    members, purchases = _members_and_purchases(page)
    rows = PageRows(session)
    rows.load(members, purchases)
    touched: set[uuid.UUID] = set()
    for event, payload in page:
        member_id = apply(session, rows, event, payload)
        if member_id is not None:
            touched.add(member_id)
    rows.flush()
    refresh_stages(session, rules, now, touched)
    owners = {member: _owner(rows, member).member_id for member in members}
    return Page(page, {member: owner for member, owner in owners.items() if owner != member})


@dataclass(frozen=True)
class PurchaseSeen:
    member_id: uuid.UUID
    # `purchase_source`: a replayed event finds its chances already given.
    source: str
    amount_minor: int
    at: datetime


def purchases_seen(page: Page) -> list[PurchaseSeen]:
    """The purchases a page records, as draws count them."""
    seen = []
    for event, payload in page.events:
        if event.member_id and isinstance(payload, points_pb2.PurchaseRecorded):
            seen.append(
                PurchaseSeen(
                    page.owner(uuid.UUID(event.member_id)),
                    purchase_source(payload),
                    payload.amount_minor,
                    _when(payload.occurred_at, event.occurred_at),
                )
            )
    return seen


@dataclass(frozen=True)
class RefundSeen:
    """A refund of a purchase: what is left of it once every refund so far is taken off."""

    member_id: uuid.UUID
    # `purchase_source` of the purchase refunded.
    source: str
    remaining_minor: int


def refunds_seen(page: Page) -> list[RefundSeen]:
    """The refunds a page records, as draws and missions take back what a purchase earned."""
    seen = []
    for event, payload in page.events:
        if event.member_id and isinstance(payload, points_pb2.PurchaseRefunded):
            remaining = max(payload.purchase_amount_minor - payload.refunded_minor, 0)
            owner = page.owner(uuid.UUID(event.member_id))
            seen.append(RefundSeen(owner, purchase_source(payload), remaining))
    return seen


def reset(session: Session) -> None:
    """Forgets the whole member view and every cursor, to rebuild it from the first event.
    Feedback is campaigns' own record, so it stays and is laid over the rebuilt view."""
    repository.clear_view(session)
    for feedback in repository.all_feedback(session):
        record_feedback(session, feedback.member_id, feedback.rating, feedback.created_at)
