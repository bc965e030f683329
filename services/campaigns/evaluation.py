"""What bonus a purchase earns, answered at the till.

Launched campaigns are kept in memory, reloaded when the generation number in Redis moves (a
campaign changed in any process) or, without Redis, every `refresh_seconds`. With no active
campaign a purchase is answered without touching the database.

Otherwise one transaction records the answer under the unique (store, transaction) key, with
the fingerprint of the request, before it books any award, so a repeated or concurrent copy of
the same purchase waits and then gets that same answer, and another request under the same id
is refused and books nothing. Without a budget or a per-member limit among the running
campaigns the answer is known before anything is written and is recorded with that claim;
otherwise the claim comes first, empty, and the answer follows the limits' writes.

Only when points says it recorded the purchase under another fingerprint (asking again
for a bonus it owes) is the stored answer withdrawn, with the awards, budget and per-member
counts it booked, and the recorded request judged instead, in the same transaction.
Limits hold under concurrency through atomic conditional writes: the member's award count rises
only while below the campaign's per-member limit, and the campaign's awarded points only while
within its budget (both on rows the database locks for the rest of the transaction). A campaign
without a budget does not write its row at the till: its awards are counted into its awarded
points in batches (`Campaigns.count_awards`), so purchases never queue on that row's lock.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from services.campaigns import repository
from services.campaigns.campaigns import GENERATION_KEY, Campaigns, in_control
from services.campaigns.definitions import Definition
from services.campaigns.projection import bucket_of
from services.runtime.cache import Cache
from services.runtime.db import Database, utcnow
from services.runtime.errors import FailedPrecondition, InvalidArgument
from services.runtime.ids import parse_id


@dataclass(frozen=True)
class Item:
    sku: str
    category: str
    amount_minor: int


@dataclass(frozen=True)
class PurchaseFacts:
    store_id: str
    transaction_id: str
    member_id: str
    amount_minor: int
    base_points: int
    items: tuple[Item, ...]
    occurred_at: datetime | None
    # Names the request as the till sent it: another one under the same id is refused.
    fingerprint: str
    # Points has recorded this purchase under `fingerprint`.
    recorded: bool = False


@dataclass(frozen=True)
class Bonus:
    campaign_id: str
    points: int
    reason: str


@dataclass(frozen=True)
class Live:
    id: uuid.UUID
    definition: Definition


@dataclass(frozen=True)
class MemberFacts:
    """What a campaign may look at of a member in the view."""

    stage: str
    tier: str
    birth_month: int | None


def needs_member(definition: Definition) -> bool:
    """Whether a campaign's targeting or kind looks at the member's row."""
    targeting = definition.targeting
    looks = not targeting.everyone and bool(targeting.stages or targeting.tiers)
    return looks or definition.kind in ("birthday", "win_back")


def limited(definition: Definition) -> bool:
    """Whether a campaign's awards count against a budget or a per-member limit."""
    return definition.budget_points is not None or definition.per_member_limit is not None


def answer_text(bonuses: list[Bonus]) -> str:
    """An answer as stored, to be given again to the same request."""
    return json.dumps([asdict(b) for b in bonuses])


def member_facts(session: Session, member_id: uuid.UUID) -> MemberFacts | None:
    row = repository.member_facts(session, member_id)
    return None if row is None else MemberFacts(row.stage, row.tier, row.birth_month)


class ActiveCampaigns:
    """The launched campaigns, in memory, in the order they are applied (priority first)."""

    def __init__(
        self, database: Database, campaigns: Campaigns, cache: Cache, refresh_seconds: float
    ) -> None:
        self._db = database
        self._campaigns = campaigns
        self._cache = cache
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._loaded_at = -1e9
        self._generation: bytes | None = None
        self._items: list[Live] = []
        # Whether any campaign was ever launched: until one is, no purchase has an answer on
        # record, so one asked again needs no look-up.
        self.ever_launched = True
        campaigns.on_change(self.invalidate)

    def invalidate(self) -> None:
        self._loaded_at = -1e9

    def current(self) -> list[Live]:
        generation = self._cache.get(GENERATION_KEY) if self._cache.enabled else None
        fresh = time.monotonic() - self._loaded_at < self._refresh
        if fresh and generation == self._generation:
            return self._items
        with self._lock:
            with self._db.read() as session:
                rows = self._campaigns.launched(session)
                items = [Live(row.id, self._campaigns.view(row).definition) for row in rows]
                ever = bool(items) or repository.any_launched(session)
            self._items, self._generation, self.ever_launched = items, generation, ever
            self._loaded_at = time.monotonic()
            return items


