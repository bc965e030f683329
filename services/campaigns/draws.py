"""Prize draws: marketers create them with prizes, who may enter (campaigns' targeting) and how
chances are earned, members in the audience hold chances (earned by purchases, or bought with
points), and closing picks the winners with `draw_selection` from the revealed seed and the
entries sorted by member id; winners are told on a channel they consented to.

Chances bought with points are spent in the points ledger once per request: the purchase is
recorded first (pending), its id is the spend's operation id, and the chances are written only
once the spend succeeded. A crash between leaves it pending; `finish` completes it while the
draw is open and returns the points otherwise. Cancelling a draw returns every spend.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, false
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.campaigns import definitions, repository
from services.campaigns.campaigns import Campaigns
from services.campaigns.definitions import Targeting
from services.campaigns.draw_selection import Entry, Prize, commitment, new_seed, pick_winners
from services.campaigns.models import Draw, DrawChance, DrawPurchase, Member, Message
from services.campaigns.projection import PurchaseSeen, RefundSeen
from services.campaigns.repository import live
from services.runtime.db import Database, utcnow
from services.runtime.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from services.runtime.idempotency import check_caller_id
from services.runtime.ids import parse_id
from services.runtime.logs import log

logger = logging.getLogger(__name__)

MAX_NAME = 200
MAX_PRIZES = 50
MAX_PRIZE_COUNT = 10_000
MAX_CHANCES = 1_000_000
MAX_LISTED = 200
# A purchase of chances still pending this long after it was asked is taken as interrupted.
INTERRUPTED_AFTER = timedelta(minutes=2)
WINNER_MESSAGE = (
    "You won {prize} in the club's draw «{draw}». See the club portal.\n"
    "شما در قرعه‌کشی «{draw}» برندهٔ {prize} شدید. جزئیات در پرتال باشگاه."
)


class PointsSpender(Protocol):
    """Spends a member's points on a draw's chances and gives a spend back, each once per
    operation id; raises FailedPrecondition when refused for good, Unavailable when worth
    retrying."""

    def spend(self, operation_id: str, member_id: str, points: int, name: str) -> None: ...

    def give_back(self, spend_id: str, member_id: str, points: int, name: str) -> None: ...


@dataclass(frozen=True)
class ChanceRules:
    per_purchase: int = 0
    per_amount_minor: int = 0
    points_per_chance: int = 0
    max_per_member: int = 0


@dataclass(frozen=True)
class DrawView:
    id: str
    name: str
    closes_at: datetime
    prizes: list[Prize]
    rules: ChanceRules
    seed_sha256: str
    seed: str
    status: str
    winners: list[dict]
    created_at: datetime
    closed_at: datetime | None
    my_chances: int = 0
    # Members holding chances and the chances they hold (erased members left out).
    entrants: int = 0
    chances_held: int = 0
    targeting: Targeting = field(default_factory=Targeting)


def _targeting(draw: Draw) -> Targeting:
    return definitions.parse_targeting(json.loads(draw.targeting))


def _view(draw: Draw, my_chances: int = 0, totals: tuple[int, int] = (0, 0)) -> DrawView:
    return DrawView(
        id=str(draw.id),
        name=draw.name,
        targeting=_targeting(draw),
        closes_at=draw.closes_at,
        prizes=[Prize(p["name"], p["count"]) for p in json.loads(draw.prizes)],
        rules=ChanceRules(
            draw.per_purchase, draw.per_amount_minor, draw.points_per_chance, draw.max_per_member
        ),
        seed_sha256=draw.seed_sha256,
        # The seed stays secret until the draw is closed.
        seed=draw.seed if draw.status == "closed" else "",
        status=draw.status,
        winners=json.loads(draw.winners) if draw.winners else [],
        created_at=draw.created_at,
        closed_at=draw.closed_at,
        my_chances=my_chances,
        entrants=totals[0],
        chances_held=totals[1],
    )


def _prizes(prizes: list[Prize]) -> list[Prize]:
    if not prizes or len(prizes) > MAX_PRIZES:
        raise InvalidArgument(f"a draw has 1 to {MAX_PRIZES} prizes", code="invalid-prizes")
    for prize in prizes:
        name = " ".join(prize.name.split())
        if not name or len(name) > MAX_NAME or not 1 <= prize.count <= MAX_PRIZE_COUNT:
            raise InvalidArgument(
                f"each prize has a name and a count of 1 to {MAX_PRIZE_COUNT}",
                code="invalid-prizes",
            )
    return [Prize(" ".join(p.name.split()), p.count) for p in prizes]


def _rules(rules: ChanceRules) -> ChanceRules:
    values = (
        rules.per_purchase,
        rules.per_amount_minor,
        rules.points_per_chance,
        rules.max_per_member,
    )
    if any(v < 0 or v > 10**12 for v in values):
        raise InvalidArgument("chance rules are 0 or more", code="invalid-chances")
    if not (rules.per_purchase or rules.per_amount_minor or rules.points_per_chance):
        raise InvalidArgument(
            "say how chances are earned: per_purchase, per_amount or points_per_chance",
            code="invalid-chances",
        )
    return rules


def consented_channel(member: Member | None) -> str | None:
    """The channel a member may be told on: SMS first, else e-mail, else none."""
    if member is None:
        return None
    if member.consent_sms:
        return "sms"
    if member.consent_email:
        return "email"
    return None


def winner_message_id(draw_id: str, member_id: uuid.UUID) -> uuid.UUID:
    """The id of the message telling a winner, the same however often the draw is closed."""
    return uuid.uuid5(uuid.UUID(draw_id), f"winner:{member_id}")


def _spend_id(purchase_id: uuid.UUID) -> str:
    return f"draw-{purchase_id}"


def _draw_name(session: Session, draw_id: uuid.UUID) -> str:
    draw = repository.draw(session, draw_id)
    return draw.name if draw is not None else ""


def _purchase_chances(draw: Draw, amount_minor: int) -> int:
    """The chances a purchase of `amount_minor` earns in the draw (before its limit per member)."""
    chances = draw.per_purchase
    if draw.per_amount_minor:
        chances += amount_minor // draw.per_amount_minor
    return chances


class Draws:
    def __init__(
        self,
        database: Database,
        points: PointsSpender,
        campaigns: Campaigns,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._points = points
        # Who may enter a draw is worked out as who a campaign targets.
        self._campaigns = campaigns
        self._clock = clock

    def _audience(self, session: Session, draw: Draw) -> ColumnElement[bool]:
        """The live members who may enter the draw, as SQL over the member view; nobody when
        a stored targeting cannot be evaluated (that is logged)."""
        try:
            return live(self._campaigns.audience(session, _targeting(draw)))
        except (InvalidArgument, NotFound) as error:
            log(
                logger,
                "draw: who may enter cannot be computed",
                logging.ERROR,
                draw=str(draw.id),
                reason=error.detail,
            )
            return false()

    def _may_enter(self, session: Session, draw: Draw, member: uuid.UUID) -> bool:
        if _targeting(draw).everyone:
            return True
        return repository.in_group(session, member, self._audience(session, draw))

    def _checked_targeting(self, session: Session, value: Any) -> Targeting:
        """The marketer's targeting, parsed and checked as a campaign's is."""
        try:
            targeting = definitions.parse_targeting(value)
            definitions.check_new_targeting(targeting)
            self._campaigns.check_segments(session, targeting)
        except InvalidArgument as error:
            raise InvalidArgument(error.detail, code="invalid-targeting") from None
        return targeting

    def create(
        self,
        name: str,
        closes_at: datetime | None,
        prizes: list[Prize],
        rules: ChanceRules,
        targeting: Any = None,
    ) -> DrawView:
        """A new open draw; `targeting` is who may enter, as a campaign's (None: everyone)."""
        name = " ".join(name.split())
        if not name or len(name) > MAX_NAME:
            raise InvalidArgument(f"a name of 1 to {MAX_NAME} characters", code="invalid-name")
        now = self._clock()
        if closes_at is None or closes_at <= now:
            raise InvalidArgument("closes_at must be in the future", code="invalid-closes-at")
        seed = new_seed()
        draw = Draw(
            id=uuid.uuid4(),
            name=name,
            closes_at=closes_at,
            prizes=json.dumps([{"name": p.name, "count": p.count} for p in _prizes(prizes)]),
            seed=seed,
            seed_sha256=commitment(seed),
            status="open",
            entries="",
            winners="",
            created_at=now,
            closed_at=None,
        )
        checked = _rules(rules)
        draw.per_purchase = checked.per_purchase
        draw.per_amount_minor = checked.per_amount_minor
        draw.points_per_chance = checked.points_per_chance
        draw.max_per_member = checked.max_per_member
        with self._db.write() as session:
            draw.targeting = json.dumps(self._checked_targeting(session, targeting).shown())
            session.add(draw)
            session.flush()
            return _view(draw)

    def list(self) -> list[DrawView]:
        """The newest draws, each with its entrants and the chances they hold."""
        with self._db.read() as session:
            found = repository.draws(session, MAX_LISTED)
            totals = repository.draw_totals(session, [d.id for d in found])
            return [_view(d, totals=totals.get(d.id, (0, 0))) for d in found]

    def get(self, draw_id: str) -> DrawView:
        with self._db.read() as session:
            found = repository.draw(session, parse_id(draw_id, "draw"))
            if found is None:
                raise NotFound("no such draw", code="draw-not-found")
            totals = repository.draw_totals(session, [found.id])
            return _view(found, totals=totals.get(found.id, (0, 0)))

    def of_member(self, member_id: str) -> list[DrawView]:
        """The open draws the member may enter and the draws they hold chances in."""
        member = parse_id(member_id, "member")
        shown = []
        with self._db.read() as session:
            for draw in repository.draws_of_member(session, member, MAX_LISTED):
                held = repository.member_chances(session, draw.id, member)
                if held or self._may_enter(session, draw, member):
                    shown.append(_view(draw, held))
        return shown

    def earn_chances(self, session: Session, purchases: list[PurchaseSeen]) -> None:
        """Chances purchases earn in open draws (per purchase and per amount spent) for members
        who may enter, within each draw's limit per member; applied with the member view, in
        its transaction, so a member is judged as the view stood when it read the purchase."""
        earning = repository.draws_earning(session) if purchases else []
        audiences: dict[uuid.UUID, ColumnElement[bool] | None] = {
            draw.id: None if _targeting(draw).everyone else self._audience(session, draw)
            for draw in earning
        }
        for purchase in purchases:
            for draw in earning:
                if not draw.created_at <= purchase.at < draw.closes_at:
                    continue
                chances = _purchase_chances(draw, purchase.amount_minor)
                if chances <= 0 or repository.has_draw_chance(session, draw.id, purchase.source):
                    continue
                audience = audiences[draw.id]
                if audience is not None and not repository.in_group(
                    session, purchase.member_id, audience
                ):
                    continue
                if draw.max_per_member:
                    held = repository.member_chances(session, draw.id, purchase.member_id)
                    held += repository.pending_chances(session, draw.id, purchase.member_id)
                    chances = min(chances, draw.max_per_member - held)
                    if chances <= 0:
                        continue
                session.add(
                    DrawChance(
                        draw_id=draw.id,
                        member_id=purchase.member_id,
                        source=purchase.source,
                        chances=chances,
                    )
                )
                session.flush()

    def take_back_chances(self, session: Session, refunds: list[RefundSeen]) -> None:
        """What a refunded purchase earned in draws still open, counted again on what is left
        of it: all of it for a full refund. Applied with the member view, after the chances of
        the same page; a closed draw's entries stay as they were drawn."""
        for refund in refunds:
            chances = repository.open_draw_chances(session, refund.member_id, refund.source)
            for chance, draw in chances:
                left = refund.remaining_minor
                earned = _purchase_chances(draw, left) if left > 0 else 0
                if earned <= 0:
                    session.delete(chance)
                elif earned < chance.chances:
                    chance.chances = earned
        session.flush()

    def _locked(self, session: Session, draw_id: str) -> Draw:
        found = repository.draw(session, parse_id(draw_id, "draw"), lock=True)
        if found is None:
            raise NotFound("no such draw", code="draw-not-found")
        return found

    def close(self, draw_id: str) -> DrawView:
        """Reveals the seed and picks the winners; closing again answers the same."""
        with self._db.write() as session:
            draw = self._locked(session, draw_id)
            if draw.status == "cancelled":
                raise FailedPrecondition("the draw was cancelled", code="draw-cancelled")
            if draw.status == "closed":
                return _view(draw)
            found = sorted(repository.draw_entries(session, draw.id))
            entries = [Entry(member, chances) for member, chances in found]
            winners = pick_winners(draw.seed, entries, _view(draw).prizes)
            draw.entries = json.dumps(
                [{"member_id": member, "chances": chances} for member, chances in found],
                separators=(",", ":"),
            )
            draw.winners = json.dumps(
                [{"member_id": w.member_id, "prize": w.prize} for w in winners]
            )
            draw.status = "closed"
            draw.closed_at = self._clock()
            closed = _view(draw)
            self._tell_winners(session, closed)
        return closed

    def _tell_winners(self, session: Session, draw: DrawView) -> None:
        """One message per winner, by SMS when they consented to it, else by e-mail when they
        consented to that, else none (the portal shows the result), queued in the closing
        transaction for the dispatcher (services.campaigns.messages), which sends it outside
        the quiet hours and again while identity cannot answer; its id, derived from the draw
        and the winner, makes a repeat send nothing twice. Identity checks the consent again
        as it sends."""
        now = self._clock()
        rows = []
        for winner in draw.winners:
            member_id = uuid.UUID(winner["member_id"])
            channel = consented_channel(repository.member(session, member_id))
            if channel is None:
                continue
            rows.append(
                Message(
                    id=winner_message_id(draw.id, member_id),
                    campaign_id=uuid.UUID(draw.id),
                    member_id=member_id,
                    channel=channel,
                    body=WINNER_MESSAGE.format(prize=winner["prize"], draw=draw.name),
                    status="pending",
                    not_before=now,
                    created_at=now,
                )
            )
        repository.add_rows(session, rows)

    def entries(self, draw_id: str) -> tuple[DrawView, list[dict]]:
        """The document `verify` reads: the entries the draw used once closed, else now."""
        with self._db.read() as session:
            found = repository.draw(session, parse_id(draw_id, "draw"))
            if found is None:
                raise NotFound("no such draw", code="draw-not-found")
            if found.status == "closed":
                return _view(found), json.loads(found.entries)
            current = sorted(repository.draw_entries(session, found.id))
            return _view(found), [{"member_id": m, "chances": c} for m, c in current]

    def cancel(self, draw_id: str) -> DrawView:
        with self._db.write() as session:
            draw = self._locked(session, draw_id)
            if draw.status == "closed":
                raise FailedPrecondition("the draw is closed", code="draw-closed")
            draw.status = "cancelled"
            repository.return_draw_purchases(session, draw.id)
            cancelled = _view(draw)
        self.finish()
        return cancelled

    def buy(self, draw_id: str, member_id: str, request_id: str, chances: int) -> DrawView:
        """Spends the chances' points once per request id and gives the chances."""
        check_caller_id(request_id, "request_id")
        member = parse_id(member_id, "member")
        if not 1 <= chances <= MAX_CHANCES:
            raise InvalidArgument(f"1 to {MAX_CHANCES} chances", code="invalid-chances")
        try:
            purchase_id = self._record(draw_id, member, request_id, chances)
        except IntegrityError:
            # A copy of the same request recorded it at the same moment.
            purchase_id = self._record(draw_id, member, request_id, chances)
        self._complete(purchase_id)
        with self._db.write() as session:
            draw = self._locked(session, draw_id)
            return _view(draw, repository.member_chances(session, draw.id, member))

    def _record(self, draw_id: str, member: uuid.UUID, request_id: str, chances: int) -> uuid.UUID:
        with self._db.write() as session:
            draw = self._locked(session, draw_id)
            earlier = repository.draw_purchase(session, draw.id, member, request_id)
            if earlier is not None:
                if earlier.chances != chances:
                    raise Conflict(
                        "request_id was used for another purchase", code="request-id-reused"
                    )
                if earlier.status == "refused":
                    raise FailedPrecondition(
                        "not enough points for these chances", code="insufficient-points"
                    )
                return earlier.id
            if draw.status != "open" or draw.closes_at <= self._clock():
                raise FailedPrecondition("the draw is not open", code="draw-not-open")
            if draw.points_per_chance <= 0:
                raise FailedPrecondition(
                    "this draw's chances are not sold for points", code="chances-not-for-sale"
                )
            if not self._may_enter(session, draw, member):
                raise FailedPrecondition(
                    "this draw is not open to this member", code="not-eligible"
                )
            held = repository.member_chances(session, draw.id, member)
            held += repository.pending_chances(session, draw.id, member)
            if draw.max_per_member and held + chances > draw.max_per_member:
                raise FailedPrecondition(
                    f"at most {draw.max_per_member} chances per member, {held} held",
                    code="too-many-chances",
                )
            purchase = DrawPurchase(
                id=uuid.uuid4(),
                draw_id=draw.id,
                member_id=member,
                request_id=request_id,
                chances=chances,
                points=chances * draw.points_per_chance,
                status="pending",
                created_at=self._clock(),
            )
            session.add(purchase)
            session.flush()
            return purchase.id

    def _complete(self, purchase_id: uuid.UUID) -> None:
        with self._db.write() as session:
            purchase = repository.draw_purchase_by_id(session, purchase_id)
            if purchase is None or purchase.status != "pending":
                return
            member, points = str(purchase.member_id), purchase.points
            name = _draw_name(session, purchase.draw_id)
        try:
            self._points.spend(_spend_id(purchase_id), member, points, name)
        except FailedPrecondition:
            self._mark(purchase_id, "pending", "refused")
            raise
        with self._db.write() as session:
            purchase = repository.draw_purchase_by_id(session, purchase_id, lock=True)
            if purchase is None or purchase.status != "pending":
                return
            draw = repository.draw(session, purchase.draw_id, lock=True)
            if draw is not None and draw.status == "open":
                session.add(
                    DrawChance(
                        draw_id=purchase.draw_id,
                        member_id=purchase.member_id,
                        source=f"bought:{purchase.id}",
                        chances=purchase.chances,
                    )
                )
                purchase.status = "spent"
            else:
                # Spent after the draw closed or was cancelled: the points go back.
                purchase.status = "returning"
        self._return(purchase_id)

    def _return(self, purchase_id: uuid.UUID) -> None:
        with self._db.write() as session:
            purchase = repository.draw_purchase_by_id(session, purchase_id)
            if purchase is None or purchase.status != "returning":
                return
            member, points = str(purchase.member_id), purchase.points
            name = _draw_name(session, purchase.draw_id)
        self._points.give_back(_spend_id(purchase_id), member, points, name)
        self._mark(purchase_id, "returning", "returned")

    def _mark(self, purchase_id: uuid.UUID, expected: str, status: str) -> None:
        with self._db.write() as session:
            purchase = repository.draw_purchase_by_id(session, purchase_id, lock=True)
            if purchase is not None and purchase.status == expected:
                purchase.status = status

    def finish(self) -> int:
        """Completes purchases a crash interrupted and returns points a cancelled or closed
        draw owes; run periodically. The number handled."""
        with self._db.write() as session:
            waiting = repository.unfinished_draw_purchases(
                session, self._clock() - INTERRUPTED_AFTER, MAX_LISTED
            )
        for purchase_id in waiting:
            try:
                self._complete(purchase_id)
            except FailedPrecondition:
                continue
            self._return(purchase_id)
        return len(waiting)
