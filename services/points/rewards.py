"""Redeeming a reward, and issuing a coupon without points.

A redemption is one transaction of the points database: the member's balance row locked, the
per-member limit counted under that lock, the stock taken by a conditional update (or a
partner code claimed with SKIP LOCKED), the points spent from the member's lots, the coupon
written with the request's idempotency record, and the events. A crash leaves all of it or
none of it; a retry under the same request_id answers the same coupon.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from loyalty.points.v1 import points_pb2 as pb
from services.points import events, repository
from services.points.catalog import (
    PARTNER_CODE,
    Catalog,
    is_active,
    load,
    reward_id_of,
)
from services.points.coupon_codes import new_code
from services.points.coupon_terms import Terms, checked
from services.points.coupons import ISSUED, REWARD_SOURCE, Coupons, CouponView, coupon_changed
from services.points.ledger import REDEEMED, Book, member, program
from services.points.members import MemberOperations, Members
from services.points.models import Coupon, CouponAllocation, Reward
from services.points.policy import PointsPolicy
from services.runtime import event_types
from services.runtime.db import Database, utcnow
from services.runtime.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound
from services.runtime.idempotency import JsonRecord, Once, check_caller_id
from services.runtime.ids import parse_id


@dataclass(frozen=True)
class IssueRecord(JsonRecord):
    """What a redemption or an issue answered, kept with its coupon for retries."""

    coupon_id: str
    points_spent: int
    available: int
    pending: int


@dataclass(frozen=True)
class Redeemed:
    coupon: CouponView
    points_spent: int
    available: int
    pending: int


@dataclass(frozen=True)
class InlineCoupon:
    """A coupon of its own, not of the catalog (a campaign's)."""

    terms: Terms
    name: str
    name_fa: str = ""
    valid_days: int = 0


class Rewards(MemberOperations):
    def __init__(
        self,
        database: Database,
        policy: PointsPolicy,
        members: Members,
        catalog: Catalog,
        coupons: Coupons,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(database, policy, members, clock)
        self._catalog = catalog
        self._coupons = coupons

    def redeem(self, member_id: str, reward_id: str, request_id: str) -> Redeemed:
        """Spends the reward's points for its coupon. Refused with insufficient-points,
        out-of-stock, reward-limit-reached or reward-unavailable, changing nothing."""
        check_caller_id(request_id, "request_id")
        owner = self._members.owner(parse_id(member_id, "member"))
        reward_uuid = reward_id_of(reward_id)
        once = self._once(owner, request_id, f"redeem|{reward_uuid}")
        with self._db.read() as session:
            earlier = once.replay(session)
            reward = None if earlier else load(session, reward_uuid)
        if earlier is not None:
            return self._answer(earlier)
        assert reward is not None
        self._catalog.check_visible(owner, reward)
        now = self._clock()

        def apply(session: Session) -> IssueRecord:
            book = Book(session, self._policy, now)
            (locked,) = book.lock(owner)
            earlier = once.replay(session)
            if earlier is not None:
                return earlier
            reward = load(session, reward_uuid)
            if not is_active(reward, now):
                raise FailedPrecondition(
                    "the reward cannot be redeemed now", code="reward-unavailable"
                )
            # Counted under the member's lock: their redemptions queue here.
            limit = reward.per_member_limit
            if limit and repository.member_coupon_count(session, locked, reward.id) >= limit:
                raise Conflict(
                    f"this reward can be redeemed {limit} times per member",
                    code="reward-limit-reached",
                )
            cost = reward.points_cost
            available = book.balance(locked).available
            if available < cost:
                raise FailedPrecondition(
                    f"the member has {available} points available, {cost} needed",
                    code="insufficient-points",
                )
            coupon = self._new_coupon(session, reward, locked, request_id, once.fingerprint, now)
            coupon.points_spent = cost
            taken = book.take(locked, cost)
            assert sum(part for _, part in taken) == cost, "lots disagree with the balance"
            repository.add(
                session,
                *(
                    CouponAllocation(coupon_id=coupon.id, lot_id=lot.id, points=part)
                    for lot, part in taken
                ),
            )
            book.post(
                "redeem",
                f"reward: {reward.name}",
                REWARD_SOURCE,
                str(coupon.id),
                [member(locked, "available", -cost), program(REDEEMED, cost)],
            )
            payload = pb.RewardRedeemed(
                reward_id=str(reward.id),
                coupon_id=str(coupon.id),
                kind=reward.kind,
                points_spent=cost,
                request_id=request_id,
            )
            events.reward_redeemed(session, now, locked, payload)
            return _record(coupon, book, locked)

        return self._answer(once.run(apply, checked=True))

    def grant(
        self, member_id: str, reward_id: str, operation_id: str, campaign_id: str
    ) -> Redeemed:
        """A catalog reward a campaign gives free (a completed mission's): issued as `issue`
        issues it, but only while the reward is active (else reward-unavailable)."""
        if not reward_id:
            raise NotFound("no reward with this id", code="reward-not-found")
        return self.issue(member_id, operation_id, reward_id, None, campaign_id, active_only=True)

    def issue(
        self,
        member_id: str,
        request_id: str,
        reward_id: str = "",
        inline: InlineCoupon | None = None,
        campaign_id: str = "",
        active_only: bool = False,
    ) -> Redeemed:
        """A coupon without points: of a catalog reward (its stock is taken, its limit and
        visibility do not apply; with active_only, a paused or ended one is refused) or of its
        own terms. Idempotent on request_id."""
        check_caller_id(request_id, "request_id")
        if campaign_id:
            check_caller_id(campaign_id, "campaign_id")
        owner = self._members.owner(parse_id(member_id, "member"))
        if bool(reward_id) == (inline is not None):
            raise InvalidArgument(
                "give either a reward_id or a coupon of its own", code="invalid-coupon"
            )
        reward_uuid = reward_id_of(reward_id) if reward_id else None
        if inline is not None:
            inline = InlineCoupon(
                checked(inline.terms), inline.name.strip(), inline.name_fa, inline.valid_days
            )
            if not inline.name or not 0 <= inline.valid_days <= 3650:
                raise InvalidArgument(
                    "a coupon needs a name and 0 to 3650 valid_days", code="invalid-coupon"
                )
        grant = "|grant" if active_only else ""
        once = self._once(owner, request_id, f"issue|{reward_uuid}|{inline}|{campaign_id}{grant}")
        now = self._clock()

        def apply(session: Session) -> IssueRecord:
            book = Book(session, self._policy, now)
            (locked,) = book.lock(owner)
            earlier = once.replay(session)
            if earlier is not None:
                return earlier
            if reward_uuid is not None:
                reward = load(session, reward_uuid)
                if active_only and not is_active(reward, now):
                    raise FailedPrecondition(
                        "the reward cannot be given now", code="reward-unavailable"
                    )
                coupon = self._new_coupon(
                    session, reward, locked, request_id, once.fingerprint, now, campaign_id
                )
            else:
                assert inline is not None
                coupon = _coupon(
                    locked,
                    "coupon",
                    inline.name,
                    inline.name_fa,
                    inline.terms.to_json(),
                    inline.valid_days,
                    request_id,
                    once.fingerprint,
                    now,
                    campaign_id,
                )
                repository.add(session, coupon)
                coupon_changed(session, now, event_types.COUPON_ISSUED, coupon)
            return _record(coupon, book, locked)

        return self._answer(once.run(apply))

    def _once(self, owner: uuid.UUID, request_id: str, request: str) -> Once[IssueRecord]:
        return Once(
            self._db,
            lambda session: repository.coupon_by_request(session, owner, request_id),
            hashlib.sha256(request.encode()).hexdigest(),
            IssueRecord.from_json,
            "request_id",
        )

    def _new_coupon(
        self,
        session: Session,
        reward: Reward,
        member_id: uuid.UUID,
        request_id: str,
        fingerprint: str,
        now: datetime,
        campaign_id: str = "",
    ) -> Coupon:
        """The reward's coupon for the member, its stock (or partner code) taken."""
        coupon = _coupon(
            member_id,
            reward.kind,
            reward.name,
            reward.name_fa,
            reward.terms,
            reward.valid_days,
            request_id,
            fingerprint,
            now,
            campaign_id,
        )
        coupon.reward_id = reward.id
        # An unlimited reward's row is not written: its redemptions do not queue on it.
        if reward.stock is not None and not repository.take_stock(session, reward.id):
            raise Conflict("the reward is out of stock", code="out-of-stock")
        if reward.kind == PARTNER_CODE:
            code = repository.hand_out_partner_code(session, reward.id, coupon.id)
            if code is None:
                raise Conflict("the reward's codes are all handed out", code="out-of-stock")
            coupon.partner_code = code
        repository.add(session, coupon)
        coupon_changed(session, now, event_types.COUPON_ISSUED, coupon)
        return coupon

    def _answer(self, record: IssueRecord) -> Redeemed:
        return Redeemed(
            coupon=self._coupons.get(record.coupon_id),
            points_spent=record.points_spent,
            available=record.available,
            pending=record.pending,
        )


def _coupon(
    member_id: uuid.UUID,
    kind: str,
    name: str,
    name_fa: str,
    terms: str,
    valid_days: int,
    request_id: str,
    fingerprint: str,
    now: datetime,
    campaign_id: str,
) -> Coupon:
    return Coupon(
        id=uuid.uuid4(),
        code=new_code(),
        member_id=member_id,
        kind=kind,
        status=ISSUED,
        name=name,
        name_fa=name_fa,
        terms=terms,
        points_spent=0,
        points_returned=0,
        request_id=request_id,
        request_hash=fingerprint,
        result="",
        issued_at=now,
        expires_at=now + timedelta(days=valid_days) if valid_days else None,
        campaign_id=campaign_id or None,
    )


def _record(coupon: Coupon, book: Book, member_id: uuid.UUID) -> IssueRecord:
    row = book.balance(member_id)
    record = IssueRecord(str(coupon.id), coupon.points_spent, row.available, row.pending)
    coupon.result = record.to_json()
    return record