def _whole(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_DOWN))


def points_for(
    definition: Definition, purchase: PurchaseFacts, member: MemberFacts | None, zone: str
) -> tuple[int, str]:
    """What a campaign of this kind gives this purchase, and why (before any limit)."""
    kind = definition.kind
    name = definition.name
    if kind == "multiplier":
        factor = definition.multiplier
        return _whole(purchase.base_points * (factor - 1)), f"{name}: x{factor} points"
    if kind == "fixed_bonus":
        return definition.points, name
    if kind == "category_bonus":
        total = sum(item.amount_minor for item in purchase.items)
        matching = sum(
            item.amount_minor
            for item in purchase.items
            if item.category.lower() in definition.categories or item.sku in definition.skus
        )
        if not total or not matching:
            return 0, name
        share = Decimal(purchase.base_points) * matching / total
        return _whole(share * (definition.multiplier - 1)), f"{name}: x{definition.multiplier}"
    if kind == "spend_threshold":
        if purchase.amount_minor >= definition.min_spend_minor:
            return definition.points, name
        return 0, name
    if kind == "birthday":
        moment = (purchase.occurred_at or utcnow()).astimezone(ZoneInfo(zone))
        if member is not None and member.birth_month == moment.month:
            return definition.points, f"{name}: happy birthday"
        return 0, name
    if kind == "win_back":
        if member is not None and member.stage == "lapsed":
            return definition.points, f"{name}: welcome back"
        return 0, name
    return 0, name


def targets(
    session: Session,
    campaigns: Campaigns,
    definition: Definition,
    store_id: str,
    member: MemberFacts | None,
    member_id: uuid.UUID,
) -> bool:
    """Whether a campaign targets this member (at this store, when one is given)."""
    targeting = definition.targeting
    if targeting.everyone:
        return True
    if targeting.stores and store_id and store_id not in targeting.stores:
        return False
    if targeting.stages and (member is None or member.stage not in targeting.stages):
        return False
    if targeting.tiers and (member is None or member.tier not in targeting.tiers):
        return False
    if targeting.segments:
        return any(campaigns.segments.contains(session, s, member_id) for s in targeting.segments)
    return True


@dataclass(frozen=True)
class OfferView:
    campaign_id: str
    title: str
    description: str
    code: str
    ends_at: datetime | None


