"""A member's coupons after they are issued: read, checked and used at a till (exactly once
across every store and till), released by the store that used them, cancelled by support
(with their points back when the reward says so), collected as a gift, and expired.

Every change of status is a conditional update from the status it leaves, written with its
`coupon.*` event in one transaction, so no two tills, retries or processes can both win.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from loyalty.points.v1 import points_pb2 as pb
from services.points import events, repository
from services.points.coupon_codes import normalise
from services.points.coupon_terms import Terms
from services.points.ledger import EXPIRED, REDEEMED, Book, member, program
from services.points.members import MemberOperations
from services.points.models import Coupon
from services.runtime import event_types
from services.runtime.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from services.runtime.idempotency import check_caller_id
from services.runtime.ids import parse_id

ISSUED = "issued"
USED = "used"
EXPIRED_STATUS = "expired"
CANCELLED = "cancelled"
STATUSES = (ISSUED, USED, EXPIRED_STATUS, CANCELLED)
# Source type of the postings of rewards: points spent on them and given back.
REWARD_SOURCE = "reward"
EXPIRE_BATCH = 1000


@dataclass(frozen=True)
class CouponView:
    id: str
    code: str
    reward_id: str
    member_id: str
    kind: str
    status: str
    name: str
    name_fa: str
    partner_code: str
    terms: Terms | None
    points_spent: int
    issued_at: datetime
    expires_at: datetime | None
    used_at: datetime | None
    store_id: str
    transaction_id: str
    campaign_id: str


def status_at(coupon: Coupon, now: datetime) -> str:
    """Its status now: an issued coupon past its expiry is expired, whether or not the job
    has marked it yet."""
    if coupon.status == ISSUED and coupon.expires_at is not None and coupon.expires_at <= now:
        return EXPIRED_STATUS
    return coupon.status


def view_of(coupon: Coupon, now: datetime) -> CouponView:
    return CouponView(
        id=str(coupon.id),
        code=coupon.code,
        reward_id=str(coupon.reward_id) if coupon.reward_id else "",
        member_id=str(coupon.member_id),
        kind=coupon.kind,
        status=status_at(coupon, now),
        name=coupon.name,
        name_fa=coupon.name_fa,
        partner_code=coupon.partner_code or "",
        terms=Terms.from_json(coupon.terms),
        points_spent=coupon.points_spent,
        issued_at=coupon.issued_at,
        expires_at=coupon.expires_at,
        used_at=coupon.used_at,
        store_id=str(coupon.store_id) if coupon.store_id else "",
        transaction_id=coupon.transaction_id or "",
        campaign_id=coupon.campaign_id or "",
    )


def coupon_changed(
    session: Session, at: datetime, event_type: str, coupon: Coupon, **extra: object
) -> None:
    """The `coupon.*` event of a change, in its transaction. Never the code itself."""
    payload = pb.CouponChanged(
        coupon_id=str(coupon.id),
        reward_id=str(coupon.reward_id) if coupon.reward_id else "",
        kind=coupon.kind,
        status=coupon.status,
        expires_at=coupon.expires_at.isoformat() if coupon.expires_at else "",
        campaign_id=coupon.campaign_id or "",
        **extra,  # type: ignore[arg-type]
    )
    events.coupon_changed(session, at, event_type, coupon.member_id, payload)


@dataclass(frozen=True)
class Check:
    coupon: CouponView
    usable: bool
    # Why not, as an error code.
    reason: str
    # For the amount asked about, when usable.
    discount_minor: int | None
    currency: str


@dataclass(frozen=True)
class Use:
    coupon: CouponView
    discount_minor: int
    currency: str


class Coupons(MemberOperations):
    def list(self, member_id: str, status: str = "") -> list[CouponView]:
        if status and status not in STATUSES:
            raise InvalidArgument(f"status must be one of {', '.join(STATUSES)}", "invalid-status")
        owner = self._members.owner(parse_id(member_id, "member"))
        now = self._clock()
        # An issued coupon may have expired since the job last ran: asked for one status, the
        # lazily expired ones are sorted where they belong.
        stored = ISSUED if status == EXPIRED_STATUS else status
        with self._db.read() as session:
            found = [view_of(c, now) for c in repository.coupons_of(session, owner, stored)]
            if status == EXPIRED_STATUS:
                found += [view_of(c, now) for c in repository.coupons_of(session, owner, status)]
        return [c for c in found if not status or c.status == status]

    def get(self, coupon_id: str) -> CouponView:
        with self._db.read() as session:
            coupon = session.get(Coupon, uuid.UUID(coupon_id))
            assert coupon is not None
            return view_of(coupon, self._clock())

    def check(self, code: str, amount_minor: int | None, currency: str) -> Check:
        """What the code gives and whether it can be used now (for this amount, if given)."""
        now = self._clock()
        with self._db.read() as session:
            coupon = _find(session, code)
            view = view_of(coupon, now)
        try:
            _usable(view)
            discount = (
                view.terms.discount(amount_minor, currency)
                if amount_minor is not None and view.terms is not None
                else None
            )
        except (Conflict, FailedPrecondition) as refusal:
            return Check(view, False, refusal.code, None, currency)
        return Check(view, True, "", discount, currency)

    def use(
        self, code: str, store_id: str, transaction_id: str, amount_minor: int, currency: str
    ) -> Use:
        """Uses the coupon within the store's transaction for `amount_minor`: the discount.
        The same transaction again answers the same; any other gets `coupon-used`."""
        store = parse_id(store_id, "store")
        check_caller_id(transaction_id, "transaction_id")
        now = self._clock()
        with self._db.write() as session:
            coupon = _find(session, code)
            earlier = _earlier_use(coupon, store, transaction_id, amount_minor, currency)
            if earlier is not None:
                return Use(view_of(coupon, now), earlier, currency)
            view = view_of(coupon, now)
            _usable(view)
            assert view.terms is not None
            discount = view.terms.discount(amount_minor, currency)
            used = repository.use_coupon(
                session,
                coupon.id,
                now,
                store_id=store,
                transaction_id=transaction_id,
                use_amount_minor=amount_minor,
                use_currency=currency,
                discount_minor=discount,
            )
            session.refresh(coupon)
            if not used:
                # Another till's transaction won the row meanwhile (PostgreSQL re-reads it).
                earlier = _earlier_use(coupon, store, transaction_id, amount_minor, currency)
                if earlier is not None:
                    return Use(view_of(coupon, now), earlier, currency)
                _usable(view_of(coupon, now))
                raise Conflict("the coupon was used", code="coupon-used")
            coupon_changed(
                session,
                now,
                event_types.COUPON_USED,
                coupon,
                store_id=str(store),
                transaction_id=transaction_id,
                discount_minor=discount,
                currency=currency,
            )
            return Use(view_of(coupon, now), discount, currency)

    def release(self, code: str, store_id: str, transaction_id: str) -> CouponView:
        """The store's cancelled sale gives the coupon back: issued again (expired if its time
        has passed meanwhile). Releasing it again answers the same."""
        store = parse_id(store_id, "store")
        now = self._clock()
        with self._db.write() as session:
            coupon = _find(session, code)
            if coupon.status == ISSUED:
                return view_of(coupon, now)
            if not repository.release_coupon(session, coupon.id, store, transaction_id):
                raise Conflict(
                    "the coupon was not used by this store's transaction",
                    code="coupon-not-released",
                )
            session.refresh(coupon)
            coupon_changed(
                session,
                now,
                event_types.COUPON_RELEASED,
                coupon,
                store_id=str(store),
                transaction_id=transaction_id,
            )
            return view_of(coupon, now)

    def cancel(self, code: str, actor: str, reason: str) -> tuple[CouponView, int]:
        """Support cancels an unused coupon; its points go back to their lots when the reward
        says so. Cancelling it again answers the same."""
        if not reason.strip():
            raise InvalidArgument("say why the coupon is cancelled", code="invalid-reason")
        now = self._clock()
        with self._db.read() as session:
            owner = _find(session, code).member_id
        with self._db.write() as session:
            book = Book(session, self._policy, now)
            book.lock(owner, follow_merges=False)
            coupon = _find(session, code)
            if coupon.status == CANCELLED:
                return view_of(coupon, now), coupon.points_returned
            _usable(view_of(coupon, now), gifts=True)
            reward = repository.reward(session, coupon.reward_id) if coupon.reward_id else None
            returned = 0
            if reward is not None and reward.refund_on_cancel and coupon.points_spent:
                returned = _give_back(book, coupon)
            if reward is not None and coupon.kind != "partner_code":
                repository.return_stock(session, reward.id)
            coupon.status = CANCELLED
            coupon.cancelled_by = actor[:100]
            coupon.cancel_reason = reason[:200]
            coupon.points_returned = returned
            session.flush()
            coupon_changed(
                session, now, event_types.COUPON_CANCELLED, coupon, points_returned=returned
            )
            return view_of(coupon, now), returned

    def collect(self, code: str, store_id: str) -> CouponView:
        """The store hands over the gift: used (collected) by that store, once."""
        store = parse_id(store_id, "store")
        now = self._clock()
        with self._db.write() as session:
            coupon = _find(session, code)
            if coupon.kind != "gift":
                raise FailedPrecondition("this coupon is not a gift", code="not-a-gift")
            if coupon.status == USED and coupon.store_id == store:
                return view_of(coupon, now)
            _usable(view_of(coupon, now), gifts=True)
            if not repository.use_coupon(
                session, coupon.id, now, store_id=store, transaction_id="gift"
            ):
                raise Conflict("the gift was collected", code="coupon-used")
            session.refresh(coupon)
            coupon_changed(session, now, event_types.COUPON_USED, coupon, store_id=str(store))
            return view_of(coupon, now)

    def expire_due(self) -> int:
        """Marks issued coupons past their expiry expired, with their events (a batch per
        transaction; safe in several processes at once)."""
        now = self._clock()
        total = 0
        while True:
            with self._db.write() as session:
                expired = repository.expire_coupons(session, now, EXPIRE_BATCH)
                for coupon in expired:
                    coupon_changed(session, now, event_types.COUPON_EXPIRED, coupon)
            total += len(expired)
            if len(expired) < EXPIRE_BATCH:
                return total


def _find(session: Session, code: str) -> Coupon:
    coupon = repository.coupon_by_code(session, normalise(code)) if code else None
    if coupon is None:
        raise NotFound("no coupon with this code", code="coupon-not-found")
    return coupon


def _usable(coupon: CouponView, gifts: bool = False) -> None:
    """Refused with the reason the coupon cannot be used now."""
    if coupon.status == USED:
        raise Conflict("the coupon was used", code="coupon-used")
    if coupon.status == EXPIRED_STATUS:
        raise Conflict("the coupon has expired", code="coupon-expired")
    if coupon.status == CANCELLED:
        raise Conflict("the coupon was cancelled", code="coupon-cancelled")
    if not gifts and coupon.terms is None:
        raise FailedPrecondition(
            "this is not a discount coupon (a partner's code or a gift)",
            code="coupon-not-redeemable",
        )


def _earlier_use(
    coupon: Coupon, store: uuid.UUID, transaction_id: str, amount_minor: int, currency: str
) -> int | None:
    """The discount this store's transaction already got with the coupon; None if it has not
    used it. The same transaction for another amount is refused."""
    if coupon.status != USED or coupon.store_id != store:
        return None
    if coupon.transaction_id != transaction_id:
        return None
    if (coupon.use_amount_minor, coupon.use_currency) != (amount_minor, currency):
        raise FailedPrecondition(
            "this transaction already used the coupon for another amount",
            code="idempotency-mismatch",
        )
    return coupon.discount_minor or 0


def _give_back(book: Book, coupon: Coupon) -> int:
    """Returns a redemption's points to the lots they came from (those expired meanwhile
    expire now); the points given back."""
    back, expired = book.give_back(repository.coupon_allocations(book.session, coupon.id))
    moves = [program(REDEEMED, -coupon.points_spent), member(coupon.member_id, "available", back)]
    if expired:
        moves.append(program(EXPIRED, expired))
    book.post("release", "reward coupon cancelled", REWARD_SOURCE, str(coupon.id), moves)
    return coupon.points_spent