class Evaluator:
    def __init__(
        self,
        database: Database,
        campaigns: Campaigns,
        active: ActiveCampaigns,
        timezone: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._campaigns = campaigns
        self._active = active
        self._zone = timezone
        self._clock = clock

    def evaluate(self, purchase: PurchaseFacts) -> list[Bonus]:
        member_id = parse_id(purchase.member_id, "member")
        if not purchase.transaction_id or len(purchase.transaction_id) > 100:
            raise InvalidArgument("transaction_id is required", code="invalid-transaction-id")
        if not 0 < len(purchase.fingerprint) <= 64:
            raise InvalidArgument(
                "request_fingerprint must be 1 to 64 characters", code="invalid-fingerprint"
            )
        moment = min(purchase.occurred_at or self._clock(), self._clock())
        running = [c for c in self._active.current() if c.definition.schedule.allows(moment)]
        if not running and not purchase.recorded:
            if not self._active.ever_launched:
                return []
            # Nothing runs now, but a retry of a purchase answered earlier keeps its award.
            with self._db.read() as session:
                return self._earlier(session, purchase) or []
        with self._db.write() as session:
            return self._award(session, purchase, member_id, running)

    def _earlier(self, session: Session, purchase: PurchaseFacts) -> list[Bonus] | None:
        """The answer given to this request before, if any; refused if given to another."""
        row = repository.answer(session, purchase.store_id, purchase.transaction_id)
        if row is None:
            return None
        if row.request_hash not in ("", purchase.fingerprint):
            raise FailedPrecondition(
                "this transaction_id was already used for a different purchase",
                code="idempotency-mismatch",
            )
        return [Bonus(**b) for b in json.loads(row.result)]

    def _withdraw_other(self, session: Session, purchase: PurchaseFacts) -> None:
        """Undoes the answer given to another request under this purchase's id: points
        recorded this one, so the other can never be recorded."""
        repository.withdraw_answer(
            session, purchase.store_id, purchase.transaction_id, purchase.fingerprint
        )

    def _claim(
        self, session: Session, purchase: PurchaseFacts, member_id: uuid.UUID, result: str
    ) -> bool:
        """Records the answer to this purchase; False when a copy of it was answered first. A
        concurrent copy waits here until the first one's transaction ends."""
        return repository.claim_answer(
            session,
            purchase.store_id,
            purchase.transaction_id,
            member_id,
            purchase.fingerprint,
            self._clock(),
            result,
        )

    def _award(
        self, session: Session, purchase: PurchaseFacts, member_id: uuid.UUID, running: list[Live]
    ) -> list[Bonus]:
        if purchase.recorded:
            self._withdraw_other(session, purchase)
        if not any(limited(live.definition) for live in running):
            # Nothing to count against a limit: the answer is known before anything is written,
            # and is recorded with the claim itself.
            bonuses, awards = self._judge(session, purchase, member_id, running, None)
            if not self._claim(session, purchase, member_id, answer_text(bonuses)):
                return self._earlier_answer(session, purchase)
            self._book(session, purchase, member_id, awards)
            return bonuses
        # A limit is counted by writes that only the claim's holder may make.
        if not self._claim(session, purchase, member_id, "[]"):
            return self._earlier_answer(session, purchase)
        bonuses, awards = self._judge(session, purchase, member_id, running, self._within_limits)
        if bonuses:
            self._book(session, purchase, member_id, awards)
            repository.record_answer(
                session, purchase.store_id, purchase.transaction_id, answer_text(bonuses)
            )
        return bonuses

    def _earlier_answer(self, session: Session, purchase: PurchaseFacts) -> list[Bonus]:
        earlier = self._earlier(session, purchase)
        assert earlier is not None
        return earlier

    def _judge(
        self,
        session: Session,
        purchase: PurchaseFacts,
        member_id: uuid.UUID,
        running: list[Live],
        within_limits: Callable[[Session, Live, uuid.UUID, int], bool] | None,
    ) -> tuple[list[Bonus], list[dict]]:
        """The bonuses the running campaigns give the purchase, and the awards to book."""
        member = (
            member_facts(session, member_id)
            if any(needs_member(live.definition) for live in running)
            else None
        )
        bonuses: list[Bonus] = []
        awards: list[dict] = []
        exclusive_taken = False
        for live in running:
            definition = live.definition
            if exclusive_taken or (bonuses and not definition.stackable):
                continue
            if not targets(
                session, self._campaigns, definition, purchase.store_id, member, member_id
            ):
                continue
            if definition.control_percent and in_control(
                bucket_of(member_id), live.id, definition.control_percent
            ):
                continue
            points, reason = points_for(definition, purchase, member, self._zone)
            if points <= 0:
                continue
            if within_limits is not None and not within_limits(session, live, member_id, points):
                continue
            # A budget is counted as it is spent; other awards are counted in batches.
            counted = definition.budget_points is not None
            awards.append({"campaign_id": live.id, "points": points, "counted": counted})
            bonuses.append(Bonus(str(live.id), points, reason))
            if not definition.stackable:
                exclusive_taken = True
        return bonuses, awards

    def _book(
        self, session: Session, purchase: PurchaseFacts, member_id: uuid.UUID, awards: list[dict]
    ) -> None:
        if awards:
            store, transaction = purchase.store_id, purchase.transaction_id
            repository.add_awards(session, store, transaction, member_id, self._clock(), awards)

    def offers(self, member_id: str, store_id: str = "") -> list[OfferView]:
        """The offers running now that this member is meant to see."""
        member_key = parse_id(member_id, "member")
        now = self._clock()
        shown = [
            live
            for live in self._active.current()
            if live.definition.offer is not None and live.definition.schedule.allows(now)
        ]
        if not shown:
            return []
        offers = []
        with self._db.read() as session:
            member = member_facts(session, member_key)
            bucket = bucket_of(member_key)
            for live in shown:
                definition = live.definition
                if in_control(bucket, live.id, definition.control_percent):
                    continue
                if not targets(session, self._campaigns, definition, store_id, member, member_key):
                    continue
                assert definition.offer is not None
                offers.append(
                    OfferView(
                        campaign_id=str(live.id),
                        title=definition.offer.title,
                        description=definition.offer.description,
                        code=definition.offer.code,
                        ends_at=definition.schedule.ends_at,
                    )
                )
        return offers

    def _within_limits(
        self, session: Session, live: Live, member_id: uuid.UUID, points: int
    ) -> bool:
        limit = live.definition.per_member_limit
        if limit is not None and not repository.count_award(session, live.id, member_id, limit):
            return False
        budget = live.definition.budget_points
        if budget is None or repository.spend_budget(session, live.id, points):
            return True
        if limit is not None:
            repository.uncount_award(session, live.id, member_id)
        return False
